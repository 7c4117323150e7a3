"""Syscall tables from real kernel headers agree with golang.org/x/sys's zsysnum files."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from ohnix import proc
from ohnix.bridge import syscalls
from ohnix.bridge.syscalls import ARCHES, OH_HEADERS, generate, include_dirs, to_go, to_json
from ohnix.errors import BuildError, ToolNotFoundError
from tests.helpers import TESTS_DIR

DATA = TESTS_DIR / "data" / "xsys"
# Debian's headers per arch: the cross packages, or the host's own /usr/include.
DEBIAN = {
    "arm64": ("/usr/aarch64-linux-gnu/include",),
    "arm": ("/usr/arm-linux-gnueabihf/include", "/usr/arm-linux-gnueabi/include"),
    "riscv64": ("/usr/riscv64-linux-gnu/include",),
    "x86_64": ("/usr/include", "/usr/x86_64-linux-gnu/include"),
}
FIXED = {"arm64": 172, "arm": 20, "riscv64": 172, "x86_64": 39}  # SYS_GETPID


def debian_headers(arch: str) -> Path:
    for candidate in map(Path, DEBIAN[arch]):
        try:
            include_dirs(arch, candidate)
        except BuildError:
            continue
        return candidate
    if os.environ.get("CI"):  # CI installs them (scripts/bootstrap): absence is a failure
        pytest.fail(f"Debian kernel headers for {arch} are missing in CI")
    pytest.skip(f"Debian kernel headers for {arch} are not installed")


def xsys(arch: str) -> dict[str, int]:
    doc = json.loads((DATA / f"zsysnum_linux_{ARCHES[arch].goarch}.json").read_text())
    assert doc["source"]["commit"] and doc["source"]["path"]
    table: dict[str, int] = doc["syscalls"]
    return table


def go_names(table: syscalls.SyscallTable) -> dict[str, int]:
    return {f"SYS_{name.upper()}": number for name, number in table.entries}


@pytest.mark.parametrize("arch", list(ARCHES))
def test_agrees_with_xsys(arch: str) -> None:
    ours = go_names(generate(arch, debian_headers(arch)))
    theirs = xsys(arch)
    both = ours.keys() & theirs.keys()
    assert len(both) >= 250, f"suspiciously small overlap with x/sys: {len(both)}"
    assert {k: (ours[k], theirs[k]) for k in both if ours[k] != theirs[k]} == {}
    assert ours["SYS_GETPID"] == FIXED[arch]


@pytest.mark.parametrize(
    ("arch", "wanted"),
    [
        # Switched on by each arch's __ARCH_WANT_* / __LP64__ before asm-generic/unistd.h.
        ("arm64", {"renameat": 38, "newfstatat": 79, "fstat": 80, "getrlimit": 163}),
        ("riscv64", {"newfstatat": 79, "fstat": 80, "getrlimit": 163, "setrlimit": 164}),
        ("riscv64", {"riscv_flush_icache": 259}),  # __NR_arch_specific_syscall + 15
        ("arm", {"sync_file_range2": 341, "restart_syscall": 0}),  # alias; EABI base 0
        ("x86_64", {"read": 0, "arch_prctl": 158}),
    ],
)
def test_arch_switches_and_bases(arch: str, wanted: dict[str, int]) -> None:
    table = generate(arch, debian_headers(arch)).as_dict()
    assert {k: table.get(k) for k in wanted} == wanted
    assert "syscalls" not in table and "arch_specific_syscall" not in table
    if arch == "riscv64":
        assert "renameat" not in table  # riscv64 does not want it
    assert all(n < 0x900000 for n in table.values())  # never the OABI numbering


def test_bench_entry_point() -> None:
    table = generate("arm64", debian_headers("arm64"))
    assert table.arch == "arm64" and table.entries[0] == ("io_setup", 0)
    numbers = [(n, name) for name, n in table.entries]
    assert numbers == sorted(numbers)


def test_go_output(tmp_path: Path) -> None:
    headers = debian_headers("arm64")
    table = generate("arm64", headers)
    text = to_go(table)
    assert text == to_go(generate("arm64", headers))  # deterministic: no timestamps
    lines = text.splitlines()
    assert re.fullmatch(r"// Code generated .* DO NOT EDIT\.", lines[0])
    assert "--arch arm64" in lines[0] and str(headers) in lines[0]
    assert lines[1].startswith("// Preprocessor: ") and "-D__BITS_PER_LONG=64" in lines[1]
    assert "//go:build arm64 && linux" in lines and "package syscalls" in lines
    consts = re.findall(r"^\t(SYS_\w+) += (\d+)$", text, re.M)
    assert [(n, int(v)) for n, v in consts] == list(go_names(table).items())
    assert re.search(r"^\tSYS_GETPID += 172$", text, re.M)
    assert text.endswith(")\n")
    assert "package unix" in to_go(table, package="unix")
    with pytest.raises(ValueError, match="package"):
        to_go(table, package="not a name")

    gofmt = proc.which("gofmt")
    if gofmt is None:
        pytest.skip("gofmt is not installed")
    go_file = tmp_path / "zsysnum_linux_arm64.go"
    go_file.write_text(text)
    assert proc.run([gofmt, "-l", go_file]).stdout == ""


def test_json_output() -> None:
    table = generate("riscv64", debian_headers("riscv64"))
    text = to_json(table)
    assert text.endswith("}\n") and text == to_json(table)
    doc = json.loads(text)
    assert json.dumps(doc, indent=2, sort_keys=True) + "\n" == text
    assert doc["arch"] == "riscv64" and doc["goarch"] == "riscv64"
    assert doc["syscalls"] == table.as_dict() and doc["syscalls"]["getpid"] == 172
    assert doc["command"] == list(table.command) and doc["headers"] == table.headers


def _oh_tree(root: Path) -> Path:
    """OpenHarmony's prebuilts/usr/include layout, populated from Debian's headers."""
    include = root / OH_HEADERS
    include.mkdir(parents=True)
    arm64 = debian_headers("arm64")
    (include / "asm-generic").symlink_to(arm64 / "asm-generic")
    (include / "asm-arm64").mkdir()
    (include / "asm-arm64" / "asm").symlink_to(arm64 / "asm")
    # OpenHarmony's tree also has a top-level asm/ from ARM's headers_install: a decoy.
    (include / "asm").symlink_to(debian_headers("arm") / "asm")
    return include


def test_openharmony_layout(tmp_path: Path) -> None:
    include = _oh_tree(tmp_path)
    expected = generate("arm64", debian_headers("arm64")).entries
    assert include_dirs("arm64", include) == [include / "asm-arm64", include]
    assert generate("arm64", include).entries == expected
    # An OpenHarmony source checkout works too: the tree is found at its usual path.
    assert generate("arm64", tmp_path).entries == expected

    (include / "asm-arm").mkdir()
    (include / "asm-arm" / "asm").symlink_to(debian_headers("arm") / "asm")
    assert generate("arm", include).as_dict()["getpid"] == 20

    with pytest.raises(BuildError, match=r"without asm-x86/ \(it has asm-arm, asm-arm64\)"):
        generate("x86_64", include)


def _fake_headers(root: Path, body: str) -> Path:
    (root / "asm").mkdir(parents=True)
    (root / "asm" / "unistd.h").write_text(body)
    return root


FAKE = """\
#define __NR_SYSCALL_BASE 0
#define __NR_SYSCALL_MASK 0x0fffff
#define __NR_arch_specific_syscall 244
#define __NR3264_fcntl 25
#define __NR_fcntl __NR3264_fcntl
#define __NR_getpid (__NR_SYSCALL_BASE + 172)
#define __NR_flush_icache (__NR_arch_specific_syscall + 15)
#define __NR_hex (0x10 | 1)
#define __NR_octal 010
#define __NR_bad_octal 08
#define __NR_suffixed 7UL
#define __NR_shifted (1 << 3) * 2 - ~0
#define __NR_gone 1
#undef __NR_gone
#define __NR_dangling __NR_missing
#define __NR_loop_a __NR_loop_b
#define __NR_loop_b __NR_loop_a
#define __NR_cast ((unsigned long)3)
#define __NR_syscalls 300
#define __SYSCALL(x, y)
#if __BITS_PER_LONG == 64 && defined(__aarch64__) && defined(__LP64__)
#define __NR_wide 64
#endif
#ifdef __x86_64__
#define __NR_host_leak 1
#endif
"""


def test_expression_forms(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    headers = _fake_headers(tmp_path, FAKE)
    with caplog.at_level(logging.WARNING, logger="ohnix"):
        table = generate("arm64", headers)
    assert table.as_dict() == {
        "fcntl": 25, "getpid": 172, "flush_icache": 259, "hex": 17, "octal": 8,
        "suffixed": 7, "shifted": 17, "wide": 64,
    }  # fmt: skip
    assert [n for n, _ in table.entries] == [
        "suffixed", "octal", "hex", "shifted", "fcntl", "wide", "getpid", "flush_icache"
    ]  # fmt: skip
    skipped = " ".join(r.getMessage() for r in caplog.records)
    assert all(
        f"__NR_{n}" in skipped for n in ("dangling", "loop_a", "loop_b", "cast", "bad_octal")
    )


def test_unknown_arch() -> None:
    with pytest.raises(BuildError, match="valid ones are: arm64, arm, riscv64, x86_64"):
        generate("mips", Path("/usr/include"))


def test_missing_headers(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="does not exist") as exc:
        generate("arm64", tmp_path / "nope")
    assert "linux-libc-dev-arm64-cross" in str(exc.value)

    with pytest.raises(BuildError) as exc:
        generate("riscv64", tmp_path)
    message = str(exc.value)
    assert str(tmp_path / "asm-riscv" / "asm" / "unistd.h") in message
    assert str(tmp_path / "asm" / "unistd.h") in message
    assert "linux-libc-dev-riscv64-cross" in message and str(OH_HEADERS) in message


def test_wrong_arch_headers(tmp_path: Path) -> None:
    headers = _fake_headers(tmp_path, "#define __NR_getpid 172\n")
    with pytest.raises(BuildError, match="do not look like arm's: __NR_getpid is 172"):
        generate("arm", headers)


def test_incomplete_header_set(tmp_path: Path) -> None:
    headers = _fake_headers(tmp_path, "#include <asm-generic/unistd.h>\n")
    with pytest.raises(BuildError, match="preprocessor failed"):
        generate("arm64", headers)


def test_preprocessor_missing(tmp_path: Path) -> None:
    headers = _fake_headers(tmp_path, "#define __NR_getpid 172\n")
    with pytest.raises(ToolNotFoundError, match="no-such-cpp"):
        generate("arm64", headers, cpp="no-such-cpp")
