"""What each product's shell contains: its environment and its tools, as plain data.

Pure: Config + Lock -> the `shells.json` the Nix library reads. All decisions (which
provider gives CC, which flags the libc profile needs, what the honest note says) are made
here in Python, where they are tested; the Nix side only looks things up.
"""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ohnix.config import NIXPKGS_GO, Config, ProductConfig
from ohnix.errors import ProductError, RenderError
from ohnix.pin import host, toolchain
from ohnix.pin.lockfile import Lock
from ohnix.products import Product

SYSTEMS = ("x86_64-linux", "aarch64-linux")
# OpenHarmony 4.1 has Linux host prebuilts for x86_64 only: prebuilts_download.sh picks the
# x86_64 lists on every Linux host, and the config's `linux.arm64` list names the same
# x86-64 archives (ohnix/data/prebuilts-4.1.toml, header).
PREBUILTS_SYSTEMS = ("x86_64-linux",)
MACHINES = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux", "arm64": "aarch64-linux"}
CC_VARS = tuple(host.CC_VARS.values())


@cache
def _data(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("ohnix").joinpath(f"data/{name}").read_text())


def toolchains() -> dict[str, Any]:
    return _data("toolchains.toml")


def container(system_type: str) -> list[dict[str, Any]]:
    """The build container's tools for a system type (data/container.toml): OpenHarmony's
    build_package_list.json (the same for every system type), then what the Dockerfiles
    add, each marked with its `origin`."""
    data = _data("container.toml")
    base = data["package_list"]
    out = [{**t, "origin": base["origin"]} for t in base["tools"]]
    attrs = {t["nixpkgs"] for t in out} - {"none"}
    apts = {t["apt"] for t in out}
    for t in data["system"][system_type]["tools"]:
        if t["nixpkgs"] in attrs or t["apt"] in apts:
            continue  # the package list has it already
        out.append({**t, "origin": "Dockerfile"})
    return out


@dataclass(frozen=True)
class Tool:
    """One entry of a shell's toolset; `var` is the variable naming its executable."""

    var: str | None
    provider: str
    exe: str  # relative to the derivation's root (host: the program name)
    bindir: str = "bin"
    pin: str | None = None  # lock key, for host and ohos-prebuilts
    attr: str | None = None  # nixpkgs attribute path
    patches: tuple[str, ...] = ()
    fork: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"var": self.var, "provider": self.provider, "exe": self.exe,
                "bindir": self.bindir, "pin": self.pin, "attr": self.attr,
                "patches": list(self.patches), "fork": self.fork}  # fmt: skip


def _format(attr: str, config: Config) -> str:
    return attr.replace("{llvm}", str(config.toolchain.llvm)).replace(
        "{go}", (config.toolchain.go or NIXPKGS_GO).replace(".", "_")
    )


# The OHOS target toolchain's executables (nix/wrapper.sh), by shell variable.
TARGET_TOOLS = {"CC": "clang", "CXX": "clang++", "AR": "ar", "LD": "ld.lld", "NM": "nm",
                "OBJCOPY": "objcopy", "STRIP": "strip", "RANLIB": "ranlib"}  # fmt: skip
MUSL_LIBC = "musl {version} (OpenHarmony's fork base)"


def musl_libc() -> str:
    return MUSL_LIBC.format(version=toolchain.data()["sources"]["musl"]["version"])


