"""NAR serialisation, Nix base32, SRI and store-path computation (pure stdlib).

Everything here must agree bit for bit with Nix (`nix-store --dump`, `nix-hash`,
`nix-store --add-fixed`); tests/test_nar.py checks it against the real tools.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ohnix.errors import OhnixError, PrefetchError

STORE_DIR = "/nix/store"
CHUNK = 1 << 20  # file read size: big enough that hashing, not Python, dominates

# Nix's base32 alphabet drops e, o, t, u (to avoid accidental words).
NIX32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
_NIX32_VALUE = {c: i for i, c in enumerate(NIX32_ALPHABET)}
DIGEST_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}
MAX_NAME_LEN = 211  # Nix's StorePath::MaxPathLen
_NAME_RE = re.compile(r"[A-Za-z0-9+\-._?=]+")


# --- encodings ------------------------------------------------------------------------


def nix32_len(size: int) -> int:
    return (size * 8 - 1) // 5 + 1


def nix32_encode(digest: bytes) -> str:
    # Character k (emitted last to first) is bits 5k..5k+4 of the digest read as one
    # little-endian integer; Python's big ints do this without per-bit fiddling.
    n = int.from_bytes(digest, "little")
    return "".join(
        NIX32_ALPHABET[(n >> (5 * k)) & 31] for k in range(nix32_len(len(digest)) - 1, -1, -1)
    )


def nix32_decode(text: str) -> bytes:
    size = len(text) * 5 // 8
    if nix32_len(size) != len(text):
        raise OhnixError(f"'{text}' is not a Nix base32 hash: {len(text)} is not a valid length.")
    n = 0
    for c in text:
        value = _NIX32_VALUE.get(c)
        if value is None:
            raise OhnixError(
                f"'{text}' is not a Nix base32 hash: {c!r} is not in the alphabet "
                f"{NIX32_ALPHABET} (Nix base32 has no e, o, t, u and no capitals)."
            )
        n = (n << 5) | value
    if n >> (8 * size):  # the leading character may only carry the bits that fit
        raise OhnixError(f"'{text}' is not a Nix base32 hash: it encodes more than {size} bytes.")
    return n.to_bytes(size, "little")


def _digest_size(algo: str) -> int:
    try:
        return DIGEST_SIZES[algo]
    except KeyError:
        raise OhnixError(
            f"Unknown hash algorithm '{algo}'; expected one of {', '.join(DIGEST_SIZES)}."
        ) from None


def to_sri(digest: bytes, algo: str = "sha256") -> str:
    if len(digest) != _digest_size(algo):
        raise OhnixError(f"A {algo} digest has {DIGEST_SIZES[algo]} bytes, not {len(digest)}.")
    return f"{algo}-{base64.b64encode(digest).decode()}"


def parse_hash(text: str, algo: str = "sha256") -> bytes:
    """Accept SRI, or nix32/base16 (or base64) prefixed `<algo>:` or bare; return the digest."""
    size = _digest_size(algo)
    value = text.strip()
    other = re.match(r"(md5|sha1|sha256|sha512)[-:]", value)
    if other and other.group(1) != algo:
        raise OhnixError(f"Hash '{text}' is {other.group(1)}, but {algo} was expected.")
    body = value[len(algo) + 1 :] if other else value
    try:
        if value.startswith(f"{algo}-") or (other and len(body) == 4 * ((size + 2) // 3)):
            digest = base64.b64decode(body, validate=True)
            if len(digest) == size:
                return digest
        elif len(body) == 2 * size and re.fullmatch(r"[0-9a-fA-F]+", body):
            return bytes.fromhex(body)
        elif len(body) == nix32_len(size):
            return nix32_decode(body)
    except (binascii.Error, OhnixError):
        pass
    raise OhnixError(
        f"'{text}' is not a valid {algo} hash: expected SRI ({algo}-<base64>), "
        f"{nix32_len(size)} Nix base32 characters or {2 * size} hex digits, "
        f"optionally prefixed '{algo}:'."
    )


# --- NAR ------------------------------------------------------------------------------


def _str(data: bytes) -> bytes:
    """A NAR string: u64 little-endian length, the bytes, zero padding to 8."""
    return len(data).to_bytes(8, "little") + data + b"\0" * (-len(data) % 8)


def _tokens(*words: bytes) -> bytes:
    return b"".join(_str(w) for w in words)


_Buffer = bytes | bytearray | memoryview
MAGIC = _str(b"nix-archive-1")
CLOSE = _str(b")")
_REGULAR = _tokens(b"(", b"type", b"regular")
_EXECUTABLE = _tokens(b"executable", b"")
_CONTENTS = _str(b"contents")
_SYMLINK = _tokens(b"(", b"type", b"symlink", b"target")
DIRECTORY = _tokens(b"(", b"type", b"directory")
_ENTRY = _tokens(b"entry", b"(", b"name")
_NODE = _str(b"node")


# Building blocks for the NAR of a tree that is not on disk (gittree reads git objects).


def entry(name: bytes) -> bytes:
    """Opens a directory entry; its node follows, then CLOSE."""
    return _ENTRY + _str(name) + _NODE


def regular_header(size: int, *, executable: bool) -> bytes:
    """A regular file's node up to its contents: `size` bytes, then regular_trailer."""
    return _REGULAR + (_EXECUTABLE if executable else b"") + _CONTENTS + size.to_bytes(8, "little")


