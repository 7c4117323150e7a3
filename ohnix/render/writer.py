"""Writing a rendered set of files: what would change (create / identical / update), a
unified diff of it, and the write itself (each file atomically; unchanged files untouched).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ohnix.atomic import write_text_atomic

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
        if not path.exists():
            status = "create"
        else:
            status = "identical" if path.read_text(encoding="utf-8") == text else "update"
        out.append(FileResult(rel, status))
    return out


def write(root: Path, files: dict[str, str]) -> list[FileResult]:
    results = plan(root, files)
    for r in results:
        if r.status != "identical":
            path = root / r.path
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, files[r.path])
    return results


def diff(root: Path, files: dict[str, str]) -> str:
    """A unified diff of what is on disk against what would be rendered."""
    chunks = []
    for r in plan(root, files):
        if r.status == "identical":
            continue
        path = root / r.path
        old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
        new = files[r.path].splitlines(keepends=True)
        chunks.append("".join(difflib.unified_diff(old, new, f"a/{r.path}", f"b/{r.path}")))
    return "".join(chunks)
