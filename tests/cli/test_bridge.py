"""`ohnix bridge` through the real CLI: what a user types, sees and gets as exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ohnix import proc
from ohnix.bridge.syscalls import ARCHES
from ohnix.cli.bridge import Arch
from tests.helpers import Ohnix, c_sizeof, json_result, ok

ARM64_HEADERS = Path("/usr/aarch64-linux-gnu/include")
GETPID = re.compile(r"^\tSYS_GETPID\s+= 172$", re.M)
PROBE = "struct ohnix_probe { int a; long b; char c; };"


def need(path: str | None, what: str) -> str:
    """`path` if it exists; a missing tool or header set skips locally but fails in CI."""
    if path is not None and (proc.which(path) or Path(path).is_dir()):
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@pytest.fixture
def arm64_headers() -> str:
    return need(str(ARM64_HEADERS), "Debian's linux-libc-dev-arm64-cross")


def failed(res: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The stderr of a run that failed the expected way: `code`, no traceback."""
    assert res.returncode == code, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    return res.stderr


# --- start-up and help ------------------------------------------------------------------


def test_arch_choices_are_the_generators_arches() -> None:
    assert [a.value for a in Arch] == list(ARCHES)


def test_cli_start_up_does_not_import_the_heavy_modules() -> None:
    code = (
        "import sys, ohnix.cli.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'elftools', 'jinja2'}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "cmd",
    [
        ["bridge"],
        ["bridge", "syscalls"],
        ["bridge", "abi"],
        ["bridge", "abi", "snapshot"],
        ["bridge", "abi", "check"],
    ],
)
def test_help_has_an_example(ohnix: Ohnix, cmd: list[str]) -> None:
    res = ok(ohnix(*cmd, "--help"))
    assert re.search(rf"^  Example: ohnix {' '.join(cmd)} ", res.stdout, re.M), res.stdout


# --- syscalls ---------------------------------------------------------------------------


def test_syscalls_go_to_stdout(ohnix: Ohnix, arm64_headers: str, tmp_path: Path) -> None:
    res = ok(ohnix("bridge", "syscalls", "--arch", "arm64", "--headers", arm64_headers))
    assert GETPID.search(res.stdout), res.stdout[:500]
    assert "package syscalls" in res.stdout and "//go:build arm64 && linux" in res.stdout
    assert res.stderr == ""
    gofmt = proc.which("gofmt")
    if gofmt is not None:
        go_file = tmp_path / "zsysnum_linux_arm64.go"
        go_file.write_text(res.stdout)
        assert proc.run([gofmt, "-l", go_file]).stdout == ""


def test_syscalls_json(ohnix: Ohnix, arm64_headers: str) -> None:
    argv = ("bridge", "syscalls", "--arch", "arm64", "--headers", arm64_headers)
    res = ok(ohnix(*argv, "--format", "json"))
    doc = json.loads(res.stdout)
    assert doc["arch"] == "arm64" and doc["goarch"] == "arm64"
    assert doc["syscalls"]["getpid"] == 172 and doc["headers"] == arm64_headers
    # The same table as the Go output, number for number.
    go = ok(ohnix(*argv, "--format", "go")).stdout
    consts = dict(re.findall(r"^\tSYS_(\w+) += (\d+)$", go, re.M))
    assert {k.lower(): int(v) for k, v in consts.items()} == doc["syscalls"]


def test_syscalls_output_file_is_written_once(
    ohnix: Ohnix, arm64_headers: str, tmp_path: Path
) -> None:
    out = tmp_path / "zsysnum_linux_arm64.go"
    argv = ("bridge", "syscalls", "--arch", "arm64", "--headers", arm64_headers, "-o", str(out))
    first = ok(ohnix(*argv))
    assert first.stdout == ""
    assert first.stderr.startswith(f"wrote {out} (")
    assert GETPID.search(out.read_text())
    old = out.stat().st_mtime_ns - 10**9  # in the past, so a rewrite could not hide
    os.utime(out, ns=(old, old))
    again = ok(ohnix(*argv))
    assert again.stderr.startswith(f"unchanged {out} (")
    assert out.stat().st_mtime_ns == old
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp files left
    # A different table replaces it (atomically, in the same folder).
    ok(ohnix(*argv[:-2], "--format", "json", "-o", str(out)))
    assert json.loads(out.read_text())["syscalls"]["getpid"] == 172


