"""`ohnix audit diff A.json B.json`: why two audit reports differ, offline.

nix-diff explains two `.drv` files only with both closures in the local store; this reads
two exported reports (each carries its closures exactly) and needs no `.drv` at all.

Per product, three claims, kept apart: the same `.drv` path (identical evaluation), the
same output paths (the same recipe modulo fixed-output details: a fetcher's URL may have
changed, never its hash), the same narHash (the same built bytes). Where derivations
differ, it walks down the graph in step on both sides and reports the *root causes*: the
derivations that differ in something other than their inputs (an environment variable,
the builder, an input source, a fixed-output hash), each with the pins that explain it
and the components it reaches. A change that only follows from a changed input (a store
path inside `CC=...`) is masked, as `hashDerivationModulo` masks it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ohnix.audit.reportfile import base_name as _base
from ohnix.audit.reportfile import check, closure, pname

META = ("schema", "version", "project", "store_dir", "system", "nix", "lock")
LEVELS = {
    "same-evaluation": "identical evaluation (same .drv path)",
    "same-outputs": "same recipe modulo fixed-output details (same output paths)",
    "same-bytes": "same built bytes (same narHash, different output paths)",
    "differs": "different output paths and different built bytes",
    "differs-unbuilt": "different output paths; not built on both sides, bytes not compared",
    "added": "only in B",
    "removed": "only in A",
}
PIN_TOKENS = ("store_path", "hash", "rev")  # distinctive values that name a pin in a drv
_HASH = "[0-9a-df-np-sv-z]{32}"
_NAME = r"[A-Za-z0-9+\-._?=]+"


def level(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, same_drv: bool) -> str:
    """Which of the three claims holds for two {output: {path, narHash}} maps."""
    if a is None or b is None:
        return "removed" if b is None else "added"
    if same_drv:
        return "same-evaluation"
    if {k: o["path"] for k, o in a.items()} == {k: o["path"] for k, o in b.items()}:
        return "same-outputs"
    hashes = [(a[k].get("nar_hash"), b.get(k, {}).get("nar_hash")) for k in a]
    if set(a) != set(b) or not all(x and y for x, y in hashes):
        return "differs-unbuilt" if set(a) == set(b) else "differs"
    return "same-bytes" if all(x == y for x, y in hashes) else "differs"


class _Side:
    """One report, with what the walk needs: masks and component closures."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        self.report = report
        self.graph: Mapping[str, Any] = report["derivations"]
        self.store = re.compile(re.escape(report["store_dir"]) + f"/{_HASH}-{_NAME}")
        self.pins: Mapping[str, Any] = report["pins"]
        self.closures: dict[tuple[str, str], set[str]] = {}

    def components(self, product: str) -> dict[str, Mapping[str, Any]]:
        return dict(self.report["products"][product]["components"])

    def reaching(self, product: str, drv: str) -> set[str]:
        """Ids of the product's components whose closure contains `drv`."""
        out = set()
        for cid, c in self.components(product).items():
            key = (product, cid)
            if key not in self.closures:
                self.closures[key] = closure([c["drv"]] if c.get("drv") else [], self.graph)
            if drv in self.closures[key]:
                out.add(cid)
        return out

    def masks(self, path: str) -> dict[str, str]:
        """Store paths in a derivation that stand for something else: its own outputs,
        its inputs' outputs, its input sources."""
        d = self.graph[path]
        out = {o["path"]: f"<{name}>" for name, o in d["outputs"].items()}
        for dep, outs in d["input_drvs"].items():
            for o in outs:
                out[self.graph[dep]["outputs"][o]["path"]] = f"<{pname(_base(dep))}.{o}>"
        out.update({src: f"<src:{_base(src)}>" for src in d["input_srcs"]})
        return out

    def masked(self, value: str, mask: Mapping[str, str]) -> str:
        return str(self.store.sub(lambda m: mask.get(m.group(0), m.group(0)), value))


