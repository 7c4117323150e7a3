"""CI and audit commands: cache paths|key|push|pull, ci, audit, audit diff, sbom.

Thin: parse arguments, call one core function, print its result.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from ohnix.cli.app import (
    JsonOpt,
    OutputOpt,
    ProductArg,
    ProductsArg,
    app,
    emit_json,
    globals_of,
    load_project,
    user_path,
)
from ohnix.cli.usage import configured_products
from ohnix.errors import OhnixError

cache_app = typer.Typer(
    help="Store paths, cache keys and binary-cache push/pull for CI.\n\n"
    "Example: ohnix cache push --to file:///tmp/nix-cache qemu-arm64-linux-min",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


@cache_app.command("paths")
def cache_paths(ctx: typer.Context, products: ProductsArg, as_json: JsonOpt = False) -> None:
    """Every store path CI needs for these shells (toolchains and pinned inputs).

    Example: ohnix cache paths rk3566 --json
    """
    from ohnix.shell import bincache

    found = bincache.paths(load_project(ctx), products)
    if as_json:
        emit_json({"paths": found})
    else:
        sys.stdout.write("".join(f"{p}\n" for p in found))


@cache_app.command("key")
def cache_key(ctx: typer.Context, products: ProductsArg, as_json: JsonOpt = False) -> None:
    """A cache key from the lock digest, rendered files, products and system.

    Example: ohnix cache key rk3566
    """
    from ohnix.shell import bincache

    value = bincache.key(load_project(ctx), products)
    if as_json:
        emit_json({"key": value})
    else:
        sys.stdout.write(value + "\n")


def _transfer_out(result: Any, as_json: bool) -> None:
    if as_json:
        emit_json(result.as_dict())
        return
    verb = "pushed to" if result.direction == "push" else "pulled from"
    sys.stdout.write(
        f"{verb} {result.url}: {len(result.copied)} of {result.paths} paths copied "
        f"({result.nar_bytes / 1e6:.1f} MB NAR)\n"
    )


def _cache_url(ctx: typer.Context, url: str, option: str) -> None:
    """A URL that is no binary cache is a usage error (exit 2), before anything runs."""
    from ohnix.shell import bincache

    try:
        bincache.check_url(url, globals_of(ctx).directory)
    except bincache.CacheUrlError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from exc


@cache_app.command("push")
def cache_push(
    ctx: typer.Context,
    products: ProductsArg,
    to: Annotated[
        str, typer.Option("--to", help="file://DIR, s3://BUCKET, ssh://HOST.", metavar="URL")
    ],
    secret_key: Annotated[
        str | None,
        typer.Option("--secret-key", help="Sign with the secret key in FILE.", metavar="FILE"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy the shells' paths to a binary cache (only what it lacks).

    Example: ohnix cache push --to file:///tmp/nix-cache rk3566
    """
    from ohnix.shell import bincache

    _cache_url(ctx, to, "--to")
    _transfer_out(bincache.push(load_project(ctx), products, to, secret_key),
                  as_json)  # fmt: skip


