"""A commit's tree hashed as the NAR of its checkout, read straight from git's objects.

With no `.gitattributes` in the tree (and the clean git config ohnix runs git with), a
checkout writes every blob byte for byte: mode 100755 is an executable file, 120000 a
symlink whose target is the blob, 160000 (a submodule left unfetched) an empty directory.
So the NAR of the checkout follows from `git ls-tree` and `git cat-file --batch` alone,
without writing the tree to disk and reading it back; a lock of many repositories then
costs what reading their objects costs, and parallel jobs do not queue on the disk.
Where a checkout would change or add something (attributes, submodules to fetch), or
refuse a name, `read` returns None and the caller checks out instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

from ohnix import proc
from ohnix.errors import PrefetchError
from ohnix.store import nar

log = logging.getLogger("ohnix")

SMALL = 1 << 16  # blobs below this are batched into one hash update / one pipe write


@dataclass(frozen=True)
class Blob:
    oid: bytes
    mode: bytes  # 100644, 100755 or 120000

    @property
    def symlink(self) -> bool:
        return self.mode == b"120000"


Dir: TypeAlias = "dict[bytes, Dir | Blob]"


@dataclass(frozen=True)
class Tree:
    """A commit's tree as its NAR: structure bytes, with each blob where its contents go."""

    repo: Path
    rev: str
    parts: tuple[bytes | Blob, ...]


def _why_not_plain(name: bytes, kind: bytes, submodules: bool) -> str | None:
    """Why a checkout of this entry is not just its object, or None if it is."""
    if name == b".gitattributes":
        return "it has .gitattributes (a checkout may convert files)"
    if kind == b"commit" and submodules:
        return "it has submodules to fetch"
    # Names git's checkout refuses (with its default core.protectNTFS): leave them to it.
    if name.rstrip(b". ").lower() in (b".git", b"git~1") or b"\\" in name:
        return f"git's checkout refuses the name {name!r}"
    return None


def read(
    repo: Path, rev: str, *, env: Mapping[str, str], submodules: bool, what: str
) -> Tree | None:
    """List `rev`'s tree in `repo`; None if its checkout is more than its objects."""
    out = proc.run_bytes(
        ["git", "-C", repo, "ls-tree", "-r", "-t", "-z", "--full-tree", rev], env=env, what=what
    )
    root: Dir = {}
    dirs: dict[bytes, Dir] = {b"": root}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.split(b" ")
        parent, _, name = path.rpartition(b"/")
        why = _why_not_plain(name, kind, submodules)
        if why is not None:
            log.debug("%s: hashing a checkout, not the objects: %s", what, why)
            return None
        if kind == b"blob":
            dirs[parent][name] = Blob(oid, mode)
        else:  # a tree, or a gitlink: an unfetched submodule checks out as an empty directory
            sub: Dir = {}
            dirs[parent][name] = sub  # -t lists each tree before what it holds
            dirs[path] = sub
    return Tree(repo, rev, _skeleton(root))


def _name(item: tuple[bytes, object]) -> bytes:
    return item[0]


def _skeleton(root: Dir) -> tuple[bytes | Blob, ...]:
    """The NAR with each blob left as a placeholder; entries sorted bytewise, like Nix."""
    parts: list[bytes | Blob] = []
    buf = bytearray(nar.MAGIC + nar.DIRECTORY)
    # Explicit stack, not recursion: deep trees must not hit the recursion limit.
    stack = [iter(sorted(root.items(), key=_name))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            buf += nar.CLOSE  # the directory node
            if stack:
                buf += nar.CLOSE  # the entry holding it
            continue
        name, node = item
        buf += nar.entry(name)
        if isinstance(node, Blob):
            parts += [bytes(buf), node]
            buf[:] = nar.CLOSE
        else:
            buf += nar.DIRECTORY
            stack.append(iter(sorted(node.items(), key=_name)))
    parts.append(bytes(buf))
    return tuple(p for p in parts if p != b"")


def nar_chunks(tree: Tree, *, env: Mapping[str, str], what: str) -> Iterator[bytes]:
    """Stream the NAR of the checkout of `tree`, blobs read by one `git cat-file --batch`."""
    blobs = [p for p in tree.parts if isinstance(p, Blob)]
    request = [b"".join(b.oid + b"\n" for b in blobs)]
    argv: list[str | Path] = ["git", "-C", tree.repo, "cat-file", "--batch"]
    with proc.stream(argv, env=env, input=request, what=what) as out:
        pending = bytearray()
        for part in tree.parts:
            if isinstance(part, bytes):
                pending += part
                continue
            header = out.readline().split()
            if len(header) != 3 or header[0] != part.oid:
                raise PrefetchError(
                    f"{what}: git cat-file answered {b' '.join(header).decode(errors='replace')!r}"
                    f" for object {part.oid.decode()} of {tree.rev} in {tree.repo}."
                )
            size = int(header[2])
            if part.symlink:
                pending += nar.symlink(_read(out, size, what))
            else:
                pending += nar.regular_header(size, executable=part.mode == b"100755")
                if size < SMALL:
                    pending += _read(out, size, what)
                else:
                    yield bytes(pending)
                    pending.clear()
                    left = size
                    while left:
                        chunk = _read(out, min(left, nar.CHUNK), what)
                        left -= len(chunk)
                        yield chunk
                pending += nar.regular_trailer(size)
            _read(out, 1, what)  # the newline after each object
            if len(pending) >= nar.CHUNK:
                yield bytes(pending)
                pending.clear()
        yield bytes(pending)


def _read(out: IO[bytes], size: int, what: str) -> bytes:
    data = out.read(size)
    if len(data) != size:
        raise PrefetchError(f"{what}: git cat-file stopped in the middle of an object.")
    return data


def nar_hash(tree: Tree, *, env: Mapping[str, str], what: str) -> bytes:
    """sha256 of the NAR of the checkout: what nar.nar_hash of a checkout would give."""
    h = hashlib.sha256()
    for chunk in nar_chunks(tree, env=env, what=what):
        h.update(chunk)
    return h.digest()
