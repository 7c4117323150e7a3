"""`ohnix init`: a commented starter ohnix.toml."""

from __future__ import annotations

import re
from pathlib import Path

from ohnix import products
from ohnix.config import CONFIG_NAME, Provider
from ohnix.errors import ConfigError, ProductError

DEFAULT_PRODUCT = "qemu-arm64-linux-min"

HEADER = """\
# ohnix.toml: what this project needs to build for OpenHarmony.
# `ohnix lock` pins it into ohnix.lock; `ohnix render` writes the Nix files;
# `ohnix shell PRODUCT` enters a product's shell. `ohnix config` checks this file and
# shows what it resolves to; an error names the key and what it accepts.

[project]
name = "{name}"
openharmony = "4.1"

# Which nixpkgs the `nixpkgs` provider uses (pinned by `ohnix lock`).
{nixpkgs}
# Toolchain wishes for the `nixpkgs` provider.
# [toolchain]
# llvm = 19             # llvmPackages_19, aimed at the product's *-linux-ohos triple
# go = "1.25"           # go_1_25, with the patch sets below applied
# gcc = "pkgsCross"     # or "gcc-arm-embedded" for Cortex-M products
# go_patches = ["go-ohos-patches"]

# Extra sources to pin (git repositories or URLs).
# [sources.go-ohos-patches]
# git = "https://example.org/go-ohos-patches.git"
# ref = "v1.0"
# submodules = false
"""

NIXPKGS = """\
[nixpkgs]
url = "github:NixOS/nixpkgs"
ref = "nixos-25.11"
"""

PRODUCT = """
[products.{name}]
# {description}
# provider: "host" (this machine's cross tools, works offline), "nixpkgs", or
# "ohos-prebuilts" (OpenHarmony's own clang/gn/ninja/node, as in the build container).
provider = "{provider}"
# env = {{ MY_FLAG = "1" }}
# tools = {{ go = "host" }}   # per-tool provider override
"""


def check(names: list[str], cpu: str | None = None) -> None:
    """Raise ProductError unless every name (none: the default product) is a catalog
    product, given once, that builds for target_cpu `cpu` (when given)."""
    chosen = names or [DEFAULT_PRODUCT]
    for i, name in enumerate(chosen):
        product = products.get(name)
        if name in chosen[:i]:
            raise ProductError(f"Product `{name}` was given twice.")
        if cpu is not None:
            product.variant(cpu)


def text(
    project_name: str, names: list[str], cpu: str | None = None, provider: Provider = "host"
) -> str:
    """The starter ohnix.toml; `cpu`: the target_cpu every product is written with
    (`ohnix init --target-cpu`), else each product's default, with its variants commented."""
    chosen = names or [DEFAULT_PRODUCT]
    check(chosen, cpu)
    # Commented out unless a product uses it (a [nixpkgs] is pinned, so fetched, by lock).
    nixpkgs = NIXPKGS if provider == "nixpkgs" else "".join(f"# {line}\n" for line in
                                                            NIXPKGS.splitlines())  # fmt: skip
    parts = [HEADER.format(name=project_name, nixpkgs=nixpkgs)]
    for name in chosen:
        product = products.get(name)
        parts.append(PRODUCT.format(name=name, description=product.description,
                                    provider=provider))  # fmt: skip
        parts.append(f'# target_cpu is "{product.cpu}" ({product.triple}, float ABI '
                     f"{product.float_abi}).\n")  # fmt: skip
        for other in (product.cpu, *product.variants):
            v = product.variant(other)
            what = f"{v.triple}, float ABI {v.float_abi}"
            if other == cpu:
                parts.append(
                    f'cpu = "{other}"  # {what} (ohnix init {name} --target-cpu {other})\n'
                )
            elif other != product.cpu:
                parts.append(f'# cpu = "{other}"  # {what}\n')
    return "".join(parts)


GITIGNORE = """\
# Machine-local: ohnix's caches and GC roots, and what `ohnix build` writes. Commit the
# rest, including ohnix.lock, flake.nix, flake.lock, default.nix and nix/ohnix/: Nix sees
# only files git tracks, and they are what makes the build reproducible.
/.ohnix/
/out/
/gen/
/syscalls/
"""


def write(
    directory: Path, names: list[str], cpu: str | None = None, provider: Provider = "host"
) -> list[Path]:
    """Write ohnix.toml and, where none exists, a .gitignore of the machine-local folders.
    Returns the paths written."""
    path = directory / CONFIG_NAME
    if path.exists():
        raise ConfigError(
            f"{path} already exists; ohnix init never overwrites it.",
            hint="Edit it, or remove it first to start over.",
        )
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", directory.resolve().name).strip("-") or "project"
    content = text(name, names, cpu, provider)
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:
        fh.write(content)
    written = [path]
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
        written.append(ignore)
    return written
