"""`ohnix parity PRODUCT`: the OpenHarmony build container's tools for the product's
system type next to what the shell provides (name, provider, version).

The host provider's tools are looked up on this machine's PATH, without ohnix's own
virtualenv (proc.host_which)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
    container: str  # what the container installs (apt packages, version), in words
    provider: ToolSource
    source: str  # attribute, prebuilt URL or host path(s)
    version: str | None  # the shell's version, where known without running anything
    note: str = ""
    origin: str = ""  # "build_package_list.json" (OpenHarmony's list) or "Dockerfile"
    in_image: bool = True  # False: not in the container, an ohnix shell should add it


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


def _in_words() -> Callable[[str], str]:
    """Container facts name their sources by key (`(excerpt-B)`): say what each is."""
    labels = {k: str(v["label"]) for k, v in contents._data("container.toml")["sources"].items()}
    keys = re.compile(
        r"\b(" + "|".join(map(re.escape, sorted(labels, key=len, reverse=True))) + r")\b"
    )
    return lambda text: keys.sub(lambda m: labels[m.group(1)], text)


def _host_version(lock: Lock, exe: str) -> str | None:
    """The version the lock recorded for a host program it pins (no program is run)."""
    pin = lock.get(f"host/{exe}")
    found = re.search(r"\d+(?:\.\d+)+", pin.version or "") if pin else None
    return found.group(0) if found else None


def rows(config: Config, lock: Lock, product: str) -> list[Row]:
    pc = config.product(product)
    tools = contents.container(pc.product.system_type)
    attrs = sorted({t["nixpkgs"] for t in tools} - {"none"})
    versions = _nixpkgs_versions(lock, attrs) if pc.provider == "nixpkgs" else {}
    prebuilts = contents.toolchains()["prebuilts"]
    in_words = _in_words()
    out: list[Row] = []
    for t in tools:
        attr = str(t["nixpkgs"])
        container = in_words(str(t.get("apt", "")))
        if t.get("version"):
            container += f"; version {in_words(str(t['version']))}"
        origin, in_image = str(t["origin"]), bool(t.get("in_image", True))
        prebuilt = PREBUILT_FOR.get(attr)
        exes = [HOST_BINARY[attr]] if attr in HOST_BINARY else list(t.get("host_exe", []))
        found = {exe: path for exe in exes if (path := proc.host_which(exe))}
        if pc.provider == "ohos-prebuilts" and prebuilt is not None and prebuilt in prebuilts:
            from ohnix.pin import resolve

            meta = resolve.prebuilt_catalog(config.project.openharmony)[prebuilt]
            out.append(Row(t["name"], container, "ohos-prebuilts", str(meta["url"]),
                           str(meta.get("version")), "OpenHarmony's prebuilt", origin,
                           in_image))  # fmt: skip
        elif pc.provider == "nixpkgs" and attr != "none":
            out.append(Row(t["name"], container, "nixpkgs", attr, versions.get(attr),
                           origin=origin, in_image=in_image))  # fmt: skip
        elif found:
            pinned = lock.get(f"host/{exes[0]}") is not None
            lacking = [exe for exe in exes if exe not in found]
            note = (
                "pinned by ohnix.lock" if pinned else "from this machine's PATH, not pinned"
            ) + (f"; not on PATH: {', '.join(lacking)}" if lacking else "")
            out.append(Row(t["name"], container, "host", ", ".join(found.values()),
                           _host_version(lock, exes[0]), note, origin, in_image))  # fmt: skip
        else:
            why = str(t.get("why") or t.get("note") or "not provided by this shell")
            if exes:
                why = f"{', '.join(exes)}: not on PATH; {why}"
            out.append(Row(t["name"], container, "missing", attr, None, why, origin, in_image))
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