def cc_tools(pc: ProductConfig, config: Config) -> tuple[list[Tool], str]:
    """The C toolchain (CC CXX AR LD NM OBJCOPY STRIP RANLIB) and the libc really used."""
    provider = pc.provider_for("cc")
    product = pc.product
    compiler = toolchain.compiler_for(pc)
    if compiler is not None:
        tools = [
            Tool(var, "ohnix", f"bin/{product.triple}-{exe}") for var, exe in TARGET_TOOLS.items()
        ]
        who = (
            "the host's clang-19"
            if compiler == "host"
            else f"nixpkgs' clang {config.toolchain.llvm}"
        )
        return tools, f"{musl_libc()}, built by ohnix; compiled by {who}"
    if provider == "host":
        tools = [Tool(t.var, "host", t.program, pin=f"host/{t.program}")
                 for t in host.tools_for(pc) if t.var != "GO"]  # fmt: skip
        libc = f"the host's {host.prefix_for(pc).rstrip('-')} toolchain (glibc/newlib)"
        return tools, f"{libc}, standing in for {product.libc}: a demo, not a shippable build"
    if provider == "ohos-prebuilts":
        clang = toolchains()["prebuilts"]["clang"]
        tools = [
            Tool(var, "ohos-prebuilts", exe, pin="prebuilts/clang", bindir=clang["bindir"])
            for var, exe in sorted(clang["tools"].items())
        ]
        return tools, f"{product.libc} through OpenHarmony's clang"
    gcc = toolchains()["gcc"].get(product.triple)
    if gcc is not None:
        cc = f"{gcc['set']}.stdenv.cc"
        binutils = f"{cc}.bintools"
        names = dict(zip(CC_VARS, host.CC_TOOLS, strict=True))
        tools = [
            Tool(var, "nixpkgs", f"bin/{gcc['prefix']}{names[var]}",
                 attr=cc if var in ("CC", "CXX") else binutils)
            for var in CC_VARS
        ]  # fmt: skip
        return tools + _llvm(config, with_vars=False), str(gcc["libc"])
    # No stock cross GCC (arm-linux-ohos is musl + softfp): clang and LLVM's binutils.
    llvm = _llvm(config, with_vars=True)
    return llvm, f"none bundled: clang targets {product.triple}; set OHOS_SYSROOT to link"


def _llvm(config: Config, *, with_vars: bool) -> list[Tool]:
    spec = toolchains()["llvm"]
    clang, lld, llvm = (_format(spec[k], config) for k in ("clang", "lld", "llvm"))
    if not with_vars:
        return [Tool("CLANG", "nixpkgs", "bin/clang", attr=clang),
                Tool(None, "nixpkgs", "bin/ld.lld", attr=lld)]  # fmt: skip
    pairs = {"CC": (clang, "clang"), "CXX": (clang, "clang++"), "LD": (lld, "ld.lld"),
             "AR": (llvm, "llvm-ar"), "NM": (llvm, "llvm-nm"), "OBJCOPY": (llvm, "llvm-objcopy"),
             "STRIP": (llvm, "llvm-strip"), "RANLIB": (llvm, "llvm-ranlib")}  # fmt: skip
    return [Tool(var, "nixpkgs", f"bin/{exe}", attr=attr) for var, (attr, exe) in pairs.items()]


def go_tool(pc: ProductConfig, config: Config) -> Tool | None:
    if not pc.product.go.supported:
        return None
    if toolchain.builds_go(pc):
        return Tool("GO", "ohnix", "bin/go")
    provider = pc.provider_for("go")
    if provider == "host":
        return Tool("GO", "host", "go", pin="host/go")
    if provider == "ohos-prebuilts":
        raise RenderError(
            f"[products.{pc.name}]: OpenHarmony ships no Go prebuilt.",
            hint='Use tools = { go = "nixpkgs" } or { go = "host" }.',
        )
    tc = config.toolchain
    return Tool("GO", "nixpkgs", "bin/go", attr=_format(toolchains()["go"]["attr"], config),
                patches=tuple(f"{p}" for p in tc.go_patches), fork=tc.go_fork)  # fmt: skip


@dataclass(frozen=True)
class GoChoice:
    """The Go a product's shell really gets, for `ohnix config`."""

    provider: str | None  # host, nixpkgs; None: the product has no Go
    version: str | None  # 1.19.8 (built), 1.25 (a nixpkgs release line); None: not known
    source: str  # where it comes from, in words

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "version": self.version, "source": self.source}


def go_choice(pc: ProductConfig, config: Config, lock: Lock | None) -> GoChoice:
    go = pc.product.go
    if not go.supported:
        return GoChoice(None, None, f"none: {go.reason or 'Go does not target this product'}")
    if toolchain.builds_go(pc):
        built = toolchain.built_go()
        return GoChoice("host", built["version"],
                        f"built by ohnix from go{built['version']}.src.tar.gz")  # fmt: skip
    provider = pc.provider_for("go")
    if provider == "host":
        held = lock.get("host/go") if lock else None
        if held is None:
            return GoChoice("host", None, "this machine's `go` (its version: after `ohnix lock`)")
        return GoChoice("host", host.go_version(held), f"this machine's `go`, {held.path}")
    if provider == "ohos-prebuilts":
        return GoChoice(provider, None, 'none: OpenHarmony ships no Go prebuilt; set tools = '
                        '{ go = "nixpkgs" } or { go = "host" }')  # fmt: skip
    attr = _format(toolchains()["go"]["attr"], config)
    return GoChoice("nixpkgs", config.toolchain.go or NIXPKGS_GO,
                    f"nixpkgs' {attr} at the pinned revision")  # fmt: skip


