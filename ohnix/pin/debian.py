"""Debian's packages for the host programs ohnix.lock can pin (data/debian.toml): what
`ohnix ci` installs on a runner, and what a "not on PATH" error tells a user to install."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def data() -> dict[str, Any]:
    text = resources.files("ohnix").joinpath("data/debian.toml").read_text()
    return tomllib.loads(text)


def packages_of(program: str) -> tuple[str, ...]:
    """The Debian packages that give `program` (a cross tool: its whole GCC set), or ()
    when ohnix does not know them."""
    if program in data()["programs"]:
        return (data()["programs"][program],)
    for prefix, packages in data()["prefixes"].items():
        if program.startswith(prefix):
            return tuple(packages)
    return ()


def base() -> tuple[str, ...]:
    """What every runner needs besides the pinned programs: Nix, git, Python for ohnix."""
    return tuple(data()["base"])


def sources_release() -> str:
    """The Debian release whose source packages hold data/runtimes.toml's archives."""
    return str(data()["sources_release"])


def install_hint(program: str) -> str | None:
    """'Install Debian's X (`apt-get install X`)' for a program ohnix knows, else None."""
    packages = packages_of(program)
    if not packages:
        return None
    names = " ".join(packages)
    return f"Install Debian's {', '.join(packages)} (`apt-get install {names}`)"
