"""`ohnix sbom PRODUCT`: a CycloneDX 1.6 SBOM of a product's shell, from its audit report.

Built with cyclonedx-python-lib and validated against the CycloneDX JSON schema the
library ships (no network). Every derivation of the shell's closure is a component
(bom-ref = its `.drv` path), with `dependsOn` from the derivation graph; each pin and each
host executable is one too. The document is reproducible: no timestamp, a serial number
derived from the content, and `cdx:reproducible = true`.

Property names, and where they are documented:
- `nix:store_path`, `nix:narinfo:*` (nar_hash, deriver, system), `nix:fod:*` (method, url,
  rev, ref, sha256, name): nixpkgs, doc/interoperability/cyclonedx.md ("`nix` Namespace
  Property Taxonomy"; https://github.com/NixOS/nixpkgs/blob/master/doc/interoperability/cyclonedx.md).
- `nix:drv_path`, `nix:output_path`: what tiiuae/sbomnix writes (src/sbomnix/cdx.py), so
  tools that read sbomnix output (vulnxscan, nix-visualize) read this too.
- `cdx:reproducible`: CycloneDX/cyclonedx-property-taxonomy, cdx.md.
- `ohnix:*`: ohnix's own (component id, provider, hermetic, pins, lock digest).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ohnix import __version__
from ohnix.audit.reportfile import base_name, pname
from ohnix.errors import OhnixError
from ohnix.store.nar import parse_hash

FORMATS = ("cyclonedx",)
FETCHERS = {"git": "fetchgit", "github": "fetchzip"}  # nixpkgs functions, per lock kind


def _name_version(drv_name: str) -> tuple[str, str | None]:
    name = pname(drv_name)
    return name, (drv_name[len(name) + 1 :] or None)


def _props(pairs: Iterable[tuple[str, str | None]]) -> list[Any]:
    from cyclonedx.model import Property

    return [Property(name=k, value=v) for k, v in pairs if v]


def _fod_method(pin: Mapping[str, Any]) -> str | None:
    if pin["kind"] == "url":
        return "fetchzip" if pin.get("unpack") else "fetchurl"
    return FETCHERS.get(pin["kind"])


def _fod_url(pin: Mapping[str, Any]) -> str:
    url = str(pin["url"])
    if pin["kind"] == "github" and pin.get("rev"):  # as nix/ohnix/nixpkgs-src.nix fetches it
        owner_repo = url.removeprefix("github:")
        return f"https://github.com/{owner_repo}/archive/{pin['rev']}.tar.gz"
    return url


def _pin_component(key: str, pin: Mapping[str, Any]) -> Any:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType

    props: list[tuple[str, str | None]] = [("ohnix:pin", key)]
    hashes = []
    if pin["kind"] == "host":
        # A host tool's pin is the sha256 of the executable file itself.
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=parse_hash(pin["hash"]).hex()))
        props += [("ohnix:hermetic", "false"), ("ohnix:host_path", pin.get("path"))]
        name, version = str(pin["url"]), pin.get("version")
    else:
        store = pin.get("store_path")
        props += [
            ("nix:store_path", store),
            ("nix:narinfo:store_path", store),
            ("nix:narinfo:nar_hash", pin.get("nar_hash")),
        ]
        method = _fod_method(pin)
        if method:
            props += [
                ("nix:fod:method", method),
                ("nix:fod:url", _fod_url(pin)),
                ("nix:fod:sha256", pin["hash"]),
                ("nix:fod:rev", pin.get("rev")),
                ("nix:fod:ref", pin.get("ref")),
                ("nix:fod:name", pin.get("store_name")),
            ]
        name, version = key.split("/", 1)[-1], pin.get("rev")
    tool = key.partition("/")[0] in ("host", "prebuilts")
    kind = ComponentType.APPLICATION if tool else ComponentType.LIBRARY
    return Component(
        name=name,
        version=version,
        type=kind,
        bom_ref=f"pin:{key}",
        hashes=hashes,
        properties=_props(props),
    )


def _drv_component(
    path: str, node: Mapping[str, Any], comp: Mapping[str, Any] | None, kind: Any
) -> Any:
    from cyclonedx.model.component import Component

    drv_name = base_name(path)
    name, version = _name_version(drv_name)
    props: list[tuple[str, str | None]] = [("nix:drv_path", path)]
    for _, out in sorted(node["outputs"].items()):
        props += [("nix:output_path", out["path"]), ("nix:store_path", out["path"])]
        if out.get("nar_hash"):
            props += [
                ("nix:narinfo:store_path", out["path"]),
                ("nix:narinfo:nar_hash", out["nar_hash"]),
                ("nix:narinfo:deriver", path),
            ]
    props.append(("nix:narinfo:system", node["system"]))
    fixed = comp.get("fixed") if comp else None
    outs = list(node["outputs"].values())
    if len(outs) == 1 and outs[0]["hash"]:
        env = node["env"]
        method = (
            "fetchgit"
            if "rev" in env
            else ("fetchurl" if not outs[0]["hash_algo"].startswith("r:") else "fetchzip")
        )
        props += [
            ("nix:fod:method", method),
            ("nix:fod:url", env.get("urls") or env.get("url")),
            ("nix:fod:rev", env.get("rev")),
            ("nix:fod:name", drv_name),
            ("nix:fod:sha256", (fixed or {}).get("hash")),
        ]
    if comp:
        props += [
            ("ohnix:component", comp["id"]),
            ("ohnix:provider", comp.get("provider")),
            ("ohnix:hermetic", str(comp["hermetic"]).lower()),
        ]
        props += [("ohnix:pin", p) for p in comp["pins"]]
    return Component(name=name, version=version, type=kind, bom_ref=path, properties=_props(props))


def cyclonedx(report: Mapping[str, Any], product: str) -> str:
    """The CycloneDX 1.6 JSON document for one product of an audit report, validated."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    prod = report["products"][product]
    graph = report["derivations"]
    comps = {c["drv"]: c for c in prod["components"].values() if c.get("drv")}
    shell = _drv_component(
        prod["shell"], graph[prod["shell"]], comps.get(prod["shell"]), ComponentType.PLATFORM
    )
    shell.properties.update(
        _props(
            [
                ("ohnix:product", product),
                ("ohnix:lock", report["lock"]),
                ("ohnix:nix_version", report["nix"]),
            ]
        )
    )
    digest = hashlib.sha256(json.dumps([product, prod, report["lock"]], sort_keys=True).encode())
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "ohnix-sbom:" + digest.hexdigest()))
    bom.metadata.timestamp = None  # type: ignore[assignment]  # reproducible: no time
    bom.metadata.component = shell
    bom.metadata.properties.add(Property(name="cdx:reproducible", value="true"))
    bom.metadata.tools.components.add(
        Component(name="ohnix", version=__version__, type=ComponentType.APPLICATION)
    )
    by_ref: dict[str, Any] = {prod["shell"]: shell}
    for path in sorted(set(prod["closure"]) - {prod["shell"]}):
        by_ref[path] = _drv_component(path, graph[path], comps.get(path), ComponentType.APPLICATION)
        bom.components.add(by_ref[path])
    used = {p for c in prod["components"].values() for p in c["pins"]}
    for key in sorted(used & set(report["pins"])):
        by_ref[f"pin:{key}"] = _pin_component(key, report["pins"][key])
        bom.components.add(by_ref[f"pin:{key}"])
    for path in prod["closure"]:
        node = graph[path]
        deps = [by_ref[d] for d in sorted(node["input_drvs"])]
        pins = comps[path]["pins"] if path in comps and path != prod["shell"] else []
        srcs = set(node["input_srcs"])
        pins += [k for k in sorted(used) if report["pins"].get(k, {}).get("store_path") in srcs]
        deps += [by_ref[f"pin:{k}"] for k in sorted(set(pins)) if f"pin:{k}" in by_ref]
        bom.register_dependency(by_ref[path], deps)
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise OhnixError(
            f"The SBOM ohnix made does not validate against CycloneDX 1.6: {error}.",
            hint="This is a bug in ohnix; please report it.",
        )
    return text + "\n"
