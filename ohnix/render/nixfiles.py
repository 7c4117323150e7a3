"""`ohnix render`: Lock + Config -> {path: text} (pure), and a writer that reports
create / identical / update per file.

Rendered Nix reads ohnix.lock and shells.json as data; the only literals (the flake's
description and nixpkgs URL) go through the one `nix_str` filter.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ohnix.config import Config
from ohnix.errors import RenderError
from ohnix.pin.lockfile import LOCK_NAME, Lock, Pin, write_text_atomic
from ohnix.shell import contents

LIB_DIR = "nix/ohnix"
LIB_FILES = ("default.nix", "host.nix", "nixpkgs.nix", "nixpkgs-src.nix", "prebuilts.nix",
             "sources.nix")  # fmt: skip
GITHUB = re.compile(r"^github:(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)$")


def nix_str(value: str) -> str:
    """A Nix string literal for any text: escapes `"`, `\\` and `${` (and control chars)."""
    out = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("${", "\\${")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{out}"'


def library_dir() -> Path:
    """The Nix library: packaged as ohnix/_nix, or the repository's nix/ in a checkout."""
    package = Path(__file__).resolve().parent.parent  # ohnix/
    here = package
    for candidate in (package / "_nix", package.parent / "nix"):
        if (candidate / "default.nix").is_file():
            return candidate
    raise RenderError(f"ohnix's Nix library is missing (looked in {here / '_nix'}).")


def template_env() -> Any:
    """The one Jinja environment for ohnix's templates (Nix files and CI workflows)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ohnix.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Nix, not HTML: the nix_str filter does the escaping
    )
    env.filters["nix_str"] = nix_str
    return env


def flake_input(pin: Pin) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The flake input URL for the nixpkgs pin, with flake.lock's `original` and `locked`."""
    if pin.kind == "github":
        m = GITHUB.match(pin.url)
        assert m is not None
        assert pin.rev
        original = {"owner": m["owner"], "repo": m["repo"], "rev": pin.rev, "type": "github"}
        return f"github:{m['owner']}/{m['repo']}/{pin.rev}", original, original
    if pin.kind == "git":
        assert pin.rev
        ref = f"&ref={pin.ref}" if pin.ref and pin.ref != "HEAD" else ""
        original = {"rev": pin.rev, "shallow": True, "type": "git", "url": pin.url}
        if ref:
            original["ref"] = pin.ref
        return f"git+{pin.url}?rev={pin.rev}{ref}&shallow=1", original, original
    original = {"path": pin.url, "type": "path"}
    return f"path:{pin.url}", original, original


def flake_lock(pin: Pin | None) -> str:
    """flake.lock written from ohnix.lock, so `nix develop` locks and fetches nothing else."""
    nodes: dict[str, Any] = {"root": {"inputs": {"nixpkgs": "nixpkgs"} if pin else {}}}
    if pin is not None:
        _, original, locked = flake_input(pin)
        nodes["nixpkgs"] = {
            "locked": {**locked, "narHash": pin.hash, "lastModified": pin.last_modified or 0},
            "original": original,
        }
    data = {"nodes": nodes, "root": "root", "version": 7}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render(config: Config, lock: Lock) -> dict[str, str]:
    """Every file `ohnix render` owns, relative to the project root -> its text."""
    missing = [s.key for s in _needed(config) if lock.get(s.key) is None]
    if missing:
        raise RenderError(
            f"ohnix.lock has no pin for {', '.join(missing)}.", hint="Run `ohnix lock` first."
        )
    data = contents.data(config, lock)
    _check_tool_pins(config, lock, data)
    nixpkgs = lock.get("nixpkgs")
    env = template_env()
    context = {
        "description": f"ohnix development shells for {config.project.name} "
        f"(OpenHarmony {config.project.openharmony})",
        "nixpkgs_url": flake_input(nixpkgs)[0] if nixpkgs else None,
    }
    files = {
        "flake.nix": env.get_template("flake.nix.j2").render(**context),
        "default.nix": env.get_template("default.nix.j2").render(**context),
        "flake.lock": flake_lock(nixpkgs),
        f"{LIB_DIR}/shells.json": json.dumps(data, indent=2, sort_keys=True) + "\n",
    }
    lib = library_dir()
    for name in LIB_FILES:
        files[f"{LIB_DIR}/{name}"] = (lib / name).read_text(encoding="utf-8")
    return dict(sorted(files.items()))


def _check_tool_pins(config: Config, lock: Lock, data: dict[str, Any]) -> None:
    """Every pin a shell's tool names must be in the lock: `[prebuilts].include` can leave
    out one a shell needs, which Nix would only report as a missing attribute."""
    unpinned = sorted(
        f"`{t['pin']}` ({t['var'] or t['exe']} of {name})"
        for name, shell in data["shells"].items()
        for t in shell["tools"]
        if t["pin"] and lock.get(t["pin"]) is None
    )
    if unpinned:
        raise RenderError(
            f"{config.path}: the shells use {', '.join(unpinned)}, which ohnix.lock does not "
            "pin" + (" because [prebuilts].include leaves them out" if config.prebuilts.include
                     else "") + ".",
            hint="Add them to [prebuilts].include (or drop `include` to pin every prebuilt), "
            "then run `ohnix lock`.",
        )  # fmt: skip


