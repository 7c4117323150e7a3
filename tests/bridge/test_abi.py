"""ABI snapshots: layouts come from the compiler, and `compare` names what breaks.

Every expected number here is itself measured: host programs print sizeof/offsetof/_Alignof
(and bit positions) and the snapshot must agree with them.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from ohnix import proc
from ohnix.bridge import abi
from ohnix.errors import BuildError, ConfigError, ToolNotFoundError
from tests.helpers import c_sizeof

V1 = "struct ohnix_probe { int a; long b; char c; unsigned lo:3; unsigned hi:5; int wide:20; };"


def need(cc: str) -> str:
    """The compiler's path; a missing one skips locally but fails in CI."""
    path = proc.which(cc)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{cc} is required in CI")
        pytest.skip(f"{cc} is not installed")
    return path


def host_triple() -> str:
    need("gcc")
    return proc.run(["gcc", "-dumpmachine"]).stdout.strip()


def types_file(tmp: Path, body: str) -> Path:
    path = tmp / "types.toml"
    path.write_text(body)
    return path


def probe_header(tmp: Path, name: str, body: str) -> tuple[Path, list[str]]:
    """A header dir holding abi_test.h, and a types file listing `struct ohnix_probe`."""
    inc = tmp / name
    inc.mkdir()
    (inc / "abi_test.h").write_text(body + "\n")
    types = types_file(
        tmp, 'version = 1\n[[types]]\nc = "struct ohnix_probe"\nheaders = ["abi_test.h"]\n'
    )
    return types, ["-I", str(inc)]


def probe_snapshot(tmp: Path, name: str, body: str) -> abi.Snapshot:
    types, cflags = probe_header(tmp, name, body)
    return abi.snapshot(host_triple(), "gcc", types, cflags)


def run_c(tmp: Path, source: str, cflags: tuple[str, ...] = ()) -> str:
    """Compile and run a host C program; its stdout."""
    src, exe = tmp / "measure.c", tmp / "measure"
    src.write_text(source)
    proc.run(["gcc", *cflags, "-o", exe, src])
    return proc.run([exe]).stdout


# --- compare ---------------------------------------------------------------------------


def test_inserted_field_is_a_breaking_change(tmp_path: Path) -> None:
    old = probe_snapshot(tmp_path, "v1", V1)
    new = probe_snapshot(tmp_path, "v2", V1.replace("int a;", "int a; long inserted;"))
    changes = abi.compare(old, new)
    kinds = {(c.field, c.kind) for c in changes}
    assert (None, "size-changed") in kinds
    assert ("b", "field-moved") in kinds
    assert ("c", "field-moved") in kinds
    assert ("lo", "bitfield-changed") in kinds
    assert ("inserted", "field-added") in kinds
    assert all(c.breaking for c in changes)
    assert abi.has_breaking(changes)
    table = abi.render_table(changes)
    assert re.search(r"struct ohnix_probe\s+b\s+field-moved\s+8\s+16\s+yes", table)
    assert "breaking." in table.splitlines()[-1]


def test_identical_inputs_have_no_changes(tmp_path: Path) -> None:
    old = probe_snapshot(tmp_path, "v1", V1)
    new = probe_snapshot(tmp_path, "v2", V1)
    assert abi.compare(old, new) == ()
    assert not abi.has_breaking(())
    assert abi.render_table(()) == "No layout differences.\n"


def test_field_in_padding_or_tail_padding_is_not_breaking(tmp_path: Path) -> None:
    base = "struct ohnix_probe { int a; long b; char c; };"
    old = probe_snapshot(tmp_path, "v1", base)
    padded = probe_snapshot(tmp_path, "v2", base.replace("int a;", "int a; int filler;"))
    tail = probe_snapshot(tmp_path, "v3", base.replace("char c;", "char c; char d;"))
    grown = probe_snapshot(tmp_path, "v4", base.replace("char c;", "char c; long e;"))
    assert [(c.field, c.kind, c.breaking) for c in abi.compare(old, padded)] == [
        ("filler", "field-added", False)
    ]
    assert [(c.field, c.kind, c.breaking) for c in abi.compare(old, tail)] == [
        ("d", "field-added-at-end", False)
    ]
    assert {(c.field, c.kind, c.breaking) for c in abi.compare(old, grown)} == {
        (None, "size-changed", True),
        ("e", "field-added-at-end", True),
    }


def test_removed_and_added_types() -> None:
    lay = abi.Layout("struct x", 4, 4, (abi.Field("a", 0, 4, "int"),))
    old = abi.Snapshot("t", "cc", "v", (lay,))
    new = abi.Snapshot("t", "cc", "v", (replace(lay, name="struct y"),))
    assert [(c.type_name, c.kind, c.breaking) for c in abi.compare(old, new)] == [
        ("struct x", "type-removed", True),
        ("struct y", "type-added", False),
    ]


# --- measuring -------------------------------------------------------------------------


