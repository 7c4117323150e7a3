"""Human output: tables and reports. Rich styles them on a terminal; to a pipe or a log,
line reports are plain text (no wrapping at 80 columns, and rich is not even imported:
a quarter of the start-up of `ohnix lock` in CI)."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

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


# How a column's cells may break to fit: "never" (a name a user copies), "words" (at
# spaces only: each word stays whole), "anywhere" (at spaces, after hyphens, then folded).
Wrap = Literal["never", "words", "anywhere"]


@dataclass(frozen=True)
class Column:
    header: str
    wrap: Wrap = "anywhere"


WORDS = r"\s+"
GAPS = ("  ", " ")  # between columns: two spaces, one when that saves wrapping words
FOLD_MIN = 8  # the narrowest a column gets when words must be folded to fit


def width(*, plain: bool = False) -> int | None:
    """The width tables are laid out for: the terminal's (or COLUMNS, when set), or None:
    full-width rows, one per line, for `cut` and `grep` (--plain, or piped with no COLUMNS)."""
    if plain:
        return None
    if sys.stdout.isatty():
        return console().width
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def _layout(columns: Sequence[Column], rows: Sequence[Sequence[str]],
            limit: int | None) -> tuple[list[int], str]:  # fmt: skip
    """Each column's width and the gap between columns. A column is as wide as its longest
    cell, narrowed (the widest first) to fit `limit`, no narrower than its longest word;
    when that cannot fit, with one-space gaps; then no narrower than its longest piece
    after a hyphen; then folding words. A column's `wrap` bounds that, so a table of long
    names may stay wider than `limit`."""
    cells = [[c.header, *(row[i] for row in rows)] for i, c in enumerate(columns)]
    natural = [max(map(len, col)) for col in cells]
    if limit is None:
        return natural, GAPS[0]

    def floor(split: str | None) -> list[int]:
        """Each column's narrowest width when cells break at `split` (None: anywhere)."""
        out = []
        for column, w, col in zip(columns, natural, cells, strict=True):
            if column.wrap == "never":
                out.append(w)
            elif column.wrap == "anywhere" and split is None:
                out.append(min(w, FOLD_MIN))
            else:
                at = split if column.wrap == "anywhere" and split else WORDS
                out.append(max(len(piece) for cell in col for piece in re.split(at, cell)))
        return out

    words, pieces, folded = floor(WORDS), floor(r"\s+|(?<=-)"), floor(None)
    stages = ((GAPS[0], words), (GAPS[1], words), (GAPS[1], pieces), (GAPS[1], folded))
    for n, (gap, least) in enumerate(stages):
        budget = limit - len(gap) * (len(columns) - 1)
        if sum(least) > budget and n < len(stages) - 1:
            continue  # this stage cannot fit: do not narrow anything for nothing
        widths = list(natural)
        while sum(widths) > budget:
            narrowable = [i for i, (w, f) in enumerate(zip(widths, least, strict=True)) if w > f]
            if not narrowable:
                break
            widths[max(narrowable, key=widths.__getitem__)] -= 1
        return widths, gap
    raise AssertionError("the last stage always returns")


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, limit: int | None,
          styles: Sequence[str | None] = ()) -> None:  # fmt: skip
    """Print a table: a bold header line, then each row (in `styles[i]`, on a terminal).
    With a `limit`, cells wrap (at spaces, then after hyphens, then anywhere) to fit it;
    without one, every row is one line at full width."""
    widths, gap = _layout(columns, rows, limit)
    for n, row in enumerate([[c.header for c in columns], *rows]):
        wrapped = [
            [cell] if len(cell) <= w
            else textwrap.wrap(cell, w, break_long_words=c.wrap == "anywhere",
                               break_on_hyphens=c.wrap == "anywhere") or [""]
            for c, cell, w in zip(columns, row, widths, strict=True)
        ]  # fmt: skip
        style = "bold" if n == 0 else (styles[n - 1] if n - 1 < len(styles) else None)
        for k in range(max(map(len, wrapped))):
            parts = [(cell[k] if k < len(cell) else "").ljust(w)
                     for cell, w in zip(wrapped, widths, strict=True)]  # fmt: skip
            text = gap.join(parts).rstrip()
            line((text, style) if style else text)


def paragraph(text: str, limit: int | None, indent: str = "") -> None:
    """A note under a table: wrapped to `limit` (one line without one)."""
    if limit is None:
        line(indent + text)
        return
    for row in textwrap.wrap(text, limit, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_on_hyphens=False):  # fmt: skip
        line(row)


def _go(product: Product) -> str:
    if not product.go.supported:
        return "not supported"
    arm = f" GOARM={product.go.goarm}" if product.go.goarm else ""
    return f"GOARCH={product.go.goarch}{arm}"


