"""Hostile input and faults (issue 15): wrong-typed or damaged files, non-regular files,
edited caches, changed host tools, concurrent writers, leftovers of killed runs. Each
case gets one paragraph and exit 1 (never a traceback, never a hang) and loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from ohnix import atomic
from ohnix.render import writer
from tests.helpers import ok, run_ohnix

# A LiteOS-M product: its host-provider shell is the Debian arm-none-eabi GCC, quick to build.
MINI = "qemu_mini_system_demo"
TOML = f'[project]\nname = "p"\n[products.{MINI}]\nprovider = "host"\n'


def one_paragraph(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and res.stderr.startswith("ohnix: error: ")
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    (tmp_path / "ohnix.toml").write_text(TOML)
    ok(run_ohnix("-C", str(tmp_path), "lock"))
    ok(run_ohnix("-C", str(tmp_path), "render"))
    return tmp_path


# --- class 6: damaged input is one paragraph ----------------------------------------------


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace('kind = "host"', "kind = 5", 1), "kind = 5, which is not a string"),
        (lambda t: t.replace('hash = "sha256-', 'hash = "md5-', 1), "is not a Nix hash"),
        (lambda t: t.replace('kind = "host"', 'kind = "x"', 1), "kind 'x', not one of"),
        (lambda t: t.replace("hash = ", "hash = 5 #", 1), "which is not a string"),
    ],
)
@pytest.mark.nix
def test_a_wrong_typed_lock_value_is_one_paragraph(mini: Path, edit: object, needle: str) -> None:
    lock = mini / "ohnix.lock"
    lock.write_text(edit(lock.read_text()))  # type: ignore[operator]
    for args in (["render"], ["run", MINI, "--", "true"], ["lock", "--check", "--offline"]):
        one_paragraph(run_ohnix("-C", str(mini), *args), "ohnix.lock", needle)


def test_non_utf8_and_deeply_nested_files_are_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(TOML)
    (tmp_path / "ohnix.lock").write_bytes(b"version = 1\n# \xff\xfe\n")
    one_paragraph(run_ohnix("-C", str(tmp_path), "render"), "not UTF-8")
    (tmp_path / "ohnix.toml").write_text(TOML + "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_paragraph(run_ohnix("-C", str(tmp_path), "config"), "nested too deeply")


def test_a_file_where_a_folder_belongs_is_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(TOML)
    (tmp_path / ".ohnix").write_text("not a folder\n")
    one_paragraph(run_ohnix("-C", str(tmp_path), "lock"), str(tmp_path / ".ohnix"),
                  "a file where a folder belongs")  # fmt: skip
    assert not (tmp_path / "ohnix.lock").exists()


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    """A FIFO where a rendered file belongs would block a reader forever."""
    (tmp_path / "ohnix.toml").write_text(TOML)
    os.mkfifo(tmp_path / "flake.nix")
    assert atomic.read_existing(tmp_path / "ohnix.toml") is not None
    with pytest.raises(OSError, match="not a regular file"):
        atomic.read_existing(tmp_path / "flake.nix")
    with pytest.raises(OSError, match="not a regular file"):
        writer.plan(tmp_path, {"flake.nix": "x"})


@pytest.mark.nix
def test_an_empty_command_is_refused(mini: Path) -> None:
    res = run_ohnix("-C", str(mini), "run", MINI, "--", "")
    assert res.returncode == 127 and "Traceback" not in res.stderr, res.stderr


# --- class 3: [nixpkgs] path --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/srv/nixpkgs?rev=abc", "/srv/nix#pkgs"])
def test_a_nixpkgs_path_with_a_flake_query_is_refused(tmp_path: Path, path: str) -> None:
    (tmp_path / "ohnix.toml").write_text(
        f'[project]\nname = "p"\n[nixpkgs]\npath = "{path}"\n[products.rk3568]\n'
    )
    one_paragraph(run_ohnix("-C", str(tmp_path), "lock"), "[nixpkgs].path", "another folder")


# --- class 2: the env cache and host tools are checked when used ---------------------------


@pytest.mark.nix
@pytest.mark.parametrize("damage", ["edited", "array", "digest-only"])
def test_an_edited_env_cache_entry_is_rebuilt_not_served(mini: Path, damage: str) -> None:
    show = ["run", MINI, "--", "sh", "-c", 'echo "$CC"']
    cc = ok(run_ohnix("-C", str(mini), *show)).stdout.strip()
    entry = mini / ".ohnix/env" / f"{MINI}.json"
    data = json.loads(entry.read_text())
    if damage == "edited":
        data["variables"]["CC"] = "/tmp/evil-cc"
        entry.write_text(json.dumps(data))
    elif damage == "array":
        entry.write_text("[]")
    else:
        entry.write_text(json.dumps({**data, "digest": "0" * 64}))
    assert ok(run_ohnix("-C", str(mini), *show)).stdout.strip() == cc
    assert json.loads(entry.read_text())["variables"]["CC"] == cc


@pytest.mark.nix
def test_a_changed_host_tool_is_refused_warm_and_cold(tmp_path: Path) -> None:
    """The pinned arm-none-eabi-gcc replaced in place: the warm run sees its size/mtime
    change, the cold path its hash, and both refuse with what to do."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real = shutil.which("arm-none-eabi-gcc")
    assert real is not None
    fake = bindir / "arm-none-eabi-gcc"
    fake.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    fake.chmod(0o755)
    path = f"{bindir}:{os.environ['PATH']}"
    root = tmp_path / "p"
    root.mkdir()
    (root / "ohnix.toml").write_text(TOML)
    for args in (["lock"], ["render"], ["run", MINI, "--", "true"]):
        ok(run_ohnix("-C", str(root), *args, path=path))
    fake.write_text('#!/bin/sh\necho "not the pinned compiler"\n')
    for _ in ("warm", "cold"):
        res = run_ohnix("-C", str(root), "run", MINI, "--", "sh", "-c", '"$CC" --version',
                        path=path)  # fmt: skip
        one_paragraph(res, "arm-none-eabi-gcc", "changed", "ohnix lock")
        assert "not the pinned compiler" not in res.stdout


