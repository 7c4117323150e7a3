"""Read struct layouts back out of a compiled ABI probe's DWARF (pyelftools).

The probe object (see ohnix.bridge.abi) defines, for type number i, `PREFIX obj_i` of the
type and two char arrays `size_i[sizeof(T)]` and `align_i[_Alignof(T)]`: the arrays'
lengths are the compiler's own size and alignment, the object's type gives the members.
pyelftools is untyped, so every `Any` stays in this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from elftools.common.exceptions import ELFRelocationError
from elftools.elf.elffile import ELFFile

from ohnix.errors import BuildError

PREFIX = "ohnix_abi_"


class UnrelocatableError(Exception):
    """pyelftools cannot apply this object's DWARF relocations (e.g. RISC-V): link it first."""


_QUALIFIERS = ("typedef", "const_type", "volatile_type", "restrict_type", "atomic_type")
_STRIP = frozenset(f"DW_TAG_{q}" for q in _QUALIFIERS)
LayoutKind = Literal["struct", "union", "scalar"]
_AGGREGATE: dict[str, LayoutKind] = {
    "DW_TAG_structure_type": "struct",
    "DW_TAG_union_type": "union",
}
# GCC and clang name base types differently; normalise so their snapshots compare cleanly.
_BASE = {
    "long int": "long",
    "long unsigned int": "unsigned long",
    "short int": "short",
    "short unsigned int": "unsigned short",
    "long long int": "long long",
    "long long unsigned int": "unsigned long long",
    "_Bool": "bool",
}
# Triple arch -> (pyelftools machine, ELF class): catches `--cc gcc` for a cross target.
_MACHINES = {
    "aarch64": ("AArch64", 64),
    "arm64": ("AArch64", 64),
    "arm": ("ARM", 32),
    "x86_64": ("x64", 64),
    "i686": ("x86", 32),
    "i386": ("x86", 32),
    "riscv64": ("RISC-V", 64),
    "riscv32": ("RISC-V", 32),
}


@dataclass(frozen=True)
class Field:
    """A member. Offsets are bytes from the start of the enclosing aggregate; for a
    bit-field `bit_offset` is bits from that start and `offset` is `bit_offset // 8`."""

    name: str
    offset: int
    size: int
    type: str
    bit_offset: int | None = None
    bit_size: int | None = None
    count: int | None = None  # arrays: elements in the outermost dimension
    children: tuple[Field, ...] = ()  # members of a nested struct/union (or array element)


@dataclass(frozen=True)
class Layout:
    name: str
    size: int
    align: int
    fields: tuple[Field, ...]
    kind: LayoutKind = "struct"


def read_layouts(obj: Path, names: Sequence[str], *, target: str, cc: str) -> list[Layout]:
    """The layouts of probe types 0..len(names)-1 in `obj`, labelled with `names`."""
    with obj.open("rb") as fh:
        elf = ELFFile(fh)
        machine = _MACHINES.get(target.split("-", maxsplit=1)[0])
        if machine and (elf.get_machine_arch(), elf.elfclass) != machine:
            raise BuildError(
                f"`{cc}` produced {elf.elfclass}-bit {elf.get_machine_arch()} code, not code "
                f"for {target}.",
                hint="Pass the target's cross compiler with --cc.",
            )
        if not elf.has_dwarf_info():
            raise BuildError(f"`{cc}` wrote no DWARF debug info for the ABI probe (-g).")
        try:
            dwarf = elf.get_dwarf_info()
        except ELFRelocationError as exc:
            raise UnrelocatableError(str(exc)) from exc
        probes: dict[str, Any] = {}
        for cu in dwarf.iter_CUs():
            for die in cu.get_top_DIE().iter_children():
                name = _name(die)
                if die.tag == "DW_TAG_variable" and name and name.startswith(PREFIX):
                    probes[name[len(PREFIX) :]] = die.get_DIE_from_attribute("DW_AT_type")
        out = []
        for i, label in enumerate(names):
            t = _strip(probes[f"obj_{i}"])
            kind: LayoutKind = _AGGREGATE.get(t.tag, "scalar")
            fields = _members(t, elf.little_endian, 0) if kind != "scalar" else ()
            size, align = _count(probes[f"size_{i}"]), _count(probes[f"align_{i}"])
            out.append(Layout(label, size or 0, align or 0, fields, kind))
        return out


def _name(die: Any) -> str | None:
    attr = die.attributes.get("DW_AT_name")
    return None if attr is None else str(attr.value.decode())


