"""The `host` provider: this machine's own cross tools, pinned by content hash and version.

Honest about being non-hermetic: the lock records each executable's path, sha256 and
`--version`, so `ohnix lock --check` notices when the machine's compiler changes, and the
shell and build report name the libc really used (a glibc GCC standing in for an OHOS musl
clang is a demo, not a shippable artifact).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ohnix import proc
from ohnix.atomic import temp_prefix
from ohnix.config import Config, ProductConfig
from ohnix.errors import CommandError, ConfigError, OhnixError, PrefetchError
from ohnix.pin import toolchain
from ohnix.pin.lockfile import Lock, Pin, Spec
from ohnix.store import nar

# The closest Debian cross toolchain for each OpenHarmony triple (package in the comment).
DEBIAN_PREFIX = {
    "aarch64-linux-ohos": "aarch64-linux-gnu-",  # gcc-aarch64-linux-gnu (glibc)
    "arm-linux-ohos": "arm-linux-gnueabi-",  # gcc-arm-linux-gnueabi (soft-float ABI = softfp's)
    "arm-liteos-ohos": "arm-linux-gnueabi-",
    "riscv64-linux-ohos": "riscv64-linux-gnu-",  # gcc-riscv64-linux-gnu
    "x86_64-linux-ohos": "x86_64-linux-gnu-",  # gcc (the host's own)
    "arm-none-eabi": "arm-none-eabi-",  # gcc-arm-none-eabi
    "riscv32-unknown-elf": "riscv64-unknown-elf-",  # gcc-riscv64-unknown-elf, -march=rv32imac
}
CC_TOOLS = ("gcc", "g++", "ar", "ld", "nm", "objcopy", "strip", "ranlib")
# Shell variable for each tool (CC, CXX, ...), in the order the shell exports them.
CC_VARS = dict(
    zip(CC_TOOLS, ("CC", "CXX", "AR", "LD", "NM", "OBJCOPY", "STRIP", "RANLIB"), strict=True)
)
VERSION_TIMEOUT_S = 30.0
GO_VERSION = re.compile(r"\bgo(\d+\.\d+(?:\.\d+)?)")  # `go version go1.19.8 linux/amd64`
# Nix's sandbox (its default) hides the host's file system from builders, so the host
# provider's derivations are built by static programs that ohnix *copies* into the store
# (Debian's bash-static and busybox-static): {program: its name under the store path's bin/}.
# Everything else stays on the host and is only linked to.
SANDBOX_BUILDERS = {"bash-static": "bash", "busybox": "busybox"}
BUILDER_HINT = (
    "Install Debian's bash-static and busybox-static (`apt-get install bash-static "
    "busybox-static`), or give this project a [nixpkgs] so that its shells are built with "
    "nixpkgs' bash."
)


@dataclass(frozen=True)
class HostTool:
    var: str  # CC, CXX, ..., GO
    program: str  # aarch64-linux-gnu-gcc, go


def prefix_for(pc: ProductConfig) -> str:
    if pc.host_prefix:
        return pc.host_prefix
    try:
        return DEBIAN_PREFIX[pc.product.triple]
    except KeyError:
        raise PrefetchError(
            f"No host cross toolchain is known for `{pc.product.triple}` (product {pc.name}).",
            hint=f'Set host_prefix = "<prefix>-" under [products.{pc.name}] in ohnix.toml.',
        ) from None


def tools_for(pc: ProductConfig) -> tuple[HostTool, ...]:
    """The host tools a product's shell gets (only those whose provider is `host`)."""
    out: list[HostTool] = []
    if pc.provider_for("cc") == "host" and toolchain.compiler_for(pc) is None:
        prefix = prefix_for(pc)
        out += [HostTool(CC_VARS[t], prefix + t) for t in CC_TOOLS]
    if pc.provider_for("go") == "host" and pc.product.go.supported and not toolchain.builds_go(pc):
        out.append(HostTool("GO", "go"))  # else Go is built from source (host/go bootstraps it)
    return tuple(out)


def go_version(pin: Pin) -> str | None:
    """The version (1.19.8) of a pinned host `go`, from its recorded `go version`."""
    match = GO_VERSION.search(pin.version or "")
    return match.group(1) if match else None


def go_line(pin: Pin) -> str | None:
    """The release line (1.19) of a pinned host `go`."""
    version = go_version(pin)
    return ".".join(version.split(".")[:2]) if version else None


def takes_host_go(pc: ProductConfig) -> bool:
    """Whether the product's shell runs this machine's own `go` (not one ohnix builds)."""
    return any(t.var == "GO" for t in tools_for(pc))


def check_go(config: Config, lock: Lock) -> None:
    """[toolchain].go against this machine's `go`, for the products whose shell takes it
    from PATH: its version is known once `ohnix lock` has pinned it."""
    asked = config.toolchain.go
    names = [pc.name for pc in config.products if takes_host_go(pc)]
    held = lock.get("host/go")
    if asked is None or not names or held is None or go_line(held) == asked:
        return
    raise ConfigError(
        f"{config.path}: [toolchain].go asks for Go {asked}, but the host provider gives "
        f"{', '.join(names)} this machine's `go` ({held.path}: {held.version}).",
        hint=f"Put Go {asked} first on PATH and run `ohnix lock`, set go = "
        f'"{go_line(held) or "MAJOR.MINOR"}", or take Go from nixpkgs: tools = {{ go = '
        f'"nixpkgs" }} under [products.{names[0]}].',
    )


def needs_builders(config: Config) -> bool:
    """Whether the shells are built by the copied static builders: when some tool comes from
    the host (the OHOS toolchain's host builds included), or when there is no nixpkgs to
    take a bash from."""
    return config.nixpkgs is None or any(
        tools_for(pc) or toolchain.compiler_for(pc) == "host" for pc in config.products
    )


