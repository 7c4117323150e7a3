"""The README's recipes, run literally: "Your first shell" and "Your first build", from a
clone of this repository (inside its git work tree), from a fresh `git init` directory,
and from a directory outside any git repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitrepos import git_env

REPO = Path(__file__).resolve().parent.parent
PLACES = ("clone", "git-init", "no-git")


def recipe(title: str) -> str:
    """The first ```sh block under the README heading `### <title>`."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"^### {re.escape(title)}\n.*?```sh\n(.*?)```", text, re.M | re.S)
    assert match, f"README has no sh block under ### {title}"
    return match.group(1)


def place(tmp_path: Path, kind: str) -> Path:
    """Where a newcomer runs the recipe: a clone of the repository as it is now (the work
    tree's files committed), a fresh `git init` directory holding examples/, or neither."""
    env = git_env()
    where = tmp_path / kind
    if kind == "clone":
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard",
                                "-z"], capture_output=True, check=True).stdout  # fmt: skip
        for name in filter(None, files.decode().split("\0")):
            src = REPO / name
            if src.is_file():
                (where / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, where / name)
        subprocess.run(["git", "init", "-q", str(where)], check=True, env=env)
        subprocess.run(["git", "-C", str(where), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(where), "commit", "-qm", "clone"], check=True, env=env)
        return where
    where.mkdir()
    if kind == "git-init":
        subprocess.run(["git", "init", "-q", str(where)], check=True, env=env)
    shutil.copytree(REPO / "examples", where / "examples")
    return where


def run_recipe(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # `ohnix` is the one installed next to this interpreter (.venv/bin), as the README has it.
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                          env={**os.environ, "PATH": path}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False)  # fmt: skip


def first_shell_made(where: Path, stdout: str, _kind: str) -> None:
    assert "clang version 19" in stdout  # `ohnix run rk3566 -- sh -c '$CC --version'`
    assert (where / "myproj" / "flake.nix").is_file()


def first_build_made(where: Path, _stdout: str, kind: str) -> None:
    binary = where / "mybridge" / "out" / "qemu-arm64-linux-min" / "bridge"
    assert binary.read_bytes()[:4] == b"\x7fELF"
    if kind != "no-git":
        # What Nix must see is visible to git: tracked or intent-to-add, never ignored.
        listed = subprocess.run(["git", "ls-files"], cwd=where / "mybridge", capture_output=True,
                                text=True, check=True).stdout.split()  # fmt: skip
        for name in ("ohnix.lock", "flake.nix", "flake.lock", "default.nix"):
            assert name in listed, (name, listed)


RECIPES = {"Your first shell": first_shell_made, "Your first build": first_build_made}


@pytest.mark.nix
@pytest.mark.e2e
@pytest.mark.parametrize("kind", PLACES)
@pytest.mark.parametrize("title", list(RECIPES))
def test_readme_recipe(tmp_path: Path, title: str, kind: str, ohos_sources: Path) -> None:
    # The recipes seed from ~/.cache/ohnix/sources, where scripts/demo (and the fixture) put
    # the OHOS toolchain's sources.
    assert ohos_sources.is_dir()
    where = place(tmp_path, kind)
    res = run_recipe(recipe(title), where)
    assert res.returncode == 0, res.stdout + res.stderr
    RECIPES[title](where, res.stdout, kind)
