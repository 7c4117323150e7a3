"""Benchmark ohnix.nar.nar_hash against `nix-hash --type sha256 --base32` on one tree.

    .venv/bin/python bench/nar.py [--size-mb 200] [--runs 3]

Builds a ~size-MB tree in a temp dir (a few big files, many small ones, some nesting),
hashes it once with each tool to warm the page cache, then times both in alternation
and reports best and median. Target: ohnix / nix-hash <= 1.5 (on the best times).
Import `measure` to fold this into a combined benchmark.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ohnix import proc
from ohnix.store.nar import nar_hash, nix32_encode

TARGET_RATIO = 1.5


def make_tree(root: Path, size_mb: int, seed: int = 2024) -> tuple[int, int]:
    """Fill root with ~size_mb MiB: 60% in 3 big files, the rest in small files.

    Returns (files, bytes) written.
    """
    rng = random.Random(seed)
    total = size_mb * 1024 * 1024
    big_share = total * 6 // 10
    files = written = 0
    (root / "blobs").mkdir(parents=True)
    for i in range(3):
        size = big_share // 3
        with (root / "blobs" / f"big-{i}.bin").open("wb") as out:
            left = size
            while left:  # write in pieces: never hold a whole big file in memory
                piece = min(left, 8 << 20)
                out.write(rng.randbytes(piece))
                left -= piece
        files, written = files + 1, written + size
    n = 0
    while written < total:
        d = root / "src" / f"mod{n % 37:02d}" / f"pkg{n % 11}"
        d.mkdir(parents=True, exist_ok=True)
        size = min(int(rng.lognormvariate(8.5, 1.2)), 256 * 1024, total - written)
        f = d / f"file{n:06d}.{rng.choice(['c', 'h', 'go', 'py', 'txt'])}"
        f.write_bytes(rng.randbytes(size))
        if rng.random() < 0.05:
            f.chmod(0o755)
        if rng.random() < 0.02:
            (d / f"link{n:06d}").symlink_to(f.name)
        files, written, n = files + 1, written + size, n + 1
    (root / "empty").mkdir()
    return files, written


def _timed(fn: Callable[[], str], times: list[float]) -> str:
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
    return result


def measure(size_mb: int = 200, runs: int = 3) -> dict[str, float]:
    """Time nar_hash vs nix-hash on a fresh ~size_mb tree; raise if the hashes differ."""
    with tempfile.TemporaryDirectory(prefix="ohnix-bench-nar-") as tmp:
        root = Path(tmp) / "tree"
        files, size = make_tree(root, size_mb)

        def ours() -> str:
            return nix32_encode(nar_hash(root))

        def theirs() -> str:
            argv: list[str | Path] = ["nix-hash", "--type", "sha256", "--base32", root]
            return proc.run(argv).stdout.strip()

        ours(), theirs()  # warm the page cache for both
        ohnix_times: list[float] = []
        nix_times: list[float] = []
        for _ in range(runs):  # alternate so drift (thermal, other load) hits both
            a, b = _timed(ours, ohnix_times), _timed(theirs, nix_times)
            if a != b:
                raise SystemExit(f"hash mismatch: ohnix {a} != nix-hash {b}")
    best_o, best_n = min(ohnix_times), min(nix_times)
    return {
        "size_mb": size / 2**20,
        "files": float(files),
        "ohnix_best_s": best_o,
        "ohnix_median_s": statistics.median(ohnix_times),
        "nix_hash_best_s": best_n,
        "nix_hash_median_s": statistics.median(nix_times),
        "ratio": best_o / best_n,
        "ratio_median": statistics.median(ohnix_times) / statistics.median(nix_times),
        "ohnix_mb_per_s": size / 2**20 / best_o,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    r = measure(args.size_mb, args.runs)
    print(f"tree: {r['size_mb']:.0f} MiB in {r['files']:.0f} files")
    print(
        f"ohnix nar_hash : best {r['ohnix_best_s']:.3f} s  median {r['ohnix_median_s']:.3f} s"
        f"  ({r['ohnix_mb_per_s']:.0f} MiB/s)"
    )
    print(
        f"nix-hash       : best {r['nix_hash_best_s']:.3f} s  median {r['nix_hash_median_s']:.3f} s"
    )
    verdict = "OK" if r["ratio"] <= TARGET_RATIO else "SLOWER THAN TARGET"
    print(
        f"ratio ohnix/nix-hash: {r['ratio']:.2f} best, {r['ratio_median']:.2f} median"
        f" (target <= {TARGET_RATIO}) {verdict}; hashes agree"
    )
    return 0 if r["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
