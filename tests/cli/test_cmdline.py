"""Global options after the subcommand, project-root discovery, and the wording of values
Typer refuses (issue 16, points 4 and 8e), through the real CLI where a user sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from ohnix.cli.cmdline import hoist_globals
from ohnix.cli.main import app
from tests.helpers import Ohnix

TOML = '[project]\nname = "p"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
USAGE_ROOT = "Usage: ohnix [OPTIONS] COMMAND [ARGS]...\nTry 'ohnix --help' for help.\n\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lock", "-v"], ["-v", "lock"]),
        (["lock", "-vv", "--check"], ["-vv", "lock", "--check"]),
        (["shell", "rk3566", "-C", "dir"], ["-C", "dir", "shell", "rk3566"]),
        (["shell", "rk3566", "--directory=dir"], ["--directory=dir", "shell", "rk3566"]),
        (
            ["cache", "push", "rk3566", "-Cdir", "--to", "file:///c"],
            ["-Cdir", "cache", "push", "rk3566", "--to", "file:///c"],
        ),
        (["products", "show", "rk3568", "-v"], ["-v", "products", "show", "rk3568"]),
        (["audit", "rk3566", "-v"], ["-v", "audit", "rk3566"]),
        (["-C", "d", "lock", "-v"], ["-v", "-C", "d", "lock"]),
        # The user's: after `--`, and a run command's own arguments.
        (["run", "P", "--", "make", "-v", "-C", "x"], None),
        (["run", "P", "make", "-v"], None),
        (["run", "P", "-v", "--", "make", "-v"], ["-v", "run", "P", "--", "make", "-v"]),
        (["run", "--print-env", "P", "-C", "d"], ["-C", "d", "run", "--print-env", "P"]),
        # An option's value is never taken for a global option.
        (["audit", "report", "-o", "-v"], None),
        (["lock", "--seed", "-C"], None),
        (["no-such-command", "-v"], None),
    ],
)
def test_global_options_after_the_subcommand_move_before_it(
    argv: list[str], expected: list[str] | None
) -> None:
    assert hoist_globals(typer.main.get_command(app), argv) == (expected or argv)


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_missing_directory_is_a_usage_error(ohnix: Ohnix, tmp_path: Path, where: str) -> None:
    """Exit 2, as every other bad option value, not "No ohnix.toml" (git says `cannot
    change to` and exits 128, its code for any fatal error; ohnix keeps 2 for usage)."""
    missing = tmp_path / "nonexistent"
    args = ["-C", str(missing), "config"] if where == "before" else ["config", "-C", str(missing)]
    res = ohnix(*args)
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (
        f"{USAGE_ROOT}Error: -C {missing}: no such directory; -C takes the folder to work in.\n"
    )
    (tmp_path / "file").write_text("")
    res = ohnix("-C", str(tmp_path / "file"), "config")
    assert res.returncode == 2 and f"-C {tmp_path / 'file'}: not a directory;" in res.stderr
    # `ohnix -C new init` starts a project in a new folder, as `git init new` does.
    assert ohnix("-C", str(missing), "init").returncode == 0
    assert (missing / "ohnix.toml").is_file()


def test_the_project_is_found_above_the_working_directory(ohnix: Ohnix, tmp_path: Path) -> None:
    project = tmp_path / "myproj"
    (project / "nix" / "ohnix").mkdir(parents=True)
    (project / "ohnix.toml").write_text(TOML)
    for cwd, args in ((project / "nix" / "ohnix", []), (tmp_path, ["-C", str(project / "nix")])):
        res = ohnix(*args, "config", cwd=cwd)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"{project / 'ohnix.toml'}: project p,")
    # `init` still writes where it is started (or -C DIR), not in the project above.
    res = ohnix("init", cwd=project / "nix")
    assert res.returncode == 0, res.stderr
    assert (project / "nix" / "ohnix.toml").is_file()
    assert (project / "ohnix.toml").read_text() == TOML


def test_no_project_above_says_where_it_looked(
    ohnix: Ohnix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ohnix.toml").write_text(TOML)  # above the ceiling: not looked at
    (tmp_path / "ceiling" / "a").mkdir(parents=True)
    res = ohnix("config", cwd=tmp_path / "ceiling" / "a",
                env={"OHNIX_CEILING_DIRECTORIES": str(tmp_path / "ceiling")})  # fmt: skip
    assert res.returncode == 1
    assert res.stderr == (
        f"ohnix: error: No ohnix.toml in {tmp_path / 'ceiling' / 'a'} or any folder above it "
        "(below OHNIX_CEILING_DIRECTORIES). Run `ohnix init` to write a starter one here, or "
        "pass -C DIR to work on the project in DIR.\n"
    )


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (
            ["sbom", "qemu-arm64-linux-min", "--format", "spdx"],
            "sbom [OPTIONS] PRODUCT",
            "--format takes cyclonedx, not `spdx`.",
        ),
        (
            ["lock", "-j", "0"],
            "lock [OPTIONS] [NAME]...",
            "--jobs takes a whole number of at least 1, not `0`.",
        ),
        (
            ["lock", "--jobs", "many"],
            "lock [OPTIONS] [NAME]...",
            "--jobs takes a whole number of at least 1, not `many`.",
        ),
        (
            ["bridge", "syscalls", "--arch", "mips"],
            "bridge syscalls [OPTIONS]",
            "--arch takes one of arm64, arm, riscv64, x86_64, not `mips`.",
        ),
    ],
)
def test_refused_option_values_are_ohnix_sentences(
    ohnix: Ohnix, tmp_path: Path, args: list[str], usage: str, error: str
) -> None:
    """Issue 16, point 8e: not pydantic's "Value error, 'spdx' is not one of 'cyclonedx'"
    or "Input should be greater than or equal to 1"."""
    (tmp_path / "ohnix.toml").write_text(TOML)
    res = ohnix(*args, cwd=tmp_path)
    command = " ".join(args[: 2 if args[0] == "bridge" else 1])
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (
        f"Usage: ohnix {usage}\nTry 'ohnix {command} --help' for help.\n\nError: {error}\n"
    )
