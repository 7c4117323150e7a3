"""`ohnix render` as a whole: refuse a missing or stale lock, check that the pinned
nixpkgs has every attribute the shells use, write the files, and mark new ones
intent-to-add in git so flakes see them. The one module of render/ that runs commands
(git, and nix-instantiate through store.nix); nixfiles.py and writer.py run none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ohnix import proc
from ohnix.atomic import project_lock
from ohnix.config import Config
from ohnix.errors import RenderError
from ohnix.pin import lockfile, resolve
from ohnix.pin.lockfile import LOCK_NAME, Lock
from ohnix.render import nixfiles
from ohnix.render.nixfiles import library_dir
from ohnix.render.writer import FileResult, diff, plan, write
from ohnix.shell import contents
from ohnix.store import nar, nix


def in_work_tree(root: Path) -> bool:
    """Whether `root` is inside a git work tree (where a flake sees only what git tracks)."""
    if proc.which("git") is None:
        return False
    inside = proc.run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                      check=False)  # fmt: skip
    return inside.returncode == 0 and inside.stdout.strip() == "true"


def make_visible(root: Path, created: list[str]) -> list[str]:
    """In a git work tree, untracked files are invisible to flakes: mark newly created
    ones intent-to-add (`git add -N`). Returns the paths so marked."""
    if not created:
        return []
    wanted = [*created, LOCK_NAME] if (root / LOCK_NAME).exists() else created
    status = proc.run(["git", "-C", str(root), "ls-files", "--", *wanted]).stdout.split()
    untracked = [p for p in wanted if p not in status]
    if untracked:
        proc.run(["git", "-C", str(root), "add", "--intent-to-add", "--", *untracked])
    return untracked


def refuse_ignored(root: Path, paths: list[str]) -> None:
    """A flake in a git work tree sees only files git can track: a git-ignored generated
    file would leave a flake that Nix cannot read. Refuse before writing anything."""
    # Exit 1 means "none ignored"; tracked files are never reported (they stay visible).
    res = proc.run(["git", "-C", str(root), "check-ignore", "--verbose", "--", *paths],
                   check=False)  # fmt: skip
    rules = [line.split("\t", 1) for line in res.stdout.splitlines() if "\t" in line]
    if res.returncode != 0 or not rules:
        return
    by_rule: dict[str, list[str]] = {}
    for rule, path in rules:
        by_rule.setdefault(rule, []).append(path)
    shown = "; ".join(
        f"{', '.join(paths[:3])}{f' and {len(paths) - 3} more' if len(paths) > 3 else ''} by {rule}"
        for rule, paths in by_rule.items()
    )
    raise RenderError(
        f"git ignores files that the flake in {root} needs ({shown}), and Nix cannot see "
        "ignored files inside a git repository. ohnix.lock, flake.nix, flake.lock, "
        "default.nix and nix/ohnix/ are meant to be committed: they are the reproducibility.",
        hint="Remove those rules (the rule is shown as FILE:LINE:PATTERN) and run "
        "`ohnix render` again; only .ohnix/, out/ and gen/ are machine-local.",
    )


def check_attrs(config: Config, lock: Lock) -> None:
    """Every nixpkgs attribute the shells use must exist at the pinned revision: evaluate
    them against the pinned source (already in the store since `ohnix lock`)."""

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
    missing = nix.missing_attrs(library_dir() / "check-attrs.nix", src, attrs)
    if missing:
        asked = contents.asked_attrs(config)
        why = "; ".join(f"{asked[a]} in {config.path} names `{a}`" for a in missing if a in asked)
        raise RenderError(
            f"The pinned nixpkgs ({pin.url} at {pin.rev or pin.hash}) has no attribute "
            f"{', '.join(f'`{a}`' for a in missing)}" + (f" ({why})." if why else "."),
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
            "files": {f.path: f.status for f in self.files},
            "git_intent_to_add": list(self.visible),
            "written": self.written,
            "diff": self.diff,
        }


def render_project(config: Config, *, check: bool = False, dry_run: bool = False) -> RenderReport:
    """`ohnix render`: refuse a lock that is stale against ohnix.toml, check nixpkgs
    attributes, then write (or, with check/dry_run, only compare)."""

    with project_lock(config.root):
        held = lockfile.require(config.root)
        stale = resolve.stale(config, held)
        if stale:
            raise RenderError(
                f"{config.root / LOCK_NAME} is out of date with ohnix.toml: "
                + "; ".join(f"{d.key} {d.detail}" for d in stale)
                + ".",
                hint="Run `ohnix lock` to update it, then render again.",
            )
        files = nixfiles.render(config, held)
        if check or dry_run:
            results = tuple(plan(config.root, files))
            return RenderReport(results, (), diff(config.root, files) if check else "", False)
        check_attrs(config, held)
        git = in_work_tree(config.root)
        if git:
            refuse_ignored(config.root, sorted({*files, LOCK_NAME}))
        results = tuple(write(config.root, files))
        created = [r.path for r in results if r.status == "create"]
        visible = tuple(make_visible(config.root, created)) if git else ()
        return RenderReport(results, visible, "", any(r.status != "identical" for r in results))
