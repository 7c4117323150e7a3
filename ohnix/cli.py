"""The Typer app: parse arguments, call one core function, print its result.

No logic lives here beyond that; every command that reports something has --json, which
prints the same value the human output is made from.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from ohnix import __version__
from ohnix.bridge.cli import bridge_app
from ohnix.errors import OhnixError

app = typer.Typer(
    name="ohnix",
    help="Reproducible, Nix-based build environments for OpenHarmony.\n\n"
    "Example: ohnix init qemu-arm64-linux-min && ohnix lock && ohnix shell qemu-arm64-linux-min",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(
    help="Store paths, cache keys and binary-cache push/pull for CI.\n\n"
    "Example: ohnix cache push --to file:///tmp/nix-cache qemu-arm64-linux-min",
    no_args_is_help=True,
)
products_app = typer.Typer(
    help="List the built-in OpenHarmony products.\n\nExample: ohnix products --json",
    invoke_without_command=True,
)
app.add_typer(products_app, name="products")
app.add_typer(cache_app, name="cache")
app.add_typer(bridge_app, name="bridge")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(frozen=True)
class Globals:
    directory: Path
    verbose: int


def _globals(ctx: typer.Context) -> Globals:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals(Path.cwd(), 0)


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ohnix {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("-C", "--directory", help="Run as if started in DIR.", metavar="DIR")
    ] = Path(),
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="Show the commands ohnix runs.")
    ] = 0,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s", stream=sys.stderr
    )
    ctx.obj = Globals(directory.resolve(), verbose)


@products_app.callback()
def products_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List every product: OpenHarmony name, board, system type, kernel, triple, Go."""
    if ctx.invoked_subcommand is not None:
        return
    from ohnix import products

    items = list(products.catalog().values())
    if as_json:
        _emit_json([p.as_dict() for p in items])
        return
    from ohnix import ui

    ui.products_table(items)


