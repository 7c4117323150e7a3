"""The catalog, the prebuilt pins and the container list agree with OpenHarmony 4.1 as
tagged (`OpenHarmony-v4.1-Release`; issue 13). One test (or a few) per numbered fact."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ohnix import products
from ohnix.config import Config
from ohnix.errors import ProductError
from ohnix.pin import resolve
from tests.helpers import json_result, run_ohnix

TAG_COMMIT = "3e2c019a22b9daa8a1d76d8154a571920c61405f"  # openharmony/build at the tag
HUAWEICLOUD = "https://repo.huaweicloud.com"


def _data_text(name: str) -> str:
    return resources.files("ohnix").joinpath(f"data/{name}").read_text()


# 1. prebuilts-4.1.toml is the tag's prebuilts_download_config.json, not a master commit.


def test_fact1_prebuilt_urls_are_those_of_the_tag() -> None:
    catalog = resolve.prebuilt_catalog("4.1")
    compiler = f"{HUAWEICLOUD}/openharmony/compiler"
    assert catalog["clang"]["url"] == (
        f"{compiler}/clang/15.0.4-81cdec/linux/clang_linux-x86_64-81cdec-20240308.tar.gz"
    )
    assert catalog["libcxx-ndk"]["url"] == (
        f"{compiler}/clang/15.0.4-81cdec/linux/libcxx-ndk_linux-x86_64-81cdec-20240308.tar.gz"
    )
    assert catalog["gn"]["url"] == f"{compiler}/gn/20240115/linux/gn-linux-x86-20240115.tar.gz"
    assert catalog["ninja"]["url"] == f"{compiler}/ninja/1.11.0/linux/ninja-linux-x86-1.11.0.tar.gz"
    assert catalog["python"]["url"] == (
        f"{compiler}/python/3.10.2/linux/python-linux-x86-3.10.2_20230604.tar.gz"
    )
    assert catalog["node"]["url"] == f"{HUAWEICLOUD}/nodejs/v14.21.1/node-v14.21.1-linux-x64.tar.gz"
    assert catalog["cmake"]["url"] == (
        f"{compiler}/cmake/3.16.5_b/linux/cmake-linux-x86-3.16.5.tar.gz"
    )
    versions = {k: catalog[k]["version"] for k in ("clang", "gn", "ninja", "python", "node")}
    assert versions == {"clang": "15.0.4", "gn": "20240115", "ninja": "1.11.0",
                        "python": "3.10.2", "node": "14.21.1"}  # fmt: skip


def test_fact1_provenance_is_the_tag_not_master() -> None:
    import tomllib

    data = tomllib.loads(_data_text("prebuilts-4.1.toml"))
    assert data["source"]["tag"] == "OpenHarmony-v4.1-Release"
    assert data["source"]["commit"] == TAG_COMMIT
    assert data["source"]["path"] == "prebuilts_download_config.json"
    for name, entry in data["prebuilts"].items():
        assert not any(k.startswith("design_") for k in entry), name  # url is the fact itself
        assert entry["lines"], name  # each entry cites its lines in the tag's file
        assert "ef68e8" not in entry["url"] and "20240219" not in entry["url"], name


# 10. build.sh at the tag itself pins node 14.21.1.


def test_fact10_expected_node_version_is_cited_from_the_tag() -> None:
    text = _data_text("prebuilts-4.1.toml")
    assert 'build_scripts/build.sh:95 EXPECTED_NODE_VERSION=\\"14.21.1\\"' in text
    assert "was\n# not found" not in text and "was not found" not in text


# 2. The python prebuilt's interpreter is <top dir linux-x86>/3.10.2/bin/python3.


def test_fact2_python_prebuilt_executable_path() -> None:
    from ohnix.shell import contents

    spec = contents.toolchains()["prebuilts"]["python"]
    assert spec["tools"] == {"PYTHON": "3.10.2/bin/python3"}
    assert spec["bindir"] == "3.10.2/bin"
    meta = resolve.prebuilt_catalog("4.1")["python"]
    # fetchTarball strips the archive's top directory; the rest is the interpreter's path.
    assert f"{meta['top_dir']}/{spec['tools']['PYTHON']}" == meta["interpreter"]


# 3. No aarch64-linux host prebuilts in OpenHarmony 4.1: such a shell is refused.


def _config(tmp_path: Path, table: str) -> Config:
    from ohnix import config

    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[nixpkgs]\nurl = "github:NixOS/nixpkgs"\nref = "nixos-25.11"\n'
        + table
    )
    return config.load(tmp_path)


def test_fact3_prebuilts_shell_is_refused_for_aarch64_linux(tmp_path: Path) -> None:
    from ohnix.shell import contents

    assert "aarch64-linux" in contents.SYSTEMS
    cfg = _config(
        tmp_path,
        '[products.rk3568]\nprovider = "ohos-prebuilts"\ntools = { go = "nixpkgs" }\n'
        '[products.qemu-arm64-linux-min]\nprovider = "nixpkgs"\n'
        '[products.hispark_taurus_standard]\nprovider = "nixpkgs"\n'
        'tools = { cc = "ohos-prebuilts" }\n',
    )
    rk = cfg.product("rk3568")
    assert contents.refusal(rk, "x86_64-linux") is None
    reason = contents.refusal(rk, "aarch64-linux")
    assert reason is not None
    assert "[products.rk3568]" in reason and "no aarch64-linux host prebuilts" in reason
    assert "linux.arm64" in reason and "x86_64 archives" in reason
    with pytest.raises(ProductError, match=r"OpenHarmony 4\.1 ships no aarch64-linux") as err:
        contents.check_system(rk, "aarch64-linux")
    assert "x86_64-linux machine" in str(err.value)
    # One tool from the prebuilts is enough; a nixpkgs-only shell is fine on aarch64.
    assert contents.refusal(cfg.product("hispark_taurus_standard"), "aarch64-linux")
    assert contents.refusal(cfg.product("qemu-arm64-linux-min"), "aarch64-linux") is None
    # shells.json carries the refusal for the Nix library, only where there is one.
    assert contents.shell(rk, cfg)["refuse"] == {"aarch64-linux": reason}
    assert "refuse" not in contents.shell(cfg.product("qemu-arm64-linux-min"), cfg)


def test_fact3_shell_commands_refuse_before_starting_nix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ohnix.shell import contents, enter

    cfg = _config(tmp_path, '[products.ipcamera_hispark_taurus]\nprovider = "ohos-prebuilts"\n')
    monkeypatch.setattr(contents.platform, "machine", lambda: "aarch64")

    def no_nix(*_args: object, **_kwargs: object) -> None:
        pytest.fail("Nix was started")

    monkeypatch.setattr(enter.nix, "nix", no_nix)
    for call in (
        lambda: enter.enter(cfg, "ipcamera_hispark_taurus", classic=False),
        lambda: enter.variables(cfg, "ipcamera_hispark_taurus"),
        lambda: enter.realise(cfg, "ipcamera_hispark_taurus"),
    ):
        with pytest.raises(ProductError, match=r"\[products.ipcamera_hispark_taurus\]"):
            call()


@pytest.mark.nix
def test_fact3_nix_library_throws_the_reason_for_aarch64_linux(tmp_path: Path) -> None:
    """Evaluating the rendered default.nix for aarch64-linux stops with ohnix's reason."""
    import io
    import tarfile
    from urllib.parse import urlsplit

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("clang", "gn", "ninja", "node", "python", "cmake"):
        url = resolve.prebuilt_catalog("4.1")[name]["url"]
        with tarfile.open(seeds / Path(urlsplit(url).path).name, "w:gz") as tar:
            info = tarfile.TarInfo(f"top/{name}")
            info.size, info.mode = 2, 0o755
            tar.addfile(info, io.BytesIO(b"x\n"))
    project = tmp_path / "p"
    project.mkdir()
    (project / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[prebuilts]\n'
        'include = ["clang", "gn", "ninja", "node", "python", "cmake"]\n'
        '[products.ipcamera_hispark_taurus]\nprovider = "ohos-prebuilts"\n'
    )
    for argv in (("lock", "--offline", "--seed", str(seeds)), ("render",)):
        res = run_ohnix("-C", str(project), *argv)
        assert res.returncode == 0, res.stderr
    argv = ["nix-instantiate", "default.nix", "-A", "ipcamera_hispark_taurus"]

    def instantiate(system: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*argv, "--argstr", "system", system], cwd=project,
                              capture_output=True, text=True, check=False)  # fmt: skip

    ok = instantiate("x86_64-linux")
    assert ok.returncode == 0, ok.stderr
    bad = instantiate("aarch64-linux")
    assert bad.returncode != 0
    assert "ohnix: [products.ipcamera_hispark_taurus]" in bad.stderr
    assert "no aarch64-linux host prebuilts" in bad.stderr


