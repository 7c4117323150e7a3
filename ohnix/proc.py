"""The single subprocess chokepoint: argv lists only, an env overlay, stderr tail in errors.

Every external program ohnix runs goes through `run` (captured text; `run_bytes` for raw
stdout), `stream` (piped while it runs) or `call` (inherits the terminal), so tests can see
and fake exactly one place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ohnix.errors import CommandError, ToolNotFoundError

log = logging.getLogger("ohnix")

STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _env(overlay: Mapping[str, str] | None) -> dict[str, str] | None:
    if not overlay:
        return None
    env = dict(os.environ)
    env.update(overlay)
    return env


# What a terminal would act on rather than print: ANSI escape sequences (colours, cursor
# moves, window titles), then any other C0/C1 control character but tab and newline (Nix
# build logs carry NULs). A carriage return becomes a line break.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_output(data: bytes) -> str:
    """A tool's stderr as text ohnix can relay: UTF-8 (bad bytes replaced), line breaks
    and tabs kept, escape sequences and control characters dropped."""
    text = data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def which(program: str) -> str | None:
    return shutil.which(program)


def host_which(program: str) -> str | None:
    """`program` on this machine's PATH, leaving out ohnix's own virtualenv: its python3
    (and whatever else pip put there) is ohnix's, not the host's."""
    own = _own_scripts_dir()
    dirs = os.environ.get("PATH", os.defpath).split(os.pathsep)
    path = os.pathsep.join(d for d in dirs if own is None or os.path.realpath(d or ".") != own)
    return shutil.which(program, path=path)


def _own_scripts_dir() -> str | None:
    if sys.prefix == sys.base_prefix:  # not in a virtualenv: nothing of ohnix's own on PATH
        return None
    return os.path.realpath(sysconfig.get_path("scripts"))


def require(program: str, *, hint: str) -> str:
    path = which(program)
    if path is None:
        raise ToolNotFoundError(f"`{program}` was not found on PATH.", hint=hint)
    return path


_live: set[subprocess.Popen[bytes]] = set()
_terminated: set[subprocess.Popen[bytes]] = set()
_leaders: set[subprocess.Popen[bytes]] = set()  # streamed children: each leads its own group
_live_lock = threading.Lock()
POLL_S = 0.2  # how often a wait on a terminated child looks whether it is gone
DISCARD_CHUNK = 1 << 16  # read size when throwing away a streamed child's unread output


def terminate_all() -> None:
    """SIGTERM every captured child still running (used on Ctrl-C, so worker threads that
    wait on them return at once instead of holding the exit)."""
    with _live_lock:
        for child in list(_live):
            _terminated.add(child)
            with contextlib.suppress(ProcessLookupError):
                if child in _leaders:
                    os.killpg(child.pid, signal.SIGTERM)
                else:
                    child.terminate()


def _communicate(
    child: subprocess.Popen[bytes], stdin: bytes | None, timeout: float | None
) -> tuple[bytes, bytes]:
    """child.communicate(), except that once terminate_all() ended the child, a process it
    started (a wrapper script's `sleep`, git's helpers) that still holds the output pipes
    open cannot keep the caller waiting: output is given up as soon as the child is gone."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        step = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
        try:
            return child.communicate(stdin, timeout=step)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise
            with _live_lock:
                abandon = child in _terminated
            if abandon and child.poll() is not None:
                return b"", b""


def _capture(
    args: list[str],
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
    stdin: bytes | None,
    timeout: float | None,
    hint: str | None,
) -> tuple[int | None, bytes, bytes]:
    """Run to completion; returncode None means it timed out (and was killed)."""
    log.debug("$ %s", shlex.join(args))
    try:
        child = subprocess.Popen(
            args,
            env=_env(env),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.", hint=hint) from exc
    with _live_lock:
        _live.add(child)
    try:
        out, err = _communicate(child, stdin, timeout)
        return child.returncode, out, err
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        return None, out, err + f"\n(gave up after {timeout:g} s)".encode()
    finally:
        with _live_lock:
            _live.discard(child)
            _terminated.discard(child)


def _checked(
    argv: Sequence[str | Path],
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
    stdin: bytes | None,
    timeout: float | None,
    check: bool,
    what: str | None,
    hint: str | None,
) -> tuple[list[str], int, bytes, bytes]:
    """Run to completion, capturing bytes; CommandError on a timeout, or (with check) on
    a non-zero exit. What `run` (text) and `run_bytes` (raw stdout) share."""
    args = [str(a) for a in argv]
    code, out, err = _capture(args, env, cwd, stdin, timeout, hint)
    if code is None or (check and code != 0):
        raise CommandError(args, code, tail(clean_output(err)), what=what, hint=hint)
    return args, code, out, err


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str | None = None,
    hint: str | None = None,
) -> Result:
    """Run argv to completion capturing text output; raise CommandError on failure."""
    stdin = input.encode() if input is not None else None
    args, code, out, err = _checked(argv, env, cwd, stdin, timeout, check, what, hint)
    return Result(tuple(args), code, out.decode(errors="replace"), clean_output(err))