def regular_trailer(size: int) -> bytes:
    return b"\0" * (-size % 8) + CLOSE


def symlink(target: bytes) -> bytes:
    return _SYMLINK + _str(target) + CLOSE


def memory_nar(node: bytes | Mapping[bytes, Any]) -> bytes:
    """The NAR of a small tree held in memory: a mapping is a directory (entries sorted
    bytewise, as Nix sorts them), bytes an executable regular file."""

    def serialise(n: bytes | Mapping[bytes, Any]) -> bytes:
        if isinstance(n, bytes):
            return regular_header(len(n), executable=True) + n + regular_trailer(len(n))
        body = b"".join(entry(k) + serialise(v) + CLOSE for k, v in sorted(n.items()))
        return DIRECTORY + body + CLOSE

    return MAGIC + serialise(node)


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (fifo)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _unsupported(path: bytes, mode: int, what: str = "serialise as a NAR") -> PrefetchError:
    kind = _KINDS.get(stat.S_IFMT(mode), "an unsupported file type")
    holds = "a regular file" if what == "flat-hash" else "regular files, directories and symlinks"
    return PrefetchError(
        f"Cannot {what} '{os.fsdecode(path)}': it is {kind}; only {holds} can be hashed.",
        hint="Remove it (or point ohnix at something else) before hashing.",
    )


def _regular(path: bytes, out: bytearray, buf: bytearray) -> Iterator[_Buffer]:
    # O_NONBLOCK: if the entry was swapped for a fifo since we looked, don't hang on it.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _unsupported(path, st.st_mode)
        size = st.st_size
        out += regular_header(size, executable=bool(st.st_mode & stat.S_IXUSR))
        view, left = memoryview(buf), size
        while left:
            n = os.readv(fd, [view[: min(left, CHUNK)]])
            if n == 0:
                raise PrefetchError(f"'{os.fsdecode(path)}' shrank while it was being hashed.")
            left -= n
            if n < 4096:  # small files: batch into `out`, one hash update for many files
                out += view[:n]
                continue
            if out:
                yield out
                out.clear()
            yield view[:n]
        out += regular_trailer(size)
    finally:
        os.close(fd)


def _sorted_entries(path: bytes) -> list[os.DirEntry[bytes]]:
    with os.scandir(path) as it:  # bytes path -> bytes names: sort is bytewise, like Nix
        return sorted(it, key=lambda e: e.name)


def _nar_stream(path: Path) -> Iterator[_Buffer]:
    """Yield the NAR of `path` as buffers that are only valid until the next step."""
    out = bytearray(MAGIC)
    buf = bytearray(CHUNK)
    p = os.fsencode(path)
    try:
        mode = os.lstat(p).st_mode
        # Explicit stack, not recursion: deep trees must not hit the recursion limit.
        stack: list[Iterator[os.DirEntry[bytes]]] = []
        while True:
            if stat.S_ISDIR(mode):
                out += DIRECTORY
                stack.append(iter(_sorted_entries(p)))
            else:
                if stat.S_ISREG(mode):
                    yield from _regular(p, out, buf)
                elif stat.S_ISLNK(mode):
                    out += symlink(os.readlink(p))  # noqa: PTH115 (bytes target)
                else:
                    raise _unsupported(p, mode)
                if stack:
                    out += CLOSE  # the entry holding this leaf
            if len(out) >= CHUNK:
                yield out
                out.clear()
            while stack:
                item = next(stack[-1], None)
                if item is not None:
                    break
                stack.pop()
                out += CLOSE  # the directory node
                if stack:
                    out += CLOSE  # the entry holding it
            else:
                break
            out += entry(item.name)
            p = item.path
            # d_type from scandir spares an lstat per entry; fall back only if unknown.
            if item.is_symlink():
                mode = stat.S_IFLNK
            elif item.is_dir(follow_symlinks=False):
                mode = stat.S_IFDIR
            elif item.is_file(follow_symlinks=False):
                mode = stat.S_IFREG
            else:
                mode = item.stat(follow_symlinks=False).st_mode
    except OSError as exc:
        where = os.fsdecode(exc.filename) if exc.filename is not None else str(path)
        raise PrefetchError(f"Cannot read '{where}' to hash it: {exc.strerror}.") from exc
    if out:
        yield out


