"""End to end: `ohnix build` of examples/bridge with the host provider inside a rendered
shell produces an aarch64-linux-ohos ELF (musl's loader, the OHOS clang built from pinned
sources); under qemu-user with that sysroot it prints pids that agree."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bridge"
EM_AARCH64 = 183


def elf_header(path: Path) -> tuple[int, int, int]:
    """(EI_CLASS, EI_DATA, e_machine) read straight from the file's first bytes."""
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    ei_class, ei_data = head[4], head[5]
    (machine,) = struct.unpack("<H" if ei_data == 1 else ">H", head[18:20])
    return ei_class, ei_data, machine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, ohos_sources: Path) -> Path:
    from tests.helpers import run_ohnix

    work = tmp_path_factory.mktemp("bridge")
    shutil.copytree(EXAMPLE, work, dirs_exist_ok=True)
    seed = ["lock", "--seed", str(ohos_sources)]
    for args in (seed, ["render"], ["build", "qemu-arm64-linux-min"]):
        res = run_ohnix("-C", str(work), *args)
        assert res.returncode == 0, res.stdout + res.stderr
    return work


@pytest.mark.e2e
@pytest.mark.nix
def test_build_produces_aarch64_elf(built: Path) -> None:
    binary = built / "out" / "qemu-arm64-linux-min" / "bridge"
    assert elf_header(binary) == (2, 1, EM_AARCH64)  # ELFCLASS64, little endian, AArch64
    report = json.loads((built / "out" / "qemu-arm64-linux-min" / "build.json").read_text())
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == ["syscalls", "abi", "cgo", "go"]
    assert all(s["status"] == "ok" for s in report["steps"])
    art = report["artifacts"][0]
    assert art["elf"]["machine"] == "EM_AARCH64" and art["elf"]["class"] == "ELF64"
    assert report["libc"] == "musl 1.2.3 (OpenHarmony's fork base)"
    assert art["elf"]["interpreter"] == "/lib/ld-musl-aarch64.so.1"
    assert report["lock_digest"].startswith("sha256-")
    gen = (built / "syscalls" / "zsysnum_linux_arm64.go").read_text()
    assert re.search(r"^\tSYS_GETPID\s+= 172$", gen, re.MULTILINE)


@pytest.mark.e2e
@pytest.mark.nix
def test_binary_runs_under_qemu_and_pids_agree(built: Path) -> None:
    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        pytest.skip("qemu-user is not installed")
    report = json.loads((built / "out" / "qemu-arm64-linux-min" / "build.json").read_text())
    sysroot = report["runtimes"]["runtime"]["path"] + "/sysroot"
    res = subprocess.run(
        [qemu, "-L", sysroot, str(built / "out/qemu-arm64-linux-min/bridge")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("agree")
    pid_line = next(line for line in res.stdout.splitlines() if line.startswith("pid:"))
    cgo, sys_ = pid_line.split("cgo=")[1].split()[0], pid_line.rsplit("=", 1)[1]
    assert cgo == sys_


@pytest.mark.e2e
@pytest.mark.nix
def test_abi_break_fails_the_build(built: Path) -> None:
    from tests.helpers import run_ohnix

    baseline = built / "abi" / "qemu-arm64-linux-min.json"
    data = json.loads(baseline.read_text())
    data["layouts"]["struct timespec"]["size"] = 24  # pretend the old ABI was different
    original = baseline.read_text()
    baseline.write_text(json.dumps(data))
    try:
        res = run_ohnix("-C", str(built), "build", "qemu-arm64-linux-min")
        as_json = run_ohnix("-C", str(built), "build", "qemu-arm64-linux-min", "--json")
    finally:
        baseline.write_text(original)
    assert res.returncode == 1
    assert "failed at step `abi`" in res.stderr
    assert "struct timespec" in res.stdout + res.stderr
    # --json says so on stdout too (issue 16, point 6): the envelope, the steps that ran.
    assert as_json.returncode == 1 and "failed at step `abi`" in as_json.stderr
    doc = json.loads(as_json.stdout)
    assert (doc["ohnix_json"], doc["command"], doc["ok"]) == (1, "build", False)
    assert doc["error"]["kind"] == "error" and "failed at step `abi`" in doc["error"]["message"]
    assert [(s["name"], s["status"]) for s in doc["result"]["steps"]] == [
        ("syscalls", "ok"),
        ("abi", "failed"),
    ]