def test_syscalls_paths_are_relative_to_dash_c(
    ohnix: Ohnix, arm64_headers: str, tmp_path: Path
) -> None:
    (tmp_path / "inc").symlink_to(arm64_headers)
    res = ohnix(
        "-C", str(tmp_path), "bridge", "syscalls", "--arch", "arm64", "--headers", "inc",
        "-o", "z.go",
    )  # fmt: skip
    ok(res)
    assert GETPID.search((tmp_path / "z.go").read_text())


def test_syscalls_bad_arch_is_a_usage_error(ohnix: Ohnix) -> None:
    err = failed(ohnix("bridge", "syscalls", "--arch", "mips", "--headers", "/usr"), 2)
    assert "--arch takes one of arm64, arm, riscv64, x86_64, not `mips`." in err


def test_syscalls_missing_headers(ohnix: Ohnix, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-include"
    err = failed(ohnix("bridge", "syscalls", "--arch", "arm64", "--headers", str(missing)))
    assert err.startswith("ohnix: error: ") and err.count("\n") == 1
    assert f"{missing} does not exist" in err and "--headers" in err


def test_syscalls_unwritable_output(ohnix: Ohnix, arm64_headers: str, tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "z.go"
    argv = ("bridge", "syscalls", "--arch", "arm64", "--headers", arm64_headers, "-o", str(out))
    err = failed(ohnix(*argv))
    assert err.startswith(f"ohnix: error: Cannot write {out}")


# --- abi --------------------------------------------------------------------------------


def snapshot(ohnix: Ohnix, out: Path, target: str, cc: str, *extra: str) -> Path:
    res = ok(
        ohnix("bridge", "abi", "snapshot", "--target", target, "--cc", cc, "-o", str(out), *extra)
    )
    assert res.stderr.startswith(f"wrote {out} (") and f"types for {target}" in res.stderr
    return out


@pytest.fixture
def a64_and_arm(ohnix: Ohnix, tmp_path: Path) -> tuple[Path, Path]:
    a64 = need("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-gcc")
    arm = need("arm-linux-gnueabi-gcc", "arm-linux-gnueabi-gcc")
    return (
        snapshot(ohnix, tmp_path / "arm64.json", "aarch64-linux-gnu", a64),
        snapshot(ohnix, tmp_path / "arm.json", "arm-linux-gnueabi", arm),
    )


def test_abi_same_snapshot_is_clean(ohnix: Ohnix, a64_and_arm: tuple[Path, Path]) -> None:
    a64, _ = a64_and_arm
    assert "struct stat" in json.loads(a64.read_text())["layouts"]
    res = ok(ohnix("bridge", "abi", "check", str(a64), str(a64)))
    assert res.stdout == "No layout differences.\n"
    js = ok(ohnix("bridge", "abi", "check", str(a64), str(a64), "--json"))
    assert json_result(js.stdout) == {"changes": []}


def test_abi_arm64_vs_arm_breaks(ohnix: Ohnix, a64_and_arm: tuple[Path, Path]) -> None:
    a64, arm = a64_and_arm
    res = ohnix("bridge", "abi", "check", str(a64), str(arm))
    err = failed(res)
    old = c_sizeof("aarch64-linux-gnu-gcc", "struct stat", "sys/stat.h")
    new = c_sizeof("arm-linux-gnueabi-gcc", "struct stat", "sys/stat.h")
    assert re.search(rf"^struct stat +- +size-changed +{old} +{new} +yes$", res.stdout, re.M)
    assert re.search(r"^\d+ difference\(s\), \d+ breaking\.$", res.stdout, re.M)
    assert err.startswith("ohnix: error: ") and "breaking layout change" in err
    js = ohnix("bridge", "abi", "check", str(a64), str(arm), "--json")
    failed(js)
    changes = json_result(js.stdout)["changes"]
    # time_t differs only where arm32 glibc keeps a 32-bit one (Debian 12; not Debian 13).
    differ = {"struct stat"} | (
        {"time_t"}
        if c_sizeof("aarch64-linux-gnu-gcc", "time_t", "time.h")
        != c_sizeof("arm-linux-gnueabi-gcc", "time_t", "time.h")
        else set()
    )
    assert differ <= {c["type_name"] for c in changes}
    assert set(changes[0]) == {"type_name", "field", "kind", "old", "new", "breaking"}


def probe_types(tmp_path: Path, **versions: str) -> Path:
    """A types file naming `struct ohnix_probe`, and one dir per version with its probe.h."""
    types = tmp_path / "types.toml"
    types.write_text('version = 1\n[[types]]\nc = "struct ohnix_probe"\nheaders = ["probe.h"]\n')
    for name, body in versions.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "probe.h").write_text(body + "\n")
    return types


def host_gcc() -> tuple[str, str]:
    gcc = need("gcc", "gcc")
    return gcc, proc.run([gcc, "-dumpmachine"]).stdout.strip()


def test_abi_inserted_field_is_named(ohnix: Ohnix, tmp_path: Path) -> None:
    gcc, triple = host_gcc()
    types = probe_types(tmp_path, v1=PROBE, v2=PROBE.replace("int a;", "int a; long inserted;"))
    # Both spellings of a repeated option whose value starts with "-".
    old = snapshot(
        ohnix, tmp_path / "v1.json", triple, gcc, "--types", str(types), f"--cflag=-I{tmp_path}/v1"
    )
    new = snapshot(
        ohnix, tmp_path / "v2.json", triple, gcc,
        "--types", str(types), "--cflag", "-I", "--cflag", str(tmp_path / "v2"),
    )  # fmt: skip
    res = ohnix("bridge", "abi", "check", str(old), str(new))
    failed(res)
    assert re.search(r"^struct ohnix_probe +inserted +field-added +- +long +yes$", res.stdout, re.M)
    assert re.search(r"^struct ohnix_probe +b +field-moved .* yes$", res.stdout, re.M)
    js = ohnix("bridge", "abi", "check", str(old), str(new), "--json")
    failed(js)
    kinds = {(c["field"], c["kind"], c["breaking"]) for c in json_result(js.stdout)["changes"]}
    assert ("inserted", "field-added", True) in kinds and ("b", "field-moved", True) in kinds
    # Back the other way, the field is removed: still breaking.
    back = ohnix("bridge", "abi", "check", str(new), str(old))
    failed(back)
    assert re.search(r"^struct ohnix_probe +inserted +field-removed ", back.stdout, re.M)


def test_abi_harmless_difference_is_listed_but_passes(ohnix: Ohnix, tmp_path: Path) -> None:
    gcc, triple = host_gcc()
    # `d` lands in the tail padding after `c`: the size and every offset stay.
    types = probe_types(tmp_path, v1=PROBE, v2=PROBE.replace("char c;", "char c; char d;"))
    old, new = (
        snapshot(ohnix, tmp_path / f"{v}.json", triple, gcc, "--types", str(types),
                 f"--cflag=-I{tmp_path / v}")
        for v in ("v1", "v2")
    )  # fmt: skip
    res = ok(ohnix("bridge", "abi", "check", str(old), str(new)))
    assert re.search(r"^struct ohnix_probe +d +field-added-at-end +- +char +no$", res.stdout, re.M)
    assert "1 difference(s), 0 breaking." in res.stdout
    js = ok(ohnix("bridge", "abi", "check", str(old), str(new), "--json"))
    assert [(c["field"], c["breaking"]) for c in json_result(js.stdout)["changes"]] == [
        ("d", False)
    ]


def test_abi_check_bad_inputs(ohnix: Ohnix, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    err = failed(ohnix("bridge", "abi", "check", str(missing), str(missing)))
    assert err.startswith(f"ohnix: error: Cannot read ABI snapshot {missing}")
    junk = tmp_path / "junk.json"
    junk.write_text('{"version": 1}\n')
    err = failed(ohnix("bridge", "abi", "check", str(junk), str(junk), "--json"))
    assert f"{junk} is not an ohnix ABI snapshot" in err
    failed(ohnix("bridge", "abi", "check", str(junk)), 2)
    err = failed(
        ohnix(
            "bridge", "abi", "snapshot", "--target", "aarch64-linux-ohos", "--cc",
            "no-such-cc", "-o", str(tmp_path / "s.json"),
        )
    )  # fmt: skip
    assert "`no-such-cc`" in err and not (tmp_path / "s.json").exists()
