"""The catalog, the prebuilt pins and the container list agree with OpenHarmony 4.1 as
tagged (`OpenHarmony-v4.1-Release`; issue 13). One test (or a few) per numbered fact."""

from __future__ import annotations

from importlib import resources

from ohnix import resolve

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