# 4. rk3566 stands for Kaihong's khdvk_3566b: target_cpu arm (softfp), arm64 a variant.


def test_fact4_rk3566_is_khdvk_3566b_arm_with_an_arm64_variant(tmp_path: Path) -> None:
    p = products.get("rk3566")
    assert (p.alias_of, p.board, p.vendor) == ("khdvk_3566b", "khdvk_3566b", "kaihong")
    assert (p.cpu, p.triple, p.float_abi, p.go.goarch, p.go.goarm) == (
        "arm", "arm-linux-ohos", "softfp", "arm", "7"
    )  # fmt: skip
    assert p.variants == ("arm64",)
    v = p.variant("arm64")
    assert (v.triple, v.float_abi, v.go.goarch) == ("aarch64-linux-ohos", "hard", "arm64")
    # The same shape as rk3568.
    rk3568 = products.get("rk3568")
    assert (rk3568.cpu, rk3568.variants) == (p.cpu, p.variants)
    # Chosen in ohnix.toml with `cpu`, the way config.py supports it.
    cfg = _config(tmp_path, '[products.rk3566]\nprovider = "nixpkgs"\ncpu = "arm64"\n')
    assert cfg.product("rk3566").product.triple == "aarch64-linux-ohos"


def test_fact4_cli_shows_the_alias_and_the_variant(ohnix: Any) -> None:
    res = ohnix("products", "show", "rk3566", "--json")
    assert res.returncode == 0, res.stderr
    data = json_result(res.stdout)
    assert (data["cpu"], data["triple"], data["alias_of"]) == (
        "arm",
        "arm-linux-ohos",
        "khdvk_3566b",
    )
    assert data["variants"]["arm64"]["triple"] == "aarch64-linux-ohos"
    table = ohnix("products", env={"COLUMNS": "200"})
    assert "khdvk_3566b board (target_cpu arm" in table.stdout
    assert 'cpu = "arm64"' in table.stdout  # how ohnix.toml chooses the variant
    shown = ohnix("products", "show", "rk3566")
    assert 'cpu = "arm64"' in shown.stdout
    docs = (Path(__file__).parents[1] / "docs" / "products.md").read_text()
    assert "`khdvk_3566b`" in docs and '`cpu = "arm64"`' in docs


