"""One --help style for every command, shell completion of product names through the real
entry point, and usage errors that exit 2 with click's usage message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core

from ohnix.cli.main import app, main
from tests.helpers import run_ohnix

# A placeholder: PRODUCT, N, DIR, FILE, URL... (what follows `--` reads `-- CMD`).
PLACEHOLDER = r"(-- )?[A-Z][A-Z0-9_]*"
USAGE_PIECE = re.compile(
    rf"\[OPTIONS\]|COMMAND|\[ARGS\]\.\.\.|{PLACEHOLDER}(\.\.\.)?|\[{PLACEHOLDER}\](\.\.\.)?"
    rf"|\[{PLACEHOLDER}\.\.\.\]"
)
OPTION_TERM = re.compile(rf"(-\w, )?--[\w-]+( {PLACEHOLDER})?( / --[\w-]+)?")


def command_paths() -> Iterator[list[str]]:
    def walk(command: Any, path: list[str]) -> Iterator[list[str]]:
        yield path
        if isinstance(command, typer.core.TyperGroup):
            for name in command.list_commands(None):  # type: ignore[arg-type]
                yield from walk(command.commands[name], [*path, name])

    yield from walk(typer.main.get_command(app), [])


def help_text(path: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


def section(text: str, title: str) -> list[str]:
    """The terms (first column) of a help section's definition list."""
    match = re.search(rf"^{title}:\n(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    lines = match.group(1).splitlines() if match else []
    return [re.split(r"\s{2,}", ln.strip())[0] for ln in lines if re.match(r"  \S", ln)]


PATHS = list(command_paths())


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"", "shell", "run", "cache push", "audit diff", "bridge abi check"} <= names
    assert len(PATHS) > 25


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "ohnix" for p in PATHS])
def test_help_uses_one_placeholder_style(path: list[str], capsys: Any) -> None:
    text = help_text(path, capsys)
    usage = re.match(r"Usage: ohnix((?: [a-z-]+)*) (.*)", text)
    assert usage, text
    assert usage.group(1).split() == path
    for piece in re.findall(r"\[-- [A-Z]+\.\.\.\]|\S+", usage.group(2)):
        assert USAGE_PIECE.fullmatch(piece), (piece, text)
    for term in section(text, "Arguments"):
        assert re.fullmatch(PLACEHOLDER, term), (term, text)
    for term in section(text, "Options"):
        assert OPTION_TERM.fullmatch(term) or term in ("--help", "--version"), (term, text)
    # No Python types, no Typer braces, no default shown for a counter or a flag.
    assert not re.search(r"<(str|int|path|list|float)|\{[a-z]+\}|default: (0|False)\]", text)


def test_help_placeholders_as_a_user_reads_them(capsys: Any) -> None:
    assert "Usage: ohnix shell [OPTIONS] PRODUCT\n" in help_text(["shell"], capsys)
    assert "Usage: ohnix run [OPTIONS] PRODUCT [-- CMD...]\n" in help_text(["run"], capsys)
    assert "Usage: ohnix cache push [OPTIONS] PRODUCT...\n" in help_text(["cache", "push"], capsys)
    assert "Usage: ohnix init [OPTIONS] [PRODUCT]...\n" in help_text(["init"], capsys)
    lock = help_text(["lock"], capsys)
    assert "-j, --jobs N " in lock and "<int range>" not in lock
    root = help_text([], capsys)
    assert re.search(r"-v, --verbose +Show the commands ohnix runs\.\n", root)


# --- completion -------------------------------------------------------------------------


@cache
def completion_protocol() -> str:
    """The instruction the script of `ohnix --show-completion bash` passes (Typer keeps
    click 7's `complete_bash` spelling)."""
    script = run_ohnix("--show-completion", "bash", env={"SHELL": "/bin/bash"}).stdout
    found = re.search(r"_OHNIX_COMPLETE=(\w+)", script)
    assert found, script
    return found.group(1)


def complete(line: str, cwd: Path | None = None) -> tuple[list[str], str]:
    """What bash gets for the command line `line` (completing its last word), and stderr."""
    words = line.split(" ")
    env = {"_OHNIX_COMPLETE": completion_protocol(), "COMP_WORDS": line,
           "COMP_CWORD": str(len(words) - 1)}  # fmt: skip
    res = run_ohnix(cwd=cwd, env=env)
    assert res.returncode == 0, res
    return res.stdout.split(), res.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "c"\n[products.rk3568]\nprovider = "host"\n'
        '[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    )
    return tmp_path


PRODUCT_COMMANDS = ["shell", "run", "build", "direnv", "parity", "sbom", "cache paths",
                    "cache key", "cache push", "cache pull", "audit report", "ci github"]  # fmt: skip


