"""The rendered Nix files: Lock + Config -> {path: text}, pure (no file written, no
command run; writer.py writes them, project.py is `ohnix render` as a whole).

Rendered Nix reads ohnix.lock and shells.json as data; the only literals (the flake's
description and nixpkgs URL) go through the one `nix_str` filter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ohnix.config import Config
from ohnix.errors import RenderError
from ohnix.pin.lockfile import Lock, Pin
from ohnix.shell import contents

LIB_DIR = "nix/ohnix"
LIB_FILES = ("default.nix", "host.nix", "nixpkgs.nix", "nixpkgs-src.nix", "prebuilts.nix",
             "sources.nix", "ohos.nix", "runtimes.sh", "wrapper.sh", "go.sh",
             "patches/musl-x86_64-ohos-ldbl128.sh")  # fmt: skip
GITHUB = re.compile(r"^github:(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)$")


def nix_str(value: str) -> str:
    """A Nix string literal for any text: escapes `"`, `\\` and `${` (and control chars)."""
    out = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("${", "\\${")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{out}"'


def library_dir() -> Path:
    """The Nix library: packaged as ohnix/_nix, or the repository's nix/ in a checkout."""
    package = Path(__file__).resolve().parent.parent  # ohnix/
    here = package
    for candidate in (package / "_nix", package.parent / "nix"):
        if (candidate / "default.nix").is_file():
            return candidate
    raise RenderError(f"ohnix's Nix library is missing (looked in {here / '_nix'}).")


def template_env() -> Any:
    """The one Jinja environment for ohnix's templates (Nix files and CI workflows)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ohnix.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Nix, not HTML: the nix_str filter does the escaping
    )
    env.filters["nix_str"] = nix_str
    return env


def flake_input(pin: Pin) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The flake input URL for the nixpkgs pin, with flake.lock's `original` and `locked`."""
    if pin.kind == "github":
        m = GITHUB.match(pin.url)
        assert m is not None
        assert pin.rev
        original = {"owner": m["owner"], "repo": m["repo"], "rev": pin.rev, "type": "github"}
        return f"github:{m['owner']}/{m['repo']}/{pin.rev}", original, original
    if pin.kind == "git":
        assert pin.rev
        ref = f"&ref={pin.ref}" if pin.ref and pin.ref != "HEAD" else ""
        original = {"rev": pin.rev, "shallow": True, "type": "git", "url": pin.url}
        if ref:
            original["ref"] = pin.ref
        return f"git+{pin.url}?rev={pin.rev}{ref}&shallow=1", original, original
    original = {"path": pin.url, "type": "path"}
    return f"path:{pin.url}", original, original


def flake_lock(pin: Pin | None) -> str:
    """flake.lock written from ohnix.lock, so `nix develop` locks and fetches nothing else."""
    nodes: dict[str, Any] = {"root": {"inputs": {"nixpkgs": "nixpkgs"} if pin else {}}}
    if pin is not None:
        _, original, locked = flake_input(pin)
        nodes["nixpkgs"] = {
            "locked": {**locked, "narHash": pin.hash, "lastModified": pin.last_modified or 0},
            "original": original,
        }
    data = {"nodes": nodes, "root": "root", "version": 7}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render(config: Config, lock: Lock) -> dict[str, str]:
    """Every file `ohnix render` owns, relative to the project root -> its text."""
    missing = [s.key for s in _needed(config) if lock.get(s.key) is None]
    if missing:
        raise RenderError(
            f"ohnix.lock has no pin for {', '.join(missing)}.", hint="Run `ohnix lock` first."
        )
    data = contents.data(config, lock)
    _check_tool_pins(config, lock, data)
    nixpkgs = lock.get("nixpkgs")
    env = template_env()
    context = {
        "description": f"ohnix development shells for {config.project.name} "
        f"(OpenHarmony {config.project.openharmony})",
        "nixpkgs_url": flake_input(nixpkgs)[0] if nixpkgs else None,
    }
    files = {
        "flake.nix": env.get_template("flake.nix.j2").render(**context),
        "default.nix": env.get_template("default.nix.j2").render(**context),
        "flake.lock": flake_lock(nixpkgs),
        f"{LIB_DIR}/shells.json": json.dumps(data, indent=2, sort_keys=True) + "\n",
    }
    lib = library_dir()
    for name in LIB_FILES:
        files[f"{LIB_DIR}/{name}"] = (lib / name).read_text(encoding="utf-8")
    return dict(sorted(files.items()))


def _check_tool_pins(config: Config, lock: Lock, data: dict[str, Any]) -> None:
    """Every pin a shell's tool names must be in the lock: `[prebuilts].include` can leave
    out one a shell needs, which Nix would only report as a missing attribute."""
    unpinned = sorted(
        f"`{t['pin']}` ({t['var'] or t['exe']} of {name})"
        for name, shell in data["shells"].items()
        for t in shell["tools"]
        if t["pin"] and lock.get(t["pin"]) is None
    )
    if unpinned:
        raise RenderError(
            f"{config.path}: the shells use {', '.join(unpinned)}, which ohnix.lock does not "
            "pin" + (" because [prebuilts].include leaves them out" if config.prebuilts.include
                     else "") + ".",
            hint="Add them to [prebuilts].include (or drop `include` to pin every prebuilt), "
            "then run `ohnix lock`.",
        )  # fmt: skip


def _needed(config: Config) -> list[Any]:
    from ohnix.pin import resolve

    return resolve.specs(config)
