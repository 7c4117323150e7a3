"""`ohnix lock` options and failures through the real CLI, against local git repositories.

Every failure must exit 1 with one `ohnix: error:` paragraph naming the source and its URL,
without a traceback, and leave an existing ohnix.lock byte for byte as it was.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ohnix.pin import lockfile
from tests.gitrepos import Repo, git, read_lock, tmp_leftovers, write_project
from tests.helpers import Ohnix, json_result

MISSING_REV = "0123456789abcdef0123456789abcdef01234567"


def flat(text: str) -> str:
    """Output with line wrapping undone (rich wraps the human report at 80 columns)."""
    return " ".join(text.split())


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo.create(tmp_path / "repo", tmp_path.name)
    git(r.path, "tag", "v1")
    git(r.path, "branch", "stable")
    return r


@pytest.fixture
def locked(ohnix: Ohnix, tmp_path: Path, repo: Repo) -> Path:
    """A project with two pinned sources and its ohnix.lock."""
    sources = {
        "a": {"git": repo.url, "ref": "main"},
        "b": {"git": repo.url, "ref": "stable"},
    }
    project = write_project(tmp_path / "p", sources)
    res = ohnix("-C", str(project), "lock")
    assert res.returncode == 0, res.stderr
    return project


def add_source(project: Path, name: str, table: dict[str, Any]) -> None:
    with (project / "ohnix.toml").open("a") as f:
        f.write(f"\n[sources.{name}]\n")
        for k, v in table.items():
            f.write(f"{k} = {json.dumps(v)}\n")


def assert_clean_failure(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert res.stderr.startswith("ohnix: error: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)


# --- failures -------------------------------------------------------------------------


@pytest.mark.nix
@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ({"git": "file:///nonexistent/repo", "ref": "main"}, ["file:///nonexistent/repo"]),
        ({"ref": "no-such-ref"}, ["no-such-ref"]),
        ({"rev": MISSING_REV}, [MISSING_REV]),
    ],
    ids=["unreachable-url", "missing-ref", "missing-rev"],
)
def test_fetch_failures_keep_the_lock(
    ohnix: Ohnix, locked: Path, repo: Repo, table: dict[str, Any], needles: list[str]
) -> None:
    before = (locked / "ohnix.lock").read_bytes()
    add_source(locked, "bad", {"git": repo.url, **table})
    url = table.get("git", repo.url)
    res = ohnix("-C", str(locked), "lock")
    assert_clean_failure(res, "sources/bad", url, *needles)
    assert (locked / "ohnix.lock").read_bytes() == before
    assert tmp_leftovers(locked) == []


@pytest.mark.nix
def test_keep_going_pins_the_rest(ohnix: Ohnix, tmp_path: Path, repo: Repo) -> None:
    sources = {
        "good": {"git": repo.url, "ref": "v1"},
        "bad": {"git": "file:///nonexistent/repo", "ref": "main"},
        "also-good": {"git": repo.url, "ref": "stable"},
    }
    project = write_project(tmp_path / "p", sources)

    res = ohnix("-C", str(project), "lock", "--keep-going", "--json")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    pins = json_result(res.stdout)["pins"]
    assert pins["sources/bad"]["status"] == "failed"
    assert "file:///nonexistent/repo" in pins["sources/bad"]["error"]
    assert pins["sources/good"]["status"] == "fetched"
    assert pins["sources/good"]["rev"] == repo.rev("v1")
    assert pins["sources/also-good"]["rev"] == repo.rev("stable")
    data = read_lock(project)
    assert set(data["sources"]) == {"good", "also-good"}

    # The human report lists the failure too, with its key and URL.
    text = ohnix("-C", str(project), "lock", "-k")
    assert text.returncode == 1
    out = flat(text.stdout + text.stderr)
    assert "failed sources/bad" in out and "file:///nonexistent/repo" in out
    assert "Traceback" not in out

    # Without --keep-going the same project fails as a whole and writes nothing new.
    before = (project / "ohnix.lock").read_bytes()
    assert_clean_failure(ohnix("-C", str(project), "lock"), "sources/bad")
    assert (project / "ohnix.lock").read_bytes() == before


@pytest.mark.nix
def test_keep_going_keeps_the_old_entry_of_a_failed_pin(
    ohnix: Ohnix, locked: Path, repo: Repo
) -> None:
    old = read_lock(locked)["sources"]["b"]
    text = (locked / "ohnix.toml").read_text().replace('"stable"', '"gone"')
    (locked / "ohnix.toml").write_text(text)
    add_source(locked, "c", {"git": repo.url, "ref": "v1"})
    res = ohnix("-C", str(locked), "lock", "--keep-going")
    assert res.returncode == 1
    data = read_lock(locked)["sources"]
    assert data["b"] == old  # not lost, not changed
    assert data["c"]["rev"] == repo.rev("v1")


@pytest.mark.nix
def test_update_one_pin(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    before = read_lock(locked)["sources"]
    # Both branches move on.
    repo.commit({"on-main.txt": "1\n"})
    git(repo.path, "checkout", "-q", "stable")
    repo.commit({"on-stable.txt": "1\n"})
    git(repo.path, "checkout", "-q", "main")
    assert repo.rev("main") != before["a"]["rev"]
    assert repo.rev("stable") != before["b"]["rev"]

    # A plain re-lock reuses both pins: nothing changed in ohnix.toml.
    plain = ohnix("-C", str(locked), "lock", "--json")
    assert plain.returncode == 0, plain.stderr
    assert {p["status"] for p in json_result(plain.stdout)["pins"].values()} == {"reused"}
    assert read_lock(locked)["sources"] == before

    res = ohnix("-C", str(locked), "lock", "--update", "a", "--json")
    assert res.returncode == 0, res.stderr
    status = {k: p["status"] for k, p in json_result(res.stdout)["pins"].items()}
    assert status["sources/a"] == "fetched"
    assert {s for k, s in status.items() if k != "sources/a"} == {"reused"}
    after = read_lock(locked)["sources"]
    assert after["a"]["rev"] == repo.rev("main")
    assert after["a"]["hash"] != before["a"]["hash"]
    assert after["b"] == before["b"]  # untouched, though its branch moved too

    # --update with no name re-resolves everything.
    res = ohnix("-C", str(locked), "lock", "--update")
    assert res.returncode == 0, res.stderr
    assert read_lock(locked)["sources"]["b"]["rev"] == repo.rev("stable")


@pytest.mark.nix
def test_update_unknown_name(ohnix: Ohnix, locked: Path) -> None:
    before = (locked / "ohnix.lock").read_bytes()
    res = ohnix("-C", str(locked), "lock", "--update", "nope")
    assert_clean_failure(res, "nope", "sources/a")
    assert (locked / "ohnix.lock").read_bytes() == before


@pytest.mark.nix
def test_offline(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    ok = ohnix("-C", str(locked), "lock", "--offline")
    assert ok.returncode == 0, ok.stderr
    before = (locked / "ohnix.lock").read_bytes()
    add_source(locked, "new", {"git": repo.url, "ref": "v1"})
    res = ohnix("-C", str(locked), "lock", "--offline")
    assert_clean_failure(res, "--offline", "sources/new", repo.url)
    assert "sources/a" not in res.stderr  # only what is missing
    assert (locked / "ohnix.lock").read_bytes() == before


@pytest.mark.nix
def test_jobs_1(ohnix: Ohnix, tmp_path: Path, repo: Repo) -> None:
    sources = {f"s{i}": {"git": repo.url, "ref": ref} for i, ref in enumerate(("v1", "main"))}
    serial = write_project(tmp_path / "serial", sources)
    res = ohnix("-C", str(serial), "lock", "--jobs", "1")
    assert res.returncode == 0, res.stderr
    assert read_lock(serial)["sources"]["s0"]["rev"] == repo.rev("v1")
    bad = ohnix("-C", str(serial), "lock", "--jobs", "0")
    assert bad.returncode == 2  # a usage error
    assert "Traceback" not in bad.stderr


# --- ohnix lock --check ---------------------------------------------------------------


def check_failure(res: subprocess.CompletedProcess[str], key: str, problem: str) -> None:
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert re.search(r"^ohnix: error: ", res.stderr, re.MULTILINE), res.stderr
    assert re.search(rf"^{re.escape(key)}: {problem}: ", res.stderr, re.MULTILINE), res.stderr


@pytest.mark.nix
def test_check_passes_on_a_fresh_lock(ohnix: Ohnix, locked: Path) -> None:
    for extra in ([], ["--offline"]):
        res = ohnix("-C", str(locked), "lock", "--check", *extra)
        assert res.returncode == 0, res.stderr


@pytest.mark.nix
def test_check_finds_a_moved_tag(ohnix: Ohnix, tmp_path: Path, repo: Repo) -> None:
    project = write_project(tmp_path / "p", {"t": {"git": repo.url, "ref": "v1"}})
    assert ohnix("-C", str(project), "lock").returncode == 0
    before = (project / "ohnix.lock").read_bytes()
    old_rev = repo.rev("v1")
    new_rev = repo.commit({"moved.txt": "x\n"})
    git(repo.path, "tag", "-f", "v1", new_rev)  # a force-pushed tag

    res = ohnix("-C", str(project), "lock", "--check")
    check_failure(res, "sources/t", "ref-moved")
    assert repo.url in res.stderr and old_rev in res.stderr and new_rev in res.stderr
    as_json = ohnix("-C", str(project), "lock", "--check", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["ok"] is False
    report = json_result(as_json.stdout)
    assert {k: d["problem"] for k, d in report["drift"].items()} == {"sources/t": "ref-moved"}
    # Offline, --check compares with ohnix.toml only: the lock still answers it.
    assert ohnix("-C", str(project), "lock", "--check", "--offline").returncode == 0
    assert (project / "ohnix.lock").read_bytes() == before
    assert tmp_leftovers(project) == []


@pytest.mark.nix
def test_check_finds_a_hash_mismatch(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    # The content behind a rev cannot change in git, so change the recorded hash instead.
    path = locked / "ohnix.lock"
    pin = read_lock(locked)["sources"]["b"]
    wrong = "sha256-" + "A" * 43 + "="
    head, _, table_b = path.read_text().partition("[sources.b]")
    path.write_text(head + "[sources.b]" + table_b.replace(pin["hash"], wrong, 1))
    tampered = path.read_bytes()

    res = ohnix("-C", str(locked), "lock", "--check")
    check_failure(res, "sources/b", "hash-mismatch")
    assert repo.url in res.stderr and wrong in res.stderr and pin["hash"] in res.stderr
    assert "sources/a:" not in res.stderr
    report = json_result(ohnix("-C", str(locked), "lock", "--check", "--json").stdout)
    assert {k: d["problem"] for k, d in report["drift"].items()} == {"sources/b": "hash-mismatch"}
    assert path.read_bytes() == tampered  # --check never writes


@pytest.mark.nix
def test_check_flags_a_stale_or_missing_pin(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    add_source(locked, "new", {"git": repo.url, "ref": "v1"})
    text = (locked / "ohnix.toml").read_text().replace('"stable"', '"v1"')
    (locked / "ohnix.toml").write_text(text)
    res = ohnix("-C", str(locked), "lock", "--check", "--offline")
    check_failure(res, "sources/new", "missing")
    check_failure(res, "sources/b", "stale-spec")


def test_check_without_a_lock(ohnix: Ohnix, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {})
    res = ohnix("-C", str(project), "lock", "--check", "--offline")
    assert_clean_failure(res, lockfile.LOCK_NAME)


@pytest.mark.nix
def test_check_failure_starts_with_the_error(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    add_source(locked, "new", {"git": repo.url, "ref": "v1"})
    res = ohnix("-C", str(locked), "lock", "--check", "--offline")
    assert res.returncode == 1
    assert res.stderr.startswith("ohnix: error: ")


# --- what `ohnix lock` says (issue 16, point 11) --------------------------------------


@pytest.mark.nix
def test_lock_names_hashed_host_tools_and_dropped_pins(
    ohnix: Ohnix, locked: Path, repo: Repo
) -> None:
    fresh = write_project(locked.parent / "fresh", {"a": {"git": repo.url, "ref": "main"}})
    res = ohnix("-C", str(fresh), "lock")
    assert res.returncode == 0, res.stderr
    out = flat(res.stdout)
    # Host tools are read and hashed here, not fetched; git sources are fetched.
    assert re.search(r"hashed host/\S+ sha256-", out) and "fetched host/" not in out
    assert f"fetched sources/a {repo.rev('main')} sha256-" in out
    hashed = len(re.findall(r"(?:^|\s)hashed host/", out))
    assert re.search(rf"ohnix.lock written: \d+ fetched, {hashed} hashed$", out), out
    # Removing a source says which pins go.
    write_project(locked, {"a": {"git": repo.url, "ref": "main"}})
    res = ohnix("-C", str(locked), "lock", "--json")
    assert res.returncode == 0, res.stderr
    assert json_result(res.stdout)["pins"]["sources/b"]["status"] == "dropped"
    assert "sources" not in read_lock(locked) or "b" not in read_lock(locked)["sources"]


@pytest.mark.nix
def test_keep_going_with_nothing_pinned_writes_no_lock(ohnix: Ohnix, tmp_path: Path) -> None:
    # A LiteOS-M product with nixpkgs: no host tools, no OHOS runtimes; both pins fail.
    project = tmp_path / "p"
    project.mkdir()
    (project / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[nixpkgs]\npath = "/nonexistent/nixpkgs"\n'
        '[sources.bad]\ngit = "file:///nonexistent/r"\nref = "x"\n'
        '[products.wifiiot_hispark_pegasus]\nprovider = "nixpkgs"\n'
    )
    res = ohnix("-C", str(project), "lock", "--keep-going")
    assert res.returncode == 1
    assert not (project / "ohnix.lock").exists()
    assert "Nothing was pinned, so no ohnix.lock was written." in flat(res.stderr)
    assert "the others were pinned" not in res.stderr
    assert "ohnix.lock not written" in flat(res.stdout)


@pytest.mark.nix
def test_keep_going_counts_what_it_kept(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    text = (locked / "ohnix.toml").read_text().replace('"stable"', '"gone"')
    (locked / "ohnix.toml").write_text(text)
    add_source(locked, "c", {"git": "file:///nonexistent/repo", "ref": "main"})
    res = ohnix("-C", str(locked), "lock", "--keep-going")
    assert res.returncode == 1
    err = flat(res.stderr)
    assert "2 pin(s) failed: sources/b, sources/c." in err
    assert "Kept their previous entry: sources/b." in err
    assert "Not in ohnix.lock yet: sources/c." in err
    assert re.search(r"ohnix.lock holds the other \d+ pin\(s\)\.", err)


@pytest.mark.nix
def test_check_says_what_to_run_per_finding(ohnix: Ohnix, locked: Path, repo: Repo) -> None:
    add_source(locked, "new", {"git": repo.url, "ref": "v1"})
    res = ohnix("-C", str(locked), "lock", "--check", "--offline")
    err = flat(res.stderr)
    assert "sources/new: missing: in ohnix.toml but not in ohnix.lock; `ohnix lock` pins it" in err
    assert "--update" not in err


def test_a_shell_without_a_lock_says_what_every_command_says(ohnix: Ohnix, tmp_path: Path) -> None:
    write_project(tmp_path, {})
    lock_says = ohnix("-C", str(tmp_path), "render").stderr
    for argv in (("shell", "qemu-arm64-linux-min"), ("run", "qemu-arm64-linux-min", "--", "true")):
        res = ohnix("-C", str(tmp_path), *argv)
        assert res.returncode == 1 and res.stderr == lock_says, (argv, res.stderr)
    assert f"No ohnix.lock in {tmp_path}." in lock_says and "missing" not in lock_says