@products_app.command("show")
def products_show(
    name: Annotated[str, typer.Argument(help="A product name, e.g. rk3568.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one product and its target_cpu variants.

    Example: ohnix products show rk3568 --json
    """
    from ohnix import products

    product = products.get(name)
    if as_json:
        _emit_json(product.as_dict())
        return
    from ohnix import ui

    ui.product_detail(product)


@app.command()
def init(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Products to configure.", metavar="PRODUCT")
    ] = None,
) -> None:
    """Write a commented starter ohnix.toml (never overwrites one).

    Example: ohnix init rk3568 qemu-arm64-linux-min
    """
    from ohnix import starter

    path = starter.write(_globals(ctx).directory, list(names or []))
    sys.stdout.write(f"wrote {path}\nnext: ohnix lock\n")


@app.command("config")
def show_config(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Validate ohnix.toml and show what it resolves to (products, providers, sources).

    Example: ohnix -C my-project config --json
    """
    from ohnix import config

    cfg = config.load(_globals(ctx).directory)
    data = config.as_dict(cfg)
    if as_json:
        _emit_json(data)
        return
    sys.stdout.write(
        f"{cfg.path}: project {cfg.project.name}, OpenHarmony {cfg.project.openharmony}\n"
    )
    for p in data["products"]:
        tools = "".join(f", {t}={v}" for t, v in p["tools"].items())
        sys.stdout.write(f"  {p['name']}: {p['product']['triple']} via {p['provider']}{tools}\n")


@app.command()
def lock(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="With --update: the pins to re-resolve (default: all).", metavar="NAME"
        ),
    ] = None,
    update: Annotated[bool, typer.Option("--update", help="Re-resolve refs and re-fetch.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Verify every pin without writing; exit 1 on drift.")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Fail instead of fetching anything.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Parallel prefetches.", min=1)
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", "-k", help="Pin what can be pinned; list failures.")
    ] = False,
    seed: Annotated[
        Path | None,
        typer.Option(
            "--seed", help="Add archives already in DIR to the store (no download).", metavar="DIR"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin every source in ohnix.toml (revs + Nix hashes) into ohnix.lock.

    Unchanged pins are reused without any network; the lock is written atomically and
    only when it changes.

    Examples: ohnix lock; ohnix lock --update nixpkgs; ohnix lock --check --offline
    """
    from ohnix import config, resolve

    cfg = config.load(_globals(ctx).directory)
    jobs = jobs or resolve.DEFAULT_JOBS
    if names and not update:
        raise typer.BadParameter("pin names are only taken with --update", param_hint="NAME")
    if check:
        from ohnix import lock as lockfile

        held = lockfile.read(cfg.root)
        if held is None:
            raise OhnixError(f"No {lockfile.LOCK_NAME} in {cfg.root}.", hint="Run `ohnix lock`.")
        drift = resolve.check(cfg, held, offline=offline, jobs=jobs)
        if as_json:
            _emit_json({"ok": not drift, "drift": [vars(d) for d in drift]})
        elif drift:
            sys.stderr.write(
                f"ohnix: error: {len(drift)} pin(s) do not match; run "
                "`ohnix lock --update NAME` for each after checking why.\n"
            )
            for d in drift:
                sys.stderr.write(f"{d.key}: {d.problem}: {d.detail}\n")
        if drift:
            raise typer.Exit(1)
        if not as_json:
            sys.stdout.write(f"{lockfile.LOCK_NAME} matches ohnix.toml and every source\n")
        return
    from ohnix import ui

    with ui.progress("locking", enabled=not as_json) as on_done:
        report = resolve.lock_project(
            cfg,
            update=names or (),
            update_all=update and not names,
            jobs=jobs,
            keep_going=keep_going,
            offline=offline,
            seed=seed,
            on_done=on_done,
        )
    if as_json:
        _emit_json(report.as_dict())
    else:
        ui.lock_report(report)
    if report.failed:
        sys.stderr.write(
            f"ohnix: error: {len(report.failed)} pin(s) failed: "
            + ", ".join(o.key for o in report.failed)
            + "; the others were pinned, and each failed pin kept its previous entry.\n"
        )
        raise typer.Exit(1)


@app.command()
def render(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 with a diff if the files on disk differ.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write flake.nix, flake.lock, default.nix and nix/ohnix/ from ohnix.lock.

    Reports create / identical / update per file; in a git work tree, new files are
    marked intent-to-add so flakes can see them.

    Examples: ohnix render; ohnix render --check (CI, pre-commit)
    """
    from ohnix import config
    from ohnix import render as rendering

    cfg = config.load(_globals(ctx).directory)
    report = rendering.render_project(cfg, check=check, dry_run=dry_run)
    if as_json:
        _emit_json(report.as_dict())
    else:
        for f in report.files:
            sys.stdout.write(f"{f.status:>9} {f.path}\n")
        if report.visible:
            sys.stdout.write(
                f"git: marked {len(report.visible)} new file(s) intent-to-add so Nix can see "
                f"them ({', '.join(report.visible)})\n"
            )
    if check and report.diff:
        if not as_json:
            sys.stdout.write(report.diff)
        sys.stderr.write(
            "ohnix: error: the rendered files differ from ohnix.toml/ohnix.lock; "
            "run `ohnix render` and commit the result.\n"
        )
        raise typer.Exit(1)


RenderOpt = Annotated[
    bool, typer.Option("--render", help="Render first if the Nix files are stale.")
]


@app.command()
def shell(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="A configured product.")],
    classic: Annotated[
        bool, typer.Option("--classic", help="Use nix-shell on default.nix (no flakes).")
    ] = False,
    render_now: RenderOpt = False,
) -> None:
    """Enter a product's development shell (nix develop on the rendered flake).

    Example: ohnix shell rk3566
    """
    from ohnix import config
    from ohnix import shell as shells

    shells.enter(config.load(_globals(ctx).directory), product, classic=classic,
                 render_now=render_now)  # fmt: skip


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="A configured product.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="The command, after --.", metavar="-- CMD")
    ] = None,
    print_env: Annotated[
        bool, typer.Option("--print-env", help="Print the shell's variables instead.")
    ] = False,
    render_now: RenderOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run one command inside a product's shell and exit with its status.

    A warm run applies the cached environment without starting Nix.

    Examples: ohnix run qemu-arm64-linux-min -- sh -c '$CC --version';
    ohnix run rk3566 --print-env --json
    """
    from ohnix import config
    from ohnix import shell as shells

    cfg = config.load(_globals(ctx).directory)
    if print_env:
        variables = shells.variables(cfg, product, render_now=render_now)
        if as_json:
            _emit_json(variables)
        else:
            sys.stdout.write(shells.export_lines(variables))
        return
    shells.run(cfg, product, list(command or []) + list(ctx.args), render_now=render_now)


@app.command()
def gc(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Drop ohnix's GC roots and cached environments of products no longer configured.

    Example: ohnix gc && nix-collect-garbage
    """
    from ohnix import config
    from ohnix import shell as shells

    removed = shells.gc(config.load(_globals(ctx).directory))
    if as_json:
        _emit_json({"removed": removed})
    else:
        sys.stdout.write("".join(f"removed {r}\n" for r in removed) or "nothing to remove\n")


@app.command()
def direnv(
    ctx: typer.Context, product: Annotated[str, typer.Argument(help="A configured product.")]
) -> None:
    """Write an .envrc that loads the product's shell from ohnix's cache.

    Example: ohnix direnv rk3566 && direnv allow
    """
    from ohnix import config
    from ohnix import shell as shells

    path = shells.direnv(config.load(_globals(ctx).directory), product)
    sys.stdout.write(f"wrote {path}; run `direnv allow`\n")


@app.command()
def build(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="A configured product.")],
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
    from ohnix import config, ui
    from ohnix.bridge import pipeline

    cfg = config.load(_globals(ctx).directory)
    on_step = None if as_json else ui.build_step
    report = pipeline.build(cfg, product, update_abi=update_abi, render_now=render_now,
                            on_step=on_step)  # fmt: skip
    if as_json:
        _emit_json(report.as_dict())
    else:
        sys.stdout.write(f"report: {report.report_path}\n")