def _int(die: Any, attr: str) -> int | None:
    value = die.attributes.get(attr)
    return None if value is None else int(value.value)


def _target(die: Any) -> Any:
    return die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None


def _strip(die: Any) -> Any:
    while die is not None and die.tag in _STRIP:
        die = _target(die)
    return die


def _dim(sub: Any) -> int | None:
    """Length of one subrange; None when unbounded (a flexible array member)."""
    if (count := _int(sub, "DW_AT_count")) is not None:
        return count
    bound = _int(sub, "DW_AT_upper_bound")
    return None if bound is None else bound + 1


def _count(array: Any) -> int | None:
    return next((_dim(sub) for sub in array.iter_children()), None)


def _size(die: Any) -> int:
    die = _strip(die)
    if die is None:
        return 0
    if (size := _int(die, "DW_AT_byte_size")) is not None:
        return size
    if die.tag == "DW_TAG_array_type":
        total = _size(_target(die))
        for sub in die.iter_children():
            total *= _dim(sub) or 0
        return total
    if die.tag == "DW_TAG_pointer_type":
        return int(die.cu.header["address_size"])
    return 0


def _spell(die: Any) -> str:
    if die is None:
        return "void"
    tag, name = die.tag, _name(die)
    if tag == "DW_TAG_base_type":
        return _BASE.get(name or "", name or "?")
    if tag in _AGGREGATE or tag == "DW_TAG_enumeration_type":
        return f"{_AGGREGATE.get(tag, 'enum')} {name or '<anonymous>'}"
    if tag in ("DW_TAG_const_type", "DW_TAG_volatile_type"):
        return f"{tag[7:-5]} {_spell(_target(die))}"
    if tag == "DW_TAG_array_type":
        dims = [_dim(s) for s in die.iter_children()]
        return _spell(_target(die)) + "".join(f"[{'' if d is None else d}]" for d in dims)
    if tag == "DW_TAG_pointer_type":
        pointee = _target(die)
        if pointee is not None and pointee.tag == "DW_TAG_subroutine_type":
            return _spell(pointee).replace(" (", " (*)(", 1)
        return _spell(pointee) + "*"
    if tag == "DW_TAG_subroutine_type":
        kids = die.iter_children()
        params = [_spell(_target(p)) for p in kids if p.tag == "DW_TAG_formal_parameter"]
        return f"{_spell(_target(die))} ({', '.join(params) or 'void'})"
    return name or tag.removeprefix("DW_TAG_")  # typedefs keep their name


def _location(member: Any) -> int:
    attr = member.attributes.get("DW_AT_data_member_location")
    if attr is None:
        return 0  # union members carry none
    if isinstance(attr.value, int):
        return attr.value
    value = 0  # DWARF 2 style: an expression, DW_OP_plus_uconst then a ULEB128
    for shift, byte in enumerate(list(attr.value)[1:]):
        value |= (byte & 0x7F) << (7 * shift)
    return value


def _members(die: Any, little: bool, depth: int) -> tuple[Field, ...]:
    fields: list[Field] = []
    anon = 0
    for m in die.iter_children():
        if m.tag != "DW_TAG_member":
            continue
        name = _name(m)
        if name is None:  # anonymous struct/union members: numbered, in order
            name, anon = f"<anonymous{anon}>", anon + 1
        declared = _target(m)
        t = _strip(declared)
        size, offset = _size(declared), _location(m)
        bit_size, bit_offset = _int(m, "DW_AT_bit_size"), _int(m, "DW_AT_data_bit_offset")
        if bit_size is None:
            bit_offset = None
        else:
            if bit_offset is None:  # DWARF 2/3: counted from the storage unit's top bit
                unit = _int(m, "DW_AT_byte_size") or size
                old = _int(m, "DW_AT_bit_offset") or 0
                bit_offset = offset * 8 + (unit * 8 - old - bit_size if little else old)
            offset = bit_offset // 8
        count, inner = None, t
        if t is not None and t.tag == "DW_TAG_array_type":
            count, inner = _count(t), _strip(_target(t))
        children: tuple[Field, ...] = ()
        if inner is not None and inner.tag in _AGGREGATE and depth < 8:
            children = _members(inner, little, depth + 1)
        spelled = _spell(declared)
        fields.append(Field(name, offset, size, spelled, bit_offset, bit_size, count, children))
    return tuple(fields)