def go_choices(config: Config) -> dict[str, GoChoice]:
    """Each product's Go; an error when ohnix.toml asks for a Go its provider cannot give."""
    from ohnix.errors import LockError
    from ohnix.pin import lockfile

    toolchain.check_go(config)
    try:
        held = lockfile.read(config.root)
    except LockError:
        held = None  # a damaged lock: only the versions it pinned are unknown
    if held is not None:
        host.check_go(config, held)
    return {pc.name: go_choice(pc, config, held) for pc in config.products}


def container_tools(pc: ProductConfig) -> list[Tool]:
    """The OpenHarmony build container's host tools, where the shell takes tools from
    nixpkgs (the host provider uses the machine's own; ohos-prebuilts adds gn, ninja,
    node, python and cmake from OpenHarmony's archives)."""
    out: list[Tool] = []
    if pc.provider == "ohos-prebuilts":
        for name in ("gn", "ninja", "node", "python", "cmake"):
            spec = toolchains()["prebuilts"][name]
            out += [
                Tool(var, "ohos-prebuilts", exe, pin=f"prebuilts/{name}", bindir=spec["bindir"])
                for var, exe in sorted(spec["tools"].items())
            ]
    elif pc.provider == "nixpkgs":
        attrs = {t["nixpkgs"] for t in container(pc.product.system_type)} - {"none"}
        out += [Tool(None, "nixpkgs", "", attr=attr) for attr in sorted(attrs)]
    return out


def host_system() -> str:
    """Nix's system string for this machine, without starting Nix."""
    machine = platform.machine()
    return MACHINES.get(machine, f"{machine}-linux")


def uses_prebuilts(pc: ProductConfig) -> bool:
    return pc.provider == "ohos-prebuilts" or "ohos-prebuilts" in dict(pc.tools).values()


def refusal(pc: ProductConfig, system: str) -> str | None:
    """Why the product's shell cannot be built for `system`, or None."""
    if system in PREBUILTS_SYSTEMS or not uses_prebuilts(pc):
        return None
    return (
        f"[products.{pc.name}] takes tools from the ohos-prebuilts provider, which has "
        f"nothing for {system}: OpenHarmony 4.1 ships no {system} host prebuilts (its "
        "prebuilts_download_config.json `linux.arm64` list downloads the same x86_64 "
        "archives, and prebuilts_download.sh uses the x86_64 list on every Linux host)."
    )


def check_system(pc: ProductConfig, system: str) -> None:
    """Refuse, in one paragraph, a shell that cannot work on `system`."""
    reason = refusal(pc, system)
    if reason is not None:
        raise ProductError(
            reason,
            hint=f'Use provider = "nixpkgs" or "host" for {pc.name} on this machine, '
            "or enter its shell on an x86_64-linux machine.",
        )


def libc_flags(product: Product, *, clang: bool) -> tuple[str, str]:
    """CGO_CFLAGS and CGO_LDFLAGS of the product's libc profile."""
    cflags: list[str] = []
    ldflags: list[str] = []
    if clang:
        cflags.append(f"--target={product.triple}")
        ldflags += [f"--target={product.triple}", "-fuse-ld=lld"]
    if product.libc == "ohos-musl" and clang:
        cflags.append("-D__MUSL__")
    if product.kernel == "liteos_m":
        cflags += ["-ffreestanding"]
        ldflags += ["-nostdlib"]
    # The product's own architecture flags, as OpenHarmony's build passes them
    # (data/products.toml `cflags`, each cited there).
    cflags += product.cflags
    return " ".join(cflags), " ".join(ldflags)


