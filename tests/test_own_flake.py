"""ohnix's own flake.nix and default.nix (issue 16, point 15): the package, the app and the
dev shell evaluate against the nixpkgs stand-in (tests/nixpkgs, which carries the attributes
they use), from the files git would give Nix (tracked, or untracked and not ignored)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import TESTS_DIR, ok

REPO = TESTS_DIR.parent
SYSTEMS = ("aarch64-linux", "x86_64-linux")
# What a checkout holds besides its files: none of it may reach a flake's source.
LOCAL_STATE = (".venv", "__pycache__", ".ohnix", ".pytest_cache", ".mypy_cache", "result")


def git_files() -> list[str]:
    """What a flake of this checkout is made of once committed: tracked files and those
    `git add -A` would add."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard",
                          "-z"], capture_output=True, check=True).stdout  # fmt: skip
    return [n for n in out.decode().split("\0") if n and (REPO / n).is_file()]


def test_the_flake_sees_no_local_state() -> None:
    files = git_files()
    assert {"flake.nix", "default.nix", "pyproject.toml"} <= set(files)
    assert [f for f in files if set(Path(f).parts) & set(LOCAL_STATE)] == []
    assert "flake.lock" not in files  # none committed: see flake.nix


@pytest.fixture(scope="module")
def flake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """The checkout's files as a path flake, and the options that make its nixpkgs the
    stand-in."""
    root = tmp_path_factory.mktemp("own-flake")
    for name in git_files():
        (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / "src" / name)
    shutil.copytree(TESTS_DIR / "nixpkgs", root / "nixpkgs")
    options = ["--no-write-lock-file", "--override-input", "nixpkgs", f"path:{root / 'nixpkgs'}"]
    return f"path:{root / 'src'}", options


def nix(*args: str) -> str:
    res = subprocess.run(["nix", *args], capture_output=True, text=True, check=False)
    return str(ok(res).stdout)


@pytest.mark.nix
def test_flake_show_lists_the_package_app_and_dev_shell(flake: tuple[str, list[str]]) -> None:
    ref, options = flake
    shown = json.loads(nix("flake", "show", "--json", *options, ref))
    assert sorted(shown) == ["apps", "devShells", "packages"]
    for output in shown.values():
        assert sorted(output) == list(SYSTEMS) and all(list(s) == ["default"]
                                                       for s in output.values())  # fmt: skip
    assert shown["packages"]["x86_64-linux"]["default"]["name"] == "ohnix-0.1.0"
    assert shown["apps"]["x86_64-linux"]["default"]["type"] == "app"


@pytest.mark.nix
def test_package_and_dev_shell_evaluate(flake: tuple[str, list[str]]) -> None:
    ref, options = flake
    package = 'p: { drv = p.drvPath; src = "${p.src}"; deps = map (d: d.name) p.dependencies; }'
    got = json.loads(
        nix("eval", "--json", *options, f"{ref}#packages.x86_64-linux.default", "--apply", package)
    )
    got["app"] = nix("eval", "--raw", *options, f"{ref}#apps.x86_64-linux.default.program")
    got["shell"] = nix("eval", "--raw", *options, f"{ref}#devShells.x86_64-linux.default.drvPath")
    assert got["drv"].startswith("/nix/store/") and got["drv"].endswith("-ohnix-0.1.0.drv")
    assert got["shell"].endswith("-nix-shell.drv")
    assert got["app"].endswith("-ohnix-0.1.0/bin/ohnix")
    # pyproject.toml's runtime dependencies, each from python3Packages.
    names = {d.rsplit("-", 1)[0] for d in got["deps"]}
    assert {"typer", "jinja2", "rich", "tomli-w", "pyelftools", "cyclonedx-python-lib"} <= names
    # The source is what the wheel is built from, and nothing of the checkout's state.
    src = Path(got["src"])
    assert sorted(p.name for p in src.iterdir()) == ["README.md", "nix", "ohnix", "pyproject.toml"]
    assert not list(src.rglob("__pycache__"))
    # default.nix without flakes instantiates the same package.
    stand_in = ref.removesuffix("/src").removeprefix("path:") + "/nixpkgs"
    res = subprocess.run(["nix-instantiate", str(REPO / "default.nix"), "--arg", "pkgs",
                          f"import {stand_in} {{ }}"], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert ok(res).stdout.strip() == got["drv"]
