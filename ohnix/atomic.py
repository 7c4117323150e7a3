"""Writing a file atomically: a temp file in the same folder, fsync, rename; and no write at
all when the bytes would not change, so the mtime stays.

Standard library only: the environment cache (on the warm `ohnix run` path) imports it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def read_existing(path: Path) -> bytes | None:
    """The bytes of a regular file, None if there is none; a FIFO, a device or a folder in
    its place is an OSError (opened without blocking, never read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks = []
        while block := os.read(fd, 1 << 20):
            chunks.append(block)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _target(path: Path) -> Path:
    """Where a write to `path` lands: through a symlink (a linked ohnix.lock stays linked)."""
    return path.resolve() if path.is_symlink() else path


def stage(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path` (fsync'd); rename it into place with
    `commit`. A stale temporary of an earlier, killed run is replaced, not kept."""
    target = _target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def commit(tmp: Path, path: Path) -> None:
    tmp.replace(_target(path))


def write_text_atomic(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically; return whether the file changed."""
    data = text.encode("utf-8")
    if read_existing(path) == data:
        return False
    tmp = stage(path, data)
    try:
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def write_set_atomic(files: dict[Path, str]) -> None:
    """Write several files so that a failure (disk full, a killed run) leaves the old set:
    every temporary first, then the renames."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            staged.append((stage(path, text.encode("utf-8")), path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        commit(tmp, path)


def temp_prefix(kind: str) -> str:
    """The prefix of a temporary folder ohnix makes (`ohnix-KIND-PID-`): the next run can
    tell one left by a killed process from one still in use."""
    return f"ohnix-{kind}-{os.getpid()}-"


TEMP_DIR = re.compile(r"^ohnix-[a-z]+-(?P<pid>\d+)-")


def sweep_dead_temp_dirs() -> None:
    """Remove the temporary folders of ohnix processes that no longer run (SIGKILL)."""
    base = Path(tempfile.gettempdir())
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        match = TEMP_DIR.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(match["pid"])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive (or not ours to signal): still in use
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            continue


# The files ohnix writes at a project's top (its other files are the user's).
ROOT_FILES = ("ohnix.lock", "flake.nix", "flake.lock", "default.nix", ".gitignore", "ohnix.toml")


def sweep_temporaries(folder: Path, names: tuple[str, ...] | None = None) -> None:
    """Remove the `.NAME.*.tmp` files a killed run left in `folder` (not recursive), only for
    these NAMEs if given."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if names is not None and not any(entry.name.startswith(f".{n}.") for n in names):
            continue
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
            entry.unlink(missing_ok=True)


# Per project, this process's hold on .ohnix/lock: {root: (fd, depth)}. flock belongs to an
# open file, so a nested holder (build -> run -> realise) must reuse the outer one.
_HELD: dict[str, tuple[int, int]] = {}
LOCK_FILE = ".ohnix/lock"


class ProjectBusyError(OSError):
    """Another ohnix holds the project's lock and waiting was not allowed."""


@contextmanager
def project_lock(root: Path, *, wait: bool = True, on_wait: Callable[[], None] | None = None
                 ) -> Iterator[None]:  # fmt: skip
    """Hold the project's lock (`.ohnix/lock`, flock) while ohnix.lock, the rendered files
    or the environment cache are written: concurrent runs take turns instead of losing an
    update. Reentrant within one process."""
    import fcntl

    key = str(root.resolve())
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise ProjectBusyError(
                    errno.EWOULDBLOCK, "another ohnix is working in this project", str(path)
                ) from None
            if on_wait is None:
                os.write(2, f"ohnix: waiting for another ohnix working in {root}\n".encode())
            else:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[key] = (fd, 1)
        # What a killed run left: nobody else works here now.
        for folder in (root / ".ohnix" / "env", root / "nix" / "ohnix"):
            sweep_temporaries(folder)
        sweep_temporaries(root, names=ROOT_FILES)
        sweep_dead_temp_dirs()
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # releases the flock