def test_layout_matches_the_compilers_own_answers(tmp_path: Path) -> None:
    """Every default type's size, alignment and top-level offsets, against a host program."""
    snap = abi.snapshot(host_triple(), "gcc")
    specs = abi.load_types()
    lines = ["#define _GNU_SOURCE 1", "#include <stdio.h>", "#include <stddef.h>"]
    lines += [f"#include <{h}>" for h in dict.fromkeys(h for s in specs for h in s.headers)]
    lines.append("int main(void) {")
    expected = []
    by_name = {lay.name: lay for lay in snap.layouts}
    for s in specs:
        lay = by_name[s.name]
        lines.append(f'printf("%zu %zu\\n", sizeof({s.c}), _Alignof({s.c}));')
        expected.append(f"{lay.size} {lay.align}")
        for f in lay.fields:
            if f.bit_size is None and not f.name.startswith("<"):
                lines.append(f'printf("%zu\\n", offsetof({s.c}, {f.name}));')
                expected.append(str(f.offset))
    lines.append("return 0; }")
    assert run_c(tmp_path, "\n".join(lines)).split("\n")[:-1] == expected


def test_timespec_on_the_host(tmp_path: Path) -> None:
    snap = abi.snapshot(host_triple(), "gcc")
    ts = next(lay for lay in snap.layouts if lay.name == "struct timespec")
    out = run_c(
        tmp_path,
        "#include <stdio.h>\n#include <stddef.h>\n#include <time.h>\n"
        'int main(void) { printf("%zu %zu", sizeof(struct timespec), '
        "offsetof(struct timespec, tv_nsec)); return 0; }\n",
    )
    nsec = next(f for f in ts.fields if f.name == "tv_nsec")
    assert f"{ts.size} {nsec.offset}" == out
    if host_triple().startswith("x86_64"):
        assert (ts.size, nsec.offset, nsec.size) == (16, 8, 8)


def test_bit_fields_match_the_bits_the_program_sets(tmp_path: Path) -> None:
    snap = probe_snapshot(tmp_path, "v1", V1)
    fields = {f.name: f for f in snap.layouts[0].fields}
    prog = [
        "#include <stdio.h>",
        "#include <string.h>",
        f'#include "{tmp_path}/v1/abi_test.h"',
        "static void show(const unsigned char *p) { for (int i = 0; i < 8 * (int)"
        ' sizeof(struct ohnix_probe); i++) if (p[i / 8] >> (i % 8) & 1) printf("%d ", i);'
        ' printf("\\n"); }',
        "int main(void) { struct ohnix_probe x;",
    ]
    for name in ("lo", "hi", "wide"):
        prog.append(f"memset(&x, 0, sizeof x); x.{name} = -1; show((void *)&x);")
    out = run_c(tmp_path, "\n".join([*prog, "return 0; }"])).splitlines()
    if not host_triple().startswith(("x86_64", "aarch64", "riscv")):
        pytest.skip("bit numbering below assumes a little-endian host")
    for name, bits in zip(("lo", "hi", "wide"), out, strict=True):
        f = fields[name]
        assert f.bit_offset is not None
        assert f.bit_size is not None
        assert bits.split() == [str(f.bit_offset + i) for i in range(f.bit_size)]


@pytest.mark.parametrize("dwarf", ["-gdwarf-2", "-gdwarf-4"])
def test_older_dwarf_gives_the_same_layouts(tmp_path: Path, dwarf: str) -> None:
    types, cflags = probe_header(tmp_path, "v1", V1)
    new = abi.snapshot(host_triple(), "gcc", types, cflags)
    old = abi.snapshot(host_triple(), "gcc", types, [*cflags, dwarf])
    assert old.layouts == new.layouts


def test_per_type_defines_get_their_own_translation_unit(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "w.h").write_text(
        "#ifdef OHNIX_WIDE\ntypedef long long w_t;\n#else\n"
        "typedef char w_t;\n#endif\nstruct w { w_t x; };\n"
    )
    types = types_file(
        tmp_path,
        '[[types]]\nc = "struct w"\nheaders = ["w.h"]\n'
        '[[types]]\nc = "struct w"\nname = "struct w (wide)"\nheaders = ["w.h"]\n'
        'defines = ["OHNIX_WIDE"]\n',
    )
    snap = abi.snapshot(host_triple(), "gcc", types, ["-I", str(inc)])
    assert [(lay.name, lay.size) for lay in snap.layouts] == [
        ("struct w", 1),
        ("struct w (wide)", 8),
    ]


def test_arm64_and_arm_differ_where_they_must() -> None:
    need("aarch64-linux-gnu-gcc")
    need("arm-linux-gnueabi-gcc")
    a64 = abi.snapshot("aarch64-linux-gnu", "aarch64-linux-gnu-gcc")
    arm = abi.snapshot("arm-linux-gnueabi", "arm-linux-gnueabi-gcc")
    assert {lay.name for lay in a64.layouts} == {s.name for s in abi.load_types()}
    stat = [c for c in abi.compare(a64, arm) if c.type_name == "struct stat"]
    sizes = (c_sizeof("aarch64-linux-gnu-gcc", "struct stat", "sys/stat.h"),
             c_sizeof("arm-linux-gnueabi-gcc", "struct stat", "sys/stat.h"))  # fmt: skip
    assert ("size-changed", *sizes) in {(c.kind, c.old, c.new) for c in stat}
    assert any(c.kind == "field-moved" for c in stat)
    assert all(c.breaking for c in stat if c.kind != "field-type-changed")
    # A type whose layout both ABIs fix identically.
    same = {c.type_name for c in abi.compare(a64, arm)}
    assert "struct sockaddr_in" not in same


