"""`ohnix build` (the whole bridge build in a product's shell) and `ohnix bridge`: its
steps as commands (syscall tables, ABI snapshots, the cgo wrapper).

Thin like the other ohnix/cli/ modules: parse arguments, call one core function, print.
Importing this module must stay cheap (it is imported when the CLI starts): the core
modules, and with them pyelftools, are imported inside the commands.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ohnix.cli.app import (
    JsonOpt,
    ProductArg,
    RenderOpt,
    app,
    emit_json,
    load_project,
    user_path,
)
from ohnix.cli.usage import catalog_products
from ohnix.errors import OhnixError, ProductError

bridge_app = typer.Typer(
    help="The Go/CGO bridge build's steps: syscall tables and ABI snapshots.\n\n\b\n"
    "Example: ohnix bridge syscalls --arch arm64 --headers /usr/aarch64-linux-gnu/include",
    no_args_is_help=True,
    rich_markup_mode=None,
)
abi_app = typer.Typer(
    help="Measure struct layouts with a target compiler and compare two snapshots.\n\n\b\n"
    "Example: ohnix bridge abi check old.json new.json",
    no_args_is_help=True,
    rich_markup_mode=None,
)
bridge_app.add_typer(abi_app, name="abi")


class Arch(StrEnum):  # the keys of ohnix.bridge.syscalls.ARCHES (a test keeps them equal)
    arm64 = "arm64"
    arm = "arm"
    riscv64 = "riscv64"
    x86_64 = "x86_64"


class Format(StrEnum):
    go = "go"
    json = "json"


def _write(path: Path, text: str, what: str) -> None:
    """Write atomically, and not at all when the bytes are unchanged; say which on stderr."""
    from ohnix.atomic import write_text_atomic

    try:
        changed = write_text_atomic(path, text)
    except OSError as exc:
        raise OhnixError(
            f"Cannot write {path}: {exc.strerror}.",
            hint="Check that its folder exists and is writable.",
        ) from exc
    sys.stderr.write(f"{'wrote' if changed else 'unchanged'} {path} ({what})\n")


@bridge_app.command("syscalls")
def syscalls_cmd(
    ctx: typer.Context,
    arch: Annotated[
        Arch,
        typer.Option(
            "--arch", help="Target architecture: arm64, arm, riscv64 or x86_64.", metavar="ARCH"
        ),
    ],
    headers: Annotated[
        Path,
        typer.Option(
            "--headers",
            help="Kernel UAPI include dir (Debian's /usr/<triple>/include, or "
            "OpenHarmony's prebuilts/usr/include or source checkout).",
            metavar="DIR",
        ),
    ],
    fmt: Annotated[
        Format, typer.Option("--format", help="Output format: go or json.", metavar="FORMAT")
    ] = Format.go,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write here (atomically) instead of stdout.", metavar="FILE"
        ),
    ] = None,
) -> None:
    """Generate a syscall-number table (Go constants, as golang.org/x/sys, or JSON).

    \b
    Example: ohnix bridge syscalls --arch arm64 --headers /usr/aarch64-linux-gnu/include -o z.go
    """
    from ohnix.bridge import syscalls

    table = syscalls.generate(arch.value, user_path(ctx, headers))
    text = syscalls.to_go(table) if fmt is Format.go else syscalls.to_json(table)
    if output is None:
        sys.stdout.write(text)
        return
    _write(user_path(ctx, output), text, f"{len(table.entries)} {arch.value} syscalls, {fmt.value}")


@abi_app.command("snapshot")
def abi_snapshot(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Option("--target", help="Target triple, e.g. aarch64-linux-ohos.", metavar="TRIPLE"),
    ],
    cc: Annotated[
        str,
        typer.Option(
            "--cc", help='The target C compiler (a command line, e.g. "clang").', metavar="CC"
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The snapshot file to write.", metavar="FILE")
    ],
    types: Annotated[
        Path | None,
        typer.Option(
            "--types", help="Types file (default: ohnix's built-in list).", metavar="FILE"
        ),
    ] = None,
    cflags: Annotated[
        list[str] | None,
        typer.Option(
            "--cflag", help="Extra compiler flag (repeatable), e.g. --cflag=-I/x.", metavar="X"
        ),
    ] = None,
) -> None:
    """Measure size, alignment and field offsets of C types with the target compiler.

    \b
    Example: ohnix bridge abi snapshot --target aarch64-linux-ohos --cc clang -o arm64.json
    """
    from ohnix.bridge import abi

    snap = abi.snapshot(
        target, cc, None if types is None else user_path(ctx, types), tuple(cflags or ())
    )
    _write(user_path(ctx, output), snap.to_json(), f"{len(snap.layouts)} types for {target}")


@abi_app.command("check")
def abi_check(
    ctx: typer.Context,
    old: Annotated[Path, typer.Argument(help="The reference snapshot.", metavar="OLD")],
    new: Annotated[Path, typer.Argument(help="The snapshot to check.", metavar="NEW")],
    as_json: JsonOpt = False,
) -> None:
    """List layout differences from OLD to NEW; exit 1 if any of them breaks binaries.

    \b
    Example: ohnix bridge abi check abi/arm64.json new-arm64.json --json
    """
    from dataclasses import asdict

    from ohnix.bridge import abi

    old_path, new_path = user_path(ctx, old), user_path(ctx, new)
    changes = abi.compare(abi.load_snapshot(old_path), abi.load_snapshot(new_path))
    breaking = abi.has_breaking(changes)
    if as_json:
        emit_json({"changes": [asdict(c) for c in changes]}, ok=not breaking)
    else:
        sys.stdout.write(abi.render_table(changes))
        if breaking:
            n = sum(c.breaking for c in changes)
            raise OhnixError(
                f"{n} breaking layout change(s) from {old_path} to {new_path}; "
                "binaries built against one do not match the other."
            )
    if breaking:
        raise typer.Exit(1)


@bridge_app.command("cgo")
def cgo_cmd(
    ctx: typer.Context,
    product: Annotated[
        str,
        typer.Option(
            "--product",
            "-p",
            help="A catalog product.",
            metavar="PRODUCT",
            autocompletion=catalog_products,
        ),
    ],
    cpu: Annotated[
        str | None, typer.Option("--cpu", help="Another target_cpu.", metavar="CPU")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("-o", "--output", help="Directory for cgo_wrapper.h.", metavar="DIR")
    ] = Path("gen"),
    clang: Annotated[
        bool, typer.Option("--clang/--gcc", help="Flags for clang (--target) or for GCC.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Write cgo_wrapper.h and print the product's CFLAGS/LDFLAGS profile.

    \b
    Example: ohnix bridge cgo --product rk3568 --cpu arm64 -o gen
    """
    from ohnix import products
    from ohnix.bridge import cgo

    try:  # not a catalog product or target_cpu: bad usage
        prod = products.get(product)
    except ProductError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--product'") from None
    try:
        prod = prod.variant(cpu) if cpu else prod
    except ProductError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--cpu'") from None
    prof = cgo.profile(prod, clang=clang)
    target = user_path(ctx, out_dir)
    target.mkdir(parents=True, exist_ok=True)  # -o names a directory: make it, like build does
    _write(target / "cgo_wrapper.h", prof.header, f"cgo wrapper for {product}")
    if as_json:
        emit_json(prof.as_dict())
    else:
        sys.stdout.write(f"CGO_CFLAGS={prof.cflags}\nCGO_LDFLAGS={prof.ldflags}\n")


@app.command()
def build(
    ctx: typer.Context,
    product: ProductArg,
    update_abi: Annotated[
        bool, typer.Option("--update-abi", help="Write the measured ABI as the new baseline.")
    ] = False,
    render_now: RenderOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the Go/CGO bridge build inside the product's shell.

    Steps: syscall table from kernel headers, ABI check against the committed snapshot,
    cgo wrapper, cross `go build`; artifacts and build.json land in out/PRODUCT/.

    Example: ohnix build qemu-arm64-linux-min
    """
    from ohnix import ui
    from ohnix.bridge import pipeline

    cfg = load_project(ctx)
    on_step = None if as_json else ui.build_step
    report = pipeline.build(cfg, product, update_abi=update_abi, render_now=render_now,
                            on_step=on_step)  # fmt: skip
    if as_json:
        emit_json(report.as_dict())
    else:
        sys.stdout.write(f"report: {report.report_path}\n")