ProductArg = Annotated[str, typer.Argument(help="A configured product.")]
ProductsArg = Annotated[list[str], typer.Argument(help="Configured products.", metavar="PRODUCT")]


@cache_app.command("paths")
def cache_paths(ctx: typer.Context, products: ProductsArg, as_json: JsonOpt = False) -> None:
    """Every store path CI needs for these shells (toolchains and pinned inputs).

    Example: ohnix cache paths rk3566 --json
    """
    from ohnix import cache, config

    found = cache.paths(config.load(_globals(ctx).directory), products)
    if as_json:
        _emit_json(found)
    else:
        sys.stdout.write("".join(f"{p}\n" for p in found))


@cache_app.command("key")
def cache_key(ctx: typer.Context, products: ProductsArg, as_json: JsonOpt = False) -> None:
    """A cache key from the lock digest, rendered files, products and system.

    Example: ohnix cache key rk3566
    """
    from ohnix import cache, config

    value = cache.key(config.load(_globals(ctx).directory), products)
    if as_json:
        _emit_json({"key": value})
    else:
        sys.stdout.write(value + "\n")


def _transfer_out(result: Any, as_json: bool) -> None:
    if as_json:
        _emit_json(result.as_dict())
        return
    verb = "pushed to" if result.direction == "push" else "pulled from"
    sys.stdout.write(
        f"{verb} {result.url}: {len(result.copied)} of {result.paths} paths copied "
        f"({result.nar_bytes / 1e6:.1f} MB NAR)\n"
    )


@cache_app.command("push")
def cache_push(
    ctx: typer.Context,
    products: ProductsArg,
    to: Annotated[str, typer.Option("--to", help="file://DIR, s3://BUCKET, ssh://HOST.")],
    secret_key: Annotated[
        str | None, typer.Option("--secret-key", help="Sign with this key file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy the shells' paths to a binary cache (only what it lacks).

    Example: ohnix cache push --to file:///tmp/nix-cache rk3566
    """
    from ohnix import cache, config

    _transfer_out(cache.push(config.load(_globals(ctx).directory), products, to, secret_key),
                  as_json)  # fmt: skip


@cache_app.command("pull")
def cache_pull(
    ctx: typer.Context,
    products: ProductsArg,
    source: Annotated[str, typer.Option("--from", help="file://DIR, s3://BUCKET, ssh://HOST.")],
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="Trust signatures by this key.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the shells' paths from a binary cache (pins first, then substitution).

    Example: ohnix cache pull --from file:///tmp/nix-cache rk3566
    """
    from ohnix import cache, config

    _transfer_out(
        cache.pull(config.load(_globals(ctx).directory), products, source, public_key), as_json
    )


@app.command()
def ci(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="github or gitlab.")],
    products: Annotated[
        list[str] | None, typer.Argument(help="Products to build (default: all).")
    ] = None,
) -> None:
    """Write a CI workflow: install Nix, restore the cache, check render and lock, build, push.

    Example: ohnix ci github
    """
    from ohnix import ci as cifile
    from ohnix import config

    path = cifile.write(config.load(_globals(ctx).directory), provider, list(products or []))
    sys.stdout.write(f"wrote {path}\n")


@app.command()
def parity(ctx: typer.Context, product: ProductArg, as_json: JsonOpt = False) -> None:
    """The OpenHarmony build container's tools next to what the product's shell provides.

    Example: ohnix parity rk3568 --json
    """
    from ohnix import config, parity, ui
    from ohnix import lock as lockfile

    cfg = config.load(_globals(ctx).directory)
    held = lockfile.read(cfg.root)
    if held is None:
        raise OhnixError(f"No ohnix.lock in {cfg.root}.", hint="Run `ohnix lock` first.")
    data = parity.report(cfg, held, product)
    if as_json:
        _emit_json(data)
    else:
        ui.parity_table(data)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check that Nix, git and the store are ready; each failing check says how to fix it.

    Example: ohnix doctor --json
    """
    from ohnix import doctor as doc

    report = doc.run()
    if as_json:
        _emit_json(report.as_dict())
    else:
        from ohnix import ui

        ui.doctor_report(report)
    if not report.ok:
        raise typer.Exit(1)


# --- audit and sbom -------------------------------------------------------------------


class _AuditGroup(typer.core.TyperGroup):
    """`ohnix audit PRODUCT...` and `ohnix audit diff A B` side by side: anything that is
    not a subcommand (or --help) goes to the default `report` subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: a click Context
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["report", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=_AuditGroup,
    help="Derivation and output hashes per product and component, and explained diffs.\n\n"
    "\b\nExamples: ohnix audit rk3566 --json -o a.json; ohnix audit diff a.json b.json",
    rich_markup_mode=None,
)
app.add_typer(audit_app, name="audit")
OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Also write the JSON to FILE.", metavar="FILE")
]


