"""Prefetching through the real CLI, checked against Nix itself.

git: each pinned hash must be accepted by a recursive fixed-output derivation, must be what
`builtins.fetchGit` computes for the same rev and flags, and must be rebuilt by an FOD that
really clones with git after the store path is deleted. url: equal to nix-prefetch-url and
nix-hash. nix-prefetch-git: a recording fake checks the argv and env ohnix gives it.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ohnix import proc
from ohnix.pin import prefetch
from ohnix.pin.lockfile import Spec
from ohnix.store import nar
from tests.gitrepos import (
    Repo,
    fetch_git,
    fod_accepts,
    fod_clone,
    git,
    is_valid,
    read_lock,
    run,
    store_delete,
    to_sri,
    write_project,
)
from tests.helpers import Ohnix, json_result


@dataclass(frozen=True)
class Repos:
    main: Repo
    sup: Repo  # a superproject: submodule `sub` (absolute URL) which has its own `deep`
    bare_rev: str  # a commit on main that no ref points at


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Repos:
    root = tmp_path_factory.mktemp("prefetch-repos")
    token = root.name
    main = Repo.create(root / "main", token)
    git(main.path, "tag", "v1")  # lightweight
    main.commit({"src/v2.txt": "two\n"})
    git(main.path, "tag", "-a", "v2", "-m", "annotated v2")
    bare_rev = main.commit({"src/three.txt": "three\n"})
    main.commit({"src/four.txt": "four\n"})  # HEAD of main
    git(main.path, "checkout", "-q", "-b", "feature", "v2")
    main.commit({"feature.txt": "feature\n"})
    git(main.path, "checkout", "-q", "main")

    deep = Repo.create(root / "deep", token + "-deep")
    sub = Repo.create(root / "sub", token + "-sub")
    git(sub.path, "submodule", "add", "-q", deep.url, "deep")
    git(sub.path, "commit", "-q", "-m", "add deep")
    sup = Repo.create(root / "sup", token + "-sup")
    git(sup.path, "submodule", "add", "-q", sub.url, "sub")
    git(sup.path, "commit", "-q", "-m", "add sub")
    git(sup.path, "tag", "abs")
    # The same submodule by a relative URL, resolved against the superproject's URL.
    git(sup.path, "config", "-f", ".gitmodules", "submodule.sub.url", "../sub")
    git(sup.path, "commit", "-q", "-a", "-m", "relative submodule URL")
    git(sup.path, "tag", "rel")
    return Repos(main, sup, bare_rev)


# name: (which repo, the source table minus `git`, the ref git resolves, submodules)
GIT_CASES: dict[str, tuple[str, dict[str, Any], str, bool]] = {
    "tag": ("main", {"ref": "v1"}, "v1", False),
    "annotated-tag": ("main", {"ref": "v2"}, "v2", False),
    "branch": ("main", {"ref": "feature"}, "feature", False),
    "bare-rev": ("main", {}, "", False),  # rev filled in from the fixture
    "HEAD": ("main", {"ref": "HEAD"}, "HEAD", False),
    "full-ref": ("main", {"ref": "refs/tags/v2"}, "v2", False),
    "submodules": ("sup", {"ref": "abs", "submodules": True}, "abs", True),
    "no-submodules": ("sup", {"ref": "abs", "submodules": False}, "abs", False),
    "relative-submodules": ("sup", {"ref": "rel", "submodules": True}, "rel", True),
}


@pytest.mark.nix
@pytest.mark.parametrize("case", list(GIT_CASES))
def test_git_pin_is_what_nix_fetches(ohnix: Ohnix, repos: Repos, tmp_path: Path, case: str) -> None:
    which, table, ref, submodules = GIT_CASES[case]
    repo = repos.main if which == "main" else repos.sup
    table = dict(table)
    if case == "bare-rev":
        table["rev"] = repos.bare_rev
    expected_rev = repos.bare_rev if case == "bare-rev" else repo.rev(ref)
    project = write_project(tmp_path / "p", {"src": {"git": repo.url, **table}})

    res = ohnix("-C", str(project), "lock", "--json")
    assert res.returncode == 0, res.stderr
    report = json_result(res.stdout)
    assert report["pins"]["sources/src"]["status"] == "fetched"

    # What ohnix.lock says, read back as TOML: the rev git names, and every flag used.
    pin = read_lock(project)["sources"]["src"]
    assert pin["rev"] == expected_rev
    assert pin["url"] == repo.url
    assert pin.get("ref") == table.get("ref")
    assert pin["submodules"] is submodules
    assert (pin["deep_clone"], pin["leave_dot_git"], pin["lfs"]) == (False, False, False)
    assert pin["store_name"] == "source"
    assert report["pins"]["sources/src"]["hash"] == pin["hash"]

    # Nix's own git fetcher gives the same tree for that rev and flags.
    fetched = fetch_git(repo.url, expected_rev, submodules=submodules)
    assert fetched["narHash"] == pin["hash"]

    # A recursive FOD with that hash and a failing builder "builds": ohnix added the path.
    path = fod_accepts(pin["hash"])
    assert path == fetched["path"]
    assert path == nar.source_path("source", nar.parse_hash(pin["hash"]))

    # Without the path, an FOD that really clones with git rebuilds it, and Nix checks it.
    store_delete(path)
    assert fod_clone(repo.url, expected_rev, pin["hash"], submodules=submodules) == path
    assert is_valid(path)


@pytest.mark.nix
def test_submodule_flag_changes_the_pin(ohnix: Ohnix, repos: Repos, tmp_path: Path) -> None:
    """Same rev, submodules on and off: two different hashes, each recorded with its flag
    (the classic cause of hash mismatches is exactly this flag being lost)."""
    sources = {
        "with": {"git": repos.sup.url, "ref": "abs", "submodules": True},
        "without": {"git": repos.sup.url, "ref": "abs", "submodules": False},
    }
    project = write_project(tmp_path / "p", sources)
    res = ohnix("-C", str(project), "lock")
    assert res.returncode == 0, res.stderr
    pins = read_lock(project)["sources"]
    assert pins["with"]["rev"] == pins["without"]["rev"]
    assert pins["with"]["hash"] != pins["without"]["hash"]
    text = (project / "ohnix.lock").read_text()
    assert "[sources.with]" in text and "submodules = true" in text
    assert "[sources.without]" in text and "submodules = false" in text


# --- which route the built-in fetcher takes ---------------------------------------------


def _commands(stderr: str) -> list[str]:
    """The commands `ohnix -v` reports running."""
    return [line[2:] for line in stderr.splitlines() if line.startswith("$ ")]


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.nix
def test_local_repository_is_read_in_place(ohnix: Ohnix, tmp_path: Path) -> None:
    """A plain tree in a local repository: no fetch and no checkout, just its objects;
    the repository is left exactly as it was, and the store gets the tree."""
    repo = Repo.create(tmp_path / "in-place", tmp_path.name)
    before = _snapshot(repo.path / ".git")
    project = write_project(tmp_path / "p", {"src": {"git": repo.url, "ref": "main"}})

    res = ohnix("-v", "-C", str(project), "lock")
    assert res.returncode == 0, res.stderr
    git_commands = [c for c in _commands(res.stderr) if c.startswith("git ")]
    assert any(f"-C {repo.path} cat-file --batch" in c for c in git_commands), git_commands
    assert not [c for c in git_commands if " fetch " in c or " checkout " in c]
    assert _snapshot(repo.path / ".git") == before

    pin = read_lock(project)["sources"]["src"]
    path = nar.source_path("source", nar.parse_hash(pin["hash"]))
    assert is_valid(path)  # a tree new to the store: nix-store --restore + --add-fixed
    assert pin["hash"] == fetch_git(repo.url, repo.rev("main"), submodules=False)["narHash"]
    assert pin["date"] == git(repo.path, "log", "-1", "--format=%cI", "main")
    assert pin["last_modified"] == int(git(repo.path, "log", "-1", "--format=%ct", "main"))


@pytest.mark.nix
@pytest.mark.parametrize(
    "attributes",
    [("*.txt text eol=crlf\n", "a.txt", "one\ntwo\n"), ("*.c ident\n", "x.c", "/* $Id$ */\n")],
    ids=["eol", "ident"],
)
def test_gitattributes_mean_a_real_checkout(
    ohnix: Ohnix, tmp_path: Path, attributes: tuple[str, str, str]
) -> None:
    """A checkout rewrites these files, so the objects alone would give a wrong hash: the
    pin must be what an FOD that really clones and checks out builds (Nix checks it)."""
    rules, name, text = attributes
    repo = Repo.create(tmp_path / "attrs", tmp_path.name)
    rev = repo.commit({".gitattributes": rules, name: text})
    project = write_project(tmp_path / "p", {"src": {"git": repo.url, "rev": rev}})

    res = ohnix("-v", "-C", str(project), "lock")
    assert res.returncode == 0, res.stderr
    assert any(" checkout -q " in c for c in _commands(res.stderr))
    pin = read_lock(project)["sources"]["src"]
    path = nar.source_path("source", nar.parse_hash(pin["hash"]))
    store_delete(path)
    assert fod_clone(repo.url, rev, pin["hash"], submodules=False) == path


@pytest.mark.nix
def test_fetched_repository_is_hashed_from_its_objects(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository that is not on this disk: fetched into a temporary repository, then
    hashed from the fetched objects (no checkout), equal to Nix's fetchGit."""
    monkeypatch.setattr(prefetch, "_local_repo", lambda _url: None)  # as if it were remote
    ran: list[list[str]] = []
    real_run = proc.run

    def spy(argv: Any, **kwargs: Any) -> proc.Result:
        ran.append([str(a) for a in argv])
        return real_run(argv, **kwargs)

    monkeypatch.setattr(proc, "run", spy)
    spec = Spec(key="sources/src", kind="git", url=repos.main.url, ref="v2")
    path = nar.source_path("source", nar.parse_hash(prefetch.prefetch(spec).hash))
    store_delete(path)  # so the second prefetch must add the tree itself
    ran.clear()
    pin = prefetch.prefetch(spec)
    assert any("fetch" in argv for argv in ran)
    assert not any("checkout" in argv for argv in ran)
    assert is_valid(path)
    assert pin.hash == fetch_git(repos.main.url, repos.main.rev("v2"), submodules=False)["narHash"]