# --- class 5: concurrent writers take turns ------------------------------------------------


def update(root: Path, name: str, into: dict[str, subprocess.CompletedProcess[str]]) -> None:
    into[name] = run_ohnix("-C", str(root), "lock", "--update", name)


@pytest.mark.nix
def test_concurrent_updates_of_two_pins_lose_nothing(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.txt" for name in ("a", "b")}
    for f in files.values():
        f.write_text("0\n")
    sources = "".join(f'[sources.{n}]\nurl = "{f.as_uri()}"\n' for n, f in files.items())
    (tmp_path / "ohnix.toml").write_text(TOML + sources)
    ok(run_ohnix("-C", str(tmp_path), "lock"))
    for round_ in range(1, 4):
        for f in files.values():
            f.write_text(f"{round_}\n")
        results: dict[str, subprocess.CompletedProcess[str]] = {}
        threads = [threading.Thread(target=update, args=(tmp_path, n, results)) for n in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.returncode == 0 for r in results.values()), results
        check = run_ohnix("-C", str(tmp_path), "lock", "--check")
        assert check.returncode == 0, (round_, check.stdout, check.stderr)


def test_the_project_lock_is_reentrant_and_exclusive(tmp_path: Path) -> None:
    with atomic.project_lock(tmp_path), atomic.project_lock(tmp_path):
        code = (
            "import sys; from pathlib import Path; from ohnix import atomic\n"
            "try:\n    with atomic.project_lock(Path(sys.argv[1]), wait=False): pass\n"
            "except atomic.ProjectBusyError: sys.exit(3)\n"
        )
        res = subprocess.run([os.sys.executable, "-c", code, str(tmp_path)], check=False)
        assert res.returncode == 3
    res = subprocess.run([os.sys.executable, "-c", code, str(tmp_path)], check=False)
    assert res.returncode == 0


# --- class 7: leftovers and whole sets ------------------------------------------------------


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    base = Path(tempfile.gettempdir())
    left = base / f"ohnix-fetch-{dead.pid}-abc"
    alive = base / f"ohnix-fetch-{os.getpid()}-xyz"
    for d in (left, alive):
        d.mkdir()
        (d / "x").write_text("x")
    env_dir = tmp_path / ".ohnix" / "env"
    env_dir.mkdir(parents=True)
    (env_dir / ".p.json.abc.tmp").write_text("{")
    (tmp_path / ".ohnix.lock.abc.tmp").write_text("x")
    (tmp_path / ".mine.tmp").write_text("the user's own")
    try:
        with atomic.project_lock(tmp_path):
            pass
        assert not left.exists() and alive.exists()
        assert not (env_dir / ".p.json.abc.tmp").exists()
        assert not (tmp_path / ".ohnix.lock.abc.tmp").exists()
        assert (tmp_path / ".mine.tmp").exists()
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def test_a_failed_render_leaves_the_previous_set(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old a\n")
    (tmp_path / "blocked").write_text("a file where nix/ would be a folder\n")
    with pytest.raises(NotADirectoryError):
        writer.write(tmp_path, {"a.txt": "new a\n", "blocked/b.txt": "new b\n"})
    assert (tmp_path / "a.txt").read_text() == "old a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "blocked"]


@pytest.mark.nix
def test_a_symlinked_lock_stays_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(TOML)
    ok(run_ohnix("-C", str(tmp_path), "lock"))
    real = tmp_path / "locks" / "ohnix.lock"
    real.parent.mkdir()
    (tmp_path / "ohnix.lock").rename(real)
    (tmp_path / "ohnix.lock").symlink_to(real)
    extra = tmp_path / "extra.txt"
    extra.write_text("x\n")
    (tmp_path / "ohnix.toml").write_text(TOML + f'[sources.extra]\nurl = "{extra.as_uri()}"\n')
    ok(run_ohnix("-C", str(tmp_path), "lock"))
    assert (tmp_path / "ohnix.lock").is_symlink()
    assert "[sources.extra]" in real.read_text()


@pytest.mark.nix
def test_a_lock_edited_to_name_another_binary_is_refused(tmp_path: Path) -> None:
    """ohnix.lock's path and hash of a host tool edited to another (real) program: the
    lock no longer names what PATH gives for that tool, and run refuses it."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "ohnix.toml").write_text(TOML)
    for args in (["lock"], ["render"], ["run", MINI, "--", "true"]):
        ok(run_ohnix("-C", str(root), *args))
    lock = root / "ohnix.lock"
    text = lock.read_text()
    section = text.split("[host.arm-none-eabi-gcc]")[1].split("\n[")[0]
    old_path = section.split('path = "')[1].split('"')[0]
    old_hash = section.split('hash = "')[1].split('"')[0]
    other = shutil.which("true")
    assert other is not None
    other = os.path.realpath(other)
    from ohnix.store import nar

    new_hash = nar.to_sri(nar.flat_hash(Path(other)))
    lock.write_text(text.replace(old_path, other).replace(old_hash, new_hash))
    ok(run_ohnix("-C", str(root), "render"))  # only writes files; tools are checked when used
    res = run_ohnix("-C", str(root), "run", MINI, "--", "sh", "-c", '"$CC" --version')
    one_paragraph(res, "arm-none-eabi-gcc", "ohnix lock")
