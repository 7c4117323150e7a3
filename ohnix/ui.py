"""Human output: tables and reports, on rich (imported only when a human is reading)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from ohnix.doctor import Report
from ohnix.products import Product
from ohnix.resolve import LockReport

console = Console()
MARK = {"ok": "[green]  ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def _go(product: Product) -> str:
    if not product.go.supported:
        return "not supported"
    arm = f" GOARM={product.go.goarm}" if product.go.goarm else ""
    return f"GOARCH={product.go.goarch}{arm}"


def products_table(items: Iterable[Product]) -> None:
    table = Table(title="OpenHarmony 4.1 products")
    for col in ("product", "system", "kernel", "cpu", "triple", "Go"):
        table.add_column(col, no_wrap=col != "Go")
    for p in items:
        cpu = p.cpu + "".join(f", {v}" for v in p.variants)
        name = p.name + ("*" if p.alias_of else "")
        table.add_row(name, p.system_type, p.kernel, cpu, p.triple, _go(p))
    console.print(table)
    console.print(
        "* rk3566 is a SoC, not an OpenHarmony product: an alias for Kaihong's "
        "khdvk_3566b board (arm64). `ohnix products show NAME` for details."
    )


def product_detail(p: Product) -> None:
    console.print(f"[bold]{p.name}[/]: {p.description}")
    rows = [
        ("board", p.board), ("SoC", p.soc), ("vendor", p.vendor),
        ("system type", p.system_type),
        ("kernel", p.kernel + (f" {p.kernel_version}" if p.kernel_version else "")),
        ("target_cpu", p.cpu), ("triple", p.triple), ("libc", p.libc),
        ("float ABI", p.float_abi),
        ("compiler", p.compiler + (f" {p.compiler_version}" if p.compiler_version else "")),
        ("Go", _go(p) + (f" ({p.go.reason})" if p.go.reason else "")),
    ]  # fmt: skip
    if p.kconfig:
        rows.append(("kconfig", " ".join(p.kconfig)))
    for key, value in rows:
        console.print(f"  {key:<12} {value}", highlight=False)
    for cpu in p.variants:
        v = p.variant(cpu)
        console.print(f"  variant {cpu}: triple {v.triple}, float ABI {v.float_abi}, Go {_go(v)}")


def doctor_report(report: Report) -> None:
    for check in report.checks:
        console.print(f"{MARK[check.status]} {check.name}: {check.detail}", highlight=False)
        if check.hint and check.status != "ok":
            console.print(f"     fix: {check.hint}", highlight=False)
    console.print("ready" if report.ok else "[red]not ready[/]: see the fixes above")


@contextmanager
def progress(label: str, *, enabled: bool = True) -> Iterator[Callable[[Any], None]]:
    """A spinner with a count of finished items, only on a TTY; yields the on_done callback."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda _item: None
        return
    err = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(),
                  console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task(label, total=None)

        def done(item: Any) -> None:
            bar.update(task, advance=1, description=f"{label}: {getattr(item, 'key', item)}")

        yield done


def lock_report(report: LockReport) -> None:
    counts = Counter(o.status for o in report.outcomes)
    for o in report.outcomes:
        if o.status == "fetched" and o.pin:
            console.print(f"  pinned {o.key} {o.pin.rev or ''} {o.pin.hash}", highlight=False)
        elif o.status == "failed":
            console.print(f"  [red]failed[/] {o.key}: {o.error}", highlight=False)
    state = "written" if report.written else "unchanged"
    console.print(
        f"{report.path} {state}: {counts['fetched']} fetched, {counts['reused']} reused, "
        f"{counts['failed']} failed",
        highlight=False,
    )


def build_step(step: Any) -> None:
    mark = {"ok": "[green]  ok[/]", "skipped": "[yellow]skip[/]", "failed": "[red]FAIL[/]"}
    console.print(f"{mark[step.status]} {step.name:<9} {step.detail}  ({step.seconds:.2f} s)",
                  highlight=False)  # fmt: skip


def parity_table(data: dict[str, Any]) -> None:
    table = Table(title=f"{data['product']}: {data['container']} vs the {data['provider']} shell")
    for col in ("container tool", "container has", "shell provider", "source", "version"):
        table.add_column(col)
    for row in data["tools"]:
        style = "red" if row["provider"] == "missing" else None
        table.add_row(row["tool"], row["container"], row["provider"], row["source"],
                      row["version"] or "", style=style)  # fmt: skip
    console.print(table)
    for t in data["toolchain"]:
        source = t["attr"] or t["pin"] or ""
        console.print(f"  {t['var']:<8} {t['provider']:<15} {source} {t['exe']}", highlight=False)