# --- url sources ----------------------------------------------------------------------


def _tarball(root: Path) -> Path:
    tree = root / "pkg-1.0"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    (tree / "bin" / "tool").chmod(0o755)
    (tree / "share").mkdir()
    (tree / "share" / "data.txt").write_text(f"data {root.name}\n")
    (tree / "share" / "link").symlink_to("data.txt")
    archive = root / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="pkg-1.0")
    return archive


@pytest.mark.nix
def test_url_sources_match_nix_prefetch_url(ohnix: Ohnix, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    archive = _tarball(files)
    flat = files / "blob.bin"
    flat.write_bytes(bytes(range(256)) * 64 + tmp_path.name.encode())
    sources: dict[str, dict[str, Any]] = {
        "tarball": {"url": f"file://{archive}", "unpack": True},
        "flat": {"url": f"file://{flat}"},
    }
    project = write_project(tmp_path / "p", sources)
    res = ohnix("-C", str(project), "lock")
    assert res.returncode == 0, res.stderr
    pins = read_lock(project)["sources"]

    # unpack = true: the NAR hash of the unpacked tree, as nix-prefetch-url --unpack and
    # nix-hash of the extracted tree say.
    unpacked = run(["nix-prefetch-url", "--unpack", "--type", "sha256", f"file://{archive}"])
    extract = tmp_path / "x"
    extract.mkdir()
    run(["tar", "-xzf", str(archive), "-C", str(extract)])
    by_nix_hash = run(["nix-hash", "--type", "sha256", "--base32", str(extract / "pkg-1.0")])
    assert unpacked == by_nix_hash
    assert pins["tarball"]["hash"] == to_sri(unpacked)
    assert pins["tarball"]["unpack"] is True
    assert is_valid(
        run(["nix-store", "--print-fixed-path", "--recursive", "sha256", unpacked, "source"])
    )

    # A plain file: the flat hash of its bytes.
    flat_nix = run(["nix-hash", "--flat", "--type", "sha256", "--base32", str(flat)])
    assert run(["nix-prefetch-url", "--type", "sha256", f"file://{flat}"]) == flat_nix
    assert pins["flat"]["hash"] == to_sri(flat_nix)
    assert pins["flat"]["unpack"] is False
    assert is_valid(run(["nix-store", "--print-fixed-path", "sha256", flat_nix, "source"]))
    # url pins carry no git flags; git pins carry no unpack.
    assert "submodules" not in pins["flat"] and "rev" not in pins["flat"]


# --- the nix-prefetch-git path --------------------------------------------------------

FAKE = """\
#!{python}
# A stand-in for nixpkgs' nix-prefetch-git: record argv and env, answer like the real one
# on Nix 2.8 (`hash` empty, because `nix-hash --to-sri` does not exist there).
import json, os, sys
argv = sys.argv[1:]
with open({log!r}, "a") as f:
    keys = {keys!r}
    f.write(json.dumps({{"argv": argv, "env": {{k: os.environ.get(k) for k in keys}}}}) + "\\n")
print(json.dumps({{
    "url": argv[argv.index("--url") + 1],
    "rev": argv[argv.index("--rev") + 1],
    "date": {date!r},
    "path": {path!r},
    "sha256": {sha256!r},
    "hash": "",
    "fetchLFS": "--fetch-lfs" in argv,
    "fetchSubmodules": "--fetch-submodules" in argv,
    "deepClone": "--deepClone" in argv,
    "leaveDotGit": "--leave-dotGit" in argv,
}}, indent=2))
"""
HAZARDS = {  # what the real script reads from the environment
    "NIX_PREFETCH_GIT_DEEP_CLONE": "1",
    "NIX_PREFETCH_GIT_LEAVE_DOT_GIT": "1",
    "NIX_HASH_ALGO": "sha512",
    "NIX_PREFETCH_GIT_CHECKOUT_HOOK": "rm -rf src",
    "NIX_PREFETCH_GIT_BRANCH_NAME": "other",
}
FLAGS = {
    "submodules": "--fetch-submodules",
    "deep_clone": "--deepClone",
    "leave_dot_git": "--leave-dotGit",
    "lfs": "--fetch-lfs",
}


@pytest.mark.nix
@pytest.mark.parametrize(
    "flags",
    [(), ("submodules",), ("deep_clone", "lfs"), tuple(FLAGS)],
    ids=["none", "submodules", "deep-lfs", "all"],
)
def test_nix_prefetch_git_gets_every_flag(
    ohnix: Ohnix, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    repo = Repo.create(tmp_path / "repo", tmp_path.name)
    git(repo.path, "tag", "v1")
    # The tree the script "fetched", in the store under the script's own name (url-rev7).
    tree = tmp_path / "out" / f"repo-{repo.rev('v1')[:7]}"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "main.c").write_text(f"int main(void) {{ return 0; }} /* {tmp_path.name} */\n")
    store_path = run(["nix-store", "--add-fixed", "--recursive", "sha256", str(tree)])
    nix32 = run(["nix-hash", "--type", "sha256", "--base32", str(tree)])
    date = "2024-03-08T12:34:56+08:00"

    bindir, log, tmpdir = tmp_path / "bin", tmp_path / "argv.jsonl", tmp_path / "tmp"
    bindir.mkdir()
    tmpdir.mkdir()
    fake = bindir / "nix-prefetch-git"
    fake.write_text(
        FAKE.format(
            python=sys.executable,
            log=str(log),
            keys=sorted(HAZARDS),
            date=date,
            path=store_path,
            sha256=nix32,
        )
    )
    fake.chmod(0o755)
    table: dict[str, Any] = {"git": repo.url, "ref": "v1", **dict.fromkeys(flags, True)}
    project = write_project(tmp_path / "p", {"src": table})
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "TMPDIR": str(tmpdir)}
    res = ohnix("-C", str(project), "lock", env={**env, **HAZARDS})
    assert res.returncode == 0, res.stderr

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert argv[argv.index("--url") + 1] == repo.url
    assert argv[argv.index("--rev") + 1] == repo.rev("v1")  # a full commit, never a tag name
    passed = {a for a in argv if a.startswith("--")} - {"--url", "--rev", "--quiet"}
    assert passed == {FLAGS[f] for f in flags}
    # The script's environment switches cannot flip what the flags say.
    assert all(not v for v in calls[0]["env"].values()), calls[0]["env"]

    pin = read_lock(project)["sources"]["src"]
    assert pin["hash"] == to_sri(nix32)  # from `sha256`, not the empty `hash`
    assert pin["rev"] == repo.rev("v1")
    assert pin["date"] == date
    assert pin["last_modified"] == int(run(["date", "-d", date, "+%s"]))
    for flag in FLAGS:
        assert pin[flag] is (flag in flags)
    # The build fetches it as `source`: that path is in the store too, and no temp copy left.
    assert is_valid(
        run(["nix-store", "--print-fixed-path", "--recursive", "sha256", nix32, "source"])
    )
    assert list(tmpdir.iterdir()) == []


