"""The Typer app: parse arguments, call one core function, print its result.

No logic lives here beyond that; every command that reports something has --json, which
prints the same value the human output is made from.
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from typer._click.exceptions import UsageError

from ohnix import __version__
from ohnix.cli import ci, cmdline, project, usage
from ohnix.cli.app import (
    Globals,
    JsonOpt,
    PlainOpt,
    app,
    emit_json,
    envelope,
    globals_of,
    json_emitted,
    load_project,
)
from ohnix.cli.bridge import bridge_app
from ohnix.cli.usage import catalog_products
from ohnix.config import Provider
from ohnix.errors import OhnixError, ProductError

# The command modules register on `app` when imported; named here so that is explicit.
COMMAND_MODULES = (project, ci)

products_app = typer.Typer(
    help="List the built-in OpenHarmony products.\n\nExample: ohnix products --json",
    invoke_without_command=True,
)
app.add_typer(products_app, name="products")
app.add_typer(bridge_app, name="bridge")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ohnix {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Option("-C", "--directory", help="Run as if started in DIR.", metavar="DIR"),
    ] = Path(),
    verbose: Annotated[
        int,
        typer.Option(
            "-v", "--verbose", count=True, show_default=False, help="Show the commands ohnix runs."
        ),
    ] = 0,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s", stream=sys.stderr
    )
    # A usage error (exit 2), as any other bad option value; `init` makes its folder.
    creates = ctx.invoked_subcommand == "init" and not directory.exists()
    if not directory.is_dir() and not creates:
        what = "no such directory" if not directory.exists() else "not a directory"
        raise UsageError(f"-C {directory}: {what}; -C takes the folder to work in.", ctx=ctx)
    ctx.obj = Globals(directory.resolve(), verbose)


@products_app.callback()
def products_list(ctx: typer.Context, as_json: JsonOpt = False, plain: PlainOpt = False) -> None:
    """List every product: OpenHarmony name, board, system type, kernel, triple, Go."""
    if ctx.invoked_subcommand is not None:
        return
    from ohnix import products

    items = list(products.catalog().values())
    if as_json:
        emit_json({"products": {p.name: p.as_dict() for p in items}})
        return
    from ohnix import ui

    ui.products_table(items, plain=plain)


@products_app.command("show")
def products_show(
    name: Annotated[
        str,
        typer.Argument(
            help="A product name, e.g. rk3568.", metavar="PRODUCT", autocompletion=catalog_products
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Show one product and its target_cpu variants.

    Example: ohnix products show rk3568 --json
    """
    from ohnix import products

    try:
        product = products.get(name)
    except ProductError as exc:  # not a catalog name: bad usage
        raise typer.BadParameter(str(exc), param_hint="'PRODUCT'") from None
    if as_json:
        emit_json(product.as_dict())
        return
    from ohnix import ui

    ui.product_detail(product)


def _init_choice(names: list[str], cpu: str | None) -> list[str]:
    """`names`, checked: an unknown or repeated product or a target_cpu it lacks is bad
    usage (exit 2), reported before anything is written."""
    from ohnix.render import starter

    try:
        starter.check(names)
    except ProductError as exc:
        raise typer.BadParameter(str(exc), param_hint="'PRODUCT'") from None
    try:
        starter.check(names, cpu)
    except ProductError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--target-cpu'") from None
    return names


@app.command()
def init(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Products to configure.", metavar="PRODUCT", autocompletion=catalog_products
        ),
    ] = None,
    target_cpu: Annotated[
        str | None,
        typer.Option(
            "--target-cpu",
            help='Build the products for this target_cpu (writes cpu = "CPU"); '
            "`ohnix products show PRODUCT` lists each product's.",
            metavar="CPU",
        ),
    ] = None,
    provider: Annotated[
        Provider,
        typer.Option(
            "--provider",
            help="Where the products' tools come from: host (this machine's, offline), "
            "nixpkgs, or ohos-prebuilts (OpenHarmony's own).",
            metavar="PROVIDER",
        ),
    ] = "host",
    as_json: JsonOpt = False,
) -> None:
    """Write a commented starter ohnix.toml (never overwrites one).

    Example: ohnix init rk3568 qemu-arm64-linux-min --provider nixpkgs

    With rk3568's arm64 variant: ohnix init rk3568 --target-cpu arm64
    """
    from ohnix.render import starter

    chosen = _init_choice(list(names or []), target_cpu)
    paths = starter.write(globals_of(ctx).directory, chosen, target_cpu, provider)
    if as_json:
        emit_json({"written": [str(p) for p in paths], "next": "ohnix lock"})
        return
    sys.stdout.write("".join(f"wrote {p}\n" for p in paths) + "next: ohnix lock\n")


