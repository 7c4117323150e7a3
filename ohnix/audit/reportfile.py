"""The audit report as a file: its schema, reading it back, checking it, showing it.

Pure (no Nix): `ohnix audit diff` and `ohnix sbom` work from reports alone, possibly made
on other machines. A report carries every derivation of its shells' closures in full
(`derivations`: .drv path -> args, builder, env, inputDrvs, inputSrcs, outputs with
narHash, system), so `check` can recompute every `.drv` and output path from the report's
own content with drv.py, exactly as Nix computes them.

The schema is the TypedDicts below (`Report` at the top), written as JSON with sorted keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ohnix.errors import OhnixError
from ohnix.store.drv import Derivation, Mismatch, Output, verify_closure

SCHEMA = "ohnix-audit"
VERSION = 2  # 2: snake_case keys (store_dir, input_drvs, nar_hash, ...)


class NodeOutput(TypedDict):
    hash: str  # hex, "" unless fixed-output
    hash_algo: str  # e.g. "r:sha256", "" unless fixed-output
    nar_hash: str | None  # None: not built (or not fetched) on the machine that reported
    path: str


class Node(TypedDict):
    """One derivation, complete enough to recompute its .drv and output paths."""

    args: list[str]
    builder: str
    env: dict[str, str]
    input_drvs: dict[str, list[str]]
    input_srcs: list[str]
    outputs: dict[str, NodeOutput]
    system: str


class Fixed(TypedDict):
    hash: str  # SRI
    method: str  # "nar" | "flat" | "text" | ...
    url: str | None
    rev: NotRequired[str | None]


class ComponentOutput(TypedDict):
    nar_hash: str | None
    path: str


class Component(TypedDict):
    """A toolchain, the builder, another input, a pinned source, or the shell itself."""

    id: str  # "shell", "builder", "host-tools", "pin:sources/x", "input:NAME", ...
    kind: str  # "toolchain" | "builder" | "input" | "source" | "shell"
    drv: str | None
    built: bool
    hermetic: bool
    pins: list[str]
    outputs: NotRequired[dict[str, ComponentOutput]]
    fixed: NotRequired[Fixed]
    provider: NotRequired[str]
    attr: NotRequired[str]
    note: NotRequired[str]
    tools: NotRequired[list[str]]


class ProductReport(TypedDict):
    closure: list[str]  # every .drv the shell's closure reaches
    components: dict[str, Component]  # by id
    provider: str | None
    shell: str  # the shell's .drv


class Verification(TypedDict):
    derivations: int
    mismatches: list[dict[str, Any]]


class Report(TypedDict):
    derivations: dict[str, Node]
    lock: str  # digest of ohnix.lock
    nix: str  # Nix version
    pins: dict[str, dict[str, Any]]  # each lock pin's table, with storePath/narHash if fetched
    products: dict[str, ProductReport]
    project: str
    schema: str  # SCHEMA
    store_dir: str
    system: str
    version: int  # VERSION
    verified: NotRequired[Verification]


def base_name(path: str) -> str:
    """`/nix/store/<hash>-name` -> `name` (`.drv` kept off)."""
    name = path.rsplit("/", 1)[-1].split("-", 1)[-1]
    return name.removesuffix(".drv")


def pname(name: str) -> str:
    """Nix's parseDrvName: the name up to the first `-` followed by a non-letter."""
    match = re.search(r"-[^A-Za-z]", name)
    return name[: match.start()] if match else name


def derivation_of(data: Mapping[str, Any]) -> Derivation:
    """A report node back to a Derivation (the inverse of `node`)."""
    outputs = tuple(
        Output(name, o["path"], o["hash_algo"], o["hash"])
        for name, o in sorted(data["outputs"].items())
    )
    return Derivation(
        outputs=outputs,
        input_drvs=tuple(sorted((p, tuple(sorted(o))) for p, o in data["input_drvs"].items())),
        input_srcs=tuple(sorted(data["input_srcs"])),
        system=data["system"],
        builder=data["builder"],
        args=tuple(data["args"]),
        env=tuple(sorted(data["env"].items())),
    )