REV = "8fd9daa3db09ced9700431c5b7ad0e8ba199b575"
UNREACHABLE = "https://127.0.0.1:1/nixpkgs.git"  # refused at once, online or not


@pytest.mark.nix
@pytest.mark.parametrize("table", ["nixpkgs", "sources.extra"])
def test_an_unreachable_rev_says_what_to_check(ohnix: Ohnix, tmp_path: Path, table: str) -> None:
    """Issue 16, point 8c: a `rev =` pin that cannot be fetched (offline) gets the kind of
    hint a `ref =` one has, not git's raw output and its temporary folder."""
    pin = f'url = "{UNREACHABLE}"' if table == "nixpkgs" else f'git = "{UNREACHABLE}"'
    provider = "nixpkgs" if table == "nixpkgs" else "host"
    (tmp_path / "ohnix.toml").write_text(
        f'[project]\nname = "p"\n[{table}]\n{pin}\nrev = "{REV}"\n'
        f'[products.qemu-arm64-linux-min]\nprovider = "{provider}"\n'
    )
    res = ohnix("-C", str(tmp_path), "lock")
    key = table.replace(".", "/", 1)
    assert res.returncode == 1
    # Between the two: git's (or nix-prefetch-git's) last line, which names the URL.
    assert res.stderr.startswith(
        f"ohnix: error: `{key}`: cannot fetch rev {REV} from {UNREACHABLE}: "
    ), res.stderr
    assert res.stderr.endswith(
        f". Check your network and that [{table}] rev in ohnix.toml is a commit of that "
        "repository (or use --offline with an existing lock).\n"
    ), res.stderr
    assert res.stderr.count("\n") == 1 and "ohnix-" not in res.stderr  # no raw argv, no temp dir
