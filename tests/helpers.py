"""Plain helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal, overload

# tests/: where the data, golden files and the nixpkgs stand-in are.
TESTS_DIR = Path(__file__).resolve().parent

# The `ohnix` fixture's type: run_ohnix.
Ohnix = Callable[..., subprocess.CompletedProcess[str]]

# A git identity and no user or system git configuration: set for the whole session by
# conftest.git_identity, so every test repository commits the same way.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}

# Test-only derivations whose builders are this machine's /bin/sh or git (fixtures for JSON
# shapes, audits and hash checks, not ohnix's own shells): Nix's default sandbox hides the
# host, so these builds alone turn it off. Everything ohnix renders builds sandboxed.
SANDBOX_OFF = ("--option", "sandbox", "false")


@contextlib.contextmanager
def environ_overlay(overlay: Mapping[str, str]) -> Iterator[None]:
    """`overlay` set in os.environ for the block, the previous values put back after."""
    old = {k: os.environ.get(k) for k in overlay}
    os.environ.update(overlay)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def c_sizeof(cc: str, c_type: str, header: str) -> int:
    """sizeof(c_type) as the compiler `cc` lays it out, read from the assembly it emits: an
    expectation that follows the toolchain in use (Debian 13's arm32 glibc has a 64-bit
    time_t by default, so its struct stat is 112 bytes where Debian 12's is 88)."""
    source = f"#include <{header}>\nint ohnix_size = sizeof({c_type});\n"
    asm = subprocess.run([cc, "-S", "-o", "-", "-x", "c", "-"], input=source,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    match = re.search(r"^ohnix_size:\s*\n\s*\.(?:word|long|4byte)\s+(\d+)", asm, re.MULTILINE)
    assert match, asm
    return int(match.group(1))


@overload
def run_ohnix(
    *args: str,
    cwd: Path | None = ...,
    env: dict[str, str] | None = ...,
    stdin: None = ...,
    path: str | None = ...,
    binary: Literal[False] = ...,
) -> subprocess.CompletedProcess[str]: ...
@overload
def run_ohnix(
    *args: str,
    cwd: Path | None = ...,
    env: dict[str, str] | None = ...,
    stdin: bytes | None = ...,
    path: str | None = ...,
    binary: Literal[True],
) -> subprocess.CompletedProcess[bytes]: ...
def run_ohnix(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    path: str | None = None,
    binary: bool = False,
) -> subprocess.CompletedProcess[Any]:
    """Run the real CLI in a subprocess (`python -m ohnix` goes through entry.main like the
    console script), so exit codes and stderr are what a user sees. `env` is laid over the
    environment, `path` replaces PATH; with `binary`, stdin (`stdin`) and output are bytes."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if path is not None:
        full_env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "ohnix", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=not binary,
        check=False,
    )  # fmt: skip


def ok(res: subprocess.CompletedProcess[Any]) -> subprocess.CompletedProcess[Any]:
    """`res` after asserting it succeeded without a traceback (for chaining)."""
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout!r}\n{res.stderr!r}"
    err = res.stderr if isinstance(res.stderr, str) else res.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    return res


def ok_stdout(res: subprocess.CompletedProcess[Any]) -> str:
    """The stdout of a command that must have succeeded, as text."""
    out = ok(res).stdout
    return out if isinstance(out, str) else out.decode()


def json_result(text: str) -> Any:
    """The `result` of a command's `--json` output (docs/json.md), checked to be one
    envelope: {"ohnix_json": 1, "command": ..., "ok": ..., "result": ..., "error": ...}."""
    data = json.loads(text)
    assert isinstance(data, dict), data
    assert data.get("ohnix_json") == 1, data
    return data["result"]


@cache
def ohos_sources_dir() -> Path:
    """The OHOS toolchain's source archives (musl, LLVM, Go), fetched once from Debian's
    source packages by the repository's own script into the user's cache, as the demo does."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ohnix/sources"
    target = Path(os.environ.get("OHNIX_SOURCES_DIR", default))
    script = TESTS_DIR.parent / "scripts" / "fetch-sources"
    res = subprocess.run(["bash", str(script), str(target)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return target


def elf_facts(path: Path) -> tuple[int, str, str | None]:
    """(ELF class 32/64, e_machine name, PT_INTERP) as pyelftools reads the file."""
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as fh:
        elf = ELFFile(fh)
        interp = next((s.get_interp_name() for s in elf.iter_segments()
                       if s["p_type"] == "PT_INTERP"), None)  # fmt: skip
        return elf.elfclass, elf["e_machine"], interp
