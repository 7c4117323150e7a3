"""The `host` provider: this machine's own cross tools, pinned by content hash and version.

Honest about being non-hermetic: the lock records each executable's path, sha256 and
`--version`, so `ohnix lock --check` notices when the machine's compiler changes, and the
shell and build report name the libc really used (a glibc GCC standing in for an OHOS musl
clang is a demo, not a shippable artifact).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ohnix import nar, proc
from ohnix.config import ProductConfig
from ohnix.errors import PrefetchError
from ohnix.lock import Pin, Spec

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
    if pc.provider_for("cc") == "host":
        prefix = prefix_for(pc)
        out += [HostTool(CC_VARS[t], prefix + t) for t in CC_TOOLS]
    if pc.provider_for("go") == "host" and pc.product.go.supported:
        out.append(HostTool("GO", "go"))
    return tuple(out)


def spec(program: str) -> Spec:
    return Spec(key=f"host/{program}", kind="host", url=program, store_name=store_name(program))


def store_name(program: str) -> str:
    return "host-" + "".join(c if c.isalnum() or c in "+-._" else "_" for c in program)


def locate(program: str) -> Path:
    found = proc.which(program)
    if found is None:
        raise PrefetchError(
            f"The host tool `{program}` is not on PATH.",
            hint="Install it (scripts/bootstrap lists Debian's cross packages), set "
            "host_prefix, or choose another provider for this product.",
        )
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
    return Pin(
        key=spec.key,
        kind="host",
        url=program,
        hash=digest,
        spec=spec.digest(),
        store_name=spec.store_name,
        path=str(path),
        version=version,
    )


def unchanged(pin: Pin) -> bool:
    """Whether the host tool is still the one pinned (pure Python: no command runs)."""
    try:
        path, digest = content_hash(pin.url)
    except PrefetchError:
        return False
    return str(path) == pin.path and digest == pin.hash