@pytest.mark.parametrize("command", PRODUCT_COMMANDS)
def test_product_arguments_complete_the_projects_products(command: str, project: Path) -> None:
    got, err = complete(f"ohnix -C {project} {command} ")
    assert got == ["qemu-arm64-linux-min", "rk3568"] and err == ""
    got, _ = complete(f"ohnix {command} rk", cwd=project)  # no -C: the current directory
    assert got == ["rk3568"]
    (project / "sub").mkdir(exist_ok=True)
    got, _ = complete(f"ohnix {command} rk", cwd=project / "sub")  # found upwards
    assert got == ["rk3568"]


def test_audit_completes_its_subcommands_and_products(project: Path) -> None:
    got, _ = complete("ohnix audit ", cwd=project)
    assert {"report", "diff", "rk3568", "qemu-arm64-linux-min"} <= set(got)
    assert complete("ohnix audit d", cwd=project)[0] == ["diff"]
    assert complete("ohnix audit rk3568 q", cwd=project)[0] == ["qemu-arm64-linux-min"]


def test_catalog_arguments_complete_catalog_names(tmp_path: Path) -> None:
    assert complete("ohnix products show rk35", cwd=tmp_path)[0] == ["rk3566", "rk3568"]
    assert complete("ohnix init qemu-arm6", cwd=tmp_path)[0] == ["qemu-arm64-linux-min"]
    assert complete("ohnix bridge cgo --product wifi", cwd=tmp_path)[0] == [
        "wifiiot_hispark_pegasus"
    ]
    assert complete("ohnix ci g", cwd=tmp_path)[0] == ["github", "gitlab"]


@pytest.mark.parametrize(
    "toml", [None, "[project\n", "products = 3\n"], ids=["no-project", "bad-toml", "not-a-table"]
)
def test_completion_never_fails(tmp_path: Path, toml: str | None) -> None:
    if toml is not None:
        (tmp_path / "ohnix.toml").write_text(toml)
    assert complete("ohnix shell ", cwd=tmp_path) == ([], "")
    assert complete("ohnix -C /nonexistent/dir run ", cwd=tmp_path) == ([], "")


# --- usage errors exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "rk3568"], "Error: Missing the command to run: ohnix run rk3568 -- CMD [ARGS]..."),
        (["run", "rk3568", "--"], "Error: Missing the command to run"),
        (
            ["ci", "jenkins"],
            "Error: Invalid value for 'PROVIDER': `jenkins` is not a CI ohnix writes for; choose "
            "github or gitlab.",
        ),
        (
            ["products", "show", "rk3586"],
            "Error: Invalid value for 'PRODUCT': `rk3586` is not a product in ohnix's catalog. "
            "Did you mean `rk3568`?",
        ),
        (["init", "rk3586"], "Error: Invalid value for 'PRODUCT': `rk3586` is not a product"),
        (
            ["init", "rk3568", "rk3568"],
            "Error: Invalid value for 'PRODUCT': Product `rk3568` was given twice.",
        ),
        (
            ["init", "rk3568", "--target-cpu", "riscv64"],
            "Error: Invalid value for '--target-cpu': Product `rk3568` has no target_cpu "
            "`riscv64`; it builds for: arm, arm64.",
        ),
        (
            ["init", "--target-cpu", "arm"],  # the default product, qemu-arm64-linux-min
            "Error: Invalid value for '--target-cpu': Product `qemu-arm64-linux-min` has no "
            "target_cpu `arm`; it builds for: arm64.",
        ),
        (
            ["bridge", "cgo", "--product", "rk3586"],
            "Error: Invalid value for '--product': `rk3586` is not a product",
        ),
        (
            ["bridge", "cgo", "--product", "rk3568", "--cpu", "x86"],
            "Error: Invalid value for '--cpu': Product `rk3568` has no target_cpu `x86`",
        ),
    ],
    ids=[
        "run-no-command",
        "run-empty-command",
        "ci-provider",
        "products-show",
        "init-product",
        "init-twice",
        "init-target-cpu",
        "init-default-target-cpu",
        "cgo-product",
        "cgo-cpu",
    ],
)
def test_usage_errors_exit_2_with_the_usage(project: Path, argv: list[str], message: str) -> None:
    res = run_ohnix("-C", str(project / "new") if argv[0] == "init" else str(project), *argv)
    assert res.returncode == 2, res
    cmd = " ".join(a for a in argv[:2] if a in ("run", "ci", "products", "show", "init",
                                                 "bridge", "cgo"))  # fmt: skip
    assert res.stderr.startswith(f"Usage: ohnix {cmd} [OPTIONS]"), res.stderr
    assert f"Try 'ohnix {cmd} --help' for help." in res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""
    assert not (project / "new").exists()  # nothing written on bad usage