def programs(config: Config) -> list[str]:
    """Every host program the lock pins for this configuration."""
    wanted = {t.program for pc in config.products for t in tools_for(pc)}
    wanted |= set(toolchain.host_programs(config))
    if needs_builders(config):
        wanted.add("bash-static")  # the shells' builder
        # busybox builds the host-tools derivation and the nixpkgs-less prebuilt wrappers:
        # only when a shell has either (an OHOS-toolchain-only shell has neither).
        host_tools = any(tools_for(pc) for pc in config.products)
        if host_tools or (config.nixpkgs is None and config.uses("ohos-prebuilts")):
            wanted.add("busybox")
    return sorted(wanted)


def spec(program: str) -> Spec:
    return Spec(key=f"host/{program}", kind="host", url=program, store_name=store_name(program))


def store_name(program: str) -> str:
    return "host-" + "".join(c if c.isalnum() or c in "+-._" else "_" for c in program)


def locate(program: str) -> Path:
    found = proc.host_which(program)
    if found is None:
        from ohnix.pin import debian

        install = debian.install_hint(program) or "Install it"
        hint = (
            BUILDER_HINT
            if program in SANDBOX_BUILDERS
            else f"{install}, set host_prefix, or choose another provider for this product."
        )
        raise PrefetchError(f"The host tool `{program}` is not on PATH.", hint=hint)
    return Path(os.path.realpath(found))


def content_hash(program: str) -> tuple[Path, str]:
    path = locate(program)
    return path, nar.to_sri(nar.flat_hash(path))


def pin(spec: Spec) -> Pin:
    program = spec.url
    path, digest = content_hash(program)
    args = ["version"] if Path(program).name == "go" else ["--version"]
    res = proc.run([str(path), *args], timeout=VERSION_TIMEOUT_S, check=False)
    lines = (res.stdout or res.stderr).strip().splitlines()
    version = lines[0].strip() if lines else "unknown"
    held = Pin(
        key=spec.key,
        kind="host",
        url=program,
        hash=digest,
        spec=spec.digest(),
        store_name=spec.store_name,
        path=str(path),
        version=version,
    )
    if program not in SANDBOX_BUILDERS:
        return held
    held = replace(
        held, nar_hash=nar.to_sri(hashlib.sha256(copied_nar(held, path.read_bytes())).digest())
    )
    add_to_store([held])
    return held


def copied_nar(pin: Pin, data: bytes) -> bytes:
    """The NAR of the store path a sandbox builder is copied to: `bin/<name>`, executable."""
    return nar.memory_nar({b"bin": {SANDBOX_BUILDERS[pin.url].encode(): data}})


def builder_path(pin: Pin) -> str:
    """Where a copied builder lives in the store (`Pin.store_path`), which it must have."""
    path = pin.store_path()
    if path is None:
        raise OhnixError(f"ohnix.lock: `{pin.key}` has no nar_hash.", hint="Run `ohnix lock`.")
    return path


def unchanged(pin: Pin) -> bool:
    """Whether the host tool is still the one pinned (pure Python: no command runs)."""
    try:
        path, digest = content_hash(pin.url)
    except PrefetchError:
        return False
    copied_ok = pin.url not in SANDBOX_BUILDERS or pin.nar_hash is not None
    return str(path) == pin.path and digest == pin.hash and copied_ok


def verify(lock: Lock) -> None:
    """Refuse to build or enter a shell with a host tool that changed since it was pinned:
    the lock (and the shell's .drv) would name one compiler while another one ran."""
    changed = [p for p in lock.pins if p.kind == "host" and not unchanged(p)]
    if changed:
        names = ", ".join(f"`{p.url}` ({p.path})" for p in changed)
        raise OhnixError(
            f"The host tools {names} changed or disappeared since ohnix.lock pinned them.",
            hint="Run `ohnix lock` to pin what is installed now, then `ohnix render`.",
        )


def ensure_in_store(lock: Lock) -> None:
    """Check the host tools, and put back the copied builders if the store lost them
    (garbage collection): Nix cannot fetch them itself inside its sandbox."""
    verify(lock)
    from ohnix.store import nix

    builders = [p for p in lock.pins if p.kind == "host" and p.url in SANDBOX_BUILDERS]
    copied = {builder_path(p): p for p in builders}
    valid = set(nix.valid_paths(sorted(copied)))
    add_to_store([p for path, p in copied.items() if path not in valid])


def add_to_store(pins: Iterable[Pin]) -> None:
    """Copy each builder into the store at exactly its pinned path (`nix-store --add-fixed
    --recursive`, which a user of a Nix daemon may run without being trusted)."""
    from ohnix.store import nix

    for pin in pins:
        expected = builder_path(pin)
        if Path(expected).exists():
            continue
        work = Path(tempfile.mkdtemp(prefix=temp_prefix("builder")))
        try:
            tree = work / pin.store_name
            (tree / "bin").mkdir(parents=True)
            target = tree / "bin" / SANDBOX_BUILDERS[pin.url]
            shutil.copyfile(str(pin.path), target)
            target.chmod(0o555)
            try:
                added = nix.add_fixed(tree, recursive=True, what=f"`{pin.key}`")
            except CommandError as exc:
                raise OhnixError(
                    f"Cannot add the sandbox builder `{pin.url}` ({pin.path}) to the Nix store: "
                    f"{exc}",
                    hint="Run `ohnix doctor`: the store must be writable or a Nix daemon running.",
                ) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if added != expected:
            raise OhnixError(
                f"`nix-store --add-fixed` put `{pin.url}` at {added}, not at {expected} as "
                "ohnix.lock says.",
                hint="Run `ohnix lock` to pin the program installed now.",
            )
