"""How ohnix's arguments read in --help and complete in a shell.

One placeholder style everywhere, click's: `PRODUCT`, `[PRODUCT]...`, `PRODUCT...`, `N`,
`DIR`, `FILE`, `URL` (Typer's own adds Python types, `{product}` and `<list[str]>`).
Completion follows click's protocol (`_OHNIX_COMPLETE=complete_bash`, the variable the
script of `ohnix --show-completion` sets); a completion never fails and never prints an
error: whatever goes wrong completes nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import typer
import typer.core

from ohnix.config import CONFIG_NAME


class _Argument(typer.core.TyperArgument):
    """An argument shown as click shows it: its metavar alone, never its Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002 (click's signature)
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if name.startswith("-- "):  # what follows `--`: `[-- CMD...]`
            return f"[{name}...]" if not self.required else f"{name}..."
        many = "..." if self.nargs != 1 else ""
        return f"{name}{many}" if self.required else f"[{name}]{many}"


def restyle(command: Any) -> Any:
    """`command` (the click tree Typer built) with every argument in click's style."""
    for param in command.params:
        if type(param) is typer.core.TyperArgument:
            # Typer builds its own argument class and takes no other: swap in the subclass,
            # which only overrides how the argument is displayed.
            param.__class__ = _Argument
    for sub in getattr(command, "commands", {}).values():
        restyle(sub)
    return command


def _directory(ctx: Any) -> Path:
    """The folder the command line being completed works in: its `-C DIR`, else here."""
    while ctx is not None:
        value = ctx.params.get("directory")
        if value:
            return Path(value)
        ctx = ctx.parent
    return Path.cwd()


def configured_products(ctx: typer.Context, incomplete: str) -> list[str]:
    """The products of the project's ohnix.toml (read as plain TOML: a half-written file
    still completes what it names)."""
    from ohnix import root

    try:
        found = root.find(_directory(ctx))  # upwards, as every command finds its project
        if found is None:
            return []
        with (found / CONFIG_NAME).open("rb") as fh:
            table = tomllib.load(fh).get("products")
    except (OSError, tomllib.TOMLDecodeError, ValueError):
        return []
    names = table if isinstance(table, dict) else {}
    return sorted(n for n in names if n.startswith(incomplete))


def catalog_products(incomplete: str) -> list[str]:
    from ohnix import products

    try:
        names = products.catalog()
    except Exception:  # a broken install: complete nothing, never a traceback
        return []
    return sorted(n for n in names if n.startswith(incomplete))
