"""Store derivations: ATerm parsing and printing, and independent hash recomputation.

An audit should not take Nix's word for a `.drv` path or an output path, so this module
recomputes both from the ATerm alone (`hashDerivationModulo`, the `text:` and `output:`
store paths) and `verify_closure` compares the results with what is in the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ohnix.errors import OhnixError
from ohnix.store.nar import STORE_DIR, fixed_output_path, make_store_path, text_path

# ATerm is bytes to Nix; surrogateescape carries any non-UTF-8 byte through a round trip.
ENCODING = "utf-8"
ERRORS = "surrogateescape"

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\n\r\t]')
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)  # unrolled: fast on long values
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)

Load = Callable[[str], "Derivation"]
T = TypeVar("T")


@dataclass(frozen=True)
class Output:
    name: str
    path: str  # "" for outputs whose path is not known in advance (floating CA, deferred)
    hash_algo: str  # ATerm form: "" | "sha256" | "r:sha256" (recursive) | "text:sha256" ...
    hash: str  # base16, "" unless fixed-output

    @property
    def is_fixed(self) -> bool:
        return bool(self.hash)


@dataclass(frozen=True)
class Derivation:
    """One `Derive(...)` term. Tuples keep the file's order so printing is byte-exact."""

    outputs: tuple[Output, ...]
    input_drvs: tuple[tuple[str, tuple[str, ...]], ...]
    input_srcs: tuple[str, ...]
    system: str
    builder: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]

    @property
    def env_map(self) -> dict[str, str]:
        return dict(self.env)

    @property
    def name(self) -> str:
        """The derivation name as Nix uses it for output paths (the `name` attribute)."""
        name = self.env_map.get("name")
        if name is None:
            raise OhnixError("This derivation has no `name` in its environment; pass one.")
        return name

    @property
    def is_fixed_output(self) -> bool:
        return len(self.outputs) > 0 and all(o.is_fixed for o in self.outputs)


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between Nix's recorded path and ohnix's recomputation."""

    drv_path: str
    what: str  # "drv" or "output:<name>"
    nix: str
    ohnix: str


# --- ATerm parsing --------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str, where: str) -> None:
        self.text, self.pos, self.where = text, 0, where

    def fail(self, expected: str) -> OhnixError:
        got = self.text[self.pos : self.pos + 20] or "end of file"
        return OhnixError(
            f"Cannot parse the derivation {self.where}: expected {expected} at offset "
            f"{self.pos}, found {got!r}.",
            hint="It is not a Nix `.drv` file, or it uses a newer ATerm variant.",
        )

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise self.fail(repr(token))
        self.pos += len(token)

    def accept(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def string(self) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail("a quoted string")
        self.pos = match.end()
        body = match.group(1)
        if "\\" not in body:
            return body
        return _UNESCAPE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), body)

    def list_of(self, item: Callable[[], T]) -> list[T]:
        self.expect("[")
        items: list[T] = []
        if self.accept("]"):
            return items
        while True:
            items.append(item())
            if self.accept("]"):
                return items
            self.expect(",")

    def strings(self) -> tuple[str, ...]:
        return tuple(self.list_of(self.string))

    def fields(self, *readers: Callable[[], Any]) -> list[Any]:
        """`(a,b,...)`: one value per reader, comma-separated, in parentheses."""
        self.expect("(")
        values = []
        for i, read in enumerate(readers):
            if i:
                self.expect(",")
            values.append(read())
        self.expect(")")
        return values


def parse_aterm(text: str, *, where: str = "text") -> Derivation:
    """Parse `Derive([outputs],[inputDrvs],[inputSrcs],system,builder,[args],[env])`."""
    r = _Reader(text, where)

    def output() -> Output:
        return Output(*r.fields(r.string, r.string, r.string, r.string))

    def input_drv() -> tuple[str, tuple[str, ...]]:
        path, outs = r.fields(r.string, r.strings)
        return path, outs

    def pair() -> tuple[str, str]:
        key, value = r.fields(r.string, r.string)
        return key, value

    r.expect("Derive")
    outputs, input_drvs, input_srcs, system, builder, args, env = r.fields(
        lambda: tuple(r.list_of(output)),
        lambda: tuple(r.list_of(input_drv)),
        r.strings,
        r.string,
        r.string,
        r.strings,
        lambda: tuple(r.list_of(pair)),
    )
    if r.pos != len(text):
        raise r.fail("end of file")
    return Derivation(outputs, input_drvs, input_srcs, system, builder, args, env)


def read_drv(path: str | Path) -> Derivation:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise OhnixError(f"Cannot read the derivation '{path}': {exc.strerror}.") from exc
    return parse_aterm(raw.decode(ENCODING, ERRORS), where=f"'{path}'")


# --- ATerm printing -------------------------------------------------------------------


def _q(s: str) -> str:
    if _NEEDS_ESCAPE.search(s) is None:
        return f'"{s}"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], s) + '"'


def _strings(items: Iterable[str]) -> str:
    return "[" + ",".join(_q(s) for s in items) + "]"


def to_aterm(
    drv: Derivation,
    *,
    mask_outputs: bool = False,
    input_drv_replacements: Mapping[str, str] | None = None,
) -> str:
    """Print `drv` as Nix does; with the options, the variants `hashDerivationModulo` hashes.

    `input_drv_replacements` maps input `.drv` paths to their modulo hashes (hex). Inputs
    that map to the same key are merged, and the result is sorted by the new key, as Nix's
    `std::map` does.
    """
    outputs = ",".join(
        "("
        + ",".join([_q(o.name), _q("" if mask_outputs else o.path), _q(o.hash_algo), _q(o.hash)])
        + ")"
        for o in drv.outputs
    )
    input_drvs: Iterable[tuple[str, Iterable[str]]] = drv.input_drvs
    if input_drv_replacements is not None:
        merged: dict[str, set[str]] = {}
        for path, outs in drv.input_drvs:
            merged.setdefault(input_drv_replacements[path], set()).update(outs)
        input_drvs = sorted((key, sorted(outs)) for key, outs in merged.items())
    inputs = ",".join(f"({_q(path)},{_strings(outs)})" for path, outs in input_drvs)
    masked = {o.name for o in drv.outputs} if mask_outputs else set()
    env = ",".join(f"({_q(k)},{_q('' if k in masked else v)})" for k, v in drv.env)
    return (
        f"Derive([{outputs}],[{inputs}],{_strings(drv.input_srcs)},{_q(drv.system)},"
        f"{_q(drv.builder)},{_strings(drv.args)},[{env}])"
    )


def aterm_bytes(drv: Derivation) -> bytes:
    return to_aterm(drv).encode(ENCODING, ERRORS)


# --- hashes and paths -----------------------------------------------------------------


def _split_algo(hash_algo: str) -> tuple[str, str]:
    """ "r:sha256" -> ("r:", "sha256"); the prefix names the content-addressing method."""
    prefix, _, algo = hash_algo.rpartition(":")
    return (prefix + ":" if prefix else ""), algo


def _fixed_hashes(drv: Derivation) -> dict[str, bytes]:
    # The output path is part of the fingerprint, so a different `name` for the same
    # content still gives a different hash; the URL and builder are not.
    return {
        o.name: hashlib.sha256(f"fixed:out:{o.hash_algo}:{o.hash}:{o.path}".encode()).digest()
        for o in drv.outputs
    }


def _modulo(drv: Derivation, load: Load, memo: dict[str, bytes], mask_outputs: bool) -> bytes:
    """One step of `hashDerivationModulo`, for a drv whose non-FOD inputs are in `memo`."""
    if drv.is_fixed_output:
        hashes = _fixed_hashes(drv)
        return hashes.get("out") or next(iter(hashes.values()))
    replacements: dict[str, str] = {}
    for path, outs in drv.input_drvs:
        dep = load(path)
        if not dep.is_fixed_output:
            replacements[path] = memo[path].hex()
            continue
        # Nix keys an FOD input by the hash of the output used, not of the whole drv.
        hashes = _fixed_hashes(dep)
        keys = {hashes[o].hex() for o in outs if o in hashes}
        if len(keys) != 1:
            raise OhnixError(f"Cannot replay the use of outputs {list(outs)} of '{path}'.")
        replacements[path] = keys.pop()
    aterm = to_aterm(drv, mask_outputs=mask_outputs, input_drv_replacements=replacements)
    return hashlib.sha256(aterm.encode(ENCODING, ERRORS)).digest()


def hash_derivation_modulo(
    drv: Derivation, load: Load, memo: dict[str, bytes], *, mask_outputs: bool = False
) -> bytes:
    """Nix's `hashDerivationModulo`: the identity of a derivation with every fixed-output
    dependency reduced to its content hash, so changing a fetcher's URL changes no output path.

    Inputs are always hashed unmasked (as Nix's `pathDerivationModulo` does); `memo` caches
    those by `.drv` path. Use `mask_outputs=True` for the hash that output paths are made of.
    """
    # Post-order walk with an explicit stack: real closures are deeper than Python recursion.
    stack = [(path, False) for path, _ in drv.input_drvs]
    while stack:
        path, inputs_done = stack.pop()
        if path in memo:
            continue
        dep = load(path)
        if dep.is_fixed_output:
            continue  # hashed from its own outputs, needs no inputs
        if inputs_done:
            memo[path] = _modulo(dep, load, memo, mask_outputs=False)
        else:
            stack.append((path, True))
            stack.extend((p, False) for p, _ in dep.input_drvs if p not in memo)
    return _modulo(drv, load, memo, mask_outputs)


def output_path_name(drv_name: str, output: str) -> str:
    return drv_name if output == "out" else f"{drv_name}-{output}"


def output_paths(
    drv: Derivation,
    load: Load,
    memo: dict[str, bytes],
    *,
    name: str | None = None,
    store_dir: str = STORE_DIR,
) -> dict[str, str]:
    """The output paths Nix assigns to `drv` ({output name: store path})."""
    drv_name = name if name is not None else drv.name
    if drv.is_fixed_output:
        paths = {}
        for o in drv.outputs:
            method, algo = _split_algo(o.hash_algo)
            if method not in ("", "r:"):
                raise OhnixError(
                    f"Output '{o.name}' of '{drv_name}' uses content-addressing method "
                    f"'{method[:-1]}', which ohnix does not recompute (only flat and NAR)."
                )
            paths[o.name] = fixed_output_path(
                output_path_name(drv_name, o.name),
                bytes.fromhex(o.hash),
                recursive=method == "r:",
                algo=algo,
                store_dir=store_dir,
            )
        return paths
    if any(not o.path for o in drv.outputs):
        raise OhnixError(
            f"'{drv_name}' has outputs without a precomputed path (content-addressed or "
            "deferred derivations); their paths are only known after the build."
        )
    modulo = hash_derivation_modulo(drv, load, memo, mask_outputs=True)
    return {
        o.name: make_store_path(
            f"output:{o.name}", modulo, output_path_name(drv_name, o.name), store_dir
        )
        for o in drv.outputs
    }


def drv_path(drv: Derivation, name: str, *, store_dir: str = STORE_DIR) -> str:
    """The `.drv` store path: a `text:` path over the ATerm, referencing all inputs."""
    references = [*drv.input_srcs, *(path for path, _ in drv.input_drvs)]
    return text_path(f"{name}.drv", aterm_bytes(drv), references, store_dir)


def drv_name_of(path: str) -> str:
    """`/nix/store/<hash>-foo.drv` -> `foo`."""
    base = path.rsplit("/", 1)[-1]
    _, sep, rest = base.partition("-")
    if not sep or not rest.endswith(".drv"):
        raise OhnixError(f"'{path}' is not a store path of a `.drv` file.")
    return rest[: -len(".drv")]


# --- closure verification -------------------------------------------------------------


def verify_closure(
    drv_paths: Iterable[str], *, load: Load | None = None, store_dir: str = STORE_DIR
) -> list[Mismatch]:
    """Recompute the `.drv` and output paths of every derivation in the closure of
    `drv_paths` and return where they differ from the recorded ones.

    Derivations are read from the store unless `load` supplies them (e.g. parsed from
    `nix derivation show` JSON of another machine).
    """
    cache: dict[str, Derivation] = {}
    read = load or read_drv

    def cached(path: str) -> Derivation:
        if path not in cache:
            cache[path] = read(path)
        return cache[path]

    memo: dict[str, bytes] = {}
    mismatches: list[Mismatch] = []
    todo, seen = list(drv_paths), set[str]()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        drv = cached(path)
        todo.extend(p for p, _ in drv.input_drvs)
        name = drv_name_of(path)
        ours = drv_path(drv, name, store_dir=store_dir)
        if ours != path:
            mismatches.append(Mismatch(path, "drv", path, ours))
        computed = output_paths(drv, cached, memo, name=name, store_dir=store_dir)
        for out in drv.outputs:
            if computed.get(out.name) != out.path:
                mismatches.append(
                    Mismatch(path, f"output:{out.name}", out.path, computed.get(out.name, ""))
                )
    return sorted(mismatches, key=lambda m: (m.drv_path, m.what))