@audit_app.command("report")
def audit_report(
    ctx: typer.Context,
    products: Annotated[
        list[str] | None,
        typer.Argument(help="Configured products (default: all).", metavar="PRODUCT"),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Recompute every .drv and output path; exit 1 if any differ."
        ),
    ] = False,
    output: OutputOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report each product's shell: per component (toolchain, pinned source) its .drv,
    output paths, narHash if built, fetch URL and hash, provider (host = non-hermetic).

    `ohnix audit PRODUCT...` is short for `ohnix audit report PRODUCT...`. The project
    must be rendered. Reports of the same lock are byte-identical on any checkout.

    Examples: ohnix audit rk3566 --verify; ohnix audit --json -o audit.json
    """
    from ohnix import audit, auditreport, config
    from ohnix.lock import write_text_atomic

    report = audit.build(config.load(_globals(ctx).directory), list(products or []),
                         verify=verify)  # fmt: skip
    if output is not None:
        write_text_atomic(output, auditreport.dumps(report))
    if as_json:
        _emit_json(report)
    else:
        sys.stdout.write(auditreport.format_report(report))
        if output is not None:
            sys.stdout.write(f"wrote {output}\n")
    bad = report.get("verified", {}).get("mismatches")
    if bad:
        raise OhnixError(
            f"{len(bad)} recomputed path(s) differ from Nix's (listed above).",
            hint="Either a derivation in the store is not what its path says, or ohnix's "
            "recomputation is wrong; please report it with the report attached.",
        )


@audit_app.command("diff")
def audit_diff(
    a: Annotated[Path, typer.Argument(help="The first report (ohnix audit --json).")],
    b: Annotated[Path, typer.Argument(help="The second report.")],
    as_json: JsonOpt = False,
) -> None:
    """Explain why two audit reports differ, offline, without any .drv on this machine:
    same evaluation / same output paths / same narHash, and the root causes (env var,
    input, source, pin) with the components each reaches.

    Example: ohnix audit diff monday.json friday.json
    """
    from ohnix import auditdiff, auditreport

    result = auditdiff.diff(auditreport.load(a), auditreport.load(b))
    if as_json:
        _emit_json(result)
    else:
        sys.stdout.write(auditdiff.format_diff(result))
    broken = [side.upper() for side, bad in result["consistency"].items() if bad]
    if broken:
        raise OhnixError(
            f"Report {' and '.join(broken)} does not recompute from its own content: its "
            "paths do not match its derivations, so it was edited or damaged.",
            hint="Regenerate it with `ohnix audit --json -o FILE` on the machine it came from.",
        )


class SbomFormat(StrEnum):
    cyclonedx = "cyclonedx"


@app.command()
def sbom(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="A configured product.")],
    fmt: Annotated[
        SbomFormat, typer.Option("--format", help="The SBOM format (CycloneDX 1.6 JSON).")
    ] = SbomFormat.cyclonedx,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE.", metavar="FILE")
    ] = None,
) -> None:
    """Write a CycloneDX SBOM of a product's shell (every derivation, pin and host tool),
    validated against the CycloneDX schema; reproducible (no timestamp).

    Example: ohnix sbom rk3566 -o rk3566.cdx.json
    """
    from ohnix import audit, config
    from ohnix import sbom as sboms
    from ohnix.lock import write_text_atomic

    report = audit.build(config.load(_globals(ctx).directory), [product])
    text = sboms.cyclonedx(report, product) if fmt is SbomFormat.cyclonedx else ""
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        sys.stdout.write(f"wrote {output}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: OhnixError -> one paragraph and exit 1; Ctrl-C -> 130."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="ohnix", standalone_mode=False)
    except OhnixError as exc:
        sys.stderr.write(f"ohnix: error: {exc}\n")
        return 1
    except (KeyboardInterrupt, typer.Abort):
        sys.stderr.write("ohnix: interrupted\n")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: click-style message, exit 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"ohnix: {exc.format_message()}\n")
        return exc.exit_code
    if result == 130:  # Typer turns Ctrl-C into Exit(130) and returns it
        sys.stderr.write("ohnix: interrupted\n")
    if isinstance(result, int):
        return result
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
