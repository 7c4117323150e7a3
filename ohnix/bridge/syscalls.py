"""Syscall-number tables from kernel UAPI headers, in golang.org/x/sys's `zsysnum` style.

`asm-generic/unistd.h` defines most numbers through `__ARCH_WANT_*` switches, `__NR3264_*`
aliases and `__NR_arch_specific_syscall + n`, and 32-bit ARM adds `__NR_SYSCALL_BASE`; so we
never scan header text. We run the C preprocessor (`-E -dD`) over the architecture's own
`asm/unistd.h` with the macros its compiler would predefine, read back the final macro
table, and evaluate each `__NR_*` body with a small integer-only evaluator (no `eval`).

The host's cpp is used for every target, so `-undef` drops the host's predefines (a host
`__x86_64__` or `__ILP32__` would pick the wrong branch) and `ArchSpec.defines` models the
target compiler instead: riscv64's header only enables the new-stat and rlimit calls under
`__LP64__`, x86's picks `unistd_64.h` because neither `__i386__` nor `__ILP32__` is set, and
ARM takes the EABI table (base 0; the OABI base 0x900000 is not applied, as in x/sys).

The Go file is `package syscalls` by default: a standalone package beside the user's code
(`import "<module>/syscalls"`, then `syscalls.SYS_GETPID`) that cannot clash with the
`SYS_*` names golang.org/x/sys/unix already exports. Pass `package=` to change it.
"""

from __future__ import annotations

import ast
import json
import logging
import operator
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ohnix import proc
from ohnix.errors import BuildError, CommandError, ToolNotFoundError

log = logging.getLogger("ohnix")


@dataclass(frozen=True)
class ArchSpec:
    goarch: str
    bits: int
    multiarch: tuple[str, ...]  # Debian dirs: /usr/<t>/include (cross), /usr/include/<t> (host)
    oh_asm: str  # OpenHarmony prebuilts: usr/include/asm-<oh_asm>/asm/unistd.h
    debian_pkg: str
    defines: tuple[str, ...]
    getpid: int  # ABI-fixed forever: a cheap check that DIR really is this arch's


ARCHES: Mapping[str, ArchSpec] = {
    "arm64": ArchSpec(
        "arm64", 64, ("aarch64-linux-gnu",), "arm64", "linux-libc-dev-arm64-cross",
        ("__aarch64__", "__LP64__"), 172,
    ),
    "arm": ArchSpec(
        "arm", 32, ("arm-linux-gnueabihf", "arm-linux-gnueabi"), "arm",
        "linux-libc-dev-armhf-cross", ("__arm__", "__ARM_EABI__"), 20,
    ),
    "riscv64": ArchSpec(
        "riscv64", 64, ("riscv64-linux-gnu",), "riscv", "linux-libc-dev-riscv64-cross",
        ("__riscv", "__riscv_xlen=64", "__LP64__"), 172,
    ),
    "x86_64": ArchSpec(
        "amd64", 64, ("x86_64-linux-gnu",), "x86",
        "linux-libc-dev-amd64-cross (or, on an amd64 host, linux-libc-dev with --headers"
        " /usr/include)",
        ("__x86_64__", "__LP64__"), 39,
    ),
}  # fmt: skip

# Where the per-arch tree lives inside an OpenHarmony source checkout.
OH_HEADERS = Path("kernel/linux/patches/linux-5.10/prebuilts/usr/include")
_STUB = "#include <asm/unistd.h>\n"
# Lower-case `__NR_` names that are bookkeeping, not syscalls.
_NOT_SYSCALLS = frozenset({"syscalls", "arch_specific_syscall"})
_SYSCALL_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_DIRECTIVE = re.compile(r"#\s*(define|undef)\s+([A-Za-z_]\w*)(\()?\s*(.*)")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><<|>>|[-+*/%&|^~()]))"
)
_BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
}
_UNARY: dict[type[ast.unaryop], Callable[[int], int]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}


@dataclass(frozen=True)
class SyscallTable:
    arch: str
    entries: tuple[tuple[str, int], ...]  # (kernel name, number), sorted by number then name
    headers: str  # the --headers DIR as given
    command: tuple[str, ...]  # the preprocessor argv that produced it

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)


def _spec(arch: str) -> ArchSpec:
    try:
        return ARCHES[arch]
    except KeyError:
        raise BuildError(
            f"Unknown architecture {arch!r} for syscall tables; "
            f"valid ones are: {', '.join(ARCHES)}."
        ) from None