def run_bytes(
    argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None, what: str | None = None
) -> bytes:
    """`run` for binary output (`nix-store --dump`, `git ls-tree -z`): the raw stdout,
    always checked."""
    return _checked(argv, env, None, None, None, True, what, None)[2]


@contextlib.contextmanager
def stream(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    input: Iterable[bytes] = (),
    what: str | None = None,
) -> Iterator[IO[bytes]]:
    """Run argv with `input` fed to its stdin from a thread, and yield its stdout to read
    while it runs (`git cat-file --batch`, `nix-store --restore`: data too big to hold).

    On leaving the block the rest of stdout is discarded and the child waited for; a
    failure raises CommandError, or the error `input` raised, which comes first. If the
    block raises, the child is killed.
    """
    args = [str(a) for a in argv]
    log.debug("$ %s (streamed)", shlex.join(args))
    with tempfile.TemporaryFile() as errfile:
        try:
            # Its own process group, stopped as a whole: a reader waits for EOF, which
            # never comes while anything the child started still holds the pipe.
            child = subprocess.Popen(
                args,
                env=_env(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errfile,
                process_group=0,
            )
        except FileNotFoundError as exc:
            raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.") from exc
        with _live_lock:
            _live.add(child)
            _leaders.add(child)
        feed_error: list[BaseException] = []
        feeder = threading.Thread(target=_feed, args=(child, input, feed_error), daemon=True)
        feeder.start()
        assert child.stdout is not None
        try:
            yield child.stdout
            while child.stdout.read(DISCARD_CHUNK):
                pass
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            raise
        finally:
            child.stdout.close()
            child.wait()
            feeder.join()
            with _live_lock:
                _live.discard(child)
                _terminated.discard(child)
                _leaders.discard(child)
        if feed_error:
            raise feed_error[0]
        if child.returncode != 0:
            errfile.seek(0)
            raise CommandError(args, child.returncode, tail(clean_output(errfile.read())),
                               what=what)  # fmt: skip


def _feed(
    child: subprocess.Popen[bytes], input: Iterable[bytes], errors: list[BaseException]
) -> None:
    assert child.stdin is not None
    try:
        for chunk in input:
            child.stdin.write(chunk)
    except BrokenPipeError:
        pass  # the child stopped reading: its exit status tells why
    except BaseException as exc:  # re-raised in the caller's thread
        errors.append(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()


def call(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    replace_env: bool = False,
) -> int:
    """Run argv attached to this terminal (stdin/stdout/stderr pass through); return its
    exit status, with death by signal N reported the shell way as 128 + N.

    With replace_env the child sees exactly `env`, not os.environ plus `env`.
    """
    args = [str(a) for a in argv]
    log.debug("$ %s", shlex.join(args))
    full_env = dict(env or {}) if replace_env else _env(env)
    try:
        proc = subprocess.Popen(args, env=full_env, cwd=cwd)
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.") from exc
    while True:
        try:
            code = proc.wait()
            break
        except KeyboardInterrupt:
            # The child got the same SIGINT from the terminal; let it decide, then report.
            continue
    return 128 - code if code < 0 else code


def exec_replace(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Replace this process with argv (`ohnix shell` hands the terminal to nix develop:
    signals, job control and the exit status are then the child's own), in `cwd` if given."""
    args = [str(a) for a in argv]
    log.debug("$ exec %s%s", f"(in {cwd}) " if cwd else "", shlex.join(args))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(args[0], args, _env(env) or dict(os.environ))
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.") from exc
