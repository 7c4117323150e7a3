"""`ohnix sbom`: CycloneDX 1.6 JSON, valid against the schema cyclonedx-python-lib ships,
with the `nix:` property names nixpkgs and sbomnix use, reproducible byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ohnix.audit import sbom
from tests.auditgraphs import host_project, nixpkgs_project
from tests.helpers import Ohnix


def props(component: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def by_ref(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def test_valid_cyclonedx_with_nix_properties() -> None:
    report, _ = nixpkgs_project()
    text = sbom.cyclonedx(report, "p")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    product = report["products"]["p"]
    comps = by_ref(doc)
    # Every derivation of the closure, the shell as the BOM's subject.
    assert doc["metadata"]["component"]["bom-ref"] == product["shell"]
    assert set(product["closure"]) - {product["shell"]} <= set(comps)
    go = next(c for ref, c in comps.items() if ref.endswith("-go-1.25.4.drv"))
    assert (go["name"], go["version"]) == ("go", "1.25.4")
    assert props(go, "nix:drv_path") == [next(r for r in comps if r.endswith("go-1.25.4.drv"))]
    assert props(go, "nix:output_path") == props(go, "nix:store_path")
    assert props(go, "ohnix:component") == ["nixpkgs:go_1_25"]
    assert props(go, "ohnix:pin") == ["sources/gop"]
    # The fixed-output fetch, in nixpkgs' nix:fod namespace.
    fod = next(c for ref, c in comps.items() if ref.endswith("go-src.tar.gz.drv"))
    assert props(fod, "nix:fod:url") == ["https://example.org/go.tar.gz"]
    assert props(fod, "nix:fod:method") == ["fetchurl"]
    # The pinned source, with how to fetch it again.
    pin = comps["pin:sources/gop"]
    assert props(pin, "nix:fod:method") == ["fetchgit"]
    assert props(pin, "nix:fod:rev") == ["1" * 40]
    assert props(pin, "nix:fod:sha256") == [report["pins"]["sources/gop"]["hash"]]
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert "pin:sources/gop" in deps[props(go, "nix:drv_path")[0]]
    assert props(go, "nix:drv_path")[0] in deps[product["shell"]]


def test_host_tools_are_non_hermetic_components_with_file_hashes() -> None:
    report = host_project()
    doc = json.loads(sbom.cyclonedx(report, "p"))
    comps = by_ref(doc)
    cc = comps["pin:host/cc"]
    assert props(cc, "ohnix:hermetic") == ["false"]
    assert props(cc, "ohnix:host_path") == ["/usr/bin/cc"]
    assert cc["hashes"][0]["alg"] == "SHA-256" and len(cc["hashes"][0]["content"]) == 64
    tools = next(c for c in comps.values() if props(c, "ohnix:component") == ["host-tools"])
    assert props(tools, "ohnix:hermetic") == ["false"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert {"pin:host/cc", "pin:host/go"} <= set(deps[tools["bom-ref"]])


def test_reproducible() -> None:
    report = host_project()
    first = sbom.cyclonedx(report, "p")
    assert first == sbom.cyclonedx(report, "p")
    doc = json.loads(first)
    assert "timestamp" not in doc["metadata"]
    assert {"name": "cdx:reproducible", "value": "true"} in doc["metadata"]["properties"]
    assert doc["serialNumber"].startswith("urn:uuid:")
    other = host_project(cc="another compiler")
    assert json.loads(sbom.cyclonedx(other, "p"))["serialNumber"] != doc["serialNumber"]


@pytest.mark.nix
def test_cli_on_a_host_project(tmp_path: Path, ohnix: Ohnix) -> None:
    from tests.audit.test_collect import PRODUCT, setup_project

    root = setup_project(tmp_path / "p", f'[project]\nname = "p"\n[products.{PRODUCT}]\n'
                                          'provider = "host"\n')  # fmt: skip
    out = tmp_path / "a.cdx.json"
    res = ohnix("-C", str(root), "sbom", PRODUCT, "--format", "cyclonedx", "-o", str(out))
    assert res.returncode == 0, res.stderr
    res = ohnix("-C", str(root), "sbom", PRODUCT)
    assert res.returncode == 0, res.stderr
    assert res.stdout == out.read_text()  # reproducible across runs
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(res.stdout) is None
    doc = json.loads(res.stdout)
    assert doc["metadata"]["component"]["name"] == f"ohnix-{PRODUCT}"
    assert "pin:host/go" in by_ref(doc)
    res = ohnix("-C", str(root), "sbom", PRODUCT, "--format", "spdx")
    assert res.returncode == 2