def test_riscv64_needs_the_link_fallback_and_works() -> None:
    need("riscv64-linux-gnu-gcc")
    snap = abi.snapshot("riscv64-linux-gnu", "riscv64-linux-gnu-gcc")
    ts = next(lay for lay in snap.layouts if lay.name == "struct timespec")
    assert [f.name for f in ts.fields] == ["tv_sec", "tv_nsec"]


# --- JSON ------------------------------------------------------------------------------


def test_json_round_trip_is_exact_and_deterministic(tmp_path: Path) -> None:
    snap = probe_snapshot(tmp_path, "v1", V1)
    text = snap.to_json()
    assert text.endswith("}\n")
    assert '"version": 1' in text
    assert abi.Snapshot.from_json(text) == snap
    assert abi.Snapshot.from_json(text).to_json() == text


@pytest.mark.parametrize(
    "text", ["not json", '{"version": 2, "layouts": {}}', '{"version": 1, "layouts": []}']
)
def test_from_json_rejects_other_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "old.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"old\.json is not an ohnix ABI snapshot"):
        abi.load_snapshot(path)
    with pytest.raises(ConfigError, match="Cannot read ABI snapshot"):
        abi.load_snapshot(tmp_path / "missing.json")


# --- errors ----------------------------------------------------------------------------


def test_missing_compiler_is_named_with_a_hint() -> None:
    with pytest.raises(ToolNotFoundError, match="no-such-gcc") as err:
        abi.snapshot("aarch64-linux-ohos", "no-such-gcc")
    assert "--cc" in str(err.value)
    assert "ohnix shell" in str(err.value)


def test_unknown_type_names_the_type_and_headers(tmp_path: Path) -> None:
    types = types_file(
        tmp_path,
        '[[types]]\nc = "struct timespec"\nheaders = ["time.h"]\n'
        '[[types]]\nc = "struct no_such_thing"\nheaders = ["time.h"]\n'
        '[[types]]\nc = "nosuch_t"\nheaders = ["stdio.h"]\n',
    )
    with pytest.raises(BuildError) as err:
        abi.snapshot(host_triple(), "gcc", types)
    msg = str(err.value)
    assert "`struct no_such_thing` (headers: time.h;" in msg
    assert "`nosuch_t` (headers: stdio.h;" in msg
    assert "struct timespec" not in msg


def test_missing_header_is_named(tmp_path: Path) -> None:
    types = types_file(tmp_path, '[[types]]\nc = "struct x"\nheaders = ["no/such.h"]\n')
    with pytest.raises(BuildError, match=r"cannot include <no/such\.h> \(needed by struct x\)"):
        abi.snapshot(host_triple(), "gcc", types)


def test_wrong_compiler_for_the_target_is_caught() -> None:
    if not host_triple().startswith("x86_64"):
        pytest.skip("needs an x86_64 host compiler")
    with pytest.raises(BuildError, match="64-bit x64 code, not code for aarch64-linux-gnu"):
        abi.snapshot("aarch64-linux-gnu", "gcc")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[[types]\n", "not valid TOML"),
        ("colour = 1\n[[types]]\nc = 'int'\nheaders = ['a.h']\n", "unknown key(s) colour"),
        ("version = 2\n[[types]]\nc = 'int'\nheaders = ['a.h']\n", "`version` must be 1"),
        ("defines = 'X'\n", "`defines` must be a list"),
        ("version = 1\n", "at least one [[types]]"),
        ("[[types]]\nheaders = ['a.h']\n", "types[0].c"),
        ("[[types]]\nc = 'int; x'\nheaders = ['a.h']\n", "types[0].c"),
        ("[[types]]\nc = 'int'\n", "types[0].headers"),
        ("[[types]]\nc = 'int'\nheaders = ['a.h>']\n", "types[0].headers"),
        ("[[types]]\nc = 'int'\nheaders = ['a.h']\nheader = 1\n", "unknown key(s) header"),
        ("[[types]]\nc = 'int'\nheaders = ['a.h']\ndefines = ['1X']\n", "bad define '1X'"),
        (
            "[[types]]\nc='int'\nheaders=['a.h']\n[[types]]\nc='int'\nheaders=['b.h']\n",
            "types[1].name 'int'",
        ),
    ],
)
def test_bad_types_file_names_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = types_file(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        abi.load_types(path)
    assert str(path) in str(err.value)
    assert key in str(err.value)


def test_unreadable_types_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read types file"):
        abi.load_types(tmp_path / "missing.toml")
