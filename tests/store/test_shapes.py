"""Every recorded or documented JSON shape of `derivation show` / `path-info` normalises
to the same result (the samples and their sources: tests/data/nix-json/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ohnix import proc
from ohnix.errors import OhnixError
from ohnix.store.drv import drv_name_of, drv_path, read_drv
from ohnix.store.nar import nix32_decode, to_sri
from ohnix.store.shapes import PathInfo, parse_path_info, parse_show_derivation
from tests.helpers import SANDBOX_OFF, TESTS_DIR

DATA = TESTS_DIR / "data" / "nix-json"
DRV_SHAPES = sorted(p.name for p in DATA.glob("derivation-show-*.json"))
INFO_SHAPES = sorted(p.name for p in DATA.glob("path-info-r-*.json"))
TOP_OUT = "/nix/store/98slffvsm39fp8cyzxsdbmgg3zbhpr2d-ohnix-top"


def _read(name: str) -> str:
    return (DATA / name).read_text()


@pytest.fixture(scope="module")
def baseline_drvs() -> dict[str, Any]:
    return parse_show_derivation(_read("show-derivation-2.8.json"))


@pytest.fixture(scope="module")
def baseline_info() -> dict[str, PathInfo]:
    return parse_path_info(_read("path-info-r-2.8.json"))


def test_all_shapes_present() -> None:
    assert len(DRV_SHAPES) == 5
    assert len(INFO_SHAPES) == 5  # 2.8 (recorded) and four restated


@pytest.mark.parametrize("name", DRV_SHAPES)
def test_derivation_shapes_agree(name: str, baseline_drvs: dict[str, Any]) -> None:
    parsed = parse_show_derivation(_read(name))
    assert parsed == baseline_drvs
    # Lossless enough to re-derive the .drv path Nix printed as the key.
    for path, drv in parsed.items():
        assert drv_path(drv, drv_name_of(path)) == path


def test_baseline_covers_the_interesting_cases(baseline_drvs: dict[str, Any]) -> None:
    algos = {o.hash_algo for d in baseline_drvs.values() for o in d.outputs}
    assert algos == {"", "sha256", "r:sha256"}
    assert any(len(d.outputs) == 3 for d in baseline_drvs.values())
    assert any(
        '"' in v and "\\" in v and "\r" in v for d in baseline_drvs.values() for _, v in d.env
    )


@pytest.mark.parametrize("name", INFO_SHAPES)
def test_path_info_shapes_agree(name: str, baseline_info: dict[str, PathInfo]) -> None:
    assert parse_path_info(_read(name)) == baseline_info


def test_path_info_single(baseline_info: dict[str, PathInfo]) -> None:
    single = parse_path_info(_read("path-info-2.8.json"))
    assert single == {TOP_OUT: baseline_info[TOP_OUT]}
    info = single[TOP_OUT]
    assert info.nar_size == 408
    assert info.deriver == "/nix/store/2pnyns4hynwqbpb3db49i3dn31ss5kx8-ohnix-top.drv"
    assert len(info.references) == 5
    cas = {i.ca for i in baseline_info.values()}
    assert "fixed:r:sha256:1ic3qkgjzq998z67d79c002lnng7j90aksjgwf0l9ch1ngbgmwlv" in cas
    assert "text:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq" in cas


def _structured_hash(sri: str) -> dict[str, str]:
    algo, _, body = sri.partition("-")
    return {"algorithm": algo, "format": "base64", "hash": body}


def test_structured_hashes_and_signatures(baseline_info: dict[str, PathInfo]) -> None:
    """Development-branch variants: hashes as objects, `--json-format 3` signatures."""
    data = json.loads(_read("path-info-r-2.33-json-format-2.json"))
    for entry in data["info"].values():
        entry["narHash"] = _structured_hash(entry["narHash"])
        if entry["ca"]:
            entry["ca"]["hash"] = _structured_hash(entry["ca"]["hash"])
    top = data["info"][TOP_OUT.rsplit("/", 1)[1]]
    top["signatures"] = [{"keyName": "cache.example-1", "sig": "c2lnbmF0dXJl"}]
    parsed = parse_path_info(json.dumps(data))
    assert parsed[TOP_OUT].signatures == ("cache.example-1:c2lnbmF0dXJl",)
    expected = {**baseline_info}
    expected[TOP_OUT] = PathInfo(
        **{**vars(baseline_info[TOP_OUT]), "signatures": ("cache.example-1:c2lnbmF0dXJl",)}
    )
    assert parsed == expected


def test_old_nix32_nar_hash() -> None:
    nix32 = "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
    text = json.dumps(
        [{"path": TOP_OUT, "narHash": f"sha256:{nix32}", "narSize": 1, "references": []}]
    )
    assert parse_path_info(text)[TOP_OUT].nar_hash == to_sri(nix32_decode(nix32))
    assert to_sri(nix32_decode(nix32)) == "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


def test_invalid_paths_are_left_out() -> None:
    assert parse_path_info(json.dumps([{"path": TOP_OUT, "valid": False}])) == {}
    assert parse_path_info(json.dumps({TOP_OUT: None})) == {}
    assert parse_path_info("[]") == {}
    assert parse_show_derivation("{}") == {}


def test_structured_attrs_restored_as_json_env() -> None:
    data = json.loads(_read("derivation-show-2.33.json"))
    key = next(iter(data))
    data[key]["structuredAttrs"] = {"b": [1, "é"], "a": None}
    drv = parse_show_derivation(json.dumps(data))[f"/nix/store/{key}"]
    assert drv.env_map["__json"] == '{"a":null,"b":[1,"é"]}'


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "not JSON"),
        ("[]", "the top level is a list"),
        ('{"version": 5, "derivations": {}}', "format version 5"),
        ('{"/nix/store/x-a": {}}', "is not a `.drv`"),
        ('{"x-a.drv": {"outputs": {}, "env": {}}}', "neither `inputs`"),
        ('{"x-a.drv": {"version": 9}}', "format version 9"),
        (
            '{"x-a.drv": {"outputs": {"out": {"method": "magic", "hash": "x"}}, "env": {},'
            ' "inputSrcs": [], "inputDrvs": {}}}',
            "method is 'magic'",
        ),
        (
            '{"x-a.drv": {"outputs": {"out": {"hashAlgo": "sha256", "hash": "zz"}}, "env": {},'
            ' "inputSrcs": [], "inputDrvs": {}}}',
            "is not base16",
        ),
    ],
)
def test_unknown_derivation_shapes(text: str, match: str) -> None:
    with pytest.raises(OhnixError, match=match) as err:
        parse_show_derivation(text, nix_version="2.99.0")
    assert "Nix 2.99.0" in str(err.value)
    assert "Nix 2.8 to 2.34" in str(err.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('"x"', "the top level is a str"),
        ('{"version": 7, "storeDir": "/nix/store", "info": {}}', "format version 7"),
        (json.dumps({TOP_OUT: {"narHash": "abc", "narSize": 1}}), "does not name its hash"),
        (json.dumps({TOP_OUT: {"narHash": "sha256-AAAA", "narSize": 1}}), "narHash"),
        (json.dumps({TOP_OUT: {"narHash": "sha256-x"}}), "narSize is missing"),
    ],
)
def test_unknown_path_info_shapes(text: str, match: str) -> None:
    with pytest.raises(OhnixError, match=match):
        parse_path_info(text, nix_version="2.99.0")


def test_dynamic_derivation_inputs_refused() -> None:
    data = json.loads(_read("derivation-show-2.33.json"))
    data = copy.deepcopy(data)
    top = data["2pnyns4hynwqbpb3db49i3dn31ss5kx8-ohnix-top.drv"]
    next(iter(top["inputs"]["drvs"].values()))["dynamicOutputs"] = {"out": {"outputs": ["out"]}}
    with pytest.raises(OhnixError, match="dynamic derivations"):
        parse_show_derivation(json.dumps(data))


# --- real Nix -------------------------------------------------------------------------


@pytest.mark.nix
def test_live_show_derivation_matches_aterm(tmp_path: Path) -> None:
    roots = proc.run(
        ["nix-instantiate", "--add-root", tmp_path / "r", DATA / "fixture.nix", "-A", "top"]
    ).stdout.split()
    top = str(Path(roots[0]).resolve())
    out = proc.run(["nix", "show-derivation", "-r", top]).stdout
    parsed = parse_show_derivation(out)
    assert top in parsed
    for path, drv in parsed.items():
        assert drv == read_drv(path)


@pytest.mark.nix
def test_live_path_info_matches_nix_store(tmp_path: Path) -> None:
    [root] = proc.run(
        [
            "nix-build",
            *SANDBOX_OFF,
            "--out-link",
            tmp_path / "result",
            DATA / "fixture.nix",
            "-A",
            "top",
        ]
    ).stdout.split()
    out_path = str(Path(root).resolve())
    infos = parse_path_info(proc.run(["nix", "path-info", "--json", "-r", out_path]).stdout)
    closure = proc.run(["nix-store", "--query", "--requisites", out_path]).stdout.split()
    assert sorted(infos) == sorted(closure)
    for path, info in infos.items():
        nix_hash = proc.run(["nix-store", "--query", "--hash", path]).stdout.strip()
        assert info.nar_hash == to_sri(nix32_decode(nix_hash.removeprefix("sha256:")))
        refs = proc.run(["nix-store", "--query", "--references", path]).stdout.split()
        assert info.references == tuple(sorted(refs))
