"""ohnix parity: the build container's tools next to what a shell provides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    # Versions where the lock knows them (host tools it pins: tar, make, cmake...), shown
    # with the tool; no column that is always empty.
    from ohnix import config
    from ohnix.audit import parity
    from ohnix.pin import lockfile

    rows = parity.rows(config.load(root), lockfile.require(root), "rk3566")
    versions = {r.tool: r.version for r in rows if r.version}
    assert "tar" in versions and re.fullmatch(r"\d+(\.\d+)+", versions["tar"])
    plain = plain_rows(run_ohnix("-C", str(root), "parity", "rk3566", "--plain").stdout)
    for tool, version in versions.items():
        assert plain[tool][1].endswith(f" {version}"), plain[tool]


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


# --- the human table ----------------------------------------------------------------------


def unlocked_project(root: Path) -> Path:
    """A host-provider project with a lock that pins nothing: enough for parity, no Nix."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[products.rk3566]\nprovider = "host"\n'
    )
    (root / "ohnix.lock").write_text("version = 1\n")
    return root


def plain_rows(out: str) -> dict[str, list[str]]:
    """The container table of `parity --plain`: tool -> its cells."""
    table = out.split("\n\n", maxsplit=1)[0].splitlines()
    assert re.split(r"\s{2,}", table[0]) == [
        "tool",
        "in the shell",
        "listed in",
        "in the container",
    ]
    return {(cells := re.split(r"\s{2,}", row))[0]: cells for row in table[1:]}


def test_parity_fits_80_columns_piped_and_on_a_terminal(tmp_path: Path) -> None:
    from tests.test_products import _terminal

    root = unlocked_project(tmp_path)
    piped = run_ohnix("-C", str(root), "parity", "rk3566", env={"COLUMNS": "80"})
    assert piped.returncode == 0, piped.stderr
    for out in (piped.stdout, _terminal(["-C", str(root), "parity", "rk3566"], 80)):
        lines = out.splitlines()
        assert max(map(len, lines)) <= 80, out
        for tool in contents.container("standard"):  # every tool, its name's words whole
            assert all(word in out.split() for word in tool["name"].split()), tool["name"]
        assert "…" not in out and "docker_oh_standard:3.2" in out


def test_parity_says_where_facts_come_from_in_words(tmp_path: Path, monkeypatch: Any) -> None:
    root = unlocked_project(tmp_path)
    monkeypatch.delenv("COLUMNS", raising=False)
    for args in ((), ("--json",)):
        out = run_ohnix("-C", str(root), "parity", "rk3566", *args).stdout
        assert not re.search(r"excerpt-[ABC]|docs-(standard|lite)", out), out
    rows = plain_rows(run_ohnix("-C", str(root), "parity", "rk3566").stdout)
    python = rows["python3"][3]
    assert "(0.0.6 standard image, symlinked" in python and "(3.2-era Dockerfile)" in python
    assert rows["bison"][2] == "package list" and rows["python3"][2] == "Dockerfile"
    assert rows["cmake (extra, not in image)"][2] == "not in image"


def test_parity_host_tools_come_from_path_without_ohnixs_venv(tmp_path: Path) -> None:
    import sys

    venv_bin = Path(sys.executable).parent
    if sys.prefix == sys.base_prefix or not (venv_bin / "python3").exists():
        pytest.skip("the tests do not run in a virtualenv with a python3")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for exe in ("tar", "curl", "wget", "openssl", "python3"):
        (stubs / exe).write_text("#!/bin/sh\n")
        (stubs / exe).chmod(0o755)
    root = unlocked_project(tmp_path / "p")
    # ohnix's own virtualenv first on PATH, as when it is activated.
    res = run_ohnix("-C", str(root), "parity", "rk3566", "--plain", path=f"{venv_bin}:{stubs}")
    assert res.returncode == 0, res.stderr
    rows = plain_rows(res.stdout)
    assert rows["tar"][1] == f"host {stubs}/tar"
    assert rows["openssl (CLI)"][1] == f"host {stubs}/openssl"
    assert rows["curl / wget"][1] == f"host {stubs}/curl, {stubs}/wget"
    assert rows["python3"][1] == f"host {stubs}/python3"  # not {venv_bin}/python3
    assert rows["bison"][1] == "missing (nixpkgs: bison)"
