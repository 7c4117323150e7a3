"""ohnix.toml, the user's intent, loaded into validated frozen dataclasses.

Every error names the file, the table and the key, and suggests the near miss.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from ohnix import products as catalog
from ohnix import root
from ohnix.errors import ConfigError, did_you_mean
from ohnix.products import KERNELS, LIBCS, SYSTEM_TYPES, Product, product_from_dict

CONFIG_NAME = root.CONFIG_NAME
SourceKind = Literal["git", "url"]
Provider = Literal["nixpkgs", "ohos-prebuilts", "host"]
PROVIDERS: tuple[Provider, ...] = ("nixpkgs", "ohos-prebuilts", "host")
TOOLS = ("cc", "go", "gn", "ninja", "node", "python", "cmake")
GCC_FLAVOURS = ("pkgsCross", "gcc-arm-embedded")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Attributes Nix itself interprets in a derivation: a shell's `env` would change what the
# derivation is (a fixed-output fetch, structured attrs, another builder), not its variables.
NIX_DERIVATION_ATTRS = frozenset({
    "args", "builder", "name", "system", "outputs", "outputHash", "outputHashAlgo",
    "outputHashMode", "outputChecks", "allowedReferences", "allowedRequisites",
    "disallowedReferences", "disallowedRequisites", "exportReferencesGraph", "impureEnvVars",
    "passAsFile", "preferLocalBuild", "allowSubstitutes", "requiredSystemFeatures",
    "unsafeDiscardReferences", "out",
})  # fmt: skip
# Variables the shell sets from its tools; the provider choice decides them.
SHELL_TOOL_VARS = frozenset({"PATH", "CC", "CXX", "AR", "LD", "NM", "OBJCOPY", "STRIP", "RANLIB",
                             "GO", "OHOS_SYSROOT", "OHOS_RESOURCE_DIR"})  # fmt: skip
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# What a repository or file location may be. Anything else (a leading `-`, git's
# `transport::address` forms such as `ext::`, which run commands) is refused, because the
# value reaches git's and Nix's command lines.
GIT_URL = re.compile(
    r"^(?:(?:https?|ssh|git|file)://[^\s]+"  # URLs
    r"|github:[\w.-]+/[\w.-]+"  # github:owner/repo
    r"|(?:/|\./|\.\./)[^\s]*"  # local paths
    r"|[\w.-]+@[\w.-]+:(?!-)[^\s:]+)$"  # scp-like user@host:path
)
FILE_URL = re.compile(r"^(?:https?|file)://[^\s]+$")
# A cross prefix names programs found on PATH (aarch64-linux-gnu-), never a path: a `/`
# would run a file of the project's instead.
HOST_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")
# A product name becomes a folder (.ohnix/roots/NAME, out/NAME) and a Nix attribute.
PRODUCT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
# [bridge] folders ohnix build writes to: relative, and inside the project once normalised.
BRIDGE_OUTPUT_DIRS = ("syscalls_dir", "cgo_dir", "abi_dir")

# The schema: table -> {key: type}. Tables whose keys are user names ("sources", "products")
# are described by their entry schema.
STR, INT, BOOL, STRS, TABLE = str, int, bool, "list[str]", "table"
SCHEMA: dict[str, dict[str, Any]] = {
    "project": {"name": STR, "openharmony": STR},
    "nixpkgs": {"url": STR, "ref": STR, "rev": STR, "path": STR},
    "toolchain": {"llvm": INT, "go": STR, "gcc": STR, "go_patches": STRS, "go_fork": STR},
    "prebuilts": {"mirror": STR, "include": STRS},
    "bridge": {
        "package": STR,
        "binary": STR,
        "syscalls_dir": STR,
        "cgo_dir": STR,
        "abi_dir": STR,
        "headers": STR,
        "abi_types": STR,
    },
}
SOURCE_KEYS: dict[str, Any] = {
    "git": STR, "url": STR, "ref": STR, "rev": STR, "name": STR, "unpack": BOOL,
    "submodules": BOOL, "deep_clone": BOOL, "leave_dot_git": BOOL, "lfs": BOOL,
}  # fmt: skip
PRODUCT_KEYS: dict[str, Any] = {
    "provider": STR, "cpu": STR, "env": TABLE, "tools": TABLE, "host_prefix": STR,
    "extends": STR, "description": STR,
    # user-defined products (or overrides of a catalog entry through `extends`)
    "board": STR, "soc": STR, "vendor": STR, "system_type": STR, "kernel": STR,
    "kernel_version": STR, "triple": STR, "libc": STR, "float_abi": STR, "compiler": STR,
    "march": STR, "goarch": STR, "goarm": STR, "kconfig": STRS, "cflags": STRS,
}  # fmt: skip
DEFINITION_KEYS = ("board", "system_type", "kernel", "triple", "libc", "float_abi", "compiler")


@dataclass(frozen=True)
class Project:
    name: str
    openharmony: str = "4.1"


@dataclass(frozen=True)
class NixpkgsSpec:
    """Which nixpkgs: a git URL (or github:owner/repo) with a ref or rev, or a local path."""

    url: str | None = None
    ref: str | None = None
    rev: str | None = None
    path: str | None = None


# The Go release line the nixpkgs provider takes when [toolchain] asks for none (go_1_25).
NIXPKGS_GO = "1.25"
GO_LINE = re.compile(r"^[1-9][0-9]*\.[0-9]+$")


@dataclass(frozen=True)
class Toolchain:
    llvm: int = 19
    go: str | None = None  # None: each provider's own Go (nixpkgs: NIXPKGS_GO)
    gcc: str = "pkgsCross"
    go_patches: tuple[str, ...] = ()
    go_fork: str | None = None


class FetchFlagValues(TypedDict):
    unpack: bool
    submodules: bool
    deep_clone: bool
    leave_dot_git: bool
    lfs: bool


@dataclass(frozen=True, kw_only=True)
class FetchFlags:
    """How a source is fetched. The same flags go from ohnix.toml (Source) to the request
    (pin.lockfile.Spec), the prefetcher and the lock (Pin), and into the rendered fetcher."""

    unpack: bool = False  # url: unpack the archive (a NAR hash of the tree), else a flat file
    submodules: bool = False  # git only, like the three below
    deep_clone: bool = False
    leave_dot_git: bool = False
    lfs: bool = False

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(FetchFlags))

    def fetch_flags(self) -> FetchFlagValues:
        """The flags alone, to pass on: `Spec(..., **source.fetch_flags())`."""
        return FetchFlagValues(unpack=self.unpack, submodules=self.submodules,
                               deep_clone=self.deep_clone, leave_dot_git=self.leave_dot_git,
                               lfs=self.lfs)  # fmt: skip


@dataclass(frozen=True)
class Source(FetchFlags):
    """An extra source to pin: a git repository or a URL (flat file or unpacked archive)."""

    name: str
    kind: SourceKind
    url: str
    ref: str | None = None
    rev: str | None = None
    store_name: str | None = None


@dataclass(frozen=True)
class Prebuilts:
    mirror: str | None = None
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bridge:
    """Where `ohnix build` finds the Go package and writes its generated files."""

    package: str = "."
    binary: str = "bridge"
    syscalls_dir: str = "syscalls"
    cgo_dir: str = "gen"
    abi_dir: str = "abi"
    headers: str | None = None
    abi_types: str | None = None


@dataclass(frozen=True)
class ProductConfig:
    """A product the project wants a shell for, with its provider choices."""

    name: str
    product: Product
    provider: Provider = "nixpkgs"
    tools: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    host_prefix: str | None = None

    def provider_for(self, tool: str) -> str:
        return dict(self.tools).get(tool, self.provider)


@dataclass(frozen=True)
class Config:
    path: Path
    project: Project
    nixpkgs: NixpkgsSpec | None
    toolchain: Toolchain
    sources: tuple[Source, ...]
    prebuilts: Prebuilts
    products: tuple[ProductConfig, ...]
    bridge: Bridge = Bridge()

    @property
    def root(self) -> Path:
        return self.path.parent

    def product(self, name: str) -> ProductConfig:
        for p in self.products:
            if p.name == name:
                return p
        names = [p.name for p in self.products]
        raise ConfigError(
            f"`{name}` is not configured in {self.path}." + did_you_mean(name, names),
            hint=f"Configured products: {', '.join(names) or 'none'}. "
            f"Add a [products.{name}] table to provide a shell for it.",
        )

    def uses(self, provider: str) -> bool:
        return any(
            p.provider == provider or provider in dict(p.tools).values() for p in self.products
        )


class _Checker:
    """Validates raw TOML tables against the schema, naming file, table and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}", hint=hint)

    def table(self, raw: Any, where: str, schema: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, f"expected a table, got {_kind(raw)}.")
        for key, value in raw.items():
            if key not in schema:
                raise self.fail(
                    where,
                    f"unknown key `{key}`." + did_you_mean(key, schema),
                    hint=f"Known keys: {', '.join(sorted(schema))}.",
                )
            self.value(value, f"{where}.{key}", schema[key])
        return raw

    def value(self, value: Any, where: str, expected: Any) -> None:
        ok = {
            STR: isinstance(value, str),
            INT: isinstance(value, int) and not isinstance(value, bool),
            BOOL: isinstance(value, bool),
            STRS: isinstance(value, list) and all(isinstance(v, str) for v in value),
            TABLE: isinstance(value, dict),
        }[expected]
        if not ok:
            want = {STR: "a string", INT: "an integer", BOOL: "true or false",
                    STRS: "a list of strings", TABLE: "a table"}[expected]  # fmt: skip
            raise self.fail(where, f"expected {want}, got {_kind(value)} ({value!r}).")

    def choice(self, value: str, where: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(
                where,
                f"`{value}` is not one of {', '.join(choices)}." + did_you_mean(value, choices),
            )
        return value


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


def find(directory: Path) -> Path:
    """The ohnix.toml of the project `directory` is in: its own, or the nearest above it."""
    found = root.find(directory)
    if found is None:
        ceiling = f" (below {root.CEILING_VAR})" if root.ceilings() else ""
        raise ConfigError(
            f"No {CONFIG_NAME} in {directory} or any folder above it{ceiling}.",
            hint="Run `ohnix init` to write a starter one here, or pass -C DIR to work on "
            "the project in DIR.",
        )
    return found / CONFIG_NAME


def load(directory: Path) -> Config:
    path = find(directory)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        if "twice" in detail or "already" in detail:
            detail += " (a table such as a product is defined twice; keep one)"
        raise ConfigError(f"{path}: not valid TOML: {detail}.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}).") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: nested too deeply to read (arrays or tables within "
                          "each other thousands of levels down).") from exc  # fmt: skip
    return parse(raw, path)


def parse(raw: dict[str, Any], path: Path) -> Config:
    check = _Checker(path)
    top = {**dict.fromkeys(SCHEMA, TABLE), "sources": TABLE, "products": TABLE}
    check.table(raw, "top level", top)
    tables = {k: check.table(raw.get(k, {}), f"[{k}]", SCHEMA[k]) for k in SCHEMA}

    if "name" not in tables["project"]:
        raise check.fail("[project]", "missing key `name`.", hint='Add name = "my-project".')
    project = Project(**tables["project"])
    if project.openharmony != "4.1":
        raise check.fail(
            "[project].openharmony",
            f"OpenHarmony `{project.openharmony}` is not supported; ohnix knows 4.1.",
        )

    nix_raw = tables["nixpkgs"]
    nixpkgs = NixpkgsSpec(**nix_raw) if nix_raw else None
    if nixpkgs and bool(nixpkgs.url) == bool(nixpkgs.path):
        raise check.fail("[nixpkgs]", "set exactly one of `url` (with `ref` or `rev`) or `path`.")
    if nixpkgs and nixpkgs.url and not (nixpkgs.ref or nixpkgs.rev):
        raise check.fail("[nixpkgs]", "a `url` needs a `ref` (branch or tag) or a `rev`.")
    if nixpkgs and nixpkgs.url:
        _location(check, "[nixpkgs].url", nixpkgs.url, GIT_URL)
    if nixpkgs and nixpkgs.path and any(c in nixpkgs.path for c in "?#\n"):
        raise check.fail(
            "[nixpkgs].path",
            f"`{nixpkgs.path}` contains `?` or `#`, which a flake's `path:` input reads as a "
            "query or an attribute: Nix would pin another folder than this one.",
            hint="Move or link the nixpkgs checkout to a path without those characters.",
        )

    tc = dict(tables["toolchain"])
    tc["go_patches"] = tuple(tc.get("go_patches", ()))
    toolchain = Toolchain(**tc)
    check.choice(toolchain.gcc, "[toolchain].gcc", GCC_FLAVOURS)
    if toolchain.go is not None and not GO_LINE.match(toolchain.go):
        raise check.fail(
            "[toolchain].go",
            f"`{toolchain.go}` is not a Go release line: give MAJOR.MINOR, e.g. "
            f'go = "{NIXPKGS_GO}" (nixpkgs names Go so: go_{NIXPKGS_GO.replace(".", "_")}).',
        )

    sources = _sources(check, raw.get("sources", {}))
    names = {s.name for s in sources}
    for ref in toolchain.go_patches:
        if is_patch_file(ref):
            _project_file(check, path.parent, "[toolchain].go_patches", ref)
    for ref in (*toolchain.go_patches, *([toolchain.go_fork] if toolchain.go_fork else [])):
        if ref not in names and not (ref in toolchain.go_patches and is_patch_file(ref)):
            raise check.fail(
                "[toolchain]",
                f"`{ref}` is not a source." + did_you_mean(ref, names),
                hint="Go patch sets and forks are declared as [sources.NAME] tables; a "
                "patch file of the project is named by its path (patches/go/x.patch).",
            )

    pre = dict(tables["prebuilts"])
    pre["include"] = tuple(pre.get("include", ()))
    products = _products(check, raw.get("products", {}))
    if nixpkgs is None and any(
        "nixpkgs" in (p.provider, *dict(p.tools).values()) for p in products
    ):
        raise check.fail(
            "[nixpkgs]",
            "a product uses the `nixpkgs` provider but no nixpkgs is configured.",
            hint='Add [nixpkgs] with url = "github:NixOS/nixpkgs" and ref = "nixos-25.11", '
            'or use provider = "host".',
        )
    bridge = Bridge(**tables["bridge"])
    _bridge_paths(check, bridge)
    return Config(path, project, nixpkgs, toolchain, sources, Prebuilts(**pre), products, bridge)


def is_patch_file(ref: str) -> bool:
    """A `go_patches` entry that names a patch file of the project, not a [sources] table."""
    return ref.endswith((".patch", ".diff"))


def _project_file(check: _Checker, root: Path, where: str, rel: str) -> None:
    normal = posixpath.normpath(rel)
    if rel.startswith("/") or normal == ".." or normal.startswith("../") or "\\" in rel:
        raise check.fail(
            where,
            f"`{rel}` is outside the project.",
            hint="Name a file under the project, e.g. patches/go/0001-x.patch.",
        )
    target = root / normal
    if not target.is_file():
        raise check.fail(
            where,
            f"`{rel}` is not a file in {root}.",
            hint="Check the path; it is relative to ohnix.toml's folder.",
        )
    if not str(target.resolve()).startswith(str(root.resolve()) + "/"):
        raise check.fail(where, f"`{rel}` leads outside the project (a symlink).")


def _location(check: _Checker, where: str, value: str, allowed: re.Pattern[str]) -> None:
    if not allowed.match(value):
        what = "repository" if allowed is GIT_URL else "file URL"
        raise check.fail(
            where,
            f"`{value}` is not a {what} ohnix accepts.",
            hint="Use an https://, ssh://, git:// or file:// URL, github:OWNER/REPO, a path, "
            "or user@host:path for git; https:// or file:// for files. Values that start with "
            "`-` or use git's `transport::` forms are refused: they would run commands.",
        )


def _sources(check: _Checker, raw: Any) -> tuple[Source, ...]:
    check.value(raw, "[sources]", TABLE)
    out = []
    for name in sorted(raw):
        where = f"[sources.{name}]"
        if not SOURCE_NAME.match(name):
            raise check.fail(where, "a source name may use letters, digits and `_.+-`.")
        data = check.table(raw[name], where, SOURCE_KEYS)
        if ("git" in data) == ("url" in data):
            raise check.fail(where, "set exactly one of `git` (a repository) or `url` (a file).")
        kind: SourceKind = "git" if "git" in data else "url"
        if kind == "url" and any(k in data for k in ("ref", "rev", "submodules", "deep_clone")):
            raise check.fail(where, "`ref`, `rev`, `submodules`, `deep_clone` are for git sources.")
        if kind == "git" and "unpack" in data:
            raise check.fail(where, "`unpack` is for url sources.")
        if kind == "git" and not (data.get("ref") or data.get("rev")):
            data = {**data, "ref": "HEAD"}
        _location(check, f"{where}.{kind}", data[kind], GIT_URL if kind == "git" else FILE_URL)
        out.append(
            Source(
                name=name,
                kind=kind,
                url=data[kind],
                ref=data.get("ref"),
                rev=data.get("rev"),
                store_name=data.get("name"),
                **{flag: data.get(flag, False) for flag in FetchFlags.names()},
            )
        )
    return tuple(out)


def _bridge_paths(check: _Checker, bridge: Bridge) -> None:
    for key in BRIDGE_OUTPUT_DIRS:
        value = getattr(bridge, key)
        normal = posixpath.normpath(value)
        if value.startswith("/") or normal == ".." or normal.startswith("../"):
            raise check.fail(
                f"[bridge].{key}",
                f"`{value}` is outside the project; ohnix build writes there.",
                hint='Use a folder relative to the project, e.g. "gen".',
            )
    if not HOST_PREFIX.match(bridge.binary):
        raise check.fail(
            "[bridge].binary",
            f"`{bridge.binary}` is not a file name: ohnix build writes the binary to "
            "out/PRODUCT/NAME, so it may use letters, digits and `+._-` only.",
            hint='For example binary = "bridge".',
        )


def _products(check: _Checker, raw: Any) -> tuple[ProductConfig, ...]:
    check.value(raw, "[products]", TABLE)
    if not raw:
        raise check.fail(
            "[products]", "no products configured.", hint="Add e.g. [products.rk3568]."
        )
    seen: dict[str, str] = {}
    for name in sorted(raw):
        if not PRODUCT_NAME.match(name):
            shown = name if len(name) <= 60 else name[:60] + "…"
            raise check.fail(
                f"[products.{shown}]",
                "a product name may use letters, digits and `_.+-`, start with a letter or "
                "digit, and be at most 100 characters: it names folders and a Nix attribute.",
            )
        if name.lower() in seen:
            raise check.fail(
                f"[products.{name}]", f"duplicate product: `{seen[name.lower()]}` is also defined."
            )
        seen[name.lower()] = name
    out = []
    for name in sorted(raw):
        where = f"[products.{name}]"
        data = check.table(raw[name], where, PRODUCT_KEYS)
        product = _product(check, name, data, where)
        provider = cast(
            Provider, check.choice(data.get("provider", "nixpkgs"), f"{where}.provider", PROVIDERS)
        )
        tools = data.get("tools", {})
        for tool, prov in tools.items():
            check.choice(tool, f"{where}.tools", TOOLS)
            check.value(prov, f"{where}.tools.{tool}", STR)
            check.choice(prov, f"{where}.tools.{tool}", PROVIDERS)
        prefix = data.get("host_prefix")
        if prefix is not None and not HOST_PREFIX.match(prefix):
            raise check.fail(
                f"{where}.host_prefix",
                f"`{prefix}` is not a program-name prefix: use letters, digits and `+._-` only "
                "(no `/`), so its tools are looked up on PATH.",
                hint='For example host_prefix = "aarch64-linux-gnu-".',
            )
        env = data.get("env", {})
        for key, value in env.items():
            if not ENV_NAME.match(key):
                raise check.fail(f"{where}.env", f"`{key}` is not a valid variable name.")
            if key in NIX_DERIVATION_ATTRS or key.startswith("__"):
                raise check.fail(
                    f"{where}.env.{key}",
                    "Nix reads this name as an attribute of the shell's derivation, not as "
                    "a variable: it would change what the shell is.",
                    hint="Choose another variable name.",
                )
            if key in SHELL_TOOL_VARS:
                raise check.fail(
                    f"{where}.env.{key}",
                    "the shell sets this from its tools (the provider's compiler, Go, and "
                    "their directories), so a value here would not be used.",
                    hint='Choose the tool instead: provider, tools = { cc = "host" }, '
                    "host_prefix; or set it inside the shell.",
                )
            check.value(value, f"{where}.env.{key}", STR)
        out.append(
            ProductConfig(
                name=name,
                product=product,
                provider=provider,
                tools=tuple(sorted(tools.items())),
                env=tuple(sorted(env.items())),
                host_prefix=data.get("host_prefix"),
            )
        )
    return tuple(out)


def _product(check: _Checker, name: str, data: dict[str, Any], where: str) -> Product:
    """A catalog product (optionally a variant), or a user-defined one."""
    overrides = {k: data[k] for k in (*DEFINITION_KEYS, "soc", "vendor", "kernel_version",
                                      "march", "description") if k in data}  # fmt: skip
    base_name = data.get("extends", name)
    if base_name in catalog.catalog():
        base = catalog.get(base_name)
        if "cpu" in data:
            try:
                base = base.variant(data["cpu"])
            except Exception as exc:
                raise check.fail(f"{where}.cpu", str(exc)) from exc
        if not overrides and not {"extends", "goarch", "cflags"} & data.keys():
            return base
        definition = {**base.as_dict(), **overrides}
    elif "extends" in data:
        raise check.fail(
            f"{where}.extends",
            f"`{base_name}` is not in the catalog." + did_you_mean(base_name, catalog.catalog()),
        )
    else:
        missing = [k for k in DEFINITION_KEYS if k not in data]
        if missing:
            raise check.fail(
                where,
                f"`{name}` is not a product in ohnix's catalog."
                + did_you_mean(name, catalog.catalog()),
                hint="Run `ohnix products` to list them; to define your own board, set "
                f"`extends` to a catalog product or give {', '.join(missing)}.",
            )
        definition = {"soc": data.get("board", name), "vendor": "user", "cpu": data.get("cpu"),
                      "go": {"supported": False}, **overrides}  # fmt: skip
    for key, choices in (("system_type", SYSTEM_TYPES), ("kernel", KERNELS), ("libc", LIBCS)):
        check.choice(definition[key], f"{where}.{key}", choices)
    if "goarch" in data:
        definition["go"] = {"supported": True, "goarch": data["goarch"], "goarm": data.get("goarm")}
    elif definition["kernel"] != "linux":
        definition["go"] = {"supported": False, "reason": "Go targets only Linux-kernel products"}
    definition["kconfig"] = data.get("kconfig", definition.get("kconfig", []))
    definition["cflags"] = data.get("cflags", definition.get("cflags", []))
    definition["cpu"] = definition.get("cpu") or definition["triple"].split("-")[0]
    for key in ("name", "builtin", "variants", "alias_of"):
        definition.pop(key, None)
    return product_from_dict(name, definition, builtin=False)


def as_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain data (for `ohnix config --json`)."""
    return {
        "path": str(cfg.path),
        "project": asdict(cfg.project),
        "nixpkgs": asdict(cfg.nixpkgs) if cfg.nixpkgs else None,
        "toolchain": asdict(cfg.toolchain),
        "sources": [asdict(s) for s in cfg.sources],
        "prebuilts": asdict(cfg.prebuilts),
        "products": {
            p.name: {
                "name": p.name,
                "provider": p.provider,
                "tools": dict(p.tools),
                "env": dict(p.env),
                "host_prefix": p.host_prefix,
                "product": p.product.as_dict(),
            }
            for p in cfg.products
        },
    }