def test_fact4_init_comments_name_the_target_cpu_and_variant() -> None:
    from ohnix.render import starter

    text = starter.text("p", ["rk3566"])
    assert "not an OpenHarmony product name" in text and "khdvk_3566b" in text
    assert 'target_cpu is "arm" (arm-linux-ohos, float ABI softfp)' in text
    assert '# cpu = "arm64"' in text


# 5. Boards as vendor_ohemu has them at the tag.


def test_fact5_qemu_boards() -> None:
    assert products.get("qemu-arm64-linux-min").board == "qemu-arm-linux"
    small = products.get("qemu_small_system_demo")
    assert small.board == "arm_virt" and "virt" in small.soc and "Cortex-A7" in small.soc
    assert "LOSCFG_PLATFORM_QEMU_ARM_VIRT_CA7" in small.kconfig
    x86 = products.get("qemu-x86_64-linux-min")
    assert "microvm" in x86.soc and "q35" not in x86.soc
    text = _data_text("products.toml")
    assert "vexpress" not in text and "q35" not in text
    assert "kernel_liteos_a:platform/Kconfig:40-44" in text  # where the CA7 symbol lives


# 6. kernel_liteos_m's Cortex-M4 symbol; no LOSCFG_KERNEL_LITEOS_M anywhere in 4.1.


def test_fact6_kconfig_symbols() -> None:
    mini = products.get("qemu_mini_system_demo")
    assert mini.board == "arm_mps2_an386"
    assert "LOSCFG_ARCH_CORTEX_M4" in mini.kconfig
    for p in products.catalog().values():
        assert "LOSCFG_KERNEL_LITEOS_M" not in p.kconfig, p.name
        assert "LOSCFG_ARCH_ARM_CORTEX_M4" not in p.kconfig, p.name


# 7. Each product's own compile flags (data), not one -mfpu=neon set for every arm product.

ARM_GNI = "-march=armv7-a -mfloat-abi=softfp -mtune=generic-armv7-a -mfpu=neon"
A7_VFPV4 = "-mfloat-abi=softfp -mfpu=neon-vfpv4 -mcpu=cortex-a7"


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("rk3568", ARM_GNI),
        ("rk3566", ARM_GNI),
        ("hispark_taurus_standard", ARM_GNI),
        ("qemu-arm-linux-min", ARM_GNI),
        ("ipcamera_hispark_taurus", A7_VFPV4),
        ("qemu_small_system_demo", A7_VFPV4),
        ("qemu_mini_system_demo", "-mthumb -mcpu=cortex-m4"),
        ("wifiiot_hispark_pegasus", "-march=rv32imac -mabi=ilp32"),
    ],
)
def test_fact7_product_compile_flags(name: str, flags: str) -> None:
    from ohnix.shell import contents

    p = products.get(name)
    assert " ".join(p.cflags) == flags
    cflags, _ = contents.libc_flags(p, clang=p.compiler == "clang")
    assert cflags.endswith(flags)
    assert cflags.count("-mfpu=") <= 1 and cflags.count("-mfloat-abi=") <= 1


