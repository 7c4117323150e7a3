"""The pins of the OHOS target toolchain that ohnix's Nix library builds for Linux OHOS
products (nix/ohos.nix): the musl, LLVM and Go source archives of data/runtimes.toml, the
host provider's clang-19 and build tools, and the project's Go patch files.

Which products get it: a Linux product whose libc is OpenHarmony's musl, with its C
toolchain from the `host` provider (unless `host_prefix` asks for a Debian GCC instead, the
explicit glibc stand-in) or from `nixpkgs`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from ohnix.config import Config, ProductConfig, is_patch_file
from ohnix.errors import ConfigError, LockError
from ohnix.pin.lockfile import Lock, Pin, Spec
from ohnix.store import nar

Compiler = Literal["host", "nixpkgs"]
SOURCES = ("go", "llvm", "musl")
# Target flags reach a generated wrapper script and a cmake command line: flags only.
FLAG = re.compile(r"^-[A-Za-z0-9][A-Za-z0-9_=.,+/-]*$")


@cache
def data() -> dict[str, Any]:
    text = resources.files("ohnix").joinpath("data/runtimes.toml").read_text()
    return tomllib.loads(text)


def compiler_for(pc: ProductConfig) -> Compiler | None:
    """Who gives the compiler of the product's OHOS target toolchain, or None when the
    product has none (LiteOS, OpenHarmony's prebuilt clang, the host GCC stand-in)."""
    product = pc.product
    if not (product.is_linux and product.libc == "ohos-musl"):
        return None
    if product.triple not in data()["triples"]:
        return None
    provider = pc.provider_for("cc")
    if provider == "host" and not pc.host_prefix:
        return "host"
    if provider == "nixpkgs":
        return "nixpkgs"
    return None


def builds_go(pc: ProductConfig) -> bool:
    """Whether the product's Go is the patched Go that ohnix builds from source (host
    provider; the nixpkgs provider patches nixpkgs' Go instead)."""
    return (
        compiler_for(pc) == "host" and pc.provider_for("go") == "host" and pc.product.go.supported
    )


def built_go() -> dict[str, str]:
    """The Go the host provider builds: its `version` (1.19.8) and release line `go` (1.19)."""
    src = data()["sources"]["go"]
    return {"version": str(src["version"]), "go": str(src["go"]), "url": str(src["url"])}


def check_go(config: Config) -> None:
    """[toolchain].go must be a Go the products' provider can give: the host provider builds
    exactly the Go of data/runtimes.toml (the source its OHOS toolchain build pins), so
    another release line there would be silently ignored."""
    asked = config.toolchain.go
    built = built_go()
    names = [pc.name for pc in config.products if builds_go(pc)]
    if asked is None or asked == built["go"] or not names:
        return
    raise ConfigError(
        f"{config.path}: [toolchain].go asks for Go {asked}, but the host provider builds "
        f"Go {built['version']} from source (go{built['version']}.src.tar.gz) for "
        f"{', '.join(names)}, and no other Go.",
        hint=f'Set go = "{built["go"]}" (or remove the key), or take Go from nixpkgs for '
        f'these products: tools = {{ go = "nixpkgs" }} under [products.{names[0]}] (with a '
        f"[nixpkgs] that has go_{asked.replace('.', '_')}).",
    )


def host_programs(config: Config) -> list[str]:
    """The host programs the OHOS toolchain builds run (pinned like every host tool)."""
    if not any(compiler_for(pc) == "host" for pc in config.products):
        return []
    wanted = set(data()["host"]["programs"])
    if any(builds_go(pc) for pc in config.products):
        wanted.add("go")  # the bootstrap Go
    return sorted(wanted)


def _file_name(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name


def source_specs(config: Config) -> list[Spec]:
    keys: set[str] = set()
    for pc in config.products:
        if compiler_for(pc) is not None:
            keys |= {"musl", "llvm"}
        if builds_go(pc):
            keys.add("go")
    out = []
    for key in sorted(keys):
        url = data()["sources"][key]["url"]
        out.append(Spec(key=f"runtimes/{key}", kind="url", url=url, store_name=_file_name(url)))
    return out


def patch_specs(config: Config) -> list[Spec]:
    if not any(builds_go(pc) for pc in config.products):
        return []
    return [
        Spec(key=f"patches/{patch_name(rel)}", kind="file", url=rel, store_name=patch_name(rel))
        for rel in config.toolchain.go_patches
        if is_patch_file(rel)
    ]


def patch_name(rel: str) -> str:
    return "".join(c if c.isalnum() or c in "+-._" else "_" for c in PurePosixPath(rel).name)


def pin_file(spec: Spec, root: Path) -> Pin:
    """A project file by its flat sha256 (Nix adds it with builtins.path and this hash)."""
    digest = hashlib.sha256((root / spec.url).read_bytes()).digest()
    return Pin(key=spec.key, kind="file", url=spec.url, hash=nar.to_sri(digest),
               spec=spec.digest(), store_name=spec.store_name)  # fmt: skip


def in_store(spec: Spec) -> Pin | None:
    """A runtime source whose archive the store already has (seeded, or fetched before):
    its hash is known, so it is pinned without a download."""
    if spec.group != "runtimes":
        return None
    from ohnix.store import nix

    digest = bytes.fromhex(data()["sources"][spec.name]["sha256"])
    path = nar.fixed_output_path(spec.store_name, digest, recursive=False)
    if not nix.is_valid(path):
        return None
    return Pin(key=spec.key, kind="url", url=spec.url, hash=nar.to_sri(digest),
               spec=spec.digest(), store_name=spec.store_name)  # fmt: skip


def debian_file(spec: Spec) -> str | None:
    """A runtime source's archive as Debian's source package names it."""
    src = data()["sources"].get(spec.name) if spec.group == "runtimes" else None
    return str(src["debian"]["file"]) if src else None


def expected(pin: Pin) -> None:
    """A runtime source must be the archive data/runtimes.toml names, byte for byte."""
    if pin.group != "runtimes":
        return
    src = data()["sources"][pin.name]
    want = nar.to_sri(bytes.fromhex(src["sha256"]))
    if pin.hash != want:
        raise LockError(
            f"`{pin.key}`: the archive for {pin.url} hashes to {pin.hash}, but ohnix builds "
            f"the OHOS toolchain from exactly {want} ({src['debian']['file']} of Debian's "
            f"`{src['debian']['package']}` source package has it).",
            hint=f"Fetch it again (Debian's `{src['debian']['package']}` source package) and run "
            "`ohnix lock --seed DIR`.",
        )


def seed_hint() -> str:
    from ohnix.pin import debian

    packages = " ".join(sorted(s["debian"]["package"] for s in data()["sources"].values()))
    return (
        "The OHOS toolchain's sources (musl, LLVM, Go) are in Debian's source packages: add "
        f"a `deb-src` line for {debian.sources_release()} to apt's sources, `apt-get update`, "
        f"run `apt-get source --download-only {packages}` in an empty DIR, then `ohnix lock "
        "--seed DIR` (it takes Debian's file names)."
    )


def check_flags(pc: ProductConfig) -> tuple[str, ...]:
    flags = pc.product.cflags
    bad = [f for f in flags if not FLAG.match(f)]
    if bad:
        raise LockError(
            f"[products.{pc.name}]: the target flags {bad} are not plain compiler flags.",
            hint="Target flags look like -mcpu=cortex-a7; they reach a command line.",
        )
    return flags


def runtime_name(triple: str, flags: tuple[str, ...]) -> str:
    if not flags:
        return triple
    return f"{triple}-{hashlib.sha256(' '.join(flags).encode()).hexdigest()[:8]}"


def runtime(pc: ProductConfig) -> dict[str, Any]:
    """The runtime a product needs, as shells.json describes it to nix/ohos.nix."""
    triple = pc.product.triple
    t = data()["triples"][triple]
    flags = check_flags(pc)
    return {
        "name": runtime_name(triple, flags),
        "triple": triple,
        "targetFlags": list(flags),
        "loaderArch": t["loader"],
        "muslPatch": bool(t.get("musl_patch", False)),
        "llvmTop": data()["sources"]["llvm"]["top"],
        "kernelHeaders": {"host": t["host_headers"], "nixpkgs": t["nixpkgs_headers"]},
    }


def loader(triple: str) -> str:
    return f"/lib/ld-musl-{data()['triples'][triple]['loader']}.so.1"


def go(config: Config, lock: Lock) -> dict[str, Any]:
    patches = []
    for rel in config.toolchain.go_patches:
        if not is_patch_file(rel):
            continue
        pin = lock.get(f"patches/{patch_name(rel)}")
        if pin is None:
            raise LockError(f"ohnix.lock has no pin for the Go patch {rel}.",
                            hint="Run `ohnix lock`.")  # fmt: skip
        patches.append({"path": rel, "store_name": pin.store_name, "hash": pin.hash})
    if config.toolchain.go_fork:
        raise LockError(
            f"[toolchain] go_fork = {config.toolchain.go_fork!r}: the host provider builds Go "
            f"from go{data()['sources']['go']['version']} with patches; a fork's source is "
            "taken by the nixpkgs provider only.",
            hint='Give the fork\'s changes as go_patches, or use tools = { go = "nixpkgs" }.',
        )
    sets = [ref for ref in config.toolchain.go_patches if not is_patch_file(ref)]
    return {"source": "go", "version": data()["sources"]["go"]["version"], "patches": patches,
            "patchSets": sets}  # fmt: skip


def host_compiler(lock: Lock) -> dict[str, Any]:
    """shells.json `compilers.host`: the host clang's directories, from the lock's pins."""
    host = data()["host"]
    clang = lock.get(f"host/{host['clang']}")
    if clang is None or clang.path is None:
        raise LockError("ohnix.lock has no pin for the host's clang-19.", hint="Run `ohnix lock`.")
    bindir = str(PurePosixPath(clang.path).parent)
    go = lock.get("host/go")
    pins = [f"host/{p}" for p in host["programs"]] + (["host/go"] if go else [])
    return {
        "pins": pins,
        "path": "/usr/bin:/bin",
        "CLANG": f"{bindir}/clang",
        "CLANGXX": f"{bindir}/clang++",
        "LLVM_AR": f"{bindir}/llvm-ar",
        "LLVM_RANLIB": f"{bindir}/llvm-ranlib",
        "LLVM_NM": f"{bindir}/llvm-nm",
        "llvmBin": bindir,
        "lldBin": bindir,
        "builtinHeaders": f"{PurePosixPath(bindir).parent}/lib/clang/{host['clang_major']}/include",
        "goBootstrap": str(PurePosixPath(go.path).parent.parent) if go and go.path else None,
    }


def nixpkgs_compiler(config: Config) -> dict[str, Any]:
    spec = data()["nixpkgs"]
    llvm = str(config.toolchain.llvm)

    def fmt(attr: str) -> str:
        return attr.replace("{llvm}", llvm)

    return {"clang": fmt(spec["clang"]), "lld": fmt(spec["lld"]), "llvm": fmt(spec["llvm"]),
            "bash": spec["bash"], "build": list(spec["build"]), "clangMajor": llvm}  # fmt: skip


def missing_sandbox_paths(nix_config: dict[str, Any]) -> list[str]:
    """The host directories the host provider's toolchain builds need that Nix's sandbox
    does not show (none when the sandbox is off)."""
    if str(nix_config.get("sandbox", "")).lower() not in ("true", "relaxed"):
        return []
    value = nix_config.get("sandbox-paths", "")
    words = value if isinstance(value, list) else str(value).split()
    shown = {str(w).split("=", 1)[0].rstrip("?") for w in words}
    wanted = [p.rstrip("?") for p in data()["host"]["sandbox_paths"]]
    return [p for p in wanted if p not in shown and Path(p).exists()]


SANDBOX_HINT = (
    "Add `extra-sandbox-paths = /usr /lib /lib64? /bin` to /etc/nix/nix.conf (and restart "
    "nix-daemon if one runs; `ohnix doctor` checks it). Nix's sandbox stays on; it then shows "
    "builds this machine's system directories, which the host provider uses by design."
)


def check_sandbox(config: Config) -> None:
    """Refuse, before Nix starts a long build, a sandbox that hides the host's clang."""
    if not any(compiler_for(pc) == "host" for pc in config.products):
        return
    from ohnix.store import nix

    missing = missing_sandbox_paths(nix.show_config())
    if missing:
        raise LockError(
            f"Nix's sandbox hides {' '.join(missing)}, where this machine's clang-19, cmake "
            "and Go live: the host provider builds the OHOS runtimes and Go with them.",
            hint=SANDBOX_HINT,
        )


def check_sources(lock: Lock) -> None:
    """The runtime sources must be in the store: inside the sandbox Nix cannot fetch a
    mirror:// URL, and offline nothing at all."""
    gone = [
        p for p in lock.pins if p.group == "runtimes" and not Path(str(p.store_path())).exists()
    ]
    if gone:
        raise LockError(
            "The store lost the OHOS toolchain's sources "
            + ", ".join(f"`{p.key}` ({p.store_name})" for p in gone)
            + " (garbage-collected, or another machine's lock).",
            hint=seed_hint(),
        )


def built_before(pc: ProductConfig) -> bool:
    """Whether this machine's store has built the product's runtime and Go before (by name:
    a hint for the progress notice, not a build decision)."""
    wanted = [f"-ohos-runtimes-{runtime(pc)['name']}"]
    if builds_go(pc):
        wanted.append(f"-ohnix-go-{data()['sources']['go']['version']}")
    store = Path(nar.STORE_DIR)
    return all(any(store.glob(f"*{name}")) for name in wanted)