def _needed(config: Config) -> list[Any]:
    from ohnix.pin import resolve

    return resolve.specs(config)


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str  # "create" | "identical" | "update"


def plan(root: Path, files: dict[str, str]) -> list[FileResult]:
    out = []
    for rel, text in files.items():
        path = root / rel
        if not path.exists():
            status = "create"
        else:
            status = "identical" if path.read_text(encoding="utf-8") == text else "update"
        out.append(FileResult(rel, status))
    return out


def write(root: Path, files: dict[str, str]) -> list[FileResult]:
    results = plan(root, files)
    for r in results:
        if r.status != "identical":
            path = root / r.path
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, files[r.path])
    return results


def diff(root: Path, files: dict[str, str]) -> str:
    """A unified diff of what is on disk against what would be rendered."""
    chunks = []
    for r in plan(root, files):
        if r.status == "identical":
            continue
        path = root / r.path
        old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
        new = files[r.path].splitlines(keepends=True)
        chunks.append("".join(difflib.unified_diff(old, new, f"a/{r.path}", f"b/{r.path}")))
    return "".join(chunks)


def make_visible(root: Path, created: list[str]) -> list[str]:
    """In a git work tree, untracked files are invisible to flakes: mark newly created
    ones intent-to-add (`git add -N`). Returns the paths so marked."""
    from ohnix import proc

    if not created or proc.which("git") is None:
        return []
    inside = proc.run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                      check=False)  # fmt: skip
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return []
    wanted = [*created, LOCK_NAME] if (root / LOCK_NAME).exists() else created
    status = proc.run(["git", "-C", str(root), "ls-files", "--", *wanted]).stdout.split()
    untracked = [p for p in wanted if p not in status]
    if untracked:
        proc.run(["git", "-C", str(root), "add", "--intent-to-add", "--", *untracked])
    return untracked


def check_attrs(config: Config, lock: Lock) -> None:
    """Every nixpkgs attribute the shells use must exist at the pinned revision: evaluate
    them against the pinned source (already in the store since `ohnix lock`)."""
    from ohnix import proc
    from ohnix.store import nar

    attrs = contents.nixpkgs_attrs(config)
    pin = lock.get("nixpkgs")
    if not attrs or pin is None:
        return
    src = nar.source_path("source", nar.parse_hash(pin.hash))
    if not Path(src).exists():
        raise RenderError(
            f"The pinned nixpkgs ({pin.url} {pin.rev or ''}) is not in the Nix store "
            f"({src}), so its attributes cannot be checked.",
            hint="Run `ohnix lock --update nixpkgs` to fetch it again.",
        )
    out = proc.run(
        ["nix-instantiate", "--eval", "--strict", "--json", library_dir() / "check-attrs.nix",
         "--argstr", "src", src, "--argstr", "attrs", json.dumps(attrs)],
        what="checking nixpkgs attributes",
    ).stdout  # fmt: skip
    missing = json.loads(out)
    if missing:
        raise RenderError(
            f"The pinned nixpkgs ({pin.url} at {pin.rev or pin.hash}) has no attribute "
            f"{', '.join(f'`{a}`' for a in missing)}.",
            hint="Choose a toolchain it has in ohnix.toml ([toolchain] llvm/go), or pin "
            "another nixpkgs and run `ohnix lock --update nixpkgs`.",
        )


@dataclass(frozen=True)
class RenderReport:
    files: tuple[FileResult, ...]
    visible: tuple[str, ...]  # newly marked intent-to-add in git
    diff: str  # with check: what differs
    written: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [{"path": f.path, "status": f.status} for f in self.files],
            "git_intent_to_add": list(self.visible),
            "written": self.written,
            "diff": self.diff,
        }


def render_project(config: Config, *, check: bool = False, dry_run: bool = False) -> RenderReport:
    """`ohnix render`: refuse a lock that is stale against ohnix.toml, check nixpkgs
    attributes, then write (or, with check/dry_run, only compare)."""
    from ohnix.pin import lockfile, resolve

    held = lockfile.read(config.root)
    if held is None:
        raise RenderError(f"No {LOCK_NAME} in {config.root}.", hint="Run `ohnix lock` first.")
    stale = [d for d in resolve.check(config, held, offline=True) if d.problem != "hash-mismatch"]
    if stale:
        raise RenderError(
            f"{config.root / LOCK_NAME} is out of date with ohnix.toml: "
            + "; ".join(f"{d.key} {d.detail}" for d in stale)
            + ".",
            hint="Run `ohnix lock` to update it, then render again.",
        )
    files = render(config, held)
    if check or dry_run:
        results = tuple(plan(config.root, files))
        return RenderReport(results, (), diff(config.root, files) if check else "", False)
    check_attrs(config, held)
    results = tuple(write(config.root, files))
    created = [r.path for r in results if r.status == "create"]
    visible = tuple(make_visible(config.root, created))
    return RenderReport(results, visible, "", any(r.status != "identical" for r in results))


__all__ = ["LOCK_NAME", "FileResult", "diff", "nix_str", "plan", "render", "write"]