def _pair(a: Iterable[str], b: Iterable[str]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Pair store paths by name, then by name without version (equal paths drop out);
    what is left is removed / added."""
    sa, sb = set(a), set(b)
    left, right = sorted(sa - sb), sorted(sb - sa)
    pairs: list[tuple[str, str]] = []
    for key in (_base, lambda p: pname(_base(p))):
        for name in sorted({key(p) for p in left} & {key(p) for p in right}):
            xs = [p for p in left if key(p) == name]
            ys = [p for p in right if key(p) == name]
            pairs += list(zip(xs, ys, strict=False))
        paired = {p for pr in pairs for p in pr}
        left, right = [p for p in left if p not in paired], [p for p in right if p not in paired]
    return pairs, left, right


@dataclass
class _Walk:
    a: _Side
    b: _Side
    causes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def run(self, root_a: str, root_b: str) -> None:
        todo, seen = [(root_a, root_b)], set()
        while todo:
            x, y = todo.pop()
            if x == y or (x, y) in seen:
                continue
            seen.add((x, y))
            changes, inputs = self.local(x, y)
            todo.extend(inputs)
            if changes:
                self.causes[(x, y)] = {"a": x, "b": y, "name": _base(y), "changes": changes}

    def local(self, x: str, y: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """What differs between x (in A) and y (in B) beyond their inputs' identities."""
        na, nb = self.a.graph[x], self.b.graph[y]
        ma, mb = self.a.masks(x), self.b.masks(y)
        changes: list[dict[str, Any]] = []

        def cmp(what: str, name: str | None, va: Any, vb: Any, mva: Any, mvb: Any) -> None:
            if mva != mvb:
                changes.append({"what": what, "name": name, "a": va, "b": vb})

        for key in ("system", "builder"):
            cmp(key, None, na[key], nb[key], self.a.masked(na[key], ma), self.b.masked(nb[key], mb))
        cmp(
            "args",
            None,
            na["args"],
            nb["args"],
            [self.a.masked(s, ma) for s in na["args"]],
            [self.b.masked(s, mb) for s in nb["args"]],
        )
        for key in sorted(set(na["env"]) | set(nb["env"])):
            va, vb = na["env"].get(key), nb["env"].get(key)
            cmp(
                "env",
                key,
                va,
                vb,
                va if va is None else self.a.masked(va, ma),
                vb if vb is None else self.b.masked(vb, mb),
            )
        oa, ob = na["outputs"], nb["outputs"]
        if set(oa) != set(ob):
            changes.append({"what": "outputs", "name": None, "a": sorted(oa), "b": sorted(ob)})
        for name in sorted(set(oa) & set(ob)):
            fa = (oa[name]["hash_algo"], oa[name]["hash"])
            fb = (ob[name]["hash_algo"], ob[name]["hash"])
            if fa != fb:
                changes.append(
                    {
                        "what": "fixed-output hash",
                        "name": name,
                        "a": ":".join(fa),
                        "b": ":".join(fb),
                    }
                )
        pairs, gone, new = _pair(na["input_srcs"], nb["input_srcs"])
        for pa, pb in pairs:
            changes.append({"what": "inputSrc", "name": _base(pa), "a": pa, "b": pb})
        changes += [{"what": "inputSrc", "name": _base(p), "a": p, "b": None} for p in gone]
        changes += [{"what": "inputSrc", "name": _base(p), "a": None, "b": p} for p in new]
        pairs, gone, new = _pair(na["input_drvs"], nb["input_drvs"])
        changes += [{"what": "inputDrv", "name": _base(p), "a": p, "b": None} for p in gone]
        changes += [{"what": "inputDrv", "name": _base(p), "a": None, "b": p} for p in new]
        for p in set(na["input_drvs"]) & set(nb["input_drvs"]):
            if sorted(na["input_drvs"][p]) != sorted(nb["input_drvs"][p]):
                changes.append(
                    {
                        "what": "inputDrv outputs",
                        "name": _base(p),
                        "a": na["input_drvs"][p],
                        "b": nb["input_drvs"][p],
                    }
                )
        return changes, pairs


def _diff_pins(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(set(a) | set(b)):
        pa, pb = a.get(key), b.get(key)
        if pa == pb:
            continue
        if pa is None or pb is None:
            out[key] = {"status": "added" if pa is None else "removed", "fields": {}}
            continue
        fields = {
            f: [pa.get(f), pb.get(f)] for f in sorted(set(pa) | set(pb)) if pa.get(f) != pb.get(f)
        }
        out[key] = {"status": "changed", "fields": fields}
    return out


def _attribute(cause: dict[str, Any], changed: Mapping[str, Any], a: _Side, b: _Side) -> None:
    """Which changed pins a root cause shows: by store path or distinctive value (hash,
    rev) in what changed; else the pins its components declare."""
    declared = cause.pop("_declared", [])
    found: dict[str, str] = {}
    for change in cause["changes"]:
        values = [str(change["a"] or ""), str(change["b"] or "")]
        for key in changed:
            tokens = [
                str(side.pins.get(key, {}).get(t) or "") for side in (a, b) for t in PIN_TOKENS
            ]
            tokens = [t for t in tokens if t]
            if change["what"] == "inputSrc" and any(v in tokens for v in values if v):
                found[key] = "store path"
            elif any(t in v for t in tokens for v in values):
                found.setdefault(key, "value")
    paths = cause.pop("_paths")
    for key in changed:
        if {a.pins.get(key, {}).get("store_path"), b.pins.get(key, {}).get("store_path")} & paths:
            found[key] = "fixed-output path"
    if not found:
        for key in changed:
            if any(key in c.get("pins", ()) for c in declared):
                found[key] = "declared by its component"
    cause["pins"] = [{"key": k, "evidence": v} for k, v in sorted(found.items())]


def _product(name: str, a: _Side, b: _Side, changed: Mapping[str, Any]) -> dict[str, Any]:
    pa, pb = a.report["products"][name], b.report["products"][name]
    ca, cb = a.components(name), b.components(name)
    walk = _Walk(a, b)
    walk.run(pa["shell"], pb["shell"])
    causes = []
    for (x, y), cause in sorted(walk.causes.items()):
        within = sorted(a.reaching(name, x) | b.reaching(name, y))
        cause["components"] = within
        cause["level"] = level(_outs(a.graph[x]), _outs(b.graph[y]), x == y)
        cause["_paths"] = {
            o["path"] for n in (a.graph[x], b.graph[y]) for o in n["outputs"].values()
        }
        cause["_declared"] = [c for cid in within for c in (ca.get(cid), cb.get(cid)) if c]
        _attribute(cause, changed, a, b)
        causes.append(cause)
    comps = {}
    for cid in sorted(set(ca) | set(cb)):
        cx, cy = ca.get(cid), cb.get(cid)
        comps[cid] = {
            "level": _component_level(cx, cy),
            "drv": [cx.get("drv") if cx else None, cy.get("drv") if cy else None],
        }
    reach: dict[str, list[str]] = {}
    for key in changed:
        hit = {
            cid
            for cause in causes
            if any(p["key"] == key for p in cause["pins"])
            for cid in cause["components"]
        }
        hit |= {cid for cid, c in [*ca.items(), *cb.items()] if key in c.get("pins", ())}
        hit = {cid for cid in hit if comps[cid]["level"] != "same-evaluation"}
        if hit:
            reach[key] = sorted(hit)
    shell = level(
        _outs(a.graph[pa["shell"]]), _outs(b.graph[pb["shell"]]), pa["shell"] == pb["shell"]
    )
    return {
        "level": shell,
        "shell": [pa["shell"], pb["shell"]],
        "causes": causes,
        "components": comps,
        "pins": reach,
    }


def _component_level(x: Mapping[str, Any] | None, y: Mapping[str, Any] | None) -> str:
    if x is None or y is None:
        return level(x, y, False)
    if not x.get("drv") and not y.get("drv"):
        # A pin fetched at evaluation time has no .drv: what it is, is its fetch (URL,
        # hash) and its content-addressed store path.
        same = x.get("fixed") == y.get("fixed") and x.get("outputs") == y.get("outputs")
        return level(x.get("outputs", {}), y.get("outputs", {}), same)
    return level(x.get("outputs", {}), y.get("outputs", {}), x.get("drv") == y.get("drv"))


def _outs(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: {"path": o["path"], "nar_hash": o.get("nar_hash")} for k, o in node["outputs"].items()
    }


def diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The explanation, as data (the human view is `format_diff` of it)."""
    consistent = {side: [vars(m) for m in check(r)] for side, r in (("a", a), ("b", b))}
    sa, sb = _Side(a), _Side(b)
    meta = {k: [a.get(k), b.get(k)] for k in META if a.get(k) != b.get(k)}
    pins = _diff_pins(a["pins"], b["pins"])
    products: dict[str, Any] = {}
    for name in sorted(set(a["products"]) | set(b["products"])):
        if name not in b["products"] or name not in a["products"]:
            products[name] = {"level": "removed" if name in a["products"] else "added"}
        else:
            products[name] = _product(name, sa, sb, pins)
    for key, entry in pins.items():
        entry["reaches"] = {
            p: d["pins"][key] for p, d in products.items() if key in d.get("pins", {})
        }
        entry["outputs_changed"] = any(
            products[p]["components"][cid]["level"] not in ("same-evaluation", "same-outputs")
            for p, cids in entry["reaches"].items()
            for cid in cids
        )
    return {
        "identical": not meta
        and not pins
        and all(p["level"] == "same-evaluation" for p in products.values()),
        "meta": meta,
        "pins": pins,
        "products": products,
        "consistency": consistent,
    }


def _short(value: Any, width: int = 100) -> str:
    text = "(none)" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _delta(a: Any, b: Any) -> str:
    """`a -> b`; for long word lists (toolHashes, PATH-like values) only the changed words."""
    if not (isinstance(a, str) and isinstance(b, str)) or len(a) + len(b) <= 160:
        return f"{_short(a)} -> {_short(b)}"
    ta, tb = a.replace(":", " ").split(), b.replace(":", " ").split()
    ops = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False).get_opcodes()
    parts = [
        f"{' '.join(ta[i1:i2]) or '(nothing)'} -> {' '.join(tb[j1:j2]) or '(nothing)'}"
        for op, i1, i2, j1, j2 in ops
        if op != "equal"
    ]
    if not parts or len(parts) > 3:
        return f"{_short(a)} -> {_short(b)}"
    return "; ".join(_short(p, 200) for p in parts) + " (changed words only)"


def format_diff(d: Mapping[str, Any]) -> str:
    lines: list[str] = []
    if d["identical"]:
        return "\n".join([*lines, "the reports are identical: same evaluation everywhere"]) + "\n"
    for key, (va, vb) in d["meta"].items():
        lines.append(f"{key}: {_short(va)} -> {_short(vb)}")
    for key, p in d["pins"].items():
        what = ", ".join(
            f"{f} {_short(x, 80)} -> {_short(y, 80)}"
            for f, (x, y) in p["fields"].items()
            if f not in ("spec", "date", "last_modified")
        )
        lines.append(f"pin {key} {p['status']}" + (f": {what}" if what else ""))
        if p.get("reaches"):
            for prod, cids in p["reaches"].items():
                lines.append(f"  reaches {prod}: {', '.join(cids)}")
            lines.append(
                "  output paths changed"
                if p["outputs_changed"]
                else "  output paths unchanged (only .drv paths changed)"
            )
        else:
            lines.append("  reaches no derivation of the audited shells")
    for name, prod in d["products"].items():
        lines.append(f"\n{name}: {LEVELS[prod['level']]}")
        for cause in prod.get("causes", ()):
            pins = ", ".join(f"{p['key']} ({p['evidence']})" for p in cause["pins"])
            where = ", ".join(cause["components"]) or "no component"
            lines.append(
                f"  root cause in {cause['name']} [{where}]"
                + (f", pin {pins}" if pins else "")
                + f": {LEVELS[cause['level']]}"
            )
            for c in cause["changes"]:
                label = c["what"] + (f" {c['name']}" if c["name"] else "")
                lines.append(f"    {label}: {_delta(c['a'], c['b'])}")
        changed = {
            cid: c
            for cid, c in prod.get("components", {}).items()
            if c["level"] != "same-evaluation"
        }
        for cid, c in changed.items():
            lines.append(f"  component {cid}: {LEVELS[c['level']]}")
    return "\n".join(lines) + "\n"
