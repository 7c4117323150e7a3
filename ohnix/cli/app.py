"""The Typer app object and what every command module shares: global options, --json
output and the common argument types. Command modules register on `app`; cli.py is the
entry point that imports them all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

from ohnix.cli.usage import configured_products

if TYPE_CHECKING:
    from ohnix.config import Config

# The order `ohnix --help` lists commands in: a user's path through a project.
ORDER = ("init", "config", "products", "lock", "render", "shell", "run", "build", "bridge",
         "parity", "direnv", "gc", "cache", "ci", "audit", "sbom", "doctor")  # fmt: skip


class _Ordered(typer.core.TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:  # ctx: a click Context
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), n))


app = typer.Typer(
    cls=_Ordered,
    name="ohnix",
    help="Reproducible, Nix-based build environments for OpenHarmony.\n\n"
    "Example: ohnix init qemu-arm64-linux-min && ohnix lock && ohnix shell qemu-arm64-linux-min",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RenderOpt = Annotated[
    bool, typer.Option("--render", help="Render first if the Nix files are stale.")
]
ProductArg = Annotated[
    str,
    typer.Argument(
        help="A configured product.", metavar="PRODUCT", autocompletion=configured_products
    ),
]
ProductsArg = Annotated[
    list[str],
    typer.Argument(
        help="Configured products.", metavar="PRODUCT", autocompletion=configured_products
    ),
]
PlainOpt = Annotated[
    bool,
    typer.Option(
        "--plain", help="Plain rows, one per line at full width (the default when piped)."
    ),
]


OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Also write the JSON to FILE.", metavar="FILE")
]


@dataclass(frozen=True)
class Globals:
    directory: Path
    verbose: int


def globals_of(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals(Path.cwd(), 0)


def user_path(ctx: typer.Context, path: Path) -> Path:
    """A path from the command line as the user meant it under `-C DIR` (relative to DIR,
    as git takes it); unchanged (as given) without -C."""
    base = globals_of(ctx).directory
    if path.is_absolute() or base == Path.cwd().resolve():
        return path
    return base / path


def load_project(ctx: typer.Context) -> Config:
    """The project the command works on: ohnix.toml under -C DIR (default: here), loaded."""
    from ohnix import config

    return config.load(globals_of(ctx).directory)


# docs/json.md: every --json prints one such envelope; bump on an incompatible change.
JSON_VERSION = 1
_emitted: list[bool] = []  # set once a command printed its envelope (main's error path asks)


def envelope(
    command: str, result: Any, *, ok: bool = True, error: dict[str, Any] | None = None
) -> str:
    """The one --json document: what ran, whether it succeeded (exit 0), its result."""
    doc = {"ohnix_json": JSON_VERSION, "command": command, "ok": ok, "result": result,
           "error": error}  # fmt: skip
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def emit_json(result: Mapping[str, object], *, ok: bool = True) -> None:
    """Print the running command's --json envelope. `ok` is False when it then exits 1."""
    from typer._click.globals import get_current_context  # Typer vendors click

    path = get_current_context().command_path.split()[1:]
    sys.stdout.write(envelope(" ".join(path), result, ok=ok))
    _emitted.append(True)


def json_emitted() -> bool:
    return bool(_emitted)