def closure(roots: Iterable[str], graph: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every `.drv` reachable from `roots` in a report's `derivations`."""
    seen: set[str] = set()
    todo = [r for r in roots if r]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(graph[path]["input_drvs"])
    return seen


# --- reading reports ------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    """A report from a file, checked to be one ohnix can read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OhnixError(f"Cannot read the audit report '{path}': {exc.strerror}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OhnixError(f"'{path}' is not a JSON audit report ({exc}).") from exc
    if isinstance(data, dict) and "ohnix_json" in data:  # saved `ohnix audit --json` output
        data = data.get("result")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise OhnixError(
            f'\'{path}\' is not an ohnix audit report (no "schema": "{SCHEMA}").',
            hint="Make one with `ohnix audit PRODUCT --json -o FILE`.",
        )
    if data.get("version") != VERSION:
        raise OhnixError(
            f"'{path}' is an audit report of version {data.get('version')!r}; this ohnix "
            f"reads version {VERSION}.",
            hint="Regenerate it with this ohnix, or compare with the ohnix that wrote it.",
        )
    return data


def check(report: Mapping[str, Any]) -> list[Mismatch]:
    """Recompute every `.drv` and output path from the report's own content: a report
    that passes was not edited and describes exactly the derivations it names."""
    graph = report["derivations"]
    cache = {p: derivation_of(d) for p, d in graph.items()}

    def get(path: str) -> Derivation:
        try:
            return cache[path]
        except KeyError:
            raise OhnixError(f"The report lacks the derivation '{path}' it refers to.") from None

    return verify_closure(sorted(graph), load=get, store_dir=report["store_dir"])


def dumps(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def format_report(report: Mapping[str, Any]) -> str:
    """The human view: per product, per component, the three identities."""
    lines = [
        f"project {report['project']} on {report['system']}, Nix {report['nix']}, "
        f"lock {report['lock']}"
    ]
    for name, product in report["products"].items():
        provider = f" (provider {product['provider']})" if product["provider"] else ""
        lines.append(f"\n{name}{provider}: {product['shell']}")
        lines.append(f"  {len(product['closure'])} derivation(s) in the shell's closure")
        for c in product["components"].values():
            flag = "" if c["hermetic"] else "  [NON-HERMETIC]"
            provider = f", provider {c['provider']}" if c.get("provider") else ""
            lines.append(f"  {c['id']} ({c['kind']}{provider}){flag}")
            if c.get("drv"):
                lines.append(f"      drv      {c['drv']}")
            for out, o in sorted(c.get("outputs", {}).items()):
                lines.append(f"      {out:<8} {o['path']}")
                lines.append(f"      narHash  {o['nar_hash'] or 'not built (no narHash)'}")
            if c.get("fixed"):
                f = c["fixed"]
                rev = f" rev {f['rev']}" if f.get("rev") else ""
                lines.append(f"      fetch    {f.get('url')}{rev} {f['method']} {f['hash']}")
            if c.get("tools"):
                lines.append(f"      tools    {' '.join(c['tools'])}")
            if c["pins"]:
                lines.append(f"      pins     {' '.join(c['pins'])}")
    comps = [c for prod in report["products"].values() for c in prod["components"].values()]
    used = {p for c in comps for p in c["pins"]}
    unused = sorted(set(report["pins"]) - used)
    if unused:
        lines.append(f"\npins no audited shell uses: {' '.join(unused)}")
    verified = report.get("verified")
    if verified:
        bad = verified["mismatches"]
        lines.append(
            f"\nverified {verified['derivations']} derivation(s): "
            + (
                f"{len(bad)} path(s) differ from Nix's"
                if bad
                else "every .drv and output path recomputed by ohnix equals Nix's"
            )
        )
        lines += [f"  {m['drv_path']} {m['what']}: nix {m['nix']} ohnix {m['ohnix']}" for m in bad]
    return "\n".join(lines) + "\n"
