"""Human output: tables and reports. Rich styles them on a terminal; to a pipe or a log,
line reports are plain text (no wrapping at 80 columns, and rich is not even imported:
a quarter of the start-up of `ohnix lock` in CI)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ohnix.pin.resolve import LockReport
    from ohnix.products import Product
    from ohnix.store.doctor import Report

MARK = {"ok": ("  ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
Segment = str | tuple[str, str]  # text, or (text, rich style)


@cache
def console() -> Console:
    from rich.console import Console

    return Console()


def note(text: str) -> None:
    """A one-line notice on stderr (so stdout stays the command's output): long work ahead."""
    sys.stderr.write(f"ohnix: {text}\n")
    sys.stderr.flush()


def line(*segments: Segment) -> None:
    """Print one line. Segments are literal text (never parsed as rich markup, so a `[`
    in a user's value is safe); styles only apply on a terminal."""
    if not sys.stdout.isatty():
        sys.stdout.write("".join(s if isinstance(s, str) else s[0] for s in segments) + "\n")
        return
    from rich.text import Text

    console().print(Text.assemble(*segments), highlight=False, soft_wrap=True)


def _go(product: Product) -> str:
    if not product.go.supported:
        return "not supported"
    arm = f" GOARM={product.go.goarm}" if product.go.goarm else ""
    return f"GOARCH={product.go.goarch}{arm}"


def products_table(items: Iterable[Product]) -> None:
    from rich.table import Table

    table = Table(title="OpenHarmony 4.1 products")
    for col in ("product", "system", "kernel", "cpu", "triple", "Go"):
        table.add_column(col, no_wrap=col != "Go")
    for p in items:
        cpu = p.cpu + "".join(f", {v}" for v in p.variants)
        name = p.name + ("*" if p.alias_of else "")
        table.add_row(name, p.system_type, p.kernel, cpu, p.triple, _go(p))
    console().print(table)
    line(
        "* rk3566 is a SoC, not an OpenHarmony product: an alias for Kaihong's "
        'khdvk_3566b board (target_cpu arm, like rk3568; arm64 with cpu = "arm64" in '
        "ohnix.toml). `ohnix products show NAME` for details."
    )


def product_detail(p: Product) -> None:
    line((p.name, "bold"), f": {p.description}")
    rows = [
        ("board", p.board), ("SoC", p.soc), ("vendor", p.vendor),
        ("system type", p.system_type),
        ("kernel", p.kernel + (f" {p.kernel_version}" if p.kernel_version else "")),
        ("target_cpu", p.cpu), ("triple", p.triple), ("libc", p.libc),
        ("float ABI", p.float_abi),
        ("compiler", p.compiler + (f" {p.compiler_version}" if p.compiler_version else "")),
        ("Go", _go(p) + (f" ({p.go.reason})" if p.go.reason else "")),
    ]  # fmt: skip
    if p.cflags:
        rows.append(("cflags", " ".join(p.cflags)))
    if p.kconfig:
        rows.append(("kconfig", " ".join(p.kconfig)))
    for key, value in rows:
        line(f"  {key:<12} {value}")
    for cpu in p.variants:
        v = p.variant(cpu)
        line(f"  variant {cpu}: triple {v.triple}, float ABI {v.float_abi}, Go {_go(v)} "
             f'(cpu = "{cpu}" under [products.{p.name}] in ohnix.toml, or '
             f"ohnix init {p.name} --target-cpu {cpu})")  # fmt: skip


def doctor_report(report: Report) -> None:
    for check in report.checks:
        line(MARK[check.status], f" {check.name}: {check.detail}")
        if check.hint and check.status != "ok":
            line(f"     fix: {check.hint}")
    line(
        "ready" if report.ok else ("not ready", "red"), "" if report.ok else ": see the fixes above"
    )


@contextmanager
def progress(label: str, *, enabled: bool = True) -> Iterator[Callable[[Any], None]]:
    """A spinner with a count of finished items, only on a TTY; yields the on_done callback."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda _item: None
        return
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    err = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(),
                  console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task(label, total=None)

        def done(item: Any) -> None:
            bar.update(task, advance=1, description=f"{label}: {getattr(item, 'key', item)}")

        yield done


# How `ohnix lock` names what happened to each pin, in the order its summary counts them.
LOCK_VERBS = {"fetched": "pinned", "seeded": "seeded", "hashed": "hashed", "reused": "reused",
              "dropped": "dropped", "failed": "failed"}  # fmt: skip


def lock_report(report: LockReport) -> None:
    counts: Counter[str] = Counter(o.status for o in report.outcomes)
    for o in report.outcomes:
        if o.status in ("fetched", "seeded", "hashed") and o.pin:
            rev = f" {o.pin.rev}" if o.pin.rev else ""
            line(f"  {LOCK_VERBS[o.status]} {o.key}{rev} {o.pin.hash}")
        elif o.status == "dropped":
            line(f"  dropped {o.key}: no longer in ohnix.toml")
        elif o.status == "failed":
            line("  ", ("failed", "red"), f" {o.key}: {o.error}")
    if report.written:
        state = "written"
    elif any(o.status != "failed" for o in report.outcomes):
        state = "unchanged"
    else:
        state = "not written"
    summary = ", ".join(f"{counts[s]} {s}" for s in LOCK_VERBS if counts[s]) or "no pins"
    line(f"{report.path} {state}: {summary}")


def build_step(step: Any) -> None:
    mark = {"ok": ("  ok", "green"), "skipped": ("skip", "yellow"), "failed": ("FAIL", "red")}
    line(mark[step.status], f" {step.name:<9} {step.detail}  ({step.seconds:.2f} s)")


def parity_table(data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{data['product']}: {data['container']} vs the {data['provider']} shell")
    for col in ("container tool", "from", "container has", "shell provider", "source", "version"):
        table.add_column(col)
    for row in data["tools"]:
        style = "red" if row["provider"] == "missing" else None
        origin = "package list" if row["origin"] == "build_package_list.json" else row["origin"]
        table.add_row(row["tool"], origin, row["container"], row["provider"], row["source"],
                      row["version"] or "", style=style)  # fmt: skip
    console().print(table)
    line(f"  package list: {data['package_list']}; the rest: the container's Dockerfile")
    for t in data["toolchain"]:
        source = t["attr"] or t["pin"] or ""
        line(f"  {t['var']:<8} {t['provider']:<15} {source} {t['exe']}")
