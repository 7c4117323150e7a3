"""The single subprocess chokepoint: argv lists only, an env overlay, stderr tail in errors.

Every external program ohnix runs goes through `run` (captured) or `call` (inherits the
terminal), so tests can see and fake exactly one place.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def which(program: str) -> str | None:
    return shutil.which(program)


def require(program: str, *, hint: str) -> str:
    path = which(program)
    if path is None:
        raise ToolNotFoundError(f"`{program}` was not found on PATH.", hint=hint)
    return path


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
    args = [str(a) for a in argv]
    log.debug("$ %s", shlex.join(args))
    try:
        proc = subprocess.run(
            args,
            env=_env(env),
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            errors="replace",  # tools echo raw bytes (file names) in their errors
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.", hint=hint) from exc
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise CommandError(
            args, None, tail(err) + f"\n(gave up after {timeout:g} s)", what=what, hint=hint
        ) from exc
    result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CommandError(args, proc.returncode, tail(proc.stderr), what=what, hint=hint)
    return result


def run_bytes(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    what: str | None = None,
) -> bytes:
    """Run argv and return raw stdout (for binary output such as `nix-store --dump`)."""
    args = [str(a) for a in argv]
    log.debug("$ %s", shlex.join(args))
    try:
        proc = subprocess.run(
            args, env=_env(env), cwd=cwd, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"`{args[0]}` was not found on PATH.") from exc
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace")
        raise CommandError(args, proc.returncode, tail(stderr), what=what)
    return proc.stdout


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
