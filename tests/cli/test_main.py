"""The bad-input matrix through the real CLI: exit 1, one clear paragraph, no traceback."""

import re
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        (None, "No ohnix.toml"),
        ("[project]\nname = 'x'\n[products.rk3568\n", "line 3"),
        ("[project]\nname = 'x'\ncolour = 1\n[products.rk3568]\n", "unknown key `colour`"),
        ("[project]\nname = ['x']\n[products.rk3568]\n", "expected a string"),
        ("[project]\nname = 'x'\n[products.rk3586]\nprovider='host'\n", "Did you mean `rk3568`"),
        ("[project]\nname = 'x'\n[products.rk3568]\n[products.rk3568]\n", "defined twice"),
    ],
)
def test_bad_input_exits_1_without_traceback(
    ohnix, tmp_path: Path, toml: str | None, needle: str
) -> None:
    if toml is not None:
        (tmp_path / "ohnix.toml").write_text(toml)
    res = ohnix("-C", str(tmp_path), "config")
    assert res.returncode == 1, res
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("ohnix: error: ")


def test_init_writes_and_refuses_to_overwrite(ohnix, tmp_path: Path) -> None:
    res = ohnix("-C", str(tmp_path), "init", "rk3568", "qemu-arm64-linux-min")
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "ohnix.toml").read_text()
    assert "[products.rk3568]" in text and "[products.qemu-arm64-linux-min]" in text
    # The starter is valid as written.
    assert ohnix("-C", str(tmp_path), "config").returncode == 0
    again = ohnix("-C", str(tmp_path), "init")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "ohnix.toml").read_text() == text
    # A .gitignore of the machine-local folders only: what Nix must see stays committable.
    ignored = (tmp_path / ".gitignore").read_text().split()
    assert {"/.ohnix/", "/out/", "/gen/"} <= set(ignored)
    assert not {"/ohnix.lock", "/flake.nix", "/flake.lock", "/default.nix", "/nix/"} & set(ignored)
    assert f"wrote {tmp_path / '.gitignore'}" in res.stdout


