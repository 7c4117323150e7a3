"""Every JSON shape Nix has printed for `show-derivation` and `path-info`, made one.

Nix reshapes this experimental JSON every few releases (see tests/data/nix-json/README.md
for the sources of each shape). Callers get drv.py's `Derivation` (so a parsed derivation
can be re-hashed into its `.drv` path) and `PathInfo`, whatever Nix printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ohnix.errors import OhnixError
from ohnix.store.drv import Derivation, Output, drv_name_of, output_path_name
from ohnix.store.nar import STORE_DIR, fixed_output_path, nix32_encode, parse_hash, to_sri

KNOWN = "Nix 2.8 to 2.34"
# Content-addressing method names (JSON) and their ATerm `hashAlgo` prefixes.
METHOD_PREFIX = {"flat": "", "nar": "r:", "text": "text:", "git": "git:"}
DERIVATION_JSON_VERSIONS = (3, 4)
PATH_INFO_JSON_VERSIONS = (1, 2, 3)


@dataclass(frozen=True)
class PathInfo:
    path: str
    nar_hash: str  # SRI
    nar_size: int
    references: tuple[str, ...]  # full store paths, sorted
    deriver: str | None
    signatures: tuple[str, ...]  # "<key-name>:<base64>", as in .narinfo files
    ca: str | None  # as in .narinfo `CA:`, e.g. "fixed:r:sha256:<nix32>"


def _error(what: str, detail: str, nix_version: str | None) -> OhnixError:
    seen = f"Nix {nix_version}" if nix_version else "this Nix"
    return OhnixError(
        f"Unrecognised `{what}` JSON from {seen}: {detail}.",
        hint=f"ohnix reads the shapes of {KNOWN}; a newer Nix may have changed them again "
        "(check `nix --version`, and report the output so the shape can be added).",
    )


class _Shape:
    """Type checks that fail with an error naming the command and the Nix version."""

    def __init__(self, what: str, nix_version: str | None, store_dir: str) -> None:
        self.what, self.nix_version, self.store_dir = what, nix_version, store_dir

    def fail(self, detail: str) -> OhnixError:
        return _error(self.what, detail, self.nix_version)

    def load(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(f"it is not JSON ({exc.msg} at line {exc.lineno})") from exc

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} is a {type(value).__name__}, not an object")
        return value

    def str_(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{where} is a {type(value).__name__}, not a string")
        return value

    def strs(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(f"{where} is a {type(value).__name__}, not a list")
        return [self.str_(v, where) for v in value]

    def path(self, value: Any, where: str) -> str:
        # 2.32+ prints store-path base names; everything here returns full paths.
        p = self.str_(value, where)
        return p if p.startswith("/") else f"{self.store_dir}/{p}"

    def hex(self, value: Any, where: str) -> bytes:
        try:
            return bytes.fromhex(self.str_(value, where))
        except ValueError:
            raise self.fail(f"{where} {value!r} is not base16") from None

    def version(self, data: dict[str, Any], known: tuple[int, ...], where: str) -> int | None:
        v = data.get("version")
        if v is not None and v not in known:
            raise self.fail(f"{where} has format version {v!r}; known versions are {known}")
        return v if isinstance(v, int) else None

    def digest(self, value: Any, where: str) -> tuple[str, bytes]:
        """A hash as SRI, `<algo>:<nix32|hex|base64>`, or {algorithm, format, hash}."""
        if isinstance(value, dict):
            algo = self.str_(value.get("algorithm"), f"{where}.algorithm")
            fmt = self.str_(value.get("format"), f"{where}.format")
            body = self.str_(value.get("hash"), f"{where}.hash")
            text = {
                "base16": f"{algo}:{body}",
                "nix32": f"{algo}:{body}",
                "base32": f"{algo}:{body}",
                "base64": f"{algo}-{body}",
                "sri": body,
            }.get(fmt)
            if text is None:
                raise self.fail(f"{where} has unknown hash format {fmt!r}")
        else:
            text = self.str_(value, where)
        sep = min((i for i in (text.find("-"), text.find(":")) if i > 0), default=-1)
        if sep < 0:
            raise self.fail(f"{where} {text!r} does not name its hash algorithm")
        algo = text[:sep]
        try:
            return algo, parse_hash(text, algo)
        except OhnixError as exc:
            raise self.fail(f"{where}: {exc.message}") from exc


# --- derivations ----------------------------------------------------------------------


def _output(s: _Shape, name: str, raw: Any, drv_name: str, where: str) -> Output:
    """One output in ATerm form: (name, path, "r:sha256"-style algorithm, hex hash)."""
    o = s.obj(raw, where)
    path = s.path(o["path"], f"{where}.path") if o.get("path") else ""
    raw_hash = o.get("hash")
    method = o.get("method")
    if method is None:  # <= 2.22: {"path", "hashAlgo": "r:sha256", "hash": "<hex>"}
        prefix, _, algo = s.str_(o.get("hashAlgo", ""), f"{where}.hashAlgo").rpartition(":")
        prefix += ":" if prefix else ""
        digest = s.hex(raw_hash or "", f"{where}.hash")
    else:
        found = METHOD_PREFIX.get(s.str_(method, f"{where}.method"))
        if found is None:
            raise s.fail(f"{where}.method is {method!r}")
        prefix = found
        if raw_hash is None:  # floating CA or impure: {"method", "hashAlgo"}, no path yet
            algo, digest = s.str_(o.get("hashAlgo"), f"{where}.hashAlgo"), b""
        elif isinstance(raw_hash, str) and "hashAlgo" in o:  # 2.23-2.32: hex + algorithm
            algo, digest = s.str_(o["hashAlgo"], f"{where}.hashAlgo"), s.hex(raw_hash, where)
        else:  # 2.33+: a content address {"method", "hash": SRI or structured}
            algo, digest = s.digest(raw_hash, f"{where}.hash")
    if not path and digest and prefix in ("", "r:"):
        # 2.32+ leave the path out of fixed outputs: it follows from the name and hash.
        path = fixed_output_path(
            output_path_name(drv_name, name),
            digest,
            recursive=prefix == "r:",
            algo=algo,
            store_dir=s.store_dir,
        )
    return Output(name, path, prefix + algo if algo else "", digest.hex())


def _input_outputs(s: _Shape, raw: Any, where: str) -> list[str]:
    if isinstance(raw, list):  # <= 2.18
        return s.strs(raw, where)
    node = s.obj(raw, where)  # 2.19+: {"outputs": [...], "dynamicOutputs": {...}}
    if node.get("dynamicOutputs"):
        raise OhnixError(
            f"{where} depends on outputs of outputs (dynamic derivations), which ohnix "
            "does not model."
        )
    return s.strs(node.get("outputs"), f"{where}.outputs")


def _derivation(s: _Shape, key: str, raw: Any) -> tuple[str, Derivation]:
    path = s.path(key, "a derivation key")
    d = s.obj(raw, f"'{key}'")
    s.version(d, DERIVATION_JSON_VERSIONS, f"'{key}'")
    env = {k: s.str_(v, f"'{key}'.env.{k}") for k, v in s.obj(d.get("env"), "env").items()}
    if "structuredAttrs" in d:
        # Newer Nix lifts __json out of env; put it back as Nix's compact, sorted dump.
        attrs = s.obj(d["structuredAttrs"], f"'{key}'.structuredAttrs")
        env["__json"] = json.dumps(attrs, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    name = d.get("name") or env.get("name") or drv_name_of(path)
    if "inputs" in d:  # 2.33+ ("v4"): {"inputs": {"srcs": [...], "drvs": {...}}}
        inputs = s.obj(d["inputs"], f"'{key}'.inputs")
        srcs_raw, drvs_raw = inputs.get("srcs"), inputs.get("drvs")
    elif "inputSrcs" in d and "inputDrvs" in d:
        srcs_raw, drvs_raw = d["inputSrcs"], d["inputDrvs"]
    else:
        raise s.fail(f"'{key}' has neither `inputs` nor `inputSrcs`/`inputDrvs`")
    outputs = [
        _output(s, out, value, name, f"'{key}'.outputs.{out}")
        for out, value in s.obj(d.get("outputs"), f"'{key}'.outputs").items()
    ]
    drvs = s.obj(drvs_raw, f"'{key}' input derivations")
    input_drvs = sorted(
        (s.path(p, "an input derivation"), tuple(sorted(_input_outputs(s, v, f"'{p}'"))))
        for p, v in drvs.items()
    )
    drv = Derivation(
        outputs=tuple(sorted(outputs, key=lambda o: o.name)),
        input_drvs=tuple(input_drvs),
        input_srcs=tuple(sorted(s.path(p, "an input source") for p in s.strs(srcs_raw, "srcs"))),
        system=s.str_(d.get("system"), f"'{key}'.system"),
        builder=s.str_(d.get("builder"), f"'{key}'.builder"),
        args=tuple(s.strs(d.get("args"), f"'{key}'.args")),
        env=tuple(sorted(env.items())),
    )
    return path, drv


def parse_show_derivation(
    text: str, *, nix_version: str | None = None, store_dir: str = STORE_DIR
) -> dict[str, Derivation]:
    """`nix show-derivation` / `nix derivation show` output -> {full .drv path: Derivation}."""
    s = _Shape("nix derivation show", nix_version, store_dir)
    data = s.obj(s.load(text), "the top level")
    if "derivations" in data and "version" in data:  # 2.34+: {"version", "derivations"}
        s.version(data, DERIVATION_JSON_VERSIONS, "the top level")
        data = s.obj(data["derivations"], "`derivations`")
    for key in data:
        if not key.endswith(".drv"):
            raise s.fail(f"the key {key!r} is not a `.drv` store path")
    return dict(_derivation(s, key, value) for key, value in data.items())


# --- path info ------------------------------------------------------------------------


def _render_ca(s: _Shape, raw: Any, where: str) -> str | None:
    if raw is None or isinstance(raw, str):  # <= 2.32 and --json-format 1: already rendered
        return raw or None
    ca = s.obj(raw, where)  # --json-format 2: {"method": "nar", "hash": ...}
    method = s.str_(ca.get("method"), f"{where}.method")
    algo, digest = s.digest(ca.get("hash"), f"{where}.hash")
    if method == "text":
        return f"text:{algo}:{nix32_encode(digest)}"
    if method not in METHOD_PREFIX:
        raise s.fail(f"{where}.method is {method!r}")
    return f"fixed:{METHOD_PREFIX[method]}{algo}:{nix32_encode(digest)}"


def _signature(s: _Shape, raw: Any, where: str) -> str:
    if isinstance(raw, dict):  # --json-format 3: {"keyName", "sig"}
        return f"{s.str_(raw.get('keyName'), where)}:{s.str_(raw.get('sig'), where)}"
    return s.str_(raw, where)


def _path_info(s: _Shape, path: str, raw: dict[str, Any]) -> PathInfo:
    where = f"'{path}'"
    s.version(raw, PATH_INFO_JSON_VERSIONS, where)
    size = raw.get("narSize")
    if not isinstance(size, int):
        raise s.fail(f"{where}.narSize is missing")
    deriver = raw.get("deriver")
    algo, nar_digest = s.digest(raw.get("narHash"), f"{where}.narHash")
    return PathInfo(
        path=path,
        nar_hash=to_sri(nar_digest, algo),
        nar_size=size,
        references=tuple(sorted(s.path(r, "a reference") for r in raw.get("references", []))),
        deriver=s.path(deriver, f"{where}.deriver") if deriver else None,
        signatures=tuple(_signature(s, x, where) for x in raw.get("signatures") or []),
        ca=_render_ca(s, raw.get("ca"), f"{where}.ca"),
    )


def parse_path_info(
    text: str, *, nix_version: str | None = None, store_dir: str = STORE_DIR
) -> dict[str, PathInfo]:
    """`nix path-info --json` output -> {full store path: PathInfo}.

    Paths Nix reports as invalid (`"valid": false` up to 2.18, `null` after) are left
    out; compare the keys with what was asked for to find them.
    """
    s = _Shape("nix path-info --json", nix_version, store_dir)
    data = s.load(text)
    entries: list[tuple[str, Any]]
    if isinstance(data, list):  # <= 2.18: [{"path": ..., ...}]
        entries = [(s.path(s.obj(o, "an entry").get("path"), "an entry's path"), o) for o in data]
    else:
        data = s.obj(data, "the top level")
        if isinstance(data.get("info"), dict) and "version" in data:  # --json-format 2+
            s.version(data, PATH_INFO_JSON_VERSIONS, "the top level")
            if isinstance(data.get("storeDir"), str):
                s.store_dir = data["storeDir"]
            data = data["info"]
        entries = [(s.path(k, "a key"), v) for k, v in data.items()]
    return {
        path: _path_info(s, path, s.obj(raw, f"'{path}'"))
        for path, raw in entries
        if raw is not None and raw.get("valid", True) is not False
    }
