"""Typed wrappers over the nix commands ohnix uses, on top of the proc chokepoint.

The experimental-features prefix lives here and nowhere else, and so does knowledge of
which Nix version renamed or reshaped which command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ohnix import proc
from ohnix.errors import OhnixError

if TYPE_CHECKING:
    from ohnix.store.drv import Derivation
    from ohnix.store.shapes import PathInfo

FEATURES = ("--extra-experimental-features", "nix-command flakes")
INSTALL_HINT = (
    "Install Nix (on Debian/Ubuntu: `apt-get install nix-bin`; elsewhere see "
    "https://nixos.org/download) and run `ohnix doctor`."
)


@cache
def version() -> tuple[int, int, int]:
    """The Nix version as (major, minor, patch), e.g. (2, 8, 0) for Debian's nix-bin."""
    proc.require("nix", hint=INSTALL_HINT)
    out = proc.run(["nix", "--version"], timeout=30).stdout
    return parse_version(out)


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise OhnixError(f"Cannot read a Nix version from `nix --version` output {text!r}.")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def version_string() -> str:
    return ".".join(map(str, version()))


def argv(*args: str | Path) -> list[str | Path]:
    """`nix` with the experimental features ohnix needs, whatever the user's config says."""
    return ["nix", *FEATURES, *args]


def nix(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> proc.Result:
    return proc.run(argv(*args), cwd=cwd, env=env, what=what, hint=None)


# NixOS/nix#2176 (open): the worker takes the closing of a builder's log pipe for its end
# and may SIGKILL it before it has exited, failing a build that succeeded. It hits quick
# builders (ohnix's own) about once in a few hundred builds; building again is the cure.
KILLED_BUILDER = "failed due to signal 9 (Killed)"
KILLED_RETRIES = 2


def build(
    *args: str | Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
) -> proc.Result:
    """A nix command that builds: run again when only NixOS/nix#2176 failed it."""
    from ohnix.errors import CommandError

    for _ in range(KILLED_RETRIES):
        try:
            return nix(*args, cwd=cwd, env=env, what=what)
        except CommandError as exc:
            if KILLED_BUILDER not in exc.stderr:
                raise
    return nix(*args, cwd=cwd, env=env, what=what)


def show_config() -> dict[str, Any]:
    """Nix's effective settings as {name: value}."""
    sub = ("show-config",) if version() < (2, 20, 0) else ("config", "show")
    data = json.loads(nix(*sub, "--json").stdout)
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in data.items()}


def store_dir() -> str:
    value = show_config().get("store", "")
    return "/nix/store" if not value or value in ("auto", "daemon", "local") else str(value)


def hash_to_sri(nix32: str, algo: str = "sha256") -> str:
    """Nix's own conversion (2.8 has `nix hash to-sri`, not `nix-hash --to-sri`)."""
    return nix("hash", "to-sri", "--type", algo, nix32).stdout.strip()


def eval_json(expr: str, *, cwd: Path | None = None) -> Any:
    out = proc.run(["nix-instantiate", "--eval", "--strict", "--json", "--expr", expr], cwd=cwd)
    return json.loads(out.stdout)


def instantiate(file: Path, attr: str) -> str:
    """The .drv path of `attr` in a non-flake Nix file."""
    out = proc.run(["nix-instantiate", str(file), "-A", attr], what=f"instantiating {attr}")
    return out.stdout.strip().splitlines()[-1]


def flake_drv(flake_ref: str, *, cwd: Path | None = None) -> str:
    """The .drv path of a flake output (`nix eval --raw REF.drvPath`)."""
    return nix("eval", "--raw", f"{flake_ref}.drvPath", cwd=cwd).stdout.strip()


def missing_attrs(check_file: Path, src: str, attrs: list[str]) -> list[str]:
    """Which of `attrs` the nixpkgs source `src` lacks: `check_file` (the Nix library's
    check-attrs.nix) evaluated with `nix-instantiate --eval`."""
    out = proc.run(
        ["nix-instantiate", "--eval", "--strict", "--json", check_file,
         "--argstr", "src", src, "--argstr", "attrs", json.dumps(attrs)],
        what="checking nixpkgs attributes",
    ).stdout  # fmt: skip
    missing: list[str] = json.loads(out)
    return missing


# Nix 2.26's `nix-store --add-fixed --recursive` overflows its stack on deeper trees (it
# recurses per directory level); hashing and --dump still work there. Measured, see REFERENCE.
ADD_FIXED_DEPTH_LIMIT = 70