def test_init_keeps_an_existing_gitignore(ohnix, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("mine\n")
    assert ohnix("-C", str(tmp_path), "init").returncode == 0
    assert (tmp_path / ".gitignore").read_text() == "mine\n"


def test_init_unknown_product(ohnix, tmp_path: Path) -> None:
    res = ohnix("-C", str(tmp_path), "init", "qemu-arm64-linux")
    assert res.returncode == 2  # not a product at all: a usage error
    assert "Did you mean `qemu-arm64-linux-min`" in res.stderr
    assert not (tmp_path / "ohnix.toml").exists()


def test_version_and_help_examples(ohnix) -> None:
    assert ohnix("--version").stdout.startswith("ohnix 0.")
    for cmd in (["products"], ["init"], ["doctor"], ["config"]):
        res = ohnix(*cmd, "--help")
        assert res.returncode == 0
        assert "Example:" in res.stdout, cmd


def test_usage_error_is_exit_2(ohnix) -> None:
    res = ohnix("no-such-command")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr


def test_completion_is_available(ohnix) -> None:
    res = ohnix("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert res.returncode == 0
    assert "_OHNIX_COMPLETE" in res.stdout


@pytest.mark.parametrize("provider", ["host", "nixpkgs", "ohos-prebuilts"])
def test_init_provider(ohnix, tmp_path: Path, provider: str) -> None:
    res = ohnix("-C", str(tmp_path), "init", "qemu-arm64-linux-min", "--provider", provider)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "ohnix.toml").read_text()
    assert f'provider = "{provider}"' in text
    # The starter is valid as written for each provider (nixpkgs: with a [nixpkgs] table).
    shown = ohnix("-C", str(tmp_path), "config")
    assert shown.returncode == 0, shown.stderr
    assert f"qemu-arm64-linux-min: aarch64-linux-ohos via {provider}" in shown.stdout
    assert ("\n[nixpkgs]\n" in text) == (provider == "nixpkgs")


def test_init_unknown_provider_is_a_usage_error(ohnix, tmp_path: Path) -> None:
    res = ohnix("-C", str(tmp_path), "init", "--provider", "prebuilts")
    assert res.returncode == 2, res
    assert res.stderr.endswith(
        "Error: --provider takes one of nixpkgs, ohos-prebuilts, host, not `prebuilts`.\n"
    )  # ohnix's words, not pydantic's (issue 16, point 8e)
    assert not (tmp_path / "ohnix.toml").exists()


def test_user_facing_text_points_only_to_what_an_installed_ohnix_has() -> None:
    """scripts/, docs/ and examples/ are in the repository, not in an installed ohnix: no
    message, hint, template or rendered Nix file may send a user there (docstrings and
    comments of the code may)."""
    import ast
    import re

    repo = Path(__file__).resolve().parents[2]
    pointer = re.compile(r"(?<![\w/])(scripts|docs|examples)/")
    found = []
    for path in sorted((repo / "ohnix").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and pointer.search(node.value)):  # fmt: skip
                found.append(f"{path.relative_to(repo)}:{node.lineno}")
    shipped = [*(repo / "ohnix" / "render" / "templates").iterdir(), *(repo / "nix").rglob("*")]
    for path in sorted(p for p in shipped if p.is_file()):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pointer.search(line):
                found.append(f"{path.relative_to(repo)}:{n}")
    assert found == []


def test_init_target_cpu_writes_cpu_under_each_product(ohnix, tmp_path: Path) -> None:
    import tomllib

    from ohnix import config

    res = ohnix("-C", str(tmp_path), "init", "rk3568", "rk3566", "--target-cpu", "arm64")
    assert res.returncode == 0, res.stderr
    data = tomllib.loads((tmp_path / "ohnix.toml").read_text())
    assert {n: p.get("cpu") for n, p in data["products"].items()} == {
        "rk3568": "arm64", "rk3566": "arm64"
    }  # fmt: skip
    cfg = config.load(tmp_path)
    assert {pc.product.triple for pc in cfg.products} == {"aarch64-linux-ohos"}


def test_every_mention_of_target_cpu_is_a_command_that_works(ohnix, tmp_path: Path) -> None:
    from ohnix.render import starter

    repo = Path(__file__).resolve().parents[2]
    texts = {
        "products show rk3568": ohnix("products", "show", "rk3568").stdout,
        "products show rk3566": ohnix("products", "show", "rk3566").stdout,
        "init --help": ohnix("init", "--help").stdout,
        "init template": starter.text("p", ["rk3568"]),
        "init template, --target-cpu": starter.text("p", ["rk3568"], "arm64"),
        **{name: (repo / name).read_text() for name in
           ("README.md", "docs/products.md", "docs/config.md")},
    }  # fmt: skip
    commands = set()
    for where, text in texts.items():
        assert "Other target_cpu" not in text, where  # the old, garbled init comment
        for found in re.finditer("--target-cpu", text):
            before = text[max(0, found.start() - 60) : found.start()]
            # OpenHarmony's own option, ohnix init's (with a product), or its --help entry.
            assert re.search(r"(`hb build |ohnix init( [\w-]+)+ |\n  )$", before), (where, before)
        commands |= set(re.findall(r"ohnix init ([a-z0-9_-]+) --target-cpu ([a-z0-9_]+)", text))
    assert ("rk3568", "arm64") in commands and ("rk3566", "arm64") in commands
    for product, cpu in sorted(commands):
        where = tmp_path / f"{product}-{cpu}"
        res = ohnix("-C", str(where), "init", product, "--target-cpu", cpu)
        assert res.returncode == 0, res.stderr
        assert f'cpu = "{cpu}"' in (where / "ohnix.toml").read_text()
