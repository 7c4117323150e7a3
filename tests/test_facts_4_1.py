"""The catalog, the prebuilt pins and the container list agree with OpenHarmony 4.1 as
tagged (`OpenHarmony-v4.1-Release`; issue 13). One test (or a few) per numbered fact."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from ohnix import resolve
from ohnix.config import Config
from ohnix.errors import ProductError
from tests.conftest import run_ohnix

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
    from ohnix import shells

    spec = shells.toolchains()["prebuilts"]["python"]
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
    from ohnix import shells

    assert "aarch64-linux" in shells.SYSTEMS
    cfg = _config(
        tmp_path,
        '[products.rk3568]\nprovider = "ohos-prebuilts"\ntools = { go = "nixpkgs" }\n'
        '[products.qemu-arm64-linux-min]\nprovider = "nixpkgs"\n'
        '[products.hispark_taurus_standard]\nprovider = "nixpkgs"\n'
        'tools = { cc = "ohos-prebuilts" }\n',
    )
    rk = cfg.product("rk3568")
    assert shells.refusal(rk, "x86_64-linux") is None
    reason = shells.refusal(rk, "aarch64-linux")
    assert reason is not None
    assert "[products.rk3568]" in reason and "no aarch64-linux host prebuilts" in reason
    assert "linux.arm64" in reason and "x86_64 archives" in reason
    with pytest.raises(ProductError, match="OpenHarmony 4.1 ships no aarch64-linux") as err:
        shells.check_system(rk, "aarch64-linux")
    assert "x86_64-linux machine" in str(err.value)
    # One tool from the prebuilts is enough; a nixpkgs-only shell is fine on aarch64.
    assert shells.refusal(cfg.product("hispark_taurus_standard"), "aarch64-linux")
    assert shells.refusal(cfg.product("qemu-arm64-linux-min"), "aarch64-linux") is None
    # shells.json carries the refusal for the Nix library, only where there is one.
    assert shells.shell(rk, cfg)["refuse"] == {"aarch64-linux": reason}
    assert "refuse" not in shells.shell(cfg.product("qemu-arm64-linux-min"), cfg)


def test_fact3_shell_commands_refuse_before_starting_nix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ohnix import shell, shells

    cfg = _config(tmp_path, '[products.ipcamera_hispark_taurus]\nprovider = "ohos-prebuilts"\n')
    monkeypatch.setattr(shells.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(shell.nix, "nix", lambda *a, **k: pytest.fail("Nix was started"))
    for call in (
        lambda: shell.enter(cfg, "ipcamera_hispark_taurus", classic=False),
        lambda: shell.variables(cfg, "ipcamera_hispark_taurus"),
        lambda: shell.realise(cfg, "ipcamera_hispark_taurus"),
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
    ok = subprocess.run([*argv, "--argstr", "system", "x86_64-linux"], cwd=project,
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*argv, "--argstr", "system", "aarch64-linux"], cwd=project,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0
    assert "ohnix: [products.ipcamera_hispark_taurus]" in bad.stderr
    assert "no aarch64-linux host prebuilts" in bad.stderr
