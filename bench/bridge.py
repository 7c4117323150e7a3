"""Time the bridge steps: syscall-table generation and an ABI snapshot, in one run.

    .venv/bin/python bench/bridge.py [--headers DIR] [--cc CC] [--target TRIPLE]

Rows: `generate("arm64", ...)` in-process (median of 10), the same table through the real
CLI (`python -m ohnix bridge syscalls ...`, a fresh interpreter each time, median of 10),
and `abi.snapshot` of the default type list with the aarch64 cross compiler (median of 5).
Each is run once untimed first to warm caches. Prints only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ohnix import proc
from ohnix.bridge import abi, syscalls

SYSCALL_RUNS = 10
ABI_RUNS = 5


def _times(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: page cache, first exec of cpp/cc
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def measure(headers: Path, cc: str, target: str) -> list[tuple[str, int, list[float] | str]]:
    """(label, runs, times or the reason it was skipped) per row."""
    rows: list[tuple[str, int, list[float] | str]] = []
    argv = [sys.executable, "-m", "ohnix", "bridge", "syscalls", "--arch", "arm64"]
    argv += ["--headers", str(headers)]

    def cli() -> None:
        subprocess.run(argv, check=True, capture_output=True)

    if headers.is_dir():
        rows.append(
            (
                "syscalls arm64, generate()",
                SYSCALL_RUNS,
                _times(lambda: syscalls.generate("arm64", headers), SYSCALL_RUNS),
            )
        )
        rows.append(("syscalls arm64, ohnix CLI", SYSCALL_RUNS, _times(cli, SYSCALL_RUNS)))
    else:
        rows.append(("syscalls arm64", SYSCALL_RUNS, f"skipped: no {headers}"))
    label = f"abi snapshot {target}, {len(abi.load_types())} default types"
    if proc.which(cc):
        rows.append((label, ABI_RUNS, _times(lambda: abi.snapshot(target, cc), ABI_RUNS)))
    else:
        rows.append((label, ABI_RUNS, f"skipped: no {cc}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headers", type=Path, default=Path("/usr/aarch64-linux-gnu/include"))
    parser.add_argument("--cc", default="aarch64-linux-gnu-gcc")
    parser.add_argument("--target", default="aarch64-linux-gnu")
    args = parser.parse_args(argv)
    rows = measure(args.headers, args.cc, args.target)
    width = max(len(label) for label, _, _ in rows)
    print(f"{'step'.ljust(width)}  runs  median ms     min ms     max ms")
    medians: dict[str, float] = {}
    for label, runs, times in rows:
        if isinstance(times, str):
            print(f"{label.ljust(width)}  {runs:>4}  {times}")
            continue
        medians[label] = statistics.median(times)
        print(
            f"{label.ljust(width)}  {runs:>4}  {medians[label] * 1e3:>9.1f}"
            f"  {min(times) * 1e3:>9.1f}  {max(times) * 1e3:>9.1f}"
        )
    core, cli = (medians.get(f"syscalls arm64, {k}") for k in ("generate()", "ohnix CLI"))
    if core and cli:
        print(
            f"CLI / generate(): {cli / core:.1f}x (CLI start-up and output add "
            f"{(cli - core) * 1e3:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