@cache_app.command("pull")
def cache_pull(
    ctx: typer.Context,
    products: ProductsArg,
    source: Annotated[
        str, typer.Option("--from", help="file://DIR, s3://BUCKET, ssh://HOST.", metavar="URL")
    ],
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key", help="Trust signatures by the public key in FILE.", metavar="FILE"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the shells' paths from a binary cache (pins first, then substitution).

    Example: ohnix cache pull --from file:///tmp/nix-cache rk3566
    """
    from ohnix.shell import bincache

    _cache_url(ctx, source, "--from")
    _transfer_out(bincache.pull(load_project(ctx), products, source, public_key), as_json)


def _install_spec(value: str | None) -> str | None:
    if value is not None and (not value.strip() or not value.isprintable()):
        raise typer.BadParameter(
            "give one pip requirement on one line, e.g. 'ohnix @ git+https://HOST/ohnix@COMMIT'"
        )
    return value


WRITE_VERBS = {"create": "wrote", "identical": "unchanged", "update": "updated",
               "overwrite": "overwrote (edited)"}  # fmt: skip


def _ci_targets(incomplete: str) -> list[str]:
    from ohnix.render import workflow

    return [t for t in workflow.TARGETS if t.startswith(incomplete)]


@app.command()
def ci(
    ctx: typer.Context,
    provider: Annotated[
        str,
        typer.Argument(help="github or gitlab.", metavar="PROVIDER", autocompletion=_ci_targets),
    ],
    products: Annotated[
        list[str] | None,
        typer.Argument(
            help="Products to build (default: all).",
            metavar="PRODUCT",
            autocompletion=configured_products,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the workflow even if it was edited.")
    ] = False,
    ohnix_from: Annotated[
        str | None,
        typer.Option(
            "--ohnix-from",
            help="What the runner passes to `pip install` for ohnix (default: where this "
            "ohnix was installed from, as pip recorded it).",
            metavar="SPEC",
            callback=_install_spec,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a CI workflow that passes on a fresh runner: a Debian container with Nix and
    the host tools ohnix.lock pins, ohnix, the lock and render checks, the Nix cache of
    `ohnix cache key`, a build per product, and a push of what the cache lacks.

    An edited workflow is left alone unless --force.

    Example: ohnix ci github --ohnix-from 'ohnix @ git+https://HOST/ohnix@v0.1.0'
    """
    from ohnix.render import install, workflow

    if provider not in workflow.TARGETS:
        raise typer.BadParameter(
            f"`{provider}` is not a CI ohnix writes for; choose {' or '.join(workflow.TARGETS)}.",
            param_hint="'PROVIDER'",
        )
    cfg = load_project(ctx)
    how = install.given(ohnix_from) if ohnix_from is not None else install.recorded()
    done = workflow.write(cfg, provider, list(products or []), how, force=force)
    if as_json:
        emit_json({"path": str(done.path), "status": done.status, "ohnix_from": how.spec,
                   "unknown_packages": list(done.unknown)})  # fmt: skip
        return
    sys.stdout.write(f"{WRITE_VERBS[done.status]} {done.path}\n")
    if done.unknown:
        sys.stdout.write(
            f"note: ohnix knows no Debian package for {', '.join(done.unknown)}; install "
            "them in the workflow's first step, or `ohnix lock --check --offline` fails there\n"
        )


# --- audit and sbom -------------------------------------------------------------------


class _AuditGroup(typer.core.TyperGroup):
    """`ohnix audit PRODUCT...` and `ohnix audit diff A B` side by side: anything that is
    not a subcommand (or --help) goes to the default `report` subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: a click Context
        completing = ctx.resilient_parsing and not args  # `ohnix audit <TAB>`: see below
        if not completing and (
            not args or (args[0] not in self.commands and args[0] not in ("--help", "-h"))
        ):
            args = ["report", *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """The subcommands, and (for the short form) the products `report` takes."""
        from typer._click.shell_completion import CompletionItem

        found = super().shell_complete(ctx, incomplete)
        return found + [CompletionItem(n) for n in configured_products(ctx, incomplete)]


audit_app = typer.Typer(
    cls=_AuditGroup,
    help="Derivation and output hashes per product and component, and explained diffs.\n\n"
    "\b\nExamples: ohnix audit rk3566 --json -o a.json; ohnix audit diff a.json b.json",
    rich_markup_mode=None,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("report")
def audit_report(
    ctx: typer.Context,
    products: Annotated[
        list[str] | None,
        typer.Argument(
            help="Configured products (default: all).",
            metavar="PRODUCT",
            autocompletion=configured_products,
        ),
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
    from ohnix.atomic import write_text_atomic
    from ohnix.audit import collect, reportfile

    report = collect.build(load_project(ctx), list(products or []),
                         verify=verify)  # fmt: skip
    output = None if output is None else user_path(ctx, output)
    if output is not None:
        write_text_atomic(output, reportfile.dumps(report))
    if as_json:
        emit_json(report)
    else:
        sys.stdout.write(reportfile.format_report(report))
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
    ctx: typer.Context,
    a: Annotated[Path, typer.Argument(help="The first report (ohnix audit --json).", metavar="A")],
    b: Annotated[Path, typer.Argument(help="The second report.", metavar="B")],
    as_json: JsonOpt = False,
) -> None:
    """Explain why two audit reports differ, offline, without any .drv on this machine:
    same evaluation / same output paths / same narHash, and the root causes (env var,
    input, source, pin) with the components each reaches.

    Exits like diff(1): 0 if the reports are identical, 1 if they differ, 2 if either
    cannot be read or was edited (it no longer recomputes from its own content).

    Example: ohnix audit diff monday.json friday.json || echo "the shells changed"
    """
    from ohnix.audit import diff, reportfile

    try:
        a, b = user_path(ctx, a), user_path(ctx, b)
        result = diff.diff(reportfile.load(a), reportfile.load(b))
        broken = [side for side, bad in result["consistency"].items() if bad]
        if broken:
            names = " and ".join(f"{side.upper()} ({a if side == 'a' else b})" for side in broken)
            raise OhnixError(
                f"Report {names} does not recompute from its own content: "
                "its paths do not match its derivations, so it was edited or damaged; "
                "nothing was compared.",
                hint="Regenerate it with `ohnix audit -o FILE` on the machine it came from.",
            )
    except OhnixError as exc:
        exc.exit_code = 2  # trouble, not a difference
        raise
    if as_json:
        emit_json(result, ok=result["identical"])
    else:
        sys.stdout.write(diff.format_diff(result))
    if not result["identical"]:
        raise typer.Exit(1)


class SbomFormat(StrEnum):
    cyclonedx = "cyclonedx"


@app.command()
def sbom(
    ctx: typer.Context,
    product: ProductArg,
    fmt: Annotated[
        SbomFormat,
        typer.Option(
            "--format", help="The SBOM format: cyclonedx (CycloneDX 1.6 JSON).", metavar="FORMAT"
        ),
    ] = SbomFormat.cyclonedx,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE.", metavar="FILE")
    ] = None,
) -> None:
    """Write a CycloneDX SBOM of a product's shell (every derivation, pin and host tool),
    validated against the CycloneDX schema; reproducible (no timestamp).

    Example: ohnix sbom rk3566 -o rk3566.cdx.json
    """
    from ohnix.atomic import write_text_atomic
    from ohnix.audit import collect
    from ohnix.audit import sbom as sboms

    report = collect.build(load_project(ctx), [product])
    text = sboms.cyclonedx(report, product) if fmt is SbomFormat.cyclonedx else ""
    if output is None:
        sys.stdout.write(text)
    else:
        output = user_path(ctx, output)
        write_text_atomic(output, text)
        sys.stdout.write(f"wrote {output}\n")
