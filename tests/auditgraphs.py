"""Synthetic derivation graphs for the audit tests: derivations whose `.drv` and output
paths are computed the way Nix computes them (drv.py, itself checked against Nix in
store/test_drv.py), assembled into audit reports without running Nix."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from ohnix.audit import collect
from ohnix.pin.lockfile import Lock, Pin
from ohnix.store.drv import Derivation, Output, drv_path, output_paths
from ohnix.store.nar import fixed_output_path, to_sri

SYSTEM = "x86_64-linux"
STORE = "/nix/store"


def src_path(name: str, content: str) -> str:
    """A store path standing for an input source (`./builder.sh`, a fetched tree)."""
    digest = hashlib.sha256(content.encode()).digest()
    return fixed_output_path(name, digest, recursive=True)


def sri_of(content: str) -> str:
    return to_sri(hashlib.sha256(content.encode()).digest())


@dataclass
class Graph:
    drvs: dict[str, Derivation] = field(default_factory=dict)

    def out(self, path: str, output: str = "out") -> str:
        return next(o.path for o in self.drvs[path].outputs if o.name == output)

    def add(
        self,
        name: str,
        env: dict[str, str] | None = None,
        inputs: tuple[str, ...] = (),
        srcs: tuple[str, ...] = (),
        fixed: str | None = None,  # content whose flat sha256 the FOD declares
    ) -> str:
        algo, digest = ("sha256", hashlib.sha256(fixed.encode()).hexdigest()) if fixed else ("", "")
        # Output paths are masked when hashed: any placeholder will do until they are known.
        todo = f"{STORE}/{'0' * 32}-{name}"
        base = {"name": name, "system": SYSTEM, "builder": "/bin/bash", "out": todo, **(env or {})}
        drv = Derivation(
            outputs=(Output("out", todo, algo, digest),),
            input_drvs=tuple(sorted((p, ("out",)) for p in inputs)),
            input_srcs=tuple(sorted(srcs)),
            system=SYSTEM,
            builder="/bin/bash",
            args=("-c", "echo $name > $out"),
            env=tuple(sorted(base.items())),
        )
        if fixed:
            path = fixed_output_path(name, bytes.fromhex(digest), recursive=False)
        else:
            path = output_paths(drv, self.drvs.__getitem__, {}, name=name)["out"]
        env_filled = {**dict(drv.env), "out": path}
        filled = replace(
            drv, outputs=(Output("out", path, algo, digest),), env=tuple(sorted(env_filled.items()))
        )
        key = drv_path(filled, name)
        self.drvs[key] = filled
        return key


def host_pin(program: str, content: str) -> Pin:
    return Pin(key=f"host/{program}", kind="host", url=program, hash=sri_of(content),
               spec="sha256-spec", store_name=f"host-{program}", path=f"/usr/bin/{program}",
               version=f"{program} 1.0")  # fmt: skip


def git_pin(name: str, content: str, rev: str) -> Pin:
    digest = hashlib.sha256(content.encode()).digest()
    return Pin(key=f"sources/{name}", kind="git", url=f"https://example.org/{name}.git",
               hash=to_sri(digest), spec="sha256-spec", rev=rev)  # fmt: skip


def host_project(
    *, cc: str = "gcc-v1", user_env: dict[str, str] | None = None, extra_pins: tuple[Pin, ...] = ()
) -> dict[str, Any]:
    """A report shaped like a host-provider product: a `-host-tools` derivation whose env
    names the pinned tools by hash, and a shell whose CC points into it."""
    pins = (host_pin("cc", cc), host_pin("go", "go-1.19"), *extra_pins)
    g = Graph()
    tools = g.add("ohnix-p-host-tools", {
        "toolNames": "cc go", "toolHashes": " ".join(p.hash for p in pins[:2]),
        "toolVersions": "cc: cc 1.0\ngo: go 1.0"})  # fmt: skip
    bindir = g.out(tools) + "/bin"
    shell = g.add(
        "ohnix-p",
        {"CC": f"{bindir}/cc", "GO": f"{bindir}/go", "PATH": bindir, **(user_env or {})},
        inputs=(tools,),
    )
    shells_json = {"shells": {"p": {"env": {"OHNIX_PROVIDER": "host"}, "tools": [
        {"var": "CC", "provider": "host", "exe": "cc", "bindir": "bin", "pin": "host/cc",
         "attr": None, "patches": [], "fork": None},
        {"var": "GO", "provider": "host", "exe": "go", "bindir": "bin", "pin": "host/go",
         "attr": None, "patches": [], "fork": None},
    ]}}}  # fmt: skip
    return collect.assemble(project="p", system=SYSTEM, nix_version="2.8.0",
                          lock=Lock().with_pins(list(pins)), shells={"p": shell},
                          shells_json=shells_json, drvs=g.drvs, nar={})  # fmt: skip


def nixpkgs_project(
    *,
    patches: str = "patch-v1",
    rev: str = "1" * 40,
    go_version: str = "1.25.4",
    fetch_url: str = "https://example.org/go.tar.gz",
    fetched: str = "go-source-bytes",
    nar: dict[str, str] | None = None,
) -> tuple[dict[str, Any], Graph]:
    """A report shaped like a nixpkgs-provider product: go built from a fixed-output
    fetch plus a pinned patch source, a stand-in gcc, a builder.sh input source."""
    pin = git_pin("gop", patches, rev)
    patch_dir = fixed_output_path("source", hashlib.sha256(patches.encode()).digest(),
                                  recursive=True)  # fmt: skip
    g = Graph()
    builder_sh = src_path("builder.sh", "#!/bin/bash\n")
    tarball = g.add("go-src.tar.gz", {"url": fetch_url}, fixed=fetched)
    go = g.add(f"go-{go_version}", {"version": go_version, "patches": f"{patch_dir}/0001.patch",
               "src": g.out(tarball)}, inputs=(tarball,), srcs=(builder_sh, patch_dir))  # fmt: skip
    gcc = g.add("gcc-wrapper-14.3.0", {"version": "14.3.0"}, srcs=(builder_sh,))
    shell = g.add("ohnix-p", {"CC": g.out(gcc) + "/bin/gcc", "GO": g.out(go) + "/bin/go",
                  "PATH": f"{g.out(gcc)}/bin:{g.out(go)}/bin"}, inputs=(gcc, go))  # fmt: skip
    tool = {"provider": "nixpkgs", "bindir": "bin", "pin": None, "patches": [], "fork": None}
    shells_json = {"shells": {"p": {"env": {"OHNIX_PROVIDER": "nixpkgs"}, "tools": [
        {**tool, "var": "CC", "exe": "bin/gcc", "attr": "pkgsCross.musl64.stdenv.cc"},
        {**tool, "var": "GO", "exe": "bin/go", "attr": "go_1_25", "patches": ["gop"]},
    ]}}}  # fmt: skip
    report = collect.assemble(project="p", system=SYSTEM, nix_version="2.8.0",
                            lock=Lock().with_pins([pin]), shells={"p": shell},
                            shells_json=shells_json, drvs=g.drvs, nar=nar or {})  # fmt: skip
    return report, g
