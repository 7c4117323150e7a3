"""`ohnix audit`: what each product's shell is made of, from the derivation graph.

The report is built from `nix show-derivation -r` of each shell's `.drv` (evaluated from
the rendered flake) and `nix path-info` of the outputs, then mapped back to ohnix's own
data: shells.json says which tool came from which provider, ohnix.lock which pin each
came from. It carries every derivation of the closures exactly (so another machine can
recompute every path from the report alone: reportfile.check), and nothing machine-specific
beyond what is inherently so: no timestamps, no project directory; everything sorted, so
two renders of the same lock in two directories give byte-identical reports.

Three claims are kept apart (see audit/diff.py): equal `.drv` path (same evaluation),
equal output paths (same recipe modulo fixed-output details), equal narHash (same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from ohnix.audit.reportfile import (
    SCHEMA,
    VERSION,
    Component,
    Node,
    ProductReport,
    Report,
    Verification,
)
from ohnix.config import Config
from ohnix.errors import OhnixError
from ohnix.pin import toolchain
from ohnix.pin.lockfile import Lock
from ohnix.store.drv import Derivation, Mismatch, drv_name_of, verify_closure
from ohnix.store.nar import STORE_DIR, to_sri

HOST_NOTE = (
    "non-hermetic: executables installed on the machine, pinned by content hash and "
    "version in ohnix.lock but not built by Nix"
)
COPIED_NOTE = (
    "a static program of this machine (bash-static) copied into the store by ohnix, pinned "
    "by its NAR hash in ohnix.lock: the builder Nix's sandbox can run"
)
PREBUILT_NOTE = (
    "pinned archive, linked as-is: its executables use the machine's own dynamic loader "
    "(with a nixpkgs pin they are patched to run from the store)"
)
# The host pins the OHOS toolchain's builds use (data/runtimes.toml [host].programs).
OHOS_HOST_PINS = frozenset(f"host/{p}" for p in toolchain.data()["host"]["programs"])
OHOS_HOST_WHO = "the host's clang-19 and build tools (non-hermetic: pinned by content hash)"
OHOS_NOTE = (
    "the OHOS target toolchain, built by ohnix's Nix library from the pinned sources with {who}"
)
METHODS = {"": "flat", "r:": "nar", "text:": "text"}


# --- small helpers --------------------------------------------------------------------


def store_path_of(value: str, store_dir: str) -> str | None:
    """`/nix/store/<hash>-name/bin/x` -> `/nix/store/<hash>-name`; None outside the store."""
    if not value.startswith(store_dir + "/"):
        return None
    head = value[len(store_dir) + 1 :].split("/", 1)[0]
    return f"{store_dir}/{head}" if head else None


def fixed_of(drv: Derivation) -> dict[str, Any] | None:
    """URL, hash and method of a fixed-output derivation (None for others)."""
    if not drv.is_fixed_output:
        return None
    out = drv.outputs[0]
    prefix, _, algo = out.hash_algo.rpartition(":")
    env = drv.env_map
    return {
        "hash": to_sri(bytes.fromhex(out.hash), algo),
        "method": METHODS.get(prefix + ":" if prefix else "", prefix),
        "url": env.get("urls") or env.get("url") or None,
    }


def node(drv: Derivation, nar_hashes: Mapping[str, str]) -> Node:
    """One derivation, complete enough to recompute its `.drv` and output paths."""
    return {
        "args": list(drv.args),
        "builder": drv.builder,
        "env": dict(drv.env),
        "input_drvs": {path: list(outs) for path, outs in drv.input_drvs},
        "input_srcs": list(drv.input_srcs),
        "outputs": {
            o.name: {
                "hash": o.hash,
                "hash_algo": o.hash_algo,
                "nar_hash": nar_hashes.get(o.path),
                "path": o.path,
            }
            for o in drv.outputs
        },
        "system": drv.system,
    }


# --- components -----------------------------------------------------------------------


def _tool_key(tool: Mapping[str, Any]) -> tuple[str, ...]:
    """Tools with equal keys come from one derivation (nix/ohnix/default.nix `resolve`)."""
    if tool["provider"] == "host":
        return ("host",)
    if tool["provider"] == "ohnix":  # the wrapper (CC, CXX, ...) or the built Go
        return ("ohnix", "go" if tool["var"] == "GO" else "cc")
    return (
        tool["provider"],
        tool.get("attr") or tool.get("pin") or "",
        " ".join(tool.get("patches") or ()),
        tool.get("fork") or "",
    )


def _component_id(key: tuple[str, ...]) -> str:
    if key[0] == "host":
        return "host-tools"
    if key[0] == "ohnix":
        return f"ohos-{key[1]}"
    return f"{key[0]}:{key[1]}"


def _declared_pins(tool: Mapping[str, Any], lock: Lock) -> list[str]:
    if tool["provider"] == "ohnix":
        keys = (
            ["runtimes/go", "host/go"]
            if tool["var"] == "GO"
            else ["runtimes/musl", "runtimes/llvm"]
        )
        keys += [p.key for p in lock.pins if p.group == "patches" and tool["var"] == "GO"]
        host_compiler = [p.key for p in lock.pins if p.key in OHOS_HOST_PINS]
        return [k for k in keys + host_compiler if lock.get(k) is not None]
    if tool["provider"] in ("host", "ohos-prebuilts"):
        return [tool["pin"]] if tool.get("pin") else []
    pins = ["nixpkgs"] if lock.get("nixpkgs") else []
    pins += [f"sources/{p}" for p in tool.get("patches") or ()]
    return pins + ([f"sources/{tool['fork']}"] if tool.get("fork") else [])


def _tool_drvs(
    shell: Derivation, tools: Sequence[Mapping[str, Any]], owner: Mapping[str, str], store: str
) -> dict[tuple[str, ...], str]:
    """Which input derivation of the shell each tool group is. PATH holds one entry per
    distinct `drv/bindir`, in tool order; a tool's own variable (CC=...) confirms it."""
    found: dict[tuple[str, ...], str] = {}
    for tool in tools:
        value = shell.env_map.get(tool["var"] or "", "")
        drv = owner.get(store_path_of(value, store) or "")
        if drv:
            found.setdefault(_tool_key(tool), drv)
    dirs = [d for d in shell.env_map.get("PATH", "").split(":") if d]
    seen: list[tuple[tuple[str, ...], str]] = []
    for tool in tools:
        entry = (_tool_key(tool), tool.get("bindir") or "")
        if entry not in seen:
            seen.append(entry)
    if len(seen) == len(dirs):
        for (key, _), d in zip(seen, dirs, strict=True):
            drv = owner.get(store_path_of(d, store) or "")
            if drv:
                found.setdefault(key, drv)
    return found