def shell(pc: ProductConfig, config: Config, lock: Lock | None = None) -> dict[str, Any]:
    """One shell of shells.json (without `lock`: its tools and environment only)."""
    product = pc.product
    cc, libc = cc_tools(pc, config)
    go = go_tool(pc, config)
    tools = cc + ([go] if go else []) + container_tools(pc)
    compiler = toolchain.compiler_for(pc)
    clang = any(t.var == "CC" and "clang" in t.exe for t in tools)
    if compiler is not None:
        # The wrapper passes --target, --sysroot, -resource-dir and the target flags; the
        # OHOS driver links with lld by default (-fuse-ld in CC would break cgo's -Werror).
        cflags, ldflags = " ".join(("-D__MUSL__", *product.cflags)), ""
    else:
        cflags, ldflags = libc_flags(product, clang=clang)
    env: dict[str, str] = {
        "OHOS_PRODUCT": product.name,
        "OHOS_BOARD": product.board,
        "OHOS_SYSTEM_TYPE": product.system_type,
        "OHOS_KERNEL": product.kernel,
        "OHOS_CPU": product.cpu,
        "OHOS_TARGET_TRIPLE": product.triple,
        "OHOS_LIBC": product.libc,
        "OHOS_FLOAT_ABI": product.float_abi,
        "OHNIX_PROVIDER": pc.provider,
        "OHNIX_LIBC_USED": libc,
        "CFLAGS": cflags,
        "LDFLAGS": ldflags,
    }
    if product.kconfig:
        env["OHOS_KCONFIG"] = " ".join(product.kconfig)
    if compiler is not None:
        env["OHOS_LOADER"] = toolchain.loader(product.triple)
    if product.go.supported:
        env.update({"CGO_ENABLED": "1", "GOOS": "linux", "GOARCH": str(product.go.goarch),
                    "CGO_CFLAGS": cflags, "CGO_LDFLAGS": ldflags})  # fmt: skip
        if product.go.goarm:
            env["GOARM"] = product.go.goarm
    else:
        env.update({"CGO_ENABLED": "0", "OHNIX_GO": f"not supported: {product.go.reason}"})
    # `nix develop` runs shellHook: a prompt that says which product's shell this is.
    env["shellHook"] = 'PS1="(ohnix:$OHOS_PRODUCT) $PS1"'
    env.update(dict(pc.env))  # the user's own variables win
    out: dict[str, Any] = {
        "name": f"ohnix-{pc.name}",
        "env": dict(sorted(env.items())),
        "tools": [t.as_dict() for t in tools],
    }
    if compiler is not None:
        ohos: dict[str, Any] = {"compiler": compiler, "runtime": toolchain.runtime(pc)}
        if toolchain.builds_go(pc) and lock is not None:
            ohos["go"] = toolchain.go(config, lock)
        out["ohos"] = ohos
    # The Nix library throws this message instead of building the shell for that system.
    refuse = {s: r for s in SYSTEMS if (r := refusal(pc, s)) is not None}
    if refuse:
        out["refuse"] = refuse
    return out


def data(config: Config, lock: Lock) -> dict[str, Any]:
    """shells.json: everything the Nix library needs besides ohnix.lock."""
    from ohnix.store import nar

    host_sha = {p.key: nar.parse_hash(p.hash).hex() for p in lock.pins if p.kind == "host"}
    out: dict[str, Any] = {
        "version": 1,
        "project": config.project.name,
        "systems": list(SYSTEMS),
        "hostSha256": dict(sorted(host_sha.items())),
        "shells": {pc.name: shell(pc, config, lock) for pc in config.products},
    }
    compilers = {toolchain.compiler_for(pc) for pc in config.products} - {None}
    if compilers:
        out["compilers"] = {}
        if "host" in compilers:
            out["compilers"]["host"] = toolchain.host_compiler(lock)
        if "nixpkgs" in compilers:
            out["compilers"]["nixpkgs"] = toolchain.nixpkgs_compiler(config)
    return out


def asked_attrs(config: Config) -> dict[str, str]:
    """The nixpkgs attributes that a [toolchain] key names, with that key (for errors)."""
    go = config.toolchain.go
    out = {_format(toolchains()["go"]["attr"], config):
           f'[toolchain].go = "{go}"' if go else f"the default Go ({NIXPKGS_GO})"}  # fmt: skip
    for attr in toolchains()["llvm"].values():
        out[_format(attr, config)] = f"[toolchain].llvm = {config.toolchain.llvm}"
    return out


def nixpkgs_attrs(config: Config) -> list[str]:
    """Every nixpkgs attribute path the shells use (for the render-time check)."""
    attrs = {
        str(t["attr"])
        for pc in config.products
        for t in shell(pc, config)["tools"]
        if t["provider"] == "nixpkgs"
    }
    nixpkgs_built = [pc for pc in config.products if toolchain.compiler_for(pc) == "nixpkgs"]
    if nixpkgs_built:
        c = toolchain.nixpkgs_compiler(config)
        attrs |= {c["clang"], f"{c['clang']}.lib", c["lld"], c["llvm"], c["bash"], *c["build"]}
        attrs |= {toolchain.runtime(pc)["kernelHeaders"]["nixpkgs"] for pc in nixpkgs_built}
    return sorted(attrs)
