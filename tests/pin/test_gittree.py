"""gittree: the NAR of a checkout computed from git objects must be byte for byte the NAR
Nix makes of a real checkout (`nix-store --dump`), and trees whose checkout is more than
their objects must be refused, so the caller checks out instead."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from ohnix.errors import CommandError, PrefetchError
from ohnix.pin import gittree
from ohnix.store import nar
from tests.gitrepos import git, git_env

WHAT = "test"


def env(tmp: Path) -> dict[str, str]:
    return {"HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def checkout(repo: Path, rev: str, dest: Path) -> Path:
    """What nix-prefetch-git leaves: a clone checked out at rev, every .git removed."""
    for argv in (["clone", "-q", "--no-checkout", str(repo), str(dest)],
                 ["-C", str(dest), "checkout", "-q", rev]):  # fmt: skip
        subprocess.run(["git", *argv], env=git_env(dest.parent), check=True, capture_output=True)
    shutil.rmtree(dest / ".git")
    return dest


def commit_all(repo: Path) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tree")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tree with every kind of entry and the names that sort differently in git and NAR
    (git orders `a/` as `a/`, after `a.b` and `a-b`; NAR orders plain bytes)."""
    repo = tmp_path_factory.mktemp("tricky") / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    files = {
        b"a/inner.txt": b"inner\n",
        b"a.b": b"dot\n",
        b"a-b": b"dash\n",
        b"A": b"capital\n",
        b"empty": b"",
        "caf\u00e9/\u65e5\u672c.txt".encode(): b"unicode\n",
        b"latin1-\xe9.txt": b"not utf-8 name\n",
        b"pad7": b"1234567",
        b"pad8": b"12345678",
        b"bin/tool": b"#!/bin/sh\necho tool\n",
    }
    for name, data in files.items():
        path = Path(os.fsdecode(repo)) / os.fsdecode(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (repo / "bin/tool").chmod(0o755)
    rng = random.Random(7)
    (repo / "big.bin").write_bytes(rng.randbytes(nar.CHUNK * 2 + 12345))  # > CHUNK, odd size
    (repo / "mid.bin").write_bytes(rng.randbytes(gittree.SMALL + 3))
    deep = repo.joinpath(*[f"d{i}" for i in range(60)])
    deep.mkdir(parents=True)
    (deep / "leaf").write_text("deep\n")
    (repo / "link-rel").symlink_to("a/inner.txt")
    (repo / "link-abs").symlink_to("/etc/hostname")
    (repo / "link-dangling").symlink_to("no/such/file")
    (repo / "link-dir").symlink_to("a")
    git(repo, "add", "-A")
    # A gitlink without .gitmodules: a submodule nobody fetches, an empty dir on checkout.
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'5' * 40},vendor/sub")
    git(repo, "commit", "-q", "-m", "tricky")
    return repo, git(repo, "rev-parse", "HEAD")


def test_tree_hash_equals_the_checkout(tricky: tuple[Path, str], tmp_path: Path) -> None:
    repo, rev = tricky
    tree = gittree.read(repo, rev, env=env(tmp_path), submodules=False, what=WHAT)
    assert tree is not None
    co = checkout(repo, rev, tmp_path / "co")
    assert (co / "vendor/sub").is_dir() and not any((co / "vendor/sub").iterdir())
    assert gittree.nar_hash(tree, env=env(tmp_path), what=WHAT) == nar.nar_hash(co)


@pytest.mark.nix
def test_tree_nar_is_what_nix_dumps(tricky: tuple[Path, str], tmp_path: Path) -> None:
    repo, rev = tricky
    tree = gittree.read(repo, rev, env=env(tmp_path), submodules=False, what=WHAT)
    assert tree is not None
    ours = b"".join(gittree.nar_chunks(tree, env=env(tmp_path), what=WHAT))
    co = checkout(repo, rev, tmp_path / "co")
    theirs = subprocess.run(["nix-store", "--dump", str(co)], capture_output=True, check=True)
    assert ours == theirs.stdout


def test_chunks_stay_bounded(tricky: tuple[Path, str], tmp_path: Path) -> None:
    repo, rev = tricky
    tree = gittree.read(repo, rev, env=env(tmp_path), submodules=False, what=WHAT)
    assert tree is not None
    sizes = [len(c) for c in gittree.nar_chunks(tree, env=env(tmp_path), what=WHAT)]
    # Big blobs arrive in CHUNK pieces; batches of small ones flush once past CHUNK.
    assert max(sizes) < 2 * nar.CHUNK
    assert sum(sizes) > 2 * nar.CHUNK


def plain_repo(root: Path, extra: dict[str, str]) -> tuple[Path, str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for name, text in {"src/main.c": "int main;\n", **extra}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    return repo, commit_all(repo)


@pytest.mark.parametrize(
    "extra",
    [
        {".gitattributes": "*.txt text eol=crlf\n", "a.txt": "lf\n"},
        {"deep/er/.gitattributes": "x.c ident\n", "deep/er/x.c": "$Id$\n"},
    ],
    ids=["top-level", "nested"],
)
def test_attributes_mean_a_checkout(tmp_path: Path, extra: dict[str, str]) -> None:
    repo, rev = plain_repo(tmp_path, extra)
    assert gittree.read(repo, rev, env=env(tmp_path), submodules=False, what=WHAT) is None


def test_submodules_to_fetch_mean_a_checkout(tricky: tuple[Path, str], tmp_path: Path) -> None:
    repo, rev = tricky
    assert gittree.read(repo, rev, env=env(tmp_path), submodules=True, what=WHAT) is None


def test_submodules_flag_without_gitlinks_reads_objects(tmp_path: Path) -> None:
    repo, rev = plain_repo(tmp_path, {})
    assert gittree.read(repo, rev, env=env(tmp_path), submodules=True, what=WHAT) is not None


def test_missing_object_is_a_clear_error(tmp_path: Path) -> None:
    repo, rev = plain_repo(tmp_path, {"b.txt": "bee\n"})
    tree = gittree.read(repo, rev, env=env(tmp_path), submodules=False, what=WHAT)
    assert tree is not None
    blob = git(repo, "rev-parse", f"{rev}:b.txt")
    (repo / ".git/objects" / blob[:2] / blob[2:]).unlink()
    with pytest.raises(PrefetchError, match=f"answered '{blob} missing' for object {blob}"):
        gittree.nar_hash(tree, env=env(tmp_path), what=WHAT)


def test_unknown_rev_names_the_command(tmp_path: Path) -> None:
    repo, _ = plain_repo(tmp_path, {})
    with pytest.raises(CommandError, match="ls-tree"):
        gittree.read(repo, "1" * 40, env=env(tmp_path), submodules=False, what=WHAT)
