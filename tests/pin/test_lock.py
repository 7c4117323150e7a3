"""ohnix.lock: the model and its bytes, no-op re-locks, determinism, and interrupted runs.

The model tests need no Nix; the CLI ones run the real `ohnix lock` in a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ohnix.errors import LockError
from ohnix.pin import lockfile
from ohnix.pin.lockfile import HEADER, Lock, Pin
from tests.gitrepos import Repo, git, host_tools_dir, kill_session, tmp_leftovers, write_project
from tests.helpers import Ohnix

# --- the model ------------------------------------------------------------------------

PINS = (
    Pin(
        key="nixpkgs",
        kind="github",
        url="github:NixOS/nixpkgs",
        hash="sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        spec="sha256-00000000000000000000000000000001",
        ref="nixos-24.05",
        rev="0123456789abcdef0123456789abcdef01234567",
        date="2024-05-31T12:00:00+00:00",
        last_modified=1717156800,
    ),
    Pin(
        key="sources/zlib",
        kind="git",
        url="file:///srv/zlib",
        hash="sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        spec="sha256-00000000000000000000000000000002",
        ref="v1.3",
        rev="89abcdef0123456789abcdef0123456789abcdef",
        submodules=True,
    ),
    Pin(
        key="prebuilts/clang",
        kind="url",
        url="https://example.org/clang.tar.gz",
        hash="sha256-LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=",
        spec="sha256-00000000000000000000000000000003",
        store_name="ohos-clang",
        unpack=True,
    ),
    Pin(
        key="host/aarch64-linux-gnu-g++",
        kind="host",
        url="aarch64-linux-gnu-g++",
        hash="sha256-x7iJA1TI3cA2St3+uJaFl+GXYnvR4zj7btcFtXiAOEY=",
        spec="sha256-00000000000000000000000000000004",
        store_name="host-aarch64-linux-gnu-g++",
        path="/usr/bin/aarch64-linux-gnu-g++-12",
        version='aarch64-linux-gnu-g++-12 (Debian 12.2.0-14) 12.2.0 "quoted"',
    ),
)


def test_round_trip() -> None:
    lock = Lock().with_pins(list(PINS))
    text = lockfile.dumps(lock)
    back = lockfile.loads(text, Path("ohnix.lock"))
    assert back == lock
    assert lockfile.dumps(back) == text
    assert back.get("sources/zlib") == PINS[1]


def test_bytes_do_not_depend_on_pin_order() -> None:
    assert lockfile.dumps(Lock(pins=PINS)) == lockfile.dumps(Lock(pins=PINS[::-1]))


def test_header_version_and_trailing_newline() -> None:
    text = lockfile.dumps(Lock().with_pins(list(PINS)))
    assert text.startswith(HEADER)
    assert "ohnix lock" in HEADER and "do not edit" in HEADER
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert tomllib.loads(text)["version"] == lockfile.VERSION


def test_keys_are_sorted() -> None:
    text = lockfile.dumps(Lock().with_pins(list(PINS)))

    def check(table: dict[str, object], where: str) -> None:
        scalars = [k for k, v in table.items() if not isinstance(v, dict)]
        tables = [k for k, v in table.items() if isinstance(v, dict)]
        assert scalars == sorted(scalars), where
        assert tables == sorted(tables), where
        assert list(table) == scalars + tables, where
        for k in tables:
            check(table[k], f"{where}.{k}")  # type: ignore[arg-type]

    check(tomllib.loads(text), "top")  # tomllib keeps document order
    headers = [line for line in text.splitlines() if line.startswith("[")]
    assert headers == sorted(headers, key=lambda h: h.replace('"', ""))


def test_flags_written_per_kind() -> None:
    data = tomllib.loads(lockfile.dumps(Lock().with_pins(list(PINS))))
    git_pin = data["sources"]["zlib"]
    # git pins always carry every git flag, false ones too: they are part of the pin.
    assert (git_pin["submodules"], git_pin["deep_clone"]) == (True, False)
    assert (git_pin["leave_dot_git"], git_pin["lfs"]) == (False, False)
    assert "unpack" not in git_pin
    assert data["prebuilts"]["clang"]["unpack"] is True
    assert "submodules" not in data["prebuilts"]["clang"]
    assert not {"unpack", "submodules", "lfs"} & set(data["host"]["aarch64-linux-gnu-g++"])


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("version = 1", "version = 2"), "lock version 2 is not 1"),
        (lambda t: t.replace("version = 1\n", ""), "lock version None"),
        (lambda t: t.replace('kind = "git"', 'kind = "git"\ncolour = "red"'), "colour"),
        (lambda t: t + '\n[extras.x]\nurl = "u"\n', "extras"),
        (lambda t: t.replace('hash = "sha256-47DEQ', 'hsah = "sha256-47DEQ'), "hsah"),
        (lambda t: t.replace("[sources.zlib]", "[sources.zlib\n"), "not valid TOML"),
    ],
    ids=["version", "no-version", "unknown-pin-key", "unknown-table", "typo", "bad-toml"],
)
def test_bad_lock_is_a_lock_error(edit: Callable[[str], str], needle: str) -> None:
    text = edit(lockfile.dumps(Lock().with_pins(list(PINS))))
    with pytest.raises(LockError, match=needle) as err:
        lockfile.loads(text, Path("/p/ohnix.lock"))
    assert "/p/ohnix.lock" in str(err.value)


def test_missing_field_is_a_lock_error() -> None:
    text = lockfile.dumps(Lock().with_pins(list(PINS)))
    text = text.replace('hash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="\n', "")
    with pytest.raises(LockError, match=r"`sources/zlib` is incomplete"):
        lockfile.loads(text, Path("ohnix.lock"))


def test_write_is_atomic_and_skips_equal_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = Lock().with_pins(list(PINS))
    assert lockfile.write(tmp_path, lock) is True
    path = tmp_path / lockfile.LOCK_NAME
    before = path.read_bytes(), path.stat().st_mtime_ns
    assert path.stat().st_mode & 0o777 == 0o644
    time.sleep(0.01)
    assert lockfile.write(tmp_path, lockfile.read(tmp_path) or Lock()) is False
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before

    def broken_fsync(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        lockfile.write(tmp_path, Lock().with_pins(list(PINS[:2])))
    assert path.read_bytes() == before[0]
    assert tmp_leftovers(tmp_path) == []


# --- the CLI: no-op re-locks and determinism ------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo.create(tmp_path / "repo", tmp_path.name)
    git(r.path, "tag", "v1")
    return r


@pytest.mark.nix
def test_second_lock_runs_nothing_and_writes_nothing(
    ohnix: Ohnix, tmp_path: Path, repo: Repo
) -> None:
    sources = {"a": {"git": repo.url, "ref": "v1"}, "b": {"git": repo.url, "ref": "main"}}
    project = write_project(tmp_path / "p", sources)
    first = ohnix("-C", str(project), "lock")
    assert first.returncode == 0, first.stderr
    path = project / "ohnix.lock"
    before = path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino
    time.sleep(0.05)  # a rewrite would show in st_mtime_ns

    # Only the host tools the product pins are on PATH: no git, no nix, no nix-* at all.
    bindir = host_tools_dir(tmp_path / "bin")
    for tool in ("git", "nix", "nix-store", "nix-prefetch-url", "nix-prefetch-git"):
        assert shutil.which(tool, path=str(bindir)) is None
    res = ohnix("-v", "-C", str(project), "lock", "--json", env={"PATH": str(bindir)})
    assert res.returncode == 0, res.stderr
    assert "$ " not in res.stderr  # -v echoes every command ohnix runs: none
    assert '"status": "fetched"' not in res.stdout
    assert '"written": false' in res.stdout
    assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino) == before


@pytest.mark.nix
def test_locks_are_byte_identical_across_directories_and_jobs(
    ohnix: Ohnix, tmp_path: Path, repo: Repo
) -> None:
    repo.commit({"more.txt": "more\n"})
    git(repo.path, "checkout", "-q", "-b", "dev")
    repo.commit({"dev.txt": "dev\n"})
    sources = {
        "tagged": {"git": repo.url, "ref": "v1"},
        "dev": {"git": repo.url, "ref": "dev"},
        "main": {"git": repo.url, "ref": "main"},
    }
    texts = []
    for name, jobs in (("one", []), ("two", []), ("serial", ["--jobs", "1"])):
        project = write_project(tmp_path / name / "project", sources)
        res = ohnix("-C", str(project), "lock", *jobs)
        assert res.returncode == 0, res.stderr
        texts.append((project / "ohnix.lock").read_bytes())
    assert texts[0] == texts[1] == texts[2]
    data = tomllib.loads(texts[0].decode())
    assert {p["rev"] for p in data["sources"].values()} == {
        repo.rev("v1"),
        repo.rev("dev"),
        repo.rev("main"),
    }


# --- the CLI: interrupted runs --------------------------------------------------------

SLOW_GIT = """\
#!/bin/sh
# git, but slow where its arguments match: lets a test interrupt `ohnix lock` there.
case "$*" in *{when}*) echo "$$" >> {marker}; sleep 30;; esac
exec {git} "$@"
"""


@pytest.fixture
def slow_lock(tmp_path: Path, repo: Repo, ohnix: Ohnix) -> Iterator[Callable[..., Slow]]:
    """A locked project, and a way to start `ohnix lock --update` on it with a git that
    is slow at the first command containing `when` (any command by default)."""
    project = write_project(tmp_path / "p", {"a": {"git": repo.url, "ref": "v1"}})
    assert ohnix("-C", str(project), "lock").returncode == 0
    bindir = tmp_path / "slowbin"
    bindir.mkdir()
    marker = tmp_path / "git-started"
    started: list[subprocess.Popen[str]] = []

    def start(when: str = "") -> Slow:
        (bindir / "git").write_text(SLOW_GIT.format(marker=marker, git="/usr/bin/git", when=when))
        (bindir / "git").chmod(0o755)
        env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
        child = subprocess.Popen(
            [sys.executable, "-m", "ohnix", "-C", str(project), "lock", "--update"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(child)
        deadline = time.monotonic() + 30
        while not marker.exists():  # ohnix is now waiting on the slow git
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the slow git never ran"
            time.sleep(0.02)
        time.sleep(0.2)
        return Slow(child, project, (project / "ohnix.lock").read_bytes())

    yield start
    for child in started:
        kill_session(child.pid)  # whatever a signal left behind (the wrapper's sleep)
        if child.poll() is None:
            child.kill()
            child.wait()


class Slow:
    def __init__(self, child: subprocess.Popen[str], project: Path, lock: bytes) -> None:
        self.child, self.project, self.lock = child, project, lock

    def finish(self, timeout: float = 10) -> tuple[int, str, float]:
        start = time.monotonic()
        _out, err = self.child.communicate(timeout=timeout)
        return self.child.returncode, err, time.monotonic() - start

    def lock_intact(self) -> None:
        assert (self.project / "ohnix.lock").read_bytes() == self.lock
        assert tmp_leftovers(self.project) == []


@pytest.mark.nix
def test_sigint_to_the_group_exits_130_and_keeps_the_lock(
    slow_lock: Callable[..., Slow],
) -> None:
    run = slow_lock()
    os.killpg(run.child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    code, err, took = run.finish()
    assert code == 130, err
    assert "Traceback" not in err
    assert took < 5
    run.lock_intact()


@pytest.mark.nix
@pytest.mark.parametrize("when", ["", "cat-file"], ids=["first-git", "streaming-objects"])
def test_sigint_to_the_process_alone_exits_promptly(
    slow_lock: Callable[..., Slow], when: str
) -> None:
    """Only ohnix gets the signal: it must stop its own children (the slow git sleeps
    30 s holding ohnix's pipes) instead of waiting for them; also while it reads a
    repository's objects through `git cat-file --batch`, where the sleep holds the pipe
    ohnix reads until EOF."""
    run = slow_lock(when)
    os.kill(run.child.pid, signal.SIGINT)
    code, err, took = run.finish(timeout=25)
    assert code == 130, err
    assert took < 5, f"took {took:.1f} s"
    assert "Traceback" not in err
    run.lock_intact()


@pytest.mark.nix
def test_sigint_says_interrupted(slow_lock: Callable[..., Slow]) -> None:
    run = slow_lock()
    os.killpg(run.child.pid, signal.SIGINT)
    code, err, _took = run.finish()
    assert code == 130
    assert "interrupted" in err


@pytest.mark.nix
def test_sigkill_keeps_the_lock(slow_lock: Callable[..., Slow]) -> None:
    run = slow_lock()
    os.killpg(run.child.pid, signal.SIGKILL)
    code, _err, _took = run.finish()
    assert code == -signal.SIGKILL
    run.lock_intact()


@pytest.mark.nix
def test_sigkill_at_twenty_random_moments_loses_nothing(tmp_path: Path, ohnix: Ohnix) -> None:
    """`ohnix lock --update` of three local git sources, SIGKILLed at 20 moments spread over
    a full run (seeded, so a failure can be replayed): the lock stays byte-identical, the
    next run leaves no temporaries behind, and `lock --check` is clean."""
    import random

    repos = {name: Repo.create(tmp_path / f"repo-{name}", f"{tmp_path.name}-{name}")
             for name in ("a", "b", "c")}  # fmt: skip
    project = write_project(tmp_path / "p", {n: {"git": r.url, "ref": "HEAD"}
                                             for n, r in repos.items()})  # fmt: skip
    tmpdir = tmp_path / "tmp"  # the children's TMPDIR: what they leave is visible here
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    argv = [sys.executable, "-m", "ohnix", "-C", str(project), "lock", "--update"]
    assert ohnix("-C", str(project), "lock", env={"TMPDIR": str(tmpdir)}).returncode == 0
    baseline = (project / "ohnix.lock").read_bytes()
    start = time.monotonic()
    subprocess.run(argv, env=env, capture_output=True, check=True)
    full = time.monotonic() - start
    moments = random.Random(14).sample(range(1, 1000), 20)
    for permille in sorted(moments):
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        time.sleep(full * permille / 1000)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        kill_session(child.pid)
        assert (project / "ohnix.lock").read_bytes() == baseline, permille
    res = ohnix("-C", str(project), "lock", env={"TMPDIR": str(tmpdir)})
    assert res.returncode == 0, res.stderr
    assert (project / "ohnix.lock").read_bytes() == baseline
    assert sorted(p.name for p in tmpdir.iterdir()) == []
    assert tmp_leftovers(project) == []
    check = ohnix("-C", str(project), "lock", "--check", env={"TMPDIR": str(tmpdir)})
    assert check.returncode == 0, check.stdout + check.stderr
