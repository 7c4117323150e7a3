"""The bash a product's shell starts in, and what ohnix hands Nix for it (.ohnix/shell/).

It is the shell derivation's builder: nixpkgs' bashInteractive, or without nixpkgs the
bash-static that ohnix.lock pins. Neither Nix command finds it alone:

`nix develop` looks for legacyPackages.<system>.bashInteractive of the flake `nixpkgs`: the
flake's nixpkgs input, else the registries' nixpkgs (downloaded, or offline `error
(ignored): cannot find flake 'flake:nixpkgs'` and bash from PATH). Without nixpkgs, ohnix
points `nixpkgs` at a small flake offering the pinned bash-static, and gives an empty
global registry, which Nix reads (and downloads) before any other, whatever matches first.

`nix-shell` (`--classic`) was made for stdenv shells: it starts bash with the derivation's
PATH (only the shell's tools, so its rc and ~/.bashrc find no rm, env or bash), leaves PATH
unexported as `<its bash's directory>::<PATH>`, sets its own prompt, and runs shellHook
only through stdenv's runHook. Its NIX_BUILD_SHELL here is a launcher that starts the
builder from the caller's PATH with an rc file that sources nix-shell's, then does what
`nix develop` does: PATH is the shell's tools then the PATH ~/.bashrc left, and shellHook
runs (its prompt kept by NIX_SHELL_PRESERVE_PROMPT).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from ohnix.atomic import write_text_atomic
from ohnix.pin.lockfile import Lock

DIR = ".ohnix/shell"
URL_SAFE = re.compile(r"[\w./+-]+", re.ASCII)
BASH_STATIC = "host/bash-static"

FLAKE = """\
# The bash `nix develop` runs ohnix's shells in, written by ohnix (ohnix/shell/bash.py):
# nix develop looks for legacyPackages.<system>.bashInteractive of the flake `nixpkgs`,
# and ohnix points `nixpkgs` here. bash.json names the bash-static that ohnix.lock pins
# (the shells' builder): a fixed-output path already in the store, so nothing is built.
{
  outputs = { self }:
    let bash = builtins.fromJSON (builtins.readFile ./bash.json); in {
      legacyPackages = builtins.listToAttrs (map (system: {
        name = system;
        value.bashInteractive = derivation {
          inherit system;
          name = bash.store_name;
          builder = "/bin/sh";
          # Runs only if the path was collected, which `ohnix shell` repairs first.
          args = [ "-c" "echo 'ohnix: ${bash.store_name} is missing; run ohnix lock' >&2; exit 1" ];
          outputHashMode = "recursive";
          outputHashAlgo = "sha256";
          outputHash = bash.nar_hash;
        };
      }) bash.systems);
    };
}
"""
FLAKE_LOCK = '{\n  "nodes": {\n    "root": {}\n  },\n  "root": "root",\n  "version": 7\n}\n'
REGISTRY = '{"flakes": [], "version": 2}\n'

LAUNCHER = """\
#!/bin/sh
# NIX_BUILD_SHELL of `ohnix shell --classic`, written by ohnix (ohnix/shell/bash.py).
# nix-shell runs it as `bash --rcfile RC` in the shell derivation's environment.
export OHNIX_SHELL_PATH="$PATH" PATH="${OHNIX_CALLER_PATH-$PATH}"
if [ "$#" = 2 ] && [ "$1" = --rcfile ]; then
  export OHNIX_NIX_SHELL_RC="$2"
  exec "$builder" --rcfile "${0%/*}/nix-shell-rc"
fi
exec "$builder" "$@"
"""

RC = """\
# The rc file of `ohnix shell --classic`, written by ohnix (ohnix/shell/bash.py).
. "$OHNIX_NIX_SHELL_RC"
PATH=${PATH#"${NIX_BUILD_SHELL%/*}:"}
export PATH="$OHNIX_SHELL_PATH${PATH:+:${PATH#:}}"
BASH=$builder SHELL=$builder
eval "$OHNIX_RESTORE"
unset OHNIX_SHELL_PATH OHNIX_CALLER_PATH OHNIX_NIX_SHELL_RC OHNIX_RESTORE
eval "${shellHook-}"
"""

# Set for nix-shell only; the rc file gives the shell the caller's values back.
OVERRIDDEN = ("NIX_BUILD_SHELL", "NIX_SHELL_PRESERVE_PROMPT")


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    if path.stat().st_mode & 0o777 != mode:
        path.chmod(mode)
    return path


def develop_options(root: Path, lock: Lock, systems: Sequence[str]) -> list[str]:
    """`nix develop` options that give it the shell's bash; none where the flake's own
    nixpkgs input has it (or a lock without bash-static leaves Nix to look)."""
    pin = lock.get(BASH_STATIC)
    if lock.get("nixpkgs") is not None or pin is None or pin.nar_hash is None:
        return []
    # An absolute path: Nix 2.8 downloads any other value, even "" (2.13 reads none).
    registry = _write(root / DIR / "registry.json", REGISTRY)
    options = ["--option", "flake-registry", str(registry)]
    flake = root / DIR / "bash"
    if not URL_SAFE.fullmatch(str(flake)):
        return options  # Nix 2.8 can neither parse nor decode this `path:` URL (a space)
    data = {"store_name": pin.store_name, "nar_hash": pin.nar_hash, "systems": list(systems)}
    _write(flake / "bash.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
    _write(flake / "flake.lock", FLAKE_LOCK)
    _write(flake / "flake.nix", FLAKE)
    return ["--override-flake", "nixpkgs", f"path:{flake}", *options]


def classic_env(root: Path, caller: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables to start nix-shell with (the launcher and rc file written)."""
    caller = os.environ if caller is None else caller
    _write(root / DIR / "nix-shell-rc", RC)
    launcher = _write(root / DIR / "nix-shell-bash", LAUNCHER, 0o755)
    restore = "; ".join(
        f"export {name}={shlex.quote(caller[name])}" if name in caller else f"unset {name}"
        for name in OVERRIDDEN
    )
    return {
        "NIX_BUILD_SHELL": str(launcher),
        "NIX_SHELL_PRESERVE_PROMPT": "1",
        "OHNIX_CALLER_PATH": caller.get("PATH", os.defpath),
        "OHNIX_RESTORE": restore,
    }