def add_fixed(path: Path, *, recursive: bool, algo: str = "sha256", what: str = "") -> str:
    """Add `path` to the store as a fixed-output path; `what` names it in errors."""
    from ohnix.errors import CommandError

    args = ["nix-store", "--add-fixed", *(["--recursive"] if recursive else []), algo, str(path)]
    try:
        return proc.run(args, what=f"adding {what or path} to the Nix store").stdout.strip()
    except CommandError as exc:
        depth = _depth(path) if recursive and path.is_dir() else 0
        if depth <= ADD_FIXED_DEPTH_LIMIT:
            raise
        raise OhnixError(
            f"Nix {version_string()} could not add {what or path} to the store: the tree is "
            f"{depth} directories deep, and `nix-store --add-fixed --recursive` of some Nix "
            f"versions (2.26 among them) crashes beyond about {ADD_FIXED_DEPTH_LIMIT} levels "
            f"(exit status {exc.returncode}).",
            hint="Pin a source (or a sub-tree of it) without such nesting, or use a Nix that "
            "adds it (Debian 12's Nix 2.8 does); ohnix's hash of it is still right.",
        ) from exc


def _depth(root: Path) -> int:
    """How many directory levels lie below `root` (symlinks not followed)."""
    import os

    deepest = 0
    base = len(root.parts)
    for here, dirs, _ in os.walk(root):
        deepest = max(deepest, len(Path(here).parts) - base)
        dirs[:] = [d for d in dirs if not Path(here, d).is_symlink()]
    return deepest


def restore(nar_chunks: Iterable[bytes], target: Path) -> None:
    """Materialise a NAR stream at `target` (not in the store) with `nix-store --restore`."""
    with proc.stream(["nix-store", "--restore", target], input=nar_chunks,
                     what=f"unpacking a NAR into {target}"):  # fmt: skip
        pass


def is_valid(path: str) -> bool:
    """Whether the store has `path` as a valid (complete, registered) path."""
    res = proc.run(["nix-store", "--check-validity", path], check=False)
    return res.returncode == 0


def valid_paths(paths: Sequence[str]) -> list[str]:
    """Those of `paths` the store has as valid paths, in order: one nix-store call."""
    if not paths:
        return []
    res = proc.run(["nix-store", "--check-validity", "--print-invalid", *paths])
    invalid = set(res.stdout.split())
    return [p for p in paths if p not in invalid]


def develop_argv(flake_ref: str, command: Sequence[str] | None = None) -> list[str]:
    """argv for `nix develop` (no timeout: it is long and interruptible)."""
    cmd = ["--command", *command] if command else []
    return [str(a) for a in argv("develop", flake_ref, *cmd)]


def show_derivation(
    installables: Sequence[str], *, recursive: bool = False, store_dir: str | None = None
) -> dict[str, Derivation]:
    """Derivations as {.drv path: Derivation}, whatever shape this Nix prints
    (`nix show-derivation` below 2.15, `nix derivation show` from 2.15)."""
    from ohnix.store import shapes
    from ohnix.store.nar import STORE_DIR

    sub = ("show-derivation",) if version() < (2, 15, 0) else ("derivation", "show")
    out = nix(*sub, *(["--recursive"] if recursive else []), *installables,
              what="reading derivations").stdout  # fmt: skip
    return shapes.parse_show_derivation(
        out, nix_version=version_string(), store_dir=store_dir or STORE_DIR
    )


def path_info(
    paths: Sequence[str],
    *,
    recursive: bool = False,
    derivation: bool = False,
    store_dir: str | None = None,
) -> dict[str, PathInfo]:
    """`nix path-info --json` as {store path: PathInfo}; paths that are not valid (not
    built, not fetched) are absent from the result."""
    from ohnix.store import shapes
    from ohnix.store.nar import STORE_DIR

    if not paths:
        return {}
    fmt = ("--json-format", "2") if version() >= (2, 33, 0) else ()
    flags = [*(["--recursive"] if recursive else []), *(["--derivation"] if derivation else [])]
    out = nix("path-info", "--json", *fmt, *flags, *paths, what="reading path info").stdout
    return shapes.parse_path_info(
        out, nix_version=version_string(), store_dir=store_dir or STORE_DIR
    )


def flake_drvs(flake_ref: str, *, cwd: Path | None = None) -> dict[str, str]:
    """{attribute: .drv path} for every derivation in an attribute set of a flake
    (e.g. `.#devShells.x86_64-linux`), in one evaluation."""
    out = nix("eval", "--json", flake_ref, "--apply", "builtins.mapAttrs (name: d: d.drvPath)",
              cwd=cwd, what=f"evaluating {flake_ref}").stdout  # fmt: skip
    data = json.loads(out)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise OhnixError(f"`nix eval {flake_ref}` did not give an attribute set of derivations.")
    return {str(k): str(v) for k, v in data.items()}