def test_fact7_arm64_variants_drop_the_arm32_flags() -> None:
    from ohnix.shell import contents

    for name in ("rk3568", "rk3566"):
        v = products.get(name).variant("arm64")
        assert v.cflags == ()
        assert "-mfpu" not in contents.libc_flags(v, clang=True)[0]


def test_fact7_a_user_product_may_set_its_own_flags(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        '[products.myboard]\nextends = "rk3568"\ncflags = ["-mcpu=cortex-a55"]\n'
        '[products.rk3568]\ncflags = ["-mcpu=cortex-a55"]\n',
    )
    assert cfg.product("myboard").product.cflags == ("-mcpu=cortex-a55",)
    assert cfg.product("rk3568").product.cflags == ("-mcpu=cortex-a55",)


# 8. nixpkgs has pkgsCross.riscv64-musl (config riscv64-unknown-linux-musl, since 2025-05-14).


def test_fact8_riscv64_linux_ohos_uses_the_musl_cross_set() -> None:
    """The OHOS toolchain's riscv64 runtime takes its UAPI headers from that set (the
    nixpkgs provider); its compiler is clang, not the set's GCC."""
    import tomllib

    from ohnix.pin import toolchain

    triple = toolchain.data()["triples"]["riscv64-linux-ohos"]
    assert triple["nixpkgs_headers"] == "pkgsCross.riscv64-musl.linuxHeaders"
    entry = tomllib.loads(_data_text("nixpkgs_attrs.toml"))["attrs"]["pkgsCross.riscv64-musl"]
    assert entry["exists"] is True
    assert "riscv64-unknown-linux-musl" in entry["evidence"] and "2025-05-14" in entry["evidence"]
    fake = tomllib.loads((Path(__file__).parent / "nixpkgs" / "packages.toml").read_text())
    assert "pkgsCross.riscv64-musl.linuxHeaders" in fake["packages"]
    assert not any(k.startswith("pkgsCross.riscv64.") for k in fake["packages"])


# 9. The container's host tools: openharmony/build scripts/build_package_list.json (20.04).

PACKAGE_LIST = ["bison", "ccache", "default-jdk", "flex", "zip", "ruby", "libssl-dev",
                "libtinfo5", "genext2fs", "u-boot-tools", "mtools", "mtd-utils", "scons",
                "gcc-arm-none-eabi"]  # fmt: skip


@pytest.mark.parametrize("system_type", ["mini", "small", "standard"])
def test_fact9_container_starts_with_the_package_list(system_type: str) -> None:
    from ohnix.shell import contents

    tools = contents.container(system_type)
    base = tools[: len(PACKAGE_LIST)]
    assert [t["apt"] for t in base] == PACKAGE_LIST
    assert {t["origin"] for t in base} == {"build_package_list.json"}
    rest = tools[len(PACKAGE_LIST) :]
    assert {t["origin"] for t in rest} <= {"Dockerfile"}
    # Dockerfile additions do not repeat what the list has.
    attrs = [t["nixpkgs"] for t in tools if t["nixpkgs"] != "none"]
    assert len(attrs) == len(set(attrs))


def test_fact9_package_list_is_cited_from_the_tag() -> None:
    from ohnix.shell import contents

    base = contents._data("container.toml")["package_list"]
    assert (base["repo"], base["tag"], base["commit"], base["path"], base["ubuntu"]) == (
        "openharmony/build", "OpenHarmony-v4.1-Release", TAG_COMMIT,
        "scripts/build_package_list.json", "20.04",
    )  # fmt: skip
    text = _data_text("container.toml")
    assert "could NOT be found at the 4.1 tag" in text  # where the Dockerfiles add to it


@pytest.mark.parametrize(
    "product", ["wifiiot_hispark_pegasus", "ipcamera_hispark_taurus", "rk3568", "rk3566"]
)
def test_fact9_parity_lists_the_package_list_tools(tmp_path: Path, product: str) -> None:
    from ohnix.audit import parity
    from ohnix.pin.lockfile import Lock

    cfg = _config(tmp_path, f'[products.{product}]\nprovider = "nixpkgs"\n')
    data = parity.report(cfg, Lock(), product)
    assert "scripts/build_package_list.json (Ubuntu 20.04)" in data["package_list"]
    listed = [r for r in data["tools"] if r["origin"] == "build_package_list.json"]
    assert [r["container"] for r in listed] == PACKAGE_LIST
    gcc = next(r for r in listed if r["container"] == "gcc-arm-none-eabi")
    assert (gcc["provider"], gcc["source"]) == ("nixpkgs", "gcc-arm-embedded")
