"""Writing a rendered set of files: what would change (create / identical / update), a
unified diff of it, and the write itself (each file atomically; unchanged files untouched).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ohnix.atomic import read_existing, write_set_atomic

FileStatus = Literal["create", "identical", "update"]


@dataclass(frozen=True)
class FileResult:
    path: str
    status: FileStatus


def plan(root: Path, files: dict[str, str]) -> list[FileResult]:
    out = []
    for rel, text in files.items():
        path = root / rel
        status: FileStatus
        old = read_existing(path)
        if old is None:
            status = "create"
        else:
            status = "identical" if old == text.encode("utf-8") else "update"
        out.append(FileResult(rel, status))
    return out


def write(root: Path, files: dict[str, str]) -> list[FileResult]:
    """Write the changed files as one set: a failure midway leaves the previous set."""
    results = plan(root, files)
    write_set_atomic({root / r.path: files[r.path] for r in results if r.status != "identical"})
    return results


def diff(root: Path, files: dict[str, str]) -> str:
    """A unified diff of what is on disk against what would be rendered."""
    chunks = []
    for r in plan(root, files):
        if r.status == "identical":
            continue
        path = root / r.path
        held = read_existing(path)
        old = held.decode("utf-8", "replace").splitlines(keepends=True) if held else []
        new = files[r.path].splitlines(keepends=True)
        chunks.append("".join(difflib.unified_diff(old, new, f"a/{r.path}", f"b/{r.path}")))
    return "".join(chunks)
