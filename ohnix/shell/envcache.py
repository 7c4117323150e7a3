"""The environment cache: a product shell's variables stored under a content hash of
everything that defines the shell, so a warm `ohnix run` starts no Nix at all.

Stdlib only, and imported before Typer/Jinja/rich: the warm path is bounded by Python's
start-up. The key hashes file *contents* (never mtimes): ohnix.toml, ohnix.lock, the
rendered flake/default.nix, flake.lock and the vendored library, plus the product and
the ohnix version. The Nix version is checked without running Nix: the entry records the
resolved `nix` executable and is refused if PATH now finds another one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from ohnix import __version__
from ohnix import root as project_root
from ohnix.atomic import read_existing, write_text_atomic

CACHE_DIR = ".ohnix/env"
ROOTS_DIR = ".ohnix/roots"  # per product: the `profile` GC root holding the shell's closure
SCHEMA = 1
KEY_FILES = ("ohnix.toml", "ohnix.lock", "flake.nix", "flake.lock", "default.nix")
LIB_DIR = "nix/ohnix"
# What `nix develop` does not carry from the build environment into the shell.
IGNORED = frozenset(
    {
        "BASHOPTS",
        "HOME",
        "NIX_BUILD_TOP",
        "NIX_ENFORCE_PURITY",
        "NIX_LOG_FD",
        "NIX_REMOTE",
        "PPID",
        "SHELL",
        "SHELLOPTS",
        "SSL_CERT_FILE",
        "TEMP",
        "TEMPDIR",
        "TERM",
        "TMP",
        "TMPDIR",
        "TZ",
        "UID",
        "out",
        "outputs",
        "builder",
        "system",
        "name",
        "args",
        "shellHook",
    }
)


def read_regular(path: Path) -> bytes:
    """A regular file's bytes; OSError for a missing one or anything else (a FIFO)."""
    data = read_existing(path)
    if data is None:
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    return data


def fingerprint(paths: list[str]) -> dict[str, list[int]]:
    """size, mtime and inode of each file: a cheap sign that a pinned host tool changed
    (the full content hash is checked when this changes)."""
    out: dict[str, list[int]] = {}
    for p in sorted(paths):
        try:
            st = Path(p).stat()
        except OSError:
            out[p] = []
            continue
        out[p] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def key_files(root: Path) -> list[Path]:
    """Exactly the files the key hashes (also what `ohnix direnv` watches)."""
    files = [root / f for f in KEY_FILES]
    lib = root / LIB_DIR
    if lib.is_dir():
        files += sorted(p for p in lib.iterdir() if p.is_file())
    return files


