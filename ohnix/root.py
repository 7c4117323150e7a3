"""Finding the project: the nearest folder at or above the start that holds ohnix.toml, as
git finds `.git` and cargo `Cargo.toml`. Standard library only: the warm `ohnix run` path
uses it too.

The search ends at the filesystem root, or below a folder named in
OHNIX_CEILING_DIRECTORIES (absolute paths separated by `:`, like GIT_CEILING_DIRECTORIES):
such a folder and those above it are not searched, unless the search starts there. It does
cross mount points, as cargo does: git stops there to spare slow network file systems an
upward crawl, but the search is a handful of stat calls, and a project inside a mounted
checkout must still be found from its sub-folders.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_NAME = "ohnix.toml"
CEILING_VAR = "OHNIX_CEILING_DIRECTORIES"


def ceilings() -> frozenset[Path]:
    raw = os.environ.get(CEILING_VAR, "")
    return frozenset(Path(p).resolve() for p in raw.split(":") if p and Path(p).is_absolute())


def find(start: Path) -> Path | None:
    """The folder of the nearest ohnix.toml at or above `start`, or None."""
    here = start.resolve()
    stop = ceilings()
    for folder in (here, *here.parents):
        if folder != here and folder in stop:
            return None
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None