def include_dirs(arch: str, headers: Path) -> list[Path]:
    """The -I dirs for `arch`: its own asm dir first, then the shared root (asm-generic/).

    Accepts a plain include dir (Debian's /usr/<triple>/include), a host /usr/include with
    multiarch subdirs, OpenHarmony's prebuilts/usr/include with per-arch `asm-<arch>/`
    dirs, or an OpenHarmony source checkout containing that tree.
    """
    spec = _spec(arch)
    if not headers.is_dir():
        raise BuildError(
            f"Kernel headers directory {headers} does not exist (needed for {arch})."
            f" {_install_hint(spec)}"
        )
    looked: list[Path] = []
    for root in (headers, headers / OH_HEADERS):
        # Per-arch dirs first: OpenHarmony's tree also has a top-level asm/ (ARM's).
        for sub in (f"asm-{spec.oh_asm}", *spec.multiarch):
            looked.append(root / sub / "asm" / "unistd.h")
            if looked[-1].is_file():
                return [root / sub, root]
        others = sorted(p.parent.name for p in root.glob("asm-*/asm"))
        if others:
            # Never fall back to that top-level asm/: its numbers are another arch's (and
            # OpenHarmony's musl build reuses asm-arm64 for x86_64, which is wrong here).
            raise BuildError(
                f"{root} is an OpenHarmony-style header tree without asm-{spec.oh_asm}/"
                f" (it has {', '.join(others)}), so it holds no {arch} syscall numbers."
                f" {_install_hint(spec)}"
            )
        looked.append(root / "asm" / "unistd.h")
        if looked[-1].is_file():
            return [root]
    shown = ", ".join(str(p) for p in looked if not p.is_relative_to(headers / OH_HEADERS))
    raise BuildError(
        f"No asm/unistd.h for {arch} under {headers} (looked for {shown}). {_install_hint(spec)}"
    )


def _install_hint(spec: ArchSpec) -> str:
    return (
        f"Install Debian's {spec.debian_pkg} and pass --headers "
        f"/usr/{spec.multiarch[0]}/include, or pass OpenHarmony's {OH_HEADERS} "
        f"(it must contain asm-{spec.oh_asm}/asm/unistd.h)."
    )


def _find_cpp(cpp: str | None) -> str:
    hint = "Install gcc (cpp) or clang, or pass the preprocessor to use explicitly."
    if cpp is not None:
        if proc.which(cpp) is None:
            raise ToolNotFoundError(f"C preprocessor `{cpp}` was not found.", hint=hint)
        return cpp
    for candidate in ("cpp", "gcc", "clang"):
        if proc.which(candidate):
            return candidate
    raise ToolNotFoundError("No C preprocessor found (looked for cpp, gcc, clang).", hint=hint)


def preprocessor_argv(arch: str, dirs: list[Path], cpp: str) -> list[str]:
    spec = _spec(arch)
    size = spec.bits // 8
    defines = (
        *spec.defines,
        "__linux__",
        "__CHAR_BIT__=8",
        f"__SIZEOF_LONG__={size}",
        f"__SIZEOF_POINTER__={size}",
        f"__BITS_PER_LONG={spec.bits}",
    )
    argv = [cpp, "-E", "-dD", "-P", "-undef", "-nostdinc", "-x", "c"]
    argv += [f"-D{d}" for d in defines]
    for d in dirs:
        argv += ["-I", str(d)]
    return [*argv, "-"]


def parse_macros(output: str) -> dict[str, str]:
    """The object-like macros defined at the end of `-dD` output (honouring #undef)."""
    macros: dict[str, str] = {}
    for line in output.splitlines():
        m = _DIRECTIVE.match(line)
        if m is None:
            continue
        kind, name, paren, body = m.groups()
        if kind == "undef":
            macros.pop(name, None)
        elif paren is None:  # function-like macros (__SYSCALL(x, y)) carry no numbers
            macros[name] = body.strip()
    return macros


class _UnresolvedError(Exception):
    pass