def key(root: Path, product: str) -> str | None:
    """The cache key, or None when a file it needs is missing (never rendered)."""
    h = hashlib.sha256(f"ohnix-env-v{SCHEMA}\0{__version__}\0{product}\0".encode())
    for path in key_files(root):
        try:
            data = read_regular(path)
        except FileNotFoundError:
            if path.name in ("flake.lock", "ohnix.lock", "flake.nix"):
                return None
            data = b"<missing>"
        except OSError:
            return None  # not a regular file, unreadable: no warm run; the CLI says why
        h.update(f"{path.relative_to(root)}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def entry_path(root: Path, product: str) -> Path:
    return root / CACHE_DIR / f"{product}.json"


def profile_path(root: Path, product: str) -> Path:
    return root / ROOTS_DIR / product / "profile"


def nix_identity() -> str | None:
    found = shutil.which("nix")
    return os.path.realpath(found) if found else None


def load(root: Path, product: str) -> dict[str, str] | None:
    """The cached variables if the entry is current, else None (a miss)."""
    k = key(root, product)
    if k is None:
        return None
    try:
        entry = json.loads(read_regular(entry_path(root, product)))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("digest") != _digest(entry):
        return None  # damaged or edited by hand: rebuilt, never served
    if entry.get("schema") != SCHEMA or entry.get("key") != k:
        return None
    watched = entry.get("watched", {})
    if not isinstance(watched, dict) or fingerprint(list(watched)) != watched:
        return None  # a pinned host tool changed: the cold path checks its hash
    current = nix_identity()
    if current is not None and current != entry.get("nix"):
        return None  # another Nix on PATH now: its dev env may differ
    if not profile_path(root, product).exists():
        return None  # root removed or its store paths collected: the variables may dangle
    variables = entry.get("variables")
    return variables if isinstance(variables, dict) else None


def store(
    root: Path,
    product: str,
    variables: dict[str, str],
    nix_version: str,
    *,
    at_key: str | None = None,
    watched: list[str] | None = None,
) -> Path:
    """Cache `variables`; `at_key` is the key taken *before* evaluating, so a file edited
    during a cold run leaves an entry that no longer matches instead of a wrong one."""
    k = at_key or key(root, product)
    if k is None:
        raise FileNotFoundError(f"cannot cache {product}: the rendered files are missing")
    path = entry_path(root, product)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {
        "schema": SCHEMA, "key": k, "product": product, "nix": nix_identity(),
        "nix_version": nix_version, "variables": variables,
        "watched": fingerprint(watched or []),
    }  # fmt: skip
    entry["digest"] = _digest(entry)
    write_text_atomic(path, json.dumps(entry, sort_keys=True))
    return path


def variables_from_dev_env(data: dict[str, Any]) -> dict[str, str]:
    """Exported variables of `nix print-dev-env --json`, minus what nix develop drops."""
    out: dict[str, str] = {}
    for name, var in data.get("variables", {}).items():
        if var.get("type") == "exported" and name not in IGNORED:
            out[name] = str(var.get("value", ""))
    return out


def environment(variables: dict[str, str], base: dict[str, str]) -> dict[str, str]:
    """The child's environment: the shell's variables over `base`, PATH prepended the way
    `nix develop` does it."""
    env = dict(base)
    env.update(variables)
    if "PATH" in variables and base.get("PATH"):
        env["PATH"] = f"{variables['PATH']}:{base['PATH']}"
    env["IN_NIX_SHELL"] = "impure"
    return env


def restore_signals() -> None:
    """Undo Python's start-up SIG_IGN of SIGPIPE and SIGXFSZ: an ignored signal stays
    ignored across exec, so `ohnix run P -- yes | head` would fail with EPIPE instead of
    dying quietly as under `nix develop --command` (what subprocess's restore_signals does)."""
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def exec_command(variables: dict[str, str], argv: list[str]) -> None:
    """Replace this process with argv in the shell's environment: signals, stdin, stdout
    and the exit status are the command's own."""
    env = environment(variables, dict(os.environ))
    sys.stdout.flush()
    sys.stderr.flush()
    restore_signals()
    try:
        if not argv[0]:  # what a shell says for "": no such command
            raise FileNotFoundError(errno.ENOENT, "empty command name")
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        os.write(2, f"ohnix: error: `{argv[0]}` was not found in the shell's PATH.\n".encode())
        os._exit(127)
    except OSError as exc:  # not executable, a directory, ...: the shell's 126
        os.write(2, f"ohnix: error: cannot execute `{argv[0]}`: {exc.strerror}.\n".encode())
        os._exit(126)


def try_warm_run(argv: list[str]) -> None:
    """The fast path of `ohnix [-C DIR] run PRODUCT -- CMD...`: exec from the cache and
    never return, or return (having done nothing) so the full CLI handles it."""
    args = list(argv)
    start = Path.cwd()
    if len(args) >= 2 and args[0] in ("-C", "--directory"):
        start = Path(args[1])
        args = args[2:]
    # From a sub-folder too, as the full CLI does (which also words a bad -C).
    root = project_root.find(start) if start.is_dir() else None
    if root is None:
        return
    if len(args) == 3 and args[0] == "run" and args[2] == "--print-env":
        # What .envrc runs on every prompt: answer from the cache without Typer.
        variables = load(root, args[1])
        if variables is not None:
            print_exports(variables)
        return
    if len(args) < 4 or args[0] != "run" or args[2] != "--" or args[1].startswith("-"):
        return
    variables = load(root, args[1])
    if variables is not None:
        exec_command(variables, args[3:])


def print_exports(variables: dict[str, str]) -> None:
    """Write the export lines and end the process (nothing else is loaded to flush)."""
    os.write(1, export_lines(variables).encode())
    os._exit(0)


def export_lines(variables: dict[str, str]) -> str:
    """`export K=V` lines (for .envrc and `--print-env`), PATH prepended."""
    lines = []
    for name, value in sorted(variables.items()):
        if name == "PATH":
            lines.append(f'export PATH={shlex.quote(value)}"${{PATH:+:$PATH}}"')
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"
