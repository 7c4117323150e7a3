"""Project commands: lock, render, parity, and the shells (shell, run, gc, direnv, build).

Thin: parse arguments, call one core function, print its result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ohnix.cli.app import JsonOpt, PlainOpt, ProductArg, RenderOpt, app, emit_json, load_project
from ohnix.errors import LockError, RenderError

if TYPE_CHECKING:
    from ohnix.pin.resolve import Drift, LockReport


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
        int | None,
        typer.Option("--jobs", "-j", help="Parallel prefetches.", min=1, metavar="N"),
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
    from ohnix.pin import resolve

    cfg = load_project(ctx)
    jobs = jobs or resolve.DEFAULT_JOBS
    if names and not update:
        raise typer.BadParameter("pin names are only taken with --update", param_hint="NAME")
    if check:
        from ohnix.pin import lockfile

        held = lockfile.require(cfg.root)
        drift = resolve.check(cfg, held, offline=offline, jobs=jobs)
        if as_json:
            emit_json({"drift": {d.key: vars(d) for d in drift}}, ok=not drift)
            if drift:
                raise typer.Exit(1)
        elif drift:
            raise LockError(
                f"{len(drift)} pin(s) do not match ohnix.toml or their source:\n"
                + "\n".join(f"{d.key}: {d.problem}: {d.detail}; {drift_fix(d)}" for d in drift)
            )
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
        emit_json(report.as_dict())
    else:
        ui.lock_report(report)
    if report.failed:
        raise LockError(lock_failure(report))


def drift_fix(d: Drift) -> str:
    """What to run for one `lock --check` finding: a plain `ohnix lock` settles what
    ohnix.toml asks for; only a moved or changed source needs a deliberate --update."""
    name = d.key.split("/", 1)[-1]
    return {
        "missing": "`ohnix lock` pins it",
        "extra": "`ohnix lock` drops it",
        "stale-spec": "`ohnix lock` re-pins it",
        "ref-moved": f"check why, then `ohnix lock --update {name}` takes the new revision",
        "hash-mismatch": f"check why, then `ohnix lock --update {name}` pins what is there now",
        "failed": "check the URL and the network, then run `ohnix lock --check` again",
    }[d.problem]


def lock_failure(report: LockReport) -> str:
    """What a --keep-going lock with failures left behind, exactly."""
    failed = [o.key for o in report.failed]
    done = sum(o.status not in ("failed", "dropped") for o in report.outcomes)
    text = f"{len(failed)} pin(s) failed: {', '.join(failed)}."
    if not done and not report.kept and not report.written:
        return text + " Nothing was pinned, so no ohnix.lock was written."
    text += f" ohnix.lock holds the other {done} pin(s)." if done else ""
    lost = [k for k in failed if k not in report.kept]
    if report.kept:
        text += f" Kept their previous entry: {', '.join(report.kept)}."
    if lost:
        text += f" Not in ohnix.lock yet: {', '.join(lost)}."
    return text


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

    Lists each file it creates or updates and counts the unchanged ones; in a git work
    tree, new files are marked intent-to-add so flakes can see them.

    Examples: ohnix render; ohnix render --check (CI, pre-commit)
    """
    from ohnix.render import project

    cfg = load_project(ctx)
    report = project.render_project(cfg, check=check, dry_run=dry_run)
    if as_json:
        emit_json(report.as_dict())
    else:
        # Only what changes, then one line for the rest (--json lists every file).
        for f in report.files:
            if f.status != "identical":
                sys.stdout.write(f"{f.status:>6} {f.path}\n")
        same = sum(f.status == "identical" for f in report.files)
        if same:
            sys.stdout.write(f"{same} file{'s' if same != 1 else ''} unchanged\n")
        if report.visible:
            sys.stdout.write(
                f"git: marked {len(report.visible)} new file(s) intent-to-add so Nix can see "
                f"them ({', '.join(report.visible)})\n"
            )
    if check and report.diff:
        if not as_json:
            sys.stdout.write(report.diff)
        raise RenderError(
            "the rendered files differ from ohnix.toml/ohnix.lock; "
            "run `ohnix render` and commit the result."
        )


@app.command()
def shell(
    ctx: typer.Context,
    product: ProductArg,
    classic: Annotated[
        bool, typer.Option("--classic", help="Use nix-shell on default.nix (no flakes).")
    ] = False,
    render_now: RenderOpt = False,
) -> None:
    """Enter a product's development shell (nix develop on the rendered flake).

    Example: ohnix shell rk3566
    """
    from ohnix.shell import enter

    enter.enter(load_project(ctx), product, classic=classic,
                 render_now=render_now)  # fmt: skip


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    product: ProductArg,
    command: Annotated[
        list[str] | None,
        typer.Argument(help="The command and its arguments, after `--`.", metavar="-- CMD"),
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
    from ohnix.shell import enter

    argv = list(command or []) + list(ctx.args)
    if not (argv or print_env):
        ctx.fail(f"Missing the command to run: ohnix run {product} -- CMD [ARGS]...")
    cfg = load_project(ctx)
    if print_env:
        variables = enter.variables(cfg, product, render_now=render_now)
        if as_json:
            emit_json({"product": product, "variables": variables})
        else:
            sys.stdout.write(enter.export_lines(variables))
        return
    enter.run(cfg, product, argv, render_now=render_now)


@app.command()
def gc(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Drop ohnix's GC roots and cached environments of products no longer configured.

    Example: ohnix gc && nix-collect-garbage
    """
    from ohnix.shell import enter

    removed = enter.gc(load_project(ctx))
    if as_json:
        emit_json({"removed": removed})
    else:
        sys.stdout.write("".join(f"removed {r}\n" for r in removed) or "nothing to remove\n")


@app.command()
def direnv(ctx: typer.Context, product: ProductArg, as_json: JsonOpt = False) -> None:
    """Write an .envrc that loads the product's shell from ohnix's cache.

    Example: ohnix direnv rk3566 && direnv allow
    """
    from ohnix.shell import enter

    path = enter.direnv(load_project(ctx), product)
    if as_json:
        emit_json({"product": product, "path": str(path)})
    else:
        sys.stdout.write(f"wrote {path}; run `direnv allow`\n")


@app.command()
def parity(
    ctx: typer.Context, product: ProductArg, as_json: JsonOpt = False, plain: PlainOpt = False
) -> None:
    """The OpenHarmony build container's tools next to what the product's shell provides.

    Example: ohnix parity rk3568 --json
    """
    from ohnix import ui
    from ohnix.audit import parity
    from ohnix.pin import lockfile

    cfg = load_project(ctx)
    data = parity.report(cfg, lockfile.require(cfg.root), product)
    if as_json:
        emit_json(data)
    else:
        ui.parity_table(data, plain=plain)
