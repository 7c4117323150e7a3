"""ohnix parity: the build container's tools next to what a shell provides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ohnix.shell import contents
from tests.helpers import json_result, run_ohnix


def locked_project(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ohnix.toml").write_text('[project]\nname = "parity"\n' + body)
    res = run_ohnix("-C", str(root), "lock")
    assert res.returncode == 0, res.stderr
    return root


@pytest.mark.nix
def test_parity_host_lists_every_container_tool(tmp_path: Path) -> None:
    root = locked_project(tmp_path, '[products.rk3566]\nprovider = "host"\n')
    res = run_ohnix("-C", str(root), "parity", "rk3566", "--json")
    assert res.returncode == 0, res.stderr
    data = json_result(res.stdout)
    assert data["system_type"] == "standard"
    assert "docker_oh_standard:3.2" in data["container"]
    names = [r["tool"] for r in data["tools"]]
    assert names == [t["name"] for t in contents.container("standard")]
    providers = {r["provider"] for r in data["tools"]}
    assert providers <= {"host", "missing"}
    git = next(r for r in data["tools"] if r["tool"] == "git")
    assert git["provider"] == "host" and git["source"].endswith("/git")
    assert {t["var"] for t in data["toolchain"]} >= {"CC", "CXX", "GO"}
    listed = [r["container"] for r in data["tools"] if r["origin"] == "build_package_list.json"]
    assert listed == ["bison", "ccache", "default-jdk", "flex", "zip", "ruby", "libssl-dev",
                      "libtinfo5", "genext2fs", "u-boot-tools", "mtools", "mtd-utils", "scons",
                      "gcc-arm-none-eabi"]  # fmt: skip
    human = run_ohnix("-C", str(root), "parity", "rk3566", env={"COLUMNS": "200"})
    assert human.returncode == 0 and "genext2fs" in human.stdout
    assert "build_package_list.json" in human.stdout and "libtinfo5" in human.stdout


def test_parity_nixpkgs_rows_name_attributes(tmp_path: Path) -> None:
    from ohnix import config
    from ohnix.audit import parity
    from ohnix.pin.lockfile import Lock

    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[nixpkgs]\nurl = "github:NixOS/nixpkgs"\nref = "nixos-25.11"\n'
        '[products.wifiiot_hispark_pegasus]\nprovider = "nixpkgs"\n'
    )
    cfg = config.load(tmp_path)
    rows = parity.rows(cfg, Lock(), "wifiiot_hispark_pegasus")
    mini = contents.container("mini")
    assert len(rows) == len(mini)
    for row, tool in zip(rows, mini, strict=True):
        if tool["nixpkgs"] != "none":
            assert (row.provider, row.source) == ("nixpkgs", tool["nixpkgs"])
        else:
            assert row.provider in ("missing", "host")


def test_parity_without_lock(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[products.rk3566]\nprovider = "host"\n'
    )
    res = run_ohnix("-C", str(tmp_path), "parity", "rk3566")
    assert res.returncode == 1 and "ohnix lock" in res.stderr
