"""ABI snapshots: struct layouts measured by the target compiler, and a diff that says which
differences break binaries.

Method: one generated C file declares, per type T, an object `T o;` (so T's full layout is
in DWARF) and two probes `char s[sizeof(T)]; char a[_Alignof(T)];`. It is compiled with the
target compiler (`-g -O0 -c`), and pyelftools reads back the probe arrays' lengths (size and
alignment exactly as the compiler computed them) and T's members from DWARF. Nothing is
derived from rules of our own. Where pyelftools cannot apply an object's relocations
(RISC-V), the probe is linked into a data-only shared object first (`-nostdlib -shared`).
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ohnix import proc
from ohnix.atomic import temp_prefix
from ohnix.bridge.dwarf import PREFIX, Field, Layout, UnrelocatableError, read_layouts
from ohnix.errors import BuildError, ConfigError, ToolNotFoundError

__all__ = [
    "Change",
    "Field",
    "Layout",
    "Snapshot",
    "TypeSpec",
    "compare",
    "has_breaking",
    "load_snapshot",
    "load_types",
    "render_table",
    "snapshot",
]

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    target: str
    cc: str
    cc_version: str
    layouts: tuple[Layout, ...]

    def to_json(self) -> str:
        doc = {
            "version": SNAPSHOT_VERSION,
            "target": self.target,
            "cc": self.cc,
            "cc_version": self.cc_version,
            "layouts": {lay.name: _layout_doc(lay) for lay in self.layouts},
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "snapshot") -> Snapshot:
        try:
            doc = json.loads(text)
            if doc.get("version") != SNAPSHOT_VERSION:
                raise ValueError(f"version {doc.get('version')!r}, expected {SNAPSHOT_VERSION}")
            layouts = tuple(
                Layout(name, d["size"], d["align"], _fields_from(d.get("fields", [])), d["kind"])
                for name, d in sorted(doc["layouts"].items())
            )
            return cls(doc["target"], doc["cc"], doc["cc_version"], layouts)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{source} is not an ohnix ABI snapshot ({type(exc).__name__}: {exc}).",
                hint="Write one with `ohnix bridge abi snapshot ... -o FILE`.",
            ) from exc


def load_snapshot(path: Path) -> Snapshot:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read ABI snapshot {path}: {exc.strerror}.") from exc
    return Snapshot.from_json(text, str(path))


@dataclass(frozen=True)
class Change:
    type_name: str
    field: str | None
    kind: str
    old: int | str | None
    new: int | str | None
    breaking: bool


def _layout_doc(lay: Layout) -> dict[str, Any]:
    return {
        "kind": lay.kind,
        "size": lay.size,
        "align": lay.align,
        "fields": [_field_doc(f) for f in lay.fields],
    }


def _field_doc(f: Field) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": f.name, "offset": f.offset, "size": f.size, "type": f.type}
    for key in ("bit_offset", "bit_size", "count"):
        if getattr(f, key) is not None:
            doc[key] = getattr(f, key)
    if f.children:
        doc["children"] = [_field_doc(c) for c in f.children]
    return doc


def _fields_from(docs: list[dict[str, Any]]) -> tuple[Field, ...]:
    return tuple(
        Field(
            d["name"],
            d["offset"],
            d["size"],
            d["type"],
            d.get("bit_offset"),
            d.get("bit_size"),
            d.get("count"),
            _fields_from(d.get("children", [])),
        )
        for d in docs
    )


# --- the types file -------------------------------------------------------------------


@dataclass(frozen=True)
class TypeSpec:
    name: str
    c: str
    headers: tuple[str, ...]
    defines: tuple[str, ...]


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings.")
    return tuple(value)


def load_types(path: Path | None = None) -> tuple[TypeSpec, ...]:
    """Read a types file (default: the packaged `ohnix/data/abi_types.toml`)."""
    if path is None:
        text = resources.files("ohnix").joinpath("data/abi_types.toml").read_text()
        where = "ohnix/data/abi_types.toml"
    else:
        where = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"Cannot read types file {where}: {exc.strerror}.") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Types file {where} is not valid TOML: {exc}.") from exc
    if unknown := set(doc) - {"version", "defines", "types"}:
        raise ConfigError(f"Types file {where}: unknown key(s) {', '.join(sorted(unknown))}.")
    if doc.get("version", 1) != 1:
        raise ConfigError(f"Types file {where}: `version` must be 1.")
    common = _str_list(doc.get("defines", []), f"Types file {where}: `defines`")
    entries = doc.get("types")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"Types file {where} needs at least one [[types]] table.")
    specs: dict[str, TypeSpec] = {}
    for i, entry in enumerate(entries):
        at = f"Types file {where}: types[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at} must be a table.")
        if unknown := set(entry) - {"c", "headers", "name", "defines"}:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}.")
        c = entry.get("c")
        if not isinstance(c, str) or not re.fullmatch(r"[A-Za-z_][\w ]*", c.strip()):
            raise ConfigError(f'{at}.c must be a C type spelling such as "struct stat".')
        headers = _str_list(entry.get("headers"), f"{at}.headers")
        if not headers or not all(re.fullmatch(r"[\w./+-]+", h) for h in headers):
            raise ConfigError(f'{at}.headers must name headers such as "sys/stat.h".')
        extra = _str_list(entry.get("defines", []), f"{at}.defines")
        defines = tuple(dict.fromkeys(common + extra))
        if bad := [d for d in defines if not re.fullmatch(r"[A-Za-z_]\w*(=.*)?", d)]:
            raise ConfigError(f"{at}: bad define {bad[0]!r} (use NAME or NAME=VALUE).")
        name = entry.get("name", c.strip())
        if not isinstance(name, str) or name in specs:
            raise ConfigError(f"{at}.name {name!r} is not a unique string.")
        specs[name] = TypeSpec(name, c.strip(), headers, defines)
    return tuple(specs.values())


# --- measuring ------------------------------------------------------------------------


def snapshot(
    target: str, cc: str, types: Path | None = None, cflags: Sequence[str] = ()
) -> Snapshot:
    """Measure every listed type with compiler `cc` (a command line, e.g. "clang -m32")."""
    specs = load_types(types)
    cc_argv = shlex.split(cc)
    if not cc_argv or proc.which(cc_argv[0]) is None:
        raise ToolNotFoundError(
            f"The C compiler `{cc}` for {target} was not found on PATH.",
            hint="Enter the product's shell (`ohnix shell PRODUCT`) so its toolchain is on "
            "PATH, or pass --cc with the compiler's full path.",
        )
    version = proc.run([*cc_argv, "--version"], what=f"Asking {cc} for its version").stdout
    if "clang" in version:  # one clang serves every target; gcc is built for one
        cc_argv.append(f"--target={target}")
    who = f"`{cc}` for {target}"
    groups: dict[tuple[str, ...], list[TypeSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.defines, []).append(spec)
    layouts: list[Layout] = []
    with tempfile.TemporaryDirectory(prefix=temp_prefix("abi")) as tmp:
        for n, (defines, group) in enumerate(groups.items()):
            src = Path(tmp) / f"probe{n}.c"
            obj = _compile(src, defines, group, cc_argv=cc_argv, cflags=cflags, who=who)
            names = [s.name for s in group]
            try:
                layouts += read_layouts(obj, names, target=target, cc=cc)
            except UnrelocatableError:  # a linked object has its DWARF relocations applied
                linked = obj.with_suffix(".so")
                argv = [*cc_argv, *cflags, "-nostdlib", "-shared", "-o", str(linked), str(obj)]
                proc.run(
                    argv,
                    what=f"Linking the ABI probe for {who} (pyelftools cannot "
                    "relocate this target's objects)",
                )
                layouts += read_layouts(linked, names, target=target, cc=cc)
    first = version.strip().splitlines()[0] if version.strip() else ""
    return Snapshot(target, cc, first, tuple(sorted(layouts, key=lambda lay: lay.name)))


def _compile(
    src: Path,
    defines: tuple[str, ...],
    specs: list[TypeSpec],
    *,
    cc_argv: list[str],
    cflags: Sequence[str],
    who: str,
) -> Path:
    lines = [f"#define {d.partition('=')[0]} {d.partition('=')[2] or '1'}" for d in defines]
    header_line: dict[int, str] = {}
    for h in dict.fromkeys(h for s in specs for h in s.headers):
        lines.append(f"#include <{h}>")
        header_line[len(lines)] = h
    type_line: dict[int, TypeSpec] = {}
    for i, s in enumerate(specs):  # one line per type, so an error's line names its type
        lines.append(
            f"{s.c} {PREFIX}obj_{i}; char {PREFIX}size_{i}[sizeof({s.c})]; "
            f"char {PREFIX}align_{i}[_Alignof({s.c})];"
        )
        type_line[len(lines)] = s
    obj = src.with_suffix(".o")
    src.write_text("\n".join(lines) + "\n")
    argv = [*cc_argv, "-g", "-O0", "-c", *cflags, "-o", str(obj), str(src)]
    res = proc.run(argv, env={"LC_ALL": "C"}, check=False)  # C locale: plain-quote messages
    if res.returncode == 0:
        return obj
    errors = re.findall(rf"{re.escape(src.name)}:(\d+):\d+: (?:fatal )?error: (.*)", res.stderr)
    for line, msg in errors:
        if (header := header_line.get(int(line))) is not None:
            users = ", ".join(s.c for s in specs if header in s.headers)
            raise BuildError(
                f"{who} cannot include <{header}> (needed by {users}): {msg}.",
                hint="Pass the sysroot or -I flags the target needs, or drop those types "
                "from the types file for this target.",
            )
    bad: dict[TypeSpec, str] = {}
    for line, msg in errors:
        if (spec := type_line.get(int(line))) is not None:
            bad.setdefault(spec, msg)  # the first error is the telling one
    if bad:
        what = "; ".join(f"`{s.c}` (headers: {', '.join(s.headers)}; {m})" for s, m in bad.items())
        raise BuildError(
            f"{who} does not know these types: {what}.",
            hint="Check the spelling and feature macros (`defines`, e.g. _GNU_SOURCE) in the "
            "types file, or drop the types this libc lacks.",
        )
    raise BuildError(
        f"{who} failed to compile the ABI probe:\n{proc.tail(res.stderr)}",
        hint="Check --cc and the extra compiler flags.",
    )


# --- comparing ------------------------------------------------------------------------


def compare(old: Snapshot, new: Snapshot) -> tuple[Change, ...]:
    """Every layout difference from `old` to `new`, in type order."""
    olds, news = {lay.name: lay for lay in old.layouts}, {lay.name: lay for lay in new.layouts}
    out: list[Change] = []
    for name in sorted(olds.keys() | news.keys()):
        a, b = olds.get(name), news.get(name)
        if a is None or b is None:
            gone = b is None
            out.append(
                Change(
                    name,
                    None,
                    "type-removed" if gone else "type-added",
                    "present" if gone else None,
                    None if gone else "present",
                    gone,
                )
            )
            continue
        for kind, x, y in (
            ("kind-changed", a.kind, b.kind),
            ("size-changed", a.size, b.size),
            ("align-changed", a.align, b.align),
        ):
            if x != y:
                out.append(Change(name, None, kind, x, y, True))
        out += _diff_fields(name, "", a.fields, b.fields, resized=a.size != b.size)
    return tuple(out)


def _diff_fields(
    type_name: str, prefix: str, old: Iterable[Field], new: Iterable[Field], *, resized: bool
) -> list[Change]:
    olds, news = {f.name: f for f in old}, {f.name: f for f in new}
    end = max((f.offset + f.size for f in olds.values()), default=0)
    out: list[Change] = []

    def add(f: Field, kind: str, x: int | str | None, y: int | str | None, brk: bool) -> None:
        out.append(Change(type_name, prefix + f.name, kind, x, y, brk))

    moved = False
    for f in olds.values():
        g = news.get(f.name)
        if g is None:
            add(f, "field-removed", f.type, None, True)
            continue
        if f.bit_size is not None or g.bit_size is not None:
            if (f.bit_offset, f.bit_size) != (g.bit_offset, g.bit_size):
                add(f, "bitfield-changed", _bits(f), _bits(g), True)
                moved = True
        elif f.offset != g.offset:
            add(f, "field-moved", f.offset, g.offset, True)
            moved = True
        if f.size != g.size:
            add(f, "field-resized", f.size, g.size, True)
        if f.type != g.type and f.size == g.size:
            add(f, "field-type-changed", f.type, g.type, False)  # same bytes, new spelling
        if f.children or g.children:
            sub = f"{prefix}{f.name}."
            out += _diff_fields(type_name, sub, f.children, g.children, resized=f.size != g.size)
    for g in news.values():
        if g.name not in olds and g.offset >= end:
            add(g, "field-added-at-end", None, g.type, resized)
        elif g.name not in olds:  # in padding, or a union member, is harmless unless it displaces
            add(g, "field-added", None, g.type, resized or moved)
    return out


def _bits(f: Field) -> str:
    return (
        f"bit {f.bit_offset}, {f.bit_size} bits" if f.bit_size is not None else f"byte {f.offset}"
    )


def has_breaking(changes: Iterable[Change]) -> bool:
    return any(c.breaking for c in changes)


def render_table(changes: Sequence[Change]) -> str:
    """A plain-text table, one row per change, breaking rows marked."""
    if not changes:
        return "No layout differences.\n"
    head = ("TYPE", "FIELD", "CHANGE", "OLD", "NEW", "BREAKING")
    rows = [head] + [
        (
            c.type_name,
            c.field or "-",
            c.kind,
            "-" if c.old is None else str(c.old),
            "-" if c.new is None else str(c.new),
            "yes" if c.breaking else "no",
        )
        for c in changes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    n = sum(c.breaking for c in changes)
    lines.append(f"{len(changes)} difference(s), {n} breaking.")
    return "\n".join(lines) + "\n"