class _Evaluator:
    """Integer constant expressions over other macros: literals, names, + - * / % << >> & | ^ ~."""

    def __init__(self, macros: Mapping[str, str]) -> None:
        self.macros = macros
        self.cache: dict[str, int] = {}

    def value(self, name: str, active: tuple[str, ...] = ()) -> int:
        if name in self.cache:
            return self.cache[name]
        if name in active or name not in self.macros:
            raise _UnresolvedError(name)
        result = self._walk(self._parse(self.macros[name]), (*active, name))
        self.cache[name] = result
        return result

    @staticmethod
    def _parse(body: str) -> ast.expr:
        pieces: list[str] = []
        pos, end = 0, len(body.rstrip())
        while pos < end:
            m = _TOKEN.match(body, pos)
            if m is None:
                raise _UnresolvedError(body)
            pos = m.end()
            if m["num"] is not None:
                num = m["num"]
                octal = len(num) > 1 and num[0] == "0" and num[1] not in "xX"
                try:
                    pieces.append(str(int(num, 8 if octal else 0)))
                except ValueError:  # "08": not a C literal
                    raise _UnresolvedError(num) from None
            else:
                # C's `/` on these non-negative constants is Python's `//`.
                pieces.append("//" if m["op"] == "/" else (m["name"] or m["op"]))
        try:
            return ast.parse(" ".join(pieces), mode="eval").body
        except SyntaxError:  # empty body, casts, function calls: not a number
            raise _UnresolvedError(body) from None

    def _walk(self, node: ast.expr, active: tuple[str, ...]) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            return self.value(node.id, active)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self._walk(node.operand, active))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self._walk(node.left, active), self._walk(node.right, active)
            if isinstance(node.op, ast.LShift | ast.RShift) and not 0 <= right < 64:
                raise _UnresolvedError("shift out of range")
            try:
                return _BINOPS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise _UnresolvedError("division by zero") from None
        raise _UnresolvedError(ast.dump(node))


def syscall_numbers(macros: Mapping[str, str]) -> list[tuple[str, int]]:
    """(name, number) for every `__NR_<syscall>` macro that evaluates to an integer."""
    ev = _Evaluator(macros)
    entries: list[tuple[str, int]] = []
    for macro in macros:
        name = macro[5:]
        if not macro.startswith("__NR_") or name in _NOT_SYSCALLS:
            continue
        if not _SYSCALL_NAME.fullmatch(name):  # __NR_SYSCALL_BASE and friends
            continue
        try:
            number = ev.value(macro)
        except _UnresolvedError as exc:
            # Like C: an alias of something this configuration lacks is simply unusable.
            log.warning("skipping %s = %s (cannot resolve %s)", macro, macros[macro], exc)
            continue
        if number >= 0:
            entries.append((name, number))
    return sorted(entries, key=lambda e: (e[1], e[0]))


def generate(arch: str, headers: Path, *, cpp: str | None = None) -> SyscallTable:
    """Preprocess `arch`'s asm/unistd.h under `headers` and return its syscall table."""
    headers = Path(headers)
    dirs = include_dirs(arch, headers)
    argv = preprocessor_argv(arch, dirs, _find_cpp(cpp))
    try:
        result = proc.run(argv, input=_STUB, what=f"Preprocessing {arch} asm/unistd.h")
    except CommandError as exc:
        raise BuildError(
            f"The C preprocessor failed on {arch}'s asm/unistd.h under {headers}; the header"
            f" set is probably incomplete (asm-generic/ must sit beside asm/)."
            f" {_install_hint(_spec(arch))}\n{exc}"
        ) from exc
    entries = syscall_numbers(parse_macros(result.stdout))
    getpid = dict(entries).get("getpid")
    expected = ARCHES[arch].getpid
    if getpid != expected:
        got = "missing" if getpid is None else getpid
        raise BuildError(
            f"The headers under {headers} do not look like {arch}'s: __NR_getpid is "
            f"{got}, expected {expected}. Pass --headers for the {arch} kernel headers."
            f" {_install_hint(ARCHES[arch])}"
        )
    return SyscallTable(arch, tuple(entries), str(headers), tuple(argv))


def _ohnix_command(table: SyscallTable, fmt: str) -> str:
    argv = ["ohnix", "bridge", "syscalls", "--arch", table.arch, "--headers", table.headers]
    return shlex.join([*argv, "--format", fmt])


def to_go(table: SyscallTable, *, package: str = "syscalls") -> str:
    """A gofmt-clean Go file: `SYS_NAME = n` sorted by number, as golang.org/x/sys does."""
    if not package.isidentifier():
        raise ValueError(f"not a Go package name: {package!r}")
    consts = [(f"SYS_{name.upper()}", number) for name, number in table.entries]
    width = max((len(n) for n, _ in consts), default=0)
    lines = [
        f"// Code generated by `{_ohnix_command(table, 'go')}`. DO NOT EDIT.",
        f"// Preprocessor: {shlex.join(table.command)}",
        "",
        f"//go:build {ARCHES[table.arch].goarch} && linux",
        "",
        f"package {package}",
        "",
        "const (",
        *(f"\t{n.ljust(width)} = {v}" for n, v in consts),
        ")",
        "",
    ]
    return "\n".join(lines)


def to_json(table: SyscallTable) -> str:
    """Deterministic JSON (sorted keys, trailing newline); `syscalls` maps kernel names."""
    doc = {
        "arch": table.arch,
        "goarch": ARCHES[table.arch].goarch,
        "generator": _ohnix_command(table, "json"),
        "headers": table.headers,
        "command": list(table.command),
        "syscalls": table.as_dict(),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