def products_table(items: Iterable[Product], *, plain: bool = False) -> None:
    """The catalog. Without a width (piped, --plain) only the header and one line per
    product; on a terminal also a title and a note on the aliases."""
    limit = width(plain=plain)
    columns = [Column("product", "never"), Column("system"), Column("kernel"),
               Column("cpu"), Column("triple"), Column("Go")]  # fmt: skip
    items = list(items)
    rows = [[p.name, p.system_type, p.kernel, ", ".join((p.cpu, *p.variants)), p.triple, _go(p)]
            for p in items]  # fmt: skip
    if limit is not None:
        line(("OpenHarmony 4.1 products", "bold"))
    table(columns, rows, limit=limit)
    if limit is None:
        return
    for p in items:
        if p.alias_of:
            paragraph(p.description.removeprefix("Alias: ") + ".", limit)
    paragraph("`ohnix products show PRODUCT` for details.", limit)


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


# What can happen to a pin, in the order `ohnix lock`'s summary counts them; each line and
# the summary use these words, as --json's `status` does.
LOCK_STATUSES = ("fetched", "seeded", "hashed", "reused", "dropped", "failed")


def lock_report(report: LockReport) -> None:
    counts: Counter[str] = Counter(o.status for o in report.outcomes)
    for o in report.outcomes:
        if o.status in ("fetched", "seeded", "hashed") and o.pin:
            rev = f" {o.pin.rev}" if o.pin.rev else ""
            line(f"  {o.status} {o.key}{rev} {o.pin.hash}")
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
    summary = ", ".join(f"{counts[s]} {s}" for s in LOCK_STATUSES if counts[s]) or "no pins"
    line(f"{report.path} {state}: {summary}")


def build_step(step: Any) -> None:
    mark = {"ok": ("  ok", "green"), "skipped": ("skip", "yellow"), "failed": ("FAIL", "red")}
    line(mark[step.status], f" {step.name:<9} {step.detail}  ({step.seconds:.2f} s)")


def _shell_cell(row: dict[str, Any]) -> str:
    """Where the shell's copy of a container tool comes from, as a user reads it."""
    version = f" {row['version']}" if row["version"] else ""
    if row["provider"] == "missing":
        attr = row["source"]
        return "missing" + (f" (nixpkgs: {attr})" if attr != "none" else "")
    if row["provider"] == "ohos-prebuilts":
        return f"OpenHarmony prebuilt{version}"
    return f"{row['provider']} {row['source']}{version}"


LISTED_IN = {"build_package_list.json": "package list", "Dockerfile": "Dockerfile"}


def parity_table(data: dict[str, Any], *, plain: bool = False) -> None:
    """The container's tools next to the shell's, then the shell's own toolchain. Without a
    width (piped, --plain) only the two tables; on a terminal also a title and notes."""
    limit = width(plain=plain)
    image = str(data["container"])
    registry, _, name = image.rpartition("/")
    if limit is not None:
        line((f"{data['product']} ({data['system_type']} system): OpenHarmony's build container "
              f"next to the {data['provider']} shell", "bold"))  # fmt: skip
        paragraph(f"container image: {name}" + (f" ({registry})" if registry else ""), limit, "  ")
    tools = data["tools"]
    # The container's packages last: the longest cells, so plain rows pad nothing after them.
    rows = [
        [t["tool"], _shell_cell(t),
         LISTED_IN.get(t["origin"], t["origin"]) if t["in_image"] else "not in image",
         t["container"]]
        for t in tools
    ]  # fmt: skip
    styles = ["red" if t["provider"] == "missing" else None for t in tools]
    table([Column("tool", "words"), Column("in the shell"), Column("listed in"),
           Column("in the container")], rows, limit=limit, styles=styles)  # fmt: skip
    line("")
    built = {"ohnix": "built from pinned sources"}
    chain = [[t["var"], t["provider"], t["attr"] or t["pin"] or built.get(t["provider"], ""),
              t["exe"]] for t in data["toolchain"]]  # fmt: skip
    table([Column("variable", "never"), Column("provider"), Column("from"),
           Column("executable")], chain, limit=limit)  # fmt: skip
    if limit is None:
        return
    line("")
    paragraph(f"package list: {data['package_list']}, which OpenHarmony's build checks.", limit)
    paragraph(
        "Dockerfile: what the image adds to it. The 3.2 images' own Dockerfiles were not "
        "found: these rows come from the Dockerfiles of the older 0.0.6 standard and 1.0.0 "
        "lite images (openharmony/docs) and from partial 3.2-era Dockerfiles.",
        limit,
    )
    paragraph(f"`ohnix parity {data['product']} --json` gives each row's reason and source.", limit)
