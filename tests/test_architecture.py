"""The import directions docs/architecture.md describes, checked by parsing every module's
imports with `ast`; and every module importing on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ohnix"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every ohnix module `path` imports, at the top or inside a function (not the ones
    under `if TYPE_CHECKING:`, which never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ohnix")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ohnix"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
    return found


def importers(rule_from: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    """`module -> import` for each module under `rule_from` importing one under `forbidden`."""
    bad = []
    for name, path in MODULES.items():
        if not any(name == f or name.startswith(f + ".") for f in rule_from):
            continue
        for imported in sorted(imports_of(path)):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                bad.append(f"{name} -> {imported}")
    return bad


CORE = tuple(sorted({n.split(".")[1] for n in MODULES if n.count(".") >= 1} - {"cli", "entry",
             "__main__"}))  # fmt: skip
RULES = [
    # The core never imports the CLI (entry.py and __main__.py start it).
    ("the core never imports ohnix.cli", tuple(f"ohnix.{c}" for c in CORE), ("ohnix.cli",)),
    # Rendering is pure: nixfiles, writer, workflow and starter run no command; only
    # render/project.py (`ohnix render` as a whole) runs git and nix-instantiate.
    ("rendering runs no subprocess",
     ("ohnix.render.nixfiles", "ohnix.render.writer", "ohnix.render.workflow",
      "ohnix.render.starter"),
     ("ohnix.proc", "ohnix.store.nix", "ohnix.render.project")),
    # Hashing is pure: NAR, store paths, derivations and Nix's JSON shapes.
    ("hashing runs no subprocess",
     ("ohnix.store.nar", "ohnix.store.drv", "ohnix.store.shapes"),
     ("ohnix.proc", "ohnix.store.nix")),
    # Loading config runs nothing: ohnix.toml and the product catalog are data.
    ("loading config runs nothing",
     ("ohnix.config", "ohnix.products", "ohnix.errors", "ohnix.atomic", "ohnix.root"),
     ("ohnix.proc", "ohnix.store", "ohnix.pin", "ohnix.render", "ohnix.shell", "ohnix.audit",
      "ohnix.bridge", "ohnix.cli", "ohnix.ui")),
    # The warm `ohnix run` path (entry.py -> shell/envcache.py) imports only the stdlib and
    # these: nothing that pulls in Typer, Jinja or rich.
    ("the warm path stays standard-library only",
     ("ohnix.entry", "ohnix.shell.envcache", "ohnix.atomic", "ohnix.root"),
     (*(f"ohnix.{c}" for c in CORE if c not in ("shell", "atomic", "root")),
      "ohnix.shell.enter", "ohnix.shell.contents", "ohnix.shell.bincache")),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "sources", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_import_directions(rule: str, sources: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    assert importers(sources, forbidden) == [], rule


def test_every_init_is_free_of_imports() -> None:
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            body = ast.parse(path.read_text(encoding="utf-8")).body
            assert not [n for n in body if isinstance(n, ast.Import | ast.ImportFrom)], name


def test_the_rules_see_the_imports() -> None:
    """The checker itself: it finds an import inside a function and a from-import."""
    assert "ohnix.shell.envcache" in imports_of(MODULES["ohnix.entry"])
    assert "ohnix.cli.main" in imports_of(MODULES["ohnix.entry"])
    assert "ohnix.pin.lockfile" in imports_of(MODULES["ohnix.shell.enter"])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "ohnix.__main__"))
def test_module_imports_in_a_fresh_interpreter(module: str) -> None:
    """No module depends on another having been imported first (no hidden cycles)."""
    res = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