def _outputs(drv: Derivation, nar: Mapping[str, str]) -> dict[str, Any]:
    return {o.name: {"nar_hash": nar.get(o.path), "path": o.path} for o in drv.outputs}


def _component(
    cid: str,
    kind: str,
    path: str | None,
    drvs: Mapping[str, Derivation],
    nar: Mapping[str, str],
    **extra: Any,
) -> Component:
    out: dict[str, Any] = {"id": cid, "kind": kind, "drv": path, **extra}
    if path is not None:
        drv = drvs[path]
        out["outputs"] = _outputs(drv, nar)
        fixed = fixed_of(drv)
        if fixed and "fixed" not in out:
            out["fixed"] = fixed
    out["built"] = all(o["nar_hash"] for o in out.get("outputs", {}).values())
    out.setdefault("hermetic", out.get("provider") != "host")
    out["pins"] = sorted(set(out.get("pins", ())))
    # `extra` carries only Component's optional keys (provider, attr, note, tools, ...).
    return cast("Component", out)


def components(
    shell_path: str,
    shell_data: Mapping[str, Any],
    drvs: Mapping[str, Derivation],
    lock: Lock,
    nar: Mapping[str, str],
    store: str,
) -> list[Component]:
    """The shell, each toolchain (one per provider derivation), the builder, any other
    input derivation, and each pin the closure reaches, as report components."""
    shell = drvs[shell_path]
    owner = {o.path: p for p, _ in shell.input_drvs for o in drvs[p].outputs}
    tools: list[Mapping[str, Any]] = shell_data["tools"]
    by_key = _tool_drvs(shell, tools, owner, store)
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for tool in tools:
        groups.setdefault(_tool_key(tool), []).append(tool)
    result, claimed = [], set()
    for key, members in groups.items():
        first = members[0]
        path = by_key.get(key)
        claimed.add(path)
        extra: dict[str, Any] = {"provider": first["provider"]}
        if first.get("attr"):
            extra["attr"] = first["attr"]
        if first["provider"] == "host":
            extra["note"] = HOST_NOTE
        elif first["provider"] == "ohnix":
            compiler = (shell_data.get("ohos") or {}).get("compiler")
            extra["note"] = OHOS_NOTE.format(
                who=OHOS_HOST_WHO if compiler == "host" else "nixpkgs' LLVM"
            )
            extra["hermetic"] = compiler != "host"
        elif first["provider"] == "ohos-prebuilts" and lock.get("nixpkgs") is None:
            extra["note"] = PREBUILT_NOTE
        if path is None:
            extra["note"] = "not found among the shell's inputs (aliased by another tool?)"
        result.append(
            _component(
                _component_id(key),
                "toolchain",
                path,
                drvs,
                nar,
                **extra,
                tools=sorted({t["var"] or t["exe"] or t.get("attr") or "" for t in members}),
                pins=[p for t in members for p in _declared_pins(t, lock)],
            )
        )
    builder_out = store_path_of(shell.builder, store) or ""
    builder = owner.get(builder_out)
    if builder and builder not in claimed:
        claimed.add(builder)
        copied = [p for p in lock.pins if p.kind == "host" and p.store_path(store) == builder_out]
        result.append(
            _component(
                "builder",
                "builder",
                builder,
                drvs,
                nar,
                provider="host",
                pins=[p.key for p in copied],
                note=COPIED_NOTE,
            )
            if copied
            else _component(
                "builder", "builder", builder, drvs, nar, provider="nixpkgs", pins=["nixpkgs"]
            )
        )
    runtime = owner.get(store_path_of(shell.env_map.get("OHOS_SYSROOT", ""), store) or "")
    if runtime and runtime not in claimed:
        claimed.add(runtime)
        compiler = (shell_data.get("ohos") or {}).get("compiler")
        result.append(
            _component(
                "ohos-runtime", "toolchain", runtime, drvs, nar, provider="ohnix",
                hermetic=compiler != "host",
                note="musl sysroot, compiler-rt and libunwind: " + OHOS_NOTE.format(
                    who=OHOS_HOST_WHO if compiler == "host" else "nixpkgs' LLVM"),
                pins=[k for k in ("runtimes/musl", "runtimes/llvm", *sorted(OHOS_HOST_PINS))
                      if lock.get(k) is not None],
            )
        )  # fmt: skip
    for path, _ in shell.input_drvs:
        if path not in claimed:
            result.append(_component(f"input:{drv_name_of(path)}", "input", path, drvs, nar))
    reach = _closure_drvs(shell_path, drvs)
    srcs = {s for p in reach for s in drvs[p].input_srcs}
    fod_outs = {o.path: p for p in reach for o in drvs[p].outputs if drvs[p].is_fixed_output}
    used = {p for c in result for p in c["pins"]}
    for pin in lock.pins:
        sp = pin.store_path(store)
        if sp is None or not (sp in srcs or sp in fod_outs or pin.key in used):
            continue
        result.append(
            _component(
                f"pin:{pin.key}",
                "source",
                fod_outs.get(sp),
                drvs,
                nar,
                provider=pin.group,
                outputs={"out": {"nar_hash": nar.get(sp), "path": sp}},
                pins=[pin.key],
                fixed={
                    "hash": pin.nar_hash or pin.hash,
                    "method": "nar" if pin.kind != "url" or pin.unpack else "flat",
                    "rev": pin.rev,
                    "url": pin.path if pin.kind == "host" else pin.url,
                },
            )
        )
    all_pins = sorted({p for c in result for p in c["pins"]})
    result.append(
        _component(
            "shell",
            "shell",
            shell_path,
            drvs,
            nar,
            provider=None,
            hermetic=all(c["hermetic"] for c in result),
            pins=all_pins,
        )
    )
    return sorted(result, key=lambda c: str(c["id"]))


