"""The cgo wrapper and libc profiles, and the LiteOS-M build that runs only C steps."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ohnix import products
from ohnix.bridge import cgo
from tests.helpers import json_result, run_ohnix


def test_profiles_follow_the_libc() -> None:
    arm = cgo.profile(products.get("rk3568"), clang=True)
    assert "--target=arm-linux-ohos" in arm.cflags and "-mfloat-abi=softfp" in arm.cflags
    assert "-D__MUSL__" in arm.cflags and "-fuse-ld=lld" in arm.ldflags
    assert '#define OHNIX_TARGET_TRIPLE "arm-linux-ohos"' in arm.header
    assert "ohnix_getpid" in arm.header
    mini = cgo.profile(products.get("wifiiot_hispark_pegasus"), clang=False)
    assert "-ffreestanding" in mini.cflags and "-march=rv32imac" in mini.cflags
    assert "#define LOSCFG_ARCH_RISCV32 1" in mini.header
    assert "ohnix_getpid" not in mini.header  # no processes on LiteOS-M
    gcc = cgo.profile(products.get("qemu-arm64-linux-min"), clang=False)
    assert "--target" not in gcc.cflags  # a GCC takes no --target


@pytest.mark.parametrize("product", ["qemu-arm64-linux-min", "rk3568"])
def test_wrapper_compiles_with_the_host_compiler(tmp_path: Path, product: str) -> None:
    cc = "aarch64-linux-gnu-gcc" if product != "rk3568" else "arm-linux-gnueabi-gcc"
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    header = tmp_path / "cgo_wrapper.h"
    header.write_text(cgo.profile(products.get(product), clang=False).header)
    subprocess.run([cc, "-x", "c", "-c", str(header), "-o", str(tmp_path / "w.o")], check=True)


def test_cli_bridge_cgo(tmp_path: Path) -> None:
    res = run_ohnix("-C", str(tmp_path), "bridge", "cgo", "--product", "rk3568", "--cpu", "arm64",
                    "-o", "gen", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json_result(res.stdout)
    assert data["triple"] == "aarch64-linux-ohos"
    assert "aarch64-linux-ohos" in (tmp_path / "gen" / "cgo_wrapper.h").read_text()
    bad = run_ohnix("bridge", "cgo", "--product", "rk3586")
    assert bad.returncode == 2 and "Did you mean `rk3568`" in bad.stderr  # a usage error


@pytest.mark.nix
@pytest.mark.e2e
def test_liteos_m_build_runs_only_c_steps(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "mini"\n[products.wifiiot_hispark_pegasus]\nprovider = "host"\n'
    )
    for args in (["lock"], ["render"]):
        assert run_ohnix("-C", str(tmp_path), *args).returncode == 0
    res = run_ohnix("-C", str(tmp_path), "build", "wifiiot_hispark_pegasus", "--json")
    assert res.returncode == 0, res.stderr
    steps = {s["name"]: s for s in json_result(res.stdout)["steps"]}
    assert steps["go"]["status"] == "skipped" and "Go cannot target" in steps["go"]["detail"]
    assert steps["syscalls"]["status"] == "skipped" and steps["abi"]["status"] == "skipped"
    assert steps["cgo"]["status"] == "ok" and "riscv64-unknown-elf-gcc" in steps["cgo"]["detail"]
    obj = tmp_path / "out" / "wifiiot_hispark_pegasus" / "cgo_wrapper.o"
    head = obj.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 1  # ELFCLASS32: rv32imac
    assert int.from_bytes(head[18:20], "little") == 243  # EM_RISCV
