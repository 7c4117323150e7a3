"""ohnix.nar against published vectors and, above all, against the real Nix tools."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import stat
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohnix import proc
from ohnix.errors import CommandError, OhnixError
from ohnix.store import nix
from ohnix.store.nar import (
    CHUNK,
    NIX32_ALPHABET,
    check_store_name,
    compress_hash,
    fixed_output_path,
    flat_hash,
    make_store_path,
    nar_chunks,
    nar_hash,
    nix32_decode,
    nix32_encode,
    parse_hash,
    source_path,
    text_path,
    to_sri,
)

ABC = hashlib.sha256(b"abc").digest()
ABC_NIX32 = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
ABC_SRI = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="

# --- published vectors (REFERENCE.md) ---------------------------------------------------


def test_nix32_vector_abc() -> None:
    assert nix32_encode(ABC) == ABC_NIX32
    assert nix32_decode(ABC_NIX32) == ABC


def test_sri_vector_abc() -> None:
    assert to_sri(ABC) == ABC_SRI


def test_flat_hash_vector(tmp_path: Path) -> None:
    f = tmp_path / "test.txt"
    f.write_bytes(b"test\n")
    assert nix32_encode(flat_hash(f)) == "1lkgqb6fclns49861dwk9rzb6xnfkxbpws74mxnx01z9qyv1pjpj"


def test_to_file_vector() -> None:
    assert text_path("foo", b"bar") == "/nix/store/vxjiwkjkn7x4079qvh1jkl5pn05j2aw0-foo"


# --- encodings ----------------------------------------------------------------------------


@given(st.binary(max_size=80))
def test_nix32_round_trip(digest: bytes) -> None:
    text = nix32_encode(digest)
    assert len(text) == (8 * len(digest) - 1) // 5 + 1
    assert set(text) <= set(NIX32_ALPHABET)
    assert nix32_decode(text) == digest


@given(st.sampled_from(["md5", "sha1", "sha256", "sha512"]), st.data())
def test_parse_hash_accepts_every_spelling(algo: str, data: st.DataObject) -> None:
    size = hashlib.new(algo).digest_size
    digest = data.draw(st.binary(min_size=size, max_size=size))
    b64 = base64.b64encode(digest).decode()
    spellings = [to_sri(digest, algo), nix32_encode(digest), digest.hex(), digest.hex().upper()]
    spellings += [f"{algo}:{s}" for s in (nix32_encode(digest), digest.hex(), b64)]
    for text in spellings:
        assert parse_hash(f" {text}\n", algo) == digest, text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "nonsense",
        ABC_NIX32[:-1],  # one character short
        ABC_NIX32[:-1] + "e",  # 'e' is not in the alphabet
        ABC_NIX32.upper(),
        "z" + ABC_NIX32[1:],  # leading character carries more than 256 bits
        ABC.hex()[:-1] + "g",
        ABC.hex()[:-2] + " 0",  # bytes.fromhex would skip the space
        ABC_SRI[:-2],
        ABC_SRI.replace("+", "!"),
        "sha256-" + ABC_NIX32,  # SRI must be base64
        "sha512-" + base64.b64encode(hashlib.sha512(b"").digest()).decode(),
        "md5:" + ABC.hex(),
        "sha256:" + ABC.hex() + "00",
    ],
)
def test_parse_hash_rejects_with_the_value_named(bad: str) -> None:
    with pytest.raises(OhnixError) as err:
        parse_hash(bad)
    assert repr(bad)[1:-1] in str(err.value) or bad in str(err.value)
    assert "sha256" in str(err.value)


def test_parse_hash_unknown_algo() -> None:
    with pytest.raises(OhnixError, match="blake3"):
        parse_hash(ABC_SRI, "blake3")


def test_nix32_decode_rejects_invalid_length() -> None:
    with pytest.raises(OhnixError, match="length"):
        nix32_decode("0" * 51)


def test_compress_hash_folds_rather_than_truncates() -> None:
    digest = bytes(range(32))
    folded = compress_hash(digest)
    assert len(folded) == 20
    assert folded[:12] == bytes(a ^ b for a, b in zip(digest[:12], digest[20:], strict=True))
    assert folded[12:] == digest[12:20]
    assert compress_hash(digest[:20]) == digest[:20]


def test_make_store_path_rejects_bad_name() -> None:
    with pytest.raises(OhnixError, match="a b"):
        make_store_path("source", ABC, "a b")


# --- helpers for the real-Nix tests --------------------------------------------------------


def nix_hash(path: Path, *flags: str) -> str:
    return proc.run(["nix-hash", "--type", "sha256", "--base32", *flags, path]).stdout.strip()


def nix_add_fixed(path: Path, algo: str = "sha256", *, recursive: bool) -> str:
    argv: list[str | Path] = ["nix-store", "--add-fixed", *(["--recursive"] if recursive else [])]
    return proc.run([*argv, algo, path]).stdout.strip()


def nix_eval(expr: str) -> str:
    return proc.run(["nix-instantiate", "--eval", "--readonly-mode", "-E", expr]).stdout.strip()


def write(path: Path | bytes, data: bytes, mode: int = 0o644) -> None:
    with open(path, "wb") as f:  # noqa: PTH123 (bytes paths for non-UTF-8 names)
        f.write(data)
    os.chmod(path, mode)  # noqa: PTH101


def pseudo_random(size: int, seed: int = 0) -> bytes:
    # Cheap, deterministic, incompressible-looking bytes (no os.urandom: reproducible).
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha512(block).digest()
        out += block * 64
    return bytes(out[:size])


# Sizes around the 8-byte padding, the 4 KiB batching threshold and the read size.
BOUNDARY_SIZES = [0, 1, 7, 8, 9, 4095, 4096, 4097, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3]


def tree_nested(root: Path) -> None:
    root.mkdir()
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a" / "empty-too").mkdir()
    write(root / "a" / "b" / "c" / "deep.txt", b"deep\n")
    write(root / "tool", b"#!/bin/sh\necho hi\n", 0o755)
    write(root / "owner-x-only", b"x", 0o700)
    write(root / "group-other-x", b"not executable for Nix", 0o655)
    write(root / "unreadable-bits", b"root reads it anyway", 0o000)
    for size in BOUNDARY_SIZES:
        write(root / f"size-{size}", pseudo_random(size, size))
    (root / "dangling").symlink_to("does/not/exist")
    (root / "to-dir").symlink_to("a/b")
    (root / "absolute").symlink_to("/etc/hostname")
    (root / "a" / "self").symlink_to(".")
    (root / "long-target").symlink_to("x" * 1000)
    os.symlink(b"\xff\xfe-target", os.fsencode(root / "binary-target"))  # noqa: PTH211
    for name in ["héllo", "日本語", "emoji-😀", "Ω", "x" * 255]:
        write(root / name, name.encode())
    # Bytewise order differs from str order here: b"\xff" > b"\xee\x80\x80" but
    # "\udcff" < "\ue000"; capitals sort before lower case; '-' < '.' < '/'-free names.
    for raw in [b"\xff", "\ue000".encode(), b"B", b"a", b"a-b", b"a.b", b"a b", b"a0", b"_"]:
        write(os.fsencode(root) + b"/z" + raw, raw)
    (root / "dir-\udcfe").mkdir()
    write(os.fsencode(root) + b"/dir-\xfe/inside", b"inside")


def remove_deep(root: Path) -> None:
    # shutil.rmtree (3.11) recurses per level and would hit the recursion limit too.
    levels = [root]
    while (levels[-1] / "d").is_dir():
        levels.append(levels[-1] / "d")
    (levels[-1] / "leaf").unlink(missing_ok=True)
    for p in reversed(levels):
        p.rmdir()


def tree_empty_dir(root: Path) -> None:
    root.mkdir()


def tree_deep(root: Path) -> None:
    # Deeper than Python's default recursion limit: the walker must not recurse.
    p = root
    p.mkdir()
    for _ in range(1100):
        p = p / "d"
        p.mkdir()  # one level at a time: mkdir(parents=True) itself recurses
    write(p / "leaf", b"leaf")


def tree_wide(root: Path) -> None:
    root.mkdir()
    for i in range(3000):
        write(root / f"f{i:05d}", pseudo_random(i % 300, i))


def tree_big(root: Path) -> None:
    root.mkdir()
    write(root / "big.bin", pseudo_random(30 * 1024 * 1024 + 5, 7))
    write(root / "small", b"small")


def tree_file(root: Path) -> None:
    write(root, b"just a file\n")


def tree_exe(root: Path) -> None:
    write(root, b"#!/bin/sh\nexit 0\n", 0o755)


def tree_symlink(root: Path) -> None:
    (root.parent / "target-dir").mkdir()
    root.symlink_to("target-dir")  # a top-level symlink is stored, not followed


def tree_dangling(root: Path) -> None:
    root.symlink_to("nowhere")


TREES: dict[str, Callable[[Path], None]] = {
    "nested": tree_nested,
    "empty-dir": tree_empty_dir,
    "deep": tree_deep,
    "wide": tree_wide,
    "big": tree_big,
    "file": tree_file,
    "exe": tree_exe,
    "symlink": tree_symlink,
    "dangling": tree_dangling,
}
SMALL_TREES = [name for name in TREES if name != "big"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    made = {}
    # The deep tree lives outside pytest's basetemp: if a run dies before teardown, a
    # leftover would make pytest's own (recursive) cleanup of old basetemps crash.
    deep_parent = Path(tempfile.mkdtemp(prefix="ohnix-nar-deep-"))
    try:
        for name, build in TREES.items():
            parent = deep_parent if name == "deep" else tmp_path_factory.mktemp(f"nar-{name}")
            made[name] = parent / f"tree-{name}"
            build(made[name])
        yield made
    finally:
        if (deep_parent / "tree-deep").exists():
            remove_deep(deep_parent / "tree-deep")
        deep_parent.rmdir()


# --- real Nix: NAR bytes, NAR hashes, store paths -----------------------------------------


@pytest.mark.nix
@pytest.mark.parametrize("name", list(TREES))
def test_nar_hash_matches_nix_hash(trees: dict[str, Path], name: str) -> None:
    assert nix32_encode(nar_hash(trees[name])) == nix_hash(trees[name])


@pytest.mark.nix
@pytest.mark.parametrize("name", SMALL_TREES)
def test_nar_bytes_match_nix_store_dump(trees: dict[str, Path], name: str) -> None:
    ours = b"".join(nar_chunks(trees[name]))
    theirs = proc.run_bytes(["nix-store", "--dump", trees[name]])
    assert len(ours) == len(theirs)
    assert ours == theirs


@pytest.mark.nix
@pytest.mark.parametrize("name", list(TREES))
def test_source_path_matches_add_fixed_recursive(trees: dict[str, Path], name: str) -> None:
    root = trees[name]
    if name == "deep" and nix.version() >= (2, 26, 0):
        # Nix 2.26's add-fixed overflows its stack beyond ~70 levels (REFERENCE): ask Nix
        # for the path of that NAR hash instead, which is the same computation.
        digest = nix32_encode(nar_hash(root))
        expected = proc.run(["nix-store", "--print-fixed-path", "--recursive", "sha256",
                             digest, root.name]).stdout.strip()  # fmt: skip
    else:
        expected = nix_add_fixed(root, recursive=True)
    assert source_path(root.name, nar_hash(root)) == expected
    assert fixed_output_path(root.name, nar_hash(root), recursive=True) == expected


@pytest.mark.nix
@pytest.mark.parametrize(
    "content", [b"test\n", b"", pseudo_random(3 * CHUNK + 17, 3)], ids=["test", "empty", "3MiB"]
)
def test_flat_hash_and_fixed_output_path_match_nix(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "flat-file.tar.gz"
    write(f, content)
    assert nix32_encode(flat_hash(f)) == nix_hash(f, "--flat")
    assert fixed_output_path(f.name, flat_hash(f), recursive=False) == nix_add_fixed(
        f, recursive=False
    )


@pytest.mark.nix
@pytest.mark.parametrize("algo", ["sha1", "sha512"])
@pytest.mark.parametrize("recursive", [False, True])
def test_fixed_output_path_other_algorithms(tmp_path: Path, algo: str, recursive: bool) -> None:
    root = tmp_path / f"other-{algo}"
    root.mkdir()
    write(root / "x", b"payload")
    target = root if recursive else root / "x"
    h = hashlib.new(algo)
    for chunk in nar_chunks(target) if recursive else [target.read_bytes()]:
        h.update(chunk)
    ours = fixed_output_path(target.name, h.digest(), recursive=recursive, algo=algo)
    assert ours == nix_add_fixed(target, algo, recursive=recursive)


@pytest.mark.nix
def test_text_path_with_references_matches_to_file(tmp_path: Path) -> None:
    refs = []
    for n in ("zzz-ref", "aaa-ref"):  # deliberately unsorted
        write(tmp_path / n, n.encode())
        refs.append(nix_add_fixed(tmp_path / n, recursive=True))
    content = f"{refs[0]} and {refs[1]}\n"
    expr = (
        f'builtins.toFile "with-refs" "${{builtins.storePath {refs[0]}}} and '
        f'${{builtins.storePath {refs[1]}}}\\n"'
    )
    assert nix_eval(expr) == f'"{text_path("with-refs", content.encode(), refs)}"'


@pytest.mark.nix
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet="abcXYZ019+-._?=", min_size=1, max_size=12).filter(
        lambda s: not s.startswith(".")
    ),
    st.binary(max_size=300).filter(lambda b: b"\0" not in b),  # Nix strings are C strings
)
def test_text_path_matches_to_file(name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "content"
        write(f, content)
        # readFile keeps the bytes exact, with no Nix string escaping involved.
        got = nix_eval(f'builtins.toFile "{name}" (builtins.readFile {f})')
        assert got == f'"{text_path(name, content)}"'


@pytest.mark.nix
@pytest.mark.parametrize(
    "name",
    ["ok", "a+b-c.d_e?f=g", "x" * 211, "x" * 212, "a b", "a/b", "ü", "", "a:b", "a$b", "a@b"],
)
def test_check_store_name_agrees_with_nix(name: str) -> None:
    expr = f'builtins.toFile "{name}" "x"'
    try:  # run_bytes: Nix echoes the bad (possibly non-UTF-8) byte in its error
        proc.run_bytes(["nix-instantiate", "--eval", "--readonly-mode", "-E", expr])
        nix_accepts = True
    except CommandError:
        nix_accepts = False
    try:
        check_store_name(name)
        ours = True
    except OhnixError:
        ours = False
    assert ours == nix_accepts


@pytest.mark.parametrize("name", [".hidden", ".", ".."])
def test_check_store_name_rejects_leading_dot(name: str) -> None:
    # Stricter than Nix 2.8, which accepts these; Nix 2.3 refused them, so ohnix never
    # produces a name some Nix rejects.
    with pytest.raises(OhnixError, match="dot"):
        check_store_name(name)


_NAME = st.binary(min_size=1, max_size=8).filter(
    lambda b: b not in (b".", b"..") and b"/" not in b and b"\0" not in b
)
_LEAF = st.one_of(
    st.tuples(st.just("file"), st.binary(max_size=40), st.booleans()),
    st.tuples(st.just("link"), st.binary(min_size=1, max_size=30).filter(lambda b: b"\0" not in b)),
)
_TREE = st.recursive(_LEAF, lambda kids: st.dictionaries(_NAME, kids, max_size=5), max_leaves=25)


def _materialise(path: bytes, node: object) -> None:
    if isinstance(node, dict):
        os.mkdir(path)  # noqa: PTH102
        for name, kid in node.items():
            _materialise(path + b"/" + name, kid)
    elif isinstance(node, tuple) and node[0] == "file":
        write(path, node[1], 0o755 if node[2] else 0o644)
    elif isinstance(node, tuple):
        os.symlink(node[1], path)  # noqa: PTH211 (bytes target)


@pytest.mark.nix
@settings(max_examples=40, deadline=None)
@given(_TREE)
def test_random_trees_match_nix_store_dump(tree: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "random"
        _materialise(os.fsencode(root), tree)
        assert b"".join(nar_chunks(root)) == proc.run_bytes(["nix-store", "--dump", root])


# --- streaming and errors -----------------------------------------------------------------


def test_nar_chunks_streams_in_bounded_pieces(trees: dict[str, Path]) -> None:
    big = trees["big"]
    sizes = []
    tracemalloc.start()
    try:
        for chunk in nar_chunks(big):
            assert type(chunk) is bytes
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(sizes) <= CHUNK + 8192
    assert sum(sizes) > 30 * 1024 * 1024
    assert peak < 8 * CHUNK  # a 30 MiB file is never held whole


def test_nar_hash_equals_sha256_of_nar_chunks(trees: dict[str, Path]) -> None:
    nested = trees["nested"]
    assert nar_hash(nested) == hashlib.sha256(b"".join(nar_chunks(nested))).digest()


@pytest.mark.nix
def test_fifo_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "with-fifo"
    root.mkdir()
    write(root / "ok", b"ok")
    os.mkfifo(root / "pipe")
    with pytest.raises(OhnixError, match=r"with-fifo/pipe.*fifo"):
        nar_hash(root)
    with pytest.raises(OhnixError, match="fifo"):
        nar_hash(root / "pipe")
    # Nix refuses too: we must not silently produce a hash Nix could never reproduce.
    assert proc.run(["nix-hash", "--type", "sha256", root], check=False).returncode != 0


def test_socket_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "sock"
    root.mkdir()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "s"))
        assert stat.S_ISSOCK((root / "s").lstat().st_mode)
        with pytest.raises(OhnixError, match=r"sock/s.*socket"):
            nar_hash(root)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OhnixError, match="no-such-thing"):
        nar_hash(tmp_path / "no-such-thing")
    with pytest.raises(OhnixError, match="no-such-thing"):
        flat_hash(tmp_path / "no-such-thing")


def test_flat_hash_refuses_non_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OhnixError, match=r"pipe.*fifo"):  # and does not block on open
        flat_hash(tmp_path / "pipe")
    with pytest.raises(OhnixError, match="directory"):
        flat_hash(tmp_path)


@pytest.mark.nix
def test_flat_hash_follows_a_symlink_like_nix(tmp_path: Path) -> None:
    write(tmp_path / "real", b"real bytes")
    (tmp_path / "alias").symlink_to("real")
    assert nix32_encode(flat_hash(tmp_path / "alias")) == nix_hash(tmp_path / "alias", "--flat")