def _closure_drvs(root: str, drvs: Mapping[str, Derivation]) -> set[str]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(q for q, _ in drvs[p].input_drvs)
    return seen


# --- the report -----------------------------------------------------------------------


def _pins(lock: Lock, nar: Mapping[str, str], store: str) -> dict[str, Any]:
    out = {}
    for pin in lock.pins:
        table = pin.as_table()
        sp = pin.store_path(store)
        if sp is not None:
            table["store_path"] = sp
            table["nar_hash"] = nar.get(sp)
        out[pin.key] = table
    return out


def assemble(
    *,
    project: str,
    system: str,
    nix_version: str,
    lock: Lock,
    shells: Mapping[str, str],
    shells_json: Mapping[str, Any],
    drvs: Mapping[str, Derivation],
    nar: Mapping[str, str],
) -> Report:
    """The report, from data already gathered (pure: the tests feed it directly)."""
    store = next((p.rsplit("/", 1)[0] for p in shells.values()), STORE_DIR)
    products: dict[str, ProductReport] = {}
    used: set[str] = set()
    for name, path in sorted(shells.items()):
        reach = _closure_drvs(path, drvs)
        used |= reach
        products[name] = {
            "closure": sorted(reach),
            "components": {
                c["id"]: c
                for c in components(path, shells_json["shells"][name], drvs, lock, nar, store)
            },
            "provider": shells_json["shells"][name]["env"].get("OHNIX_PROVIDER"),
            "shell": path,
        }
    return {
        "derivations": {p: node(drvs[p], nar) for p in sorted(used)},
        "lock": lock.digest(),
        "nix": nix_version,
        "pins": _pins(lock, nar, store),
        "products": products,
        "project": project,
        "schema": SCHEMA,
        "store_dir": store,
        "system": system,
        "version": VERSION,
    }