@app.command("config")
def show_config(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Validate ohnix.toml and show what it resolves to (products, providers, sources).

    Example: ohnix -C my-project config --json
    """
    from ohnix import config
    from ohnix.shell import contents

    cfg = load_project(ctx)
    data = config.as_dict(cfg)
    gos = contents.go_choices(cfg)
    for name, p in data["products"].items():
        p["go"] = gos[name].as_dict()
    if as_json:
        emit_json(data)
        return
    sys.stdout.write(
        f"{cfg.path}: project {cfg.project.name}, OpenHarmony {cfg.project.openharmony}\n"
    )
    for p in data["products"].values():
        tools = "".join(f", {t}={v}" for t, v in p["tools"].items())
        go = gos[p["name"]]
        shown = f"Go {go.version} ({go.source})" if go.version else f"Go: {go.source}"
        sys.stdout.write(
            f"  {p['name']}: {p['product']['triple']} via {p['provider']}{tools}; {shown}\n"
        )


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check that Nix, git and the store are ready; each failing check says how to fix it.

    Example: ohnix doctor --json
    """
    from ohnix.store import doctor as doc

    report = doc.run()
    if as_json:
        emit_json(report.as_dict(), ok=report.ok)
    else:
        from ohnix import ui

        ui.doctor_report(report)
    if not report.ok:
        raise typer.Exit(1)


# What each errno means for a user, and what to do about it.
ERRNO_HINTS = {
    errno.EACCES: "check its permissions (and who runs ohnix)",
    errno.EPERM: "check its permissions (and who runs ohnix)",
    errno.EROFS: "the file system is read-only: work in a writable copy of the project",
    errno.ENOSPC: "the disk is full: free some space (`ohnix gc`, `nix-collect-garbage`)",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.ENOENT: "it does not exist (moved or deleted while ohnix ran?)",
    errno.ENOTDIR: "a file is where a folder belongs: move it away",
    errno.EEXIST: "something else is already there (a file where a folder belongs?): move it away",
    errno.EISDIR: "a folder is where a file belongs: move it away",
    errno.ELOOP: "a symlink loop: fix or remove the link",
    errno.ENAMETOOLONG: "the path is too long: use a shorter project path",
    errno.EMFILE: "too many open files: raise `ulimit -n`",
}


def os_error(exc: OSError) -> str:
    """An OSError as one sentence naming the path, what failed and what to do."""
    where = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    what = exc.strerror or exc.__class__.__name__
    hint = ERRNO_HINTS.get(exc.errno or 0, "check the path and try again")
    return f"{where or 'a file'}: {what}; {hint}."


def _failed(
    root: Any, argv: list[str], code: int, kind: str, message: str, exc: BaseException
) -> int:
    """Also report a failure as the --json envelope when --json was asked and the command
    had not printed its own (a failed `build --json` still shows its steps)."""
    command = cmdline.json_command(root, argv)
    if command is not None and not json_emitted():
        error = {"kind": kind, "message": message, "exit_code": code,
                 "hint": getattr(exc, "hint", None)}  # fmt: skip
        sys.stdout.write(envelope(command, getattr(exc, "result", None), ok=False, error=error))
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point: OhnixError -> one paragraph and exit 1; usage errors 2; Ctrl-C -> 130."""
    command = usage.restyle(typer.main.get_command(app))
    args = cmdline.hoist_globals(command, sys.argv[1:] if argv is None else list(argv))
    try:
        result = command.main(args=args, prog_name="ohnix", standalone_mode=False)
    except OhnixError as exc:
        sys.stderr.write(f"ohnix: error: {exc}\n")
        return _failed(command, args, exc.exit_code, "error", str(exc), exc)
    except (KeyboardInterrupt, typer.Abort) as exc:
        sys.stderr.write("ohnix: interrupted\n")
        return _failed(command, args, 130, "interrupted", "interrupted", exc)
    except OSError as exc:  # the file system said no: one paragraph, not a traceback
        sys.stderr.write(f"ohnix: error: {os_error(exc)}\n")
        return _failed(command, args, 1, "error", os_error(exc), exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: click-style message, exit 2
        sentence = cmdline.bad_value(exc)
        if sentence is not None:  # not pydantic's wording
            exc = UsageError(sentence, ctx=getattr(exc, "ctx", None))
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"ohnix: {exc.format_message()}\n")
        return _failed(command, args, exc.exit_code, "usage", exc.format_message(), exc)
    if result == 130:  # Typer turns Ctrl-C into Exit(130) and returns it
        sys.stderr.write("ohnix: interrupted\n")
    if isinstance(result, int):
        return result
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
