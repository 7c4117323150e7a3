"""`ohnix parity PRODUCT`: the OpenHarmony build container's tools for the product's
system type next to what the shell provides (name, provider, version)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ohnix import proc
from ohnix.config import Config
from ohnix.pin.lockfile import Lock
from ohnix.shell import contents
from ohnix.store import nar

# The executable that shows a container tool is on a host (by nixpkgs attribute).
HOST_BINARY = {
    "bash": "bash", "python3": "python3", "ruby": "ruby", "jdk17": "java", "ccache": "ccache",
    "git": "git", "git-lfs": "git-lfs", "mtdutils": "mkfs.jffs2", "ubootTools": "mkimage",
    "scons": "scons", "mtools": "mcopy", "dosfstools": "mkfs.vfat", "genext2fs": "genext2fs",
    "e2fsprogs": "mke2fs", "gnumake": "make", "flex": "flex", "bison": "bison", "bc": "bc",
    "cpio": "cpio", "rsync": "rsync", "zip": "zip", "unzip": "unzip", "perl": "perl",
    "gcc-arm-embedded": "arm-none-eabi-gcc", "autoconf": "autoconf", "automake": "automake",
    "libtool": "libtoolize", "cmake": "cmake", "nodejs": "node",
}  # fmt: skip
# Container tools that OpenHarmony's prebuilts replace (tool name prefix -> prebuilt).
PREBUILT_FOR = {"python3": "python", "cmake": "cmake", "nodejs": "node"}


ToolSource = Literal["nixpkgs", "ohos-prebuilts", "host", "missing"]


@dataclass(frozen=True)
class Row:
    tool: str
    container: str  # what the container installs (apt package and version, if known)
    provider: ToolSource
    source: str  # attribute, prebuilt URL or host path
    version: str | None
    note: str = ""
    origin: str = ""  # "build_package_list.json" (OpenHarmony's list) or "Dockerfile"


def _nixpkgs_versions(lock: Lock, attrs: list[str]) -> dict[str, str | None]:
    pin = lock.get("nixpkgs")
    if pin is None or not attrs:
        return {}
    src = nar.source_path("source", nar.parse_hash(pin.hash))
    if not Path(src).exists():
        return {}
    from ohnix.render.nixfiles import library_dir

    script = library_dir() / "attr-versions.nix"
    args = ["--argstr", "src", src, "--argstr", "attrs", json.dumps(attrs)]
    argv: list[str | Path] = ["nix-instantiate", "--eval", "--strict", "--json", script, *args]
    out = proc.run(argv, what="reading nixpkgs versions")
    data: dict[str, str | None] = json.loads(out.stdout)
    return data


def rows(config: Config, lock: Lock, product: str) -> list[Row]:
    pc = config.product(product)
    tools = contents.container(pc.product.system_type)
    attrs = sorted({t["nixpkgs"] for t in tools} - {"none"})
    versions = _nixpkgs_versions(lock, attrs) if pc.provider == "nixpkgs" else {}
    prebuilts = contents.toolchains()["prebuilts"]
    out: list[Row] = []
    for t in tools:
        attr = str(t["nixpkgs"])
        container = f"{t.get('apt', '')}" + (f" ({t['version']})" if t.get("version") else "")
        origin = str(t["origin"])
        prebuilt = PREBUILT_FOR.get(attr)
        if pc.provider == "ohos-prebuilts" and prebuilt is not None and prebuilt in prebuilts:
            from ohnix.pin import resolve

            meta = resolve.prebuilt_catalog(config.project.openharmony)[prebuilt]
            out.append(Row(t["name"], container, "ohos-prebuilts", str(meta["url"]),
                           str(meta.get("version")), "OpenHarmony's prebuilt", origin))  # fmt: skip
        elif pc.provider == "nixpkgs" and attr != "none":
            out.append(Row(t["name"], container, "nixpkgs", attr, versions.get(attr),
                           origin=origin))  # fmt: skip
        elif attr in HOST_BINARY and (found := proc.which(HOST_BINARY[attr])):
            out.append(Row(t["name"], container, "host", found, None,
                           "from this machine's PATH, not pinned", origin))  # fmt: skip
        else:
            why = str(t.get("why") or t.get("note") or "not provided by this shell")
            out.append(Row(t["name"], container, "missing", attr, None, why, origin))
    return out


def compilers(config: Config, product: str) -> list[dict[str, Any]]:
    """The shell's own cross toolchain (not part of the container, which downloads it)."""
    pc = config.product(product)
    return [t for t in contents.shell(pc, config)["tools"] if t["var"]]


def _package_list() -> str:
    base = contents._data("container.toml")["package_list"]
    return f"{base['repo']}@{base['tag']} {base['path']} (Ubuntu {base['ubuntu']})"


def report(config: Config, lock: Lock, product: str) -> dict[str, Any]:
    pc = config.product(product)
    return {
        "product": product,
        "system_type": pc.product.system_type,
        "provider": pc.provider,
        "container": contents._data("container.toml")["system"][pc.product.system_type]["image"],
        "package_list": _package_list(),
        "tools": [asdict(r) for r in rows(config, lock, product)],
        "toolchain": compilers(config, product),
    }