def build(config: Config, products: Sequence[str], *, verify: bool = False) -> Report:
    """`ohnix audit`: evaluate the rendered flake's shells and report on them."""
    from ohnix.pin import lockfile
    from ohnix.render import nixfiles
    from ohnix.shell import enter as shell
    from ohnix.store import nix

    names = list(dict.fromkeys(products)) or [p.name for p in config.products]
    for name in names:
        config.product(name)
    shell.ensure_fresh(config, render_now=False)
    held = lockfile.read(config.root) or Lock()
    shells_json = json.loads((config.root / nixfiles.LIB_DIR / "shells.json").read_text("utf-8"))
    system = str(nix.show_config().get("system") or "x86_64-linux")
    every = nix.flake_drvs(f".#devShells.{system}", cwd=config.root)
    missing = [n for n in names if n not in every]
    if missing:
        raise OhnixError(
            f"The rendered flake in {config.root} has no devShells.{system}."
            f"{missing[0]}, although ohnix.toml configures it.",
            hint="Run `ohnix render` (and check `git status`: Nix sees only files git knows).",
        )
    shells = {n: every[n] for n in names}
    drvs = nix.show_derivation(sorted(shells.values()), recursive=True)
    store = next(iter(shells.values())).rsplit("/", 1)[0]
    wanted = {o.path for d in drvs.values() for o in d.outputs if o.path}
    wanted |= {sp for p in held.pins if (sp := p.store_path(store))}
    # Only paths on disk: asking about others would make Nix query substituters.
    present = sorted(p for p in wanted if Path(p).exists())
    nar = {p: info.nar_hash for p, info in nix.path_info(present).items()}
    report = assemble(
        project=config.project.name,
        system=system,
        nix_version=nix.version_string(),
        lock=held,
        shells=shells,
        shells_json=shells_json,
        drvs=drvs,
        nar=nar,
    )
    if verify:
        report["verified"] = verification(verify_closure(shells.values()), len(drvs))
    return report


def verification(mismatches: Sequence[Mismatch], count: int) -> Verification:
    return {"derivations": count, "mismatches": [vars(m) for m in mismatches]}