def nar_chunks(path: Path) -> Iterator[bytes]:
    """Stream the NAR serialisation of `path` (file, directory or symlink)."""
    for chunk in _nar_stream(path):
        yield bytes(chunk)


def nar_hash(path: Path) -> bytes:
    """sha256 of the NAR of `path`: what `nix-hash --type sha256` prints, as raw bytes."""
    h = hashlib.sha256()
    for chunk in _nar_stream(path):
        h.update(chunk)
    return h.digest()


def flat_hash(path: Path) -> bytes:
    """sha256 of the file's bytes: what `nix-hash --flat` / `nix-prefetch-url` compute."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a fifo must not hang us
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise _unsupported(os.fsencode(path), mode, "flat-hash")
            while n := os.readv(fd, [buf]):
                h.update(view[:n])
        finally:
            os.close(fd)
    except OSError as exc:
        raise PrefetchError(f"Cannot read '{path}' to hash it: {exc.strerror}.") from exc
    return h.digest()


# --- store paths ----------------------------------------------------------------------


def check_store_name(name: str) -> None:
    problem = None
    if not name:
        problem = "it is empty"
    elif len(name) > MAX_NAME_LEN:
        problem = f"it is longer than {MAX_NAME_LEN} characters"
    elif name.startswith("."):
        problem = "it starts with a dot"
    elif not _NAME_RE.fullmatch(name):
        bad = sorted({c for c in name if not _NAME_RE.fullmatch(c)})
        problem = f"it contains {', '.join(repr(c) for c in bad)}"
    if problem:
        raise OhnixError(
            f"'{name}' is not a valid Nix store path name: {problem}.",
            hint="Names may use letters, digits and + - . _ ? = and must not start with a dot.",
        )


def compress_hash(digest: bytes, size: int = 20) -> bytes:
    # XOR-fold, not truncation: every input byte affects the result.
    out = bytearray(size)
    for i, b in enumerate(digest):
        out[i % size] ^= b
    return bytes(out)


def make_store_path(kind: str, inner_digest: bytes, name: str, store_dir: str = STORE_DIR) -> str:
    check_store_name(name)
    fingerprint = f"{kind}:sha256:{inner_digest.hex()}:{store_dir}:{name}"
    digest = compress_hash(hashlib.sha256(fingerprint.encode()).digest())
    return f"{store_dir}/{nix32_encode(digest)}-{name}"


def source_path(name: str, nar_sha256: bytes, store_dir: str = STORE_DIR) -> str:
    return make_store_path("source", nar_sha256, name, store_dir)


def fixed_output_path(
    name: str,
    digest: bytes,
    *,
    recursive: bool,
    algo: str = "sha256",
    output: str = "out",
    store_dir: str = STORE_DIR,
) -> str:
    # Recursive sha256 is special-cased by Nix so a fetched tree and `nix-store --add` of
    # the same tree share a path. Note "fixed:out:" stays literal whatever `output` is.
    if recursive and algo == "sha256":
        return source_path(name, digest, store_dir)
    inner = f"fixed:out:{'r:' if recursive else ''}{algo}:{digest.hex()}:"
    return make_store_path(
        f"output:{output}", hashlib.sha256(inner.encode()).digest(), name, store_dir
    )


def text_path(
    name: str, content: bytes, references: Iterable[str] = (), store_dir: str = STORE_DIR
) -> str:
    kind = "".join(["text", *(f":{ref}" for ref in sorted(references))])
    return make_store_path(kind, hashlib.sha256(content).digest(), name, store_dir)
