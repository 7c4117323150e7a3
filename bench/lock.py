"""Benchmark `ohnix lock`: serial vs parallel prefetching, the no-op re-lock, NAR hashing.

    .venv/bin/python bench/lock.py [--repos 16] [--files 300] [--mb 3] [--rounds 3]

Creates --repos local git repositories (each --files small files plus --mb MiB of
incompressible data, so a fetch is real work), then runs the real CLI on a project that
pins all of them: `ohnix lock --jobs 1` and `ohnix lock` (default jobs), each from no
ohnix.lock, alternating for --rounds rounds and keeping each one's best time; then the
no-op re-lock (median of 5); then bench/nar.py's measure(200). Nix runs offline (no
substituters, no registry), as in the tests. Prints a table of figures and targets:
parallel <= 0.6 x serial, no-op <= 0.3 s, ohnix nar_hash <= 1.5 x nix-hash.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
PARALLEL_TARGET = 0.6
NOOP_TARGET_S = 0.3
NAR_TARGET = 1.5
PRODUCT = "qemu-arm64-linux-min"


def offline_env(tmp: Path) -> dict[str, str]:
    """The tests' offline Nix configuration (tests/conftest.py), and a quiet git."""
    registry = tmp / "registry.json"
    registry.write_text(json.dumps({"flakes": [], "version": 2}))
    env = dict(os.environ)
    env["NIX_CONFIG"] = "\n".join(
        [
            "substituters =",
            f"flake-registry = {registry}",
            "sandbox = false",
            "experimental-features = nix-command flakes",
            "warn-dirty = false",
        ]
    )
    env["NIX_REMOTE"] = "local" if os.access("/nix", os.W_OK) else ""
    env.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.org",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.org",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return env


def make_repo(path: Path, files: int, mb: int, seed: int, env: dict[str, str]) -> None:
    rng = random.Random(seed)
    for i in range(files):
        f = path / f"src/mod{i % 17:02d}/file{i:04d}.c"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"/* {seed} {i} */\n" + "int x;\n" * rng.randint(5, 200))
    blobs = path / "blobs"
    blobs.mkdir()
    for i in range(2):  # incompressible, so git and the hashing both do real work
        (blobs / f"data{i}.bin").write_bytes(rng.randbytes(mb * 2**20 // 2))

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=path, env=env,
                       check=True, capture_output=True)  # fmt: skip

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "bench")
    git("tag", "v1")


def write_project(root: Path, repos: list[Path]) -> None:
    lines = ['[project]\nname = "bench"\n']
    for repo in repos:
        lines.append(f'[sources.{repo.name}]\ngit = "file://{repo}"\nref = "v1"\n')
    lines.append(f'[products.{PRODUCT}]\nprovider = "host"\n')
    (root / "ohnix.toml").write_text("\n".join(lines))


CPU: list[float] = []  # CPU seconds (user + sys, ohnix and its children) of each run


def ohnix(project: Path, env: dict[str, str], *args: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ohnix", "-C", str(project), "lock", *args],
                         env=env, capture_output=True, text=True, check=False)  # fmt: skip
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        raise SystemExit(f"ohnix lock {' '.join(args)} failed:\n{res.stderr}")
    return took


def fresh_lock(project: Path, env: dict[str, str], *args: str) -> float:
    (project / "ohnix.lock").unlink(missing_ok=True)
    return ohnix(project, env, *args)


def load_nar_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_nar", HERE / "nar.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {HERE / 'nar.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=16)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--mb", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nar-mb", type=int, default=200)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE.parent))
    from ohnix.pin import resolve

    with tempfile.TemporaryDirectory(prefix="ohnix-bench-lock-") as tmp_name:
        tmp = Path(tmp_name)
        env = offline_env(tmp)
        # A seed per run: fresh trees, so no store path is left from an earlier run.
        base_seed = int.from_bytes(os.urandom(4), "little")
        repos = []
        for i in range(args.repos):
            repo = tmp / f"repo{i:02d}"
            repo.mkdir()
            make_repo(repo, args.files, args.mb, base_seed + i, env)
            repos.append(repo)
        project = tmp / "project"
        project.mkdir()
        write_project(project, repos)
        print(
            f"{args.repos} repositories x ({args.files} small files + {args.mb} MiB), "
            f"{os.cpu_count()} CPUs, default jobs {resolve.DEFAULT_JOBS}",
            flush=True,
        )

        load_before = os.getloadavg()[0]
        # Also the warm-up (page cache, Python bytecode): the trees are new to the store, so
        # this run adds all of them; the timed runs find them there.
        first = fresh_lock(project, env)
        serial: list[float] = []
        parallel: list[float] = []
        serial_cpu: list[float] = []
        parallel_cpu: list[float] = []
        for _ in range(args.rounds):  # alternate, so drift hits both
            serial.append(fresh_lock(project, env, "--jobs", "1"))
            serial_cpu.append(CPU[-1])
            parallel.append(fresh_lock(project, env))
            parallel_cpu.append(CPU[-1])
        noop = [ohnix(project, env) for _ in range(5)]
        load_after = os.getloadavg()[0]

    nar = load_nar_bench().measure(args.nar_mb)

    best_serial, best_parallel = min(serial), min(parallel)
    ratio = best_parallel / best_serial
    noop_median = statistics.median(noop)
    rows = [
        ("lock --jobs 1 (best)", f"{best_serial:.2f} s", "", ""),
        (f"lock (jobs {resolve.DEFAULT_JOBS}, best)", f"{best_parallel:.2f} s", "", ""),
        ("parallel / serial", f"{ratio:.2f}", f"<= {PARALLEL_TARGET}",
         verdict(ratio <= PARALLEL_TARGET)),
        ("no-op re-lock (median of 5)", f"{noop_median:.3f} s", f"<= {NOOP_TARGET_S} s",
         verdict(noop_median <= NOOP_TARGET_S)),
        (f"nar_hash / nix-hash ({nar['size_mb']:.0f} MiB)", f"{nar['ratio']:.2f}",
         f"<= {NAR_TARGET}", verdict(nar["ratio"] <= NAR_TARGET)),
    ]  # fmt: skip
    header = ("figure", "value", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    print(f"runs: serial {', '.join(f'{t:.2f}' for t in serial)} s; "
          f"parallel {', '.join(f'{t:.2f}' for t in parallel)} s; "
          f"no-op {', '.join(f'{t:.3f}' for t in noop)} s")  # fmt: skip
    fixed = noop_median  # start-up, ohnix.toml, writing: the same in both, not parallel
    print(
        f"first lock (trees new to the store, default jobs): {first:.2f} s; fetching alone "
        f"(each best minus the no-op run): parallel / serial = "
        f"{(best_parallel - fixed) / (best_serial - fixed):.2f}"
    )
    print(
        f"cpu (user+sys, with children): serial {statistics.median(serial_cpu):.2f} s, "
        f"parallel {statistics.median(parallel_cpu):.2f} s (medians); the same CPU in both "
        "means no contention inside ohnix"
    )
    print(
        f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after on "
        f"{os.cpu_count()} CPUs: other work on the machine skews the parallel ratio"
    )
    print(
        f"nar: ohnix best {nar['ohnix_best_s']:.3f} s, nix-hash best {nar['nix_hash_best_s']:.3f}"
        f" s ({nar['ohnix_mb_per_s']:.0f} MiB/s); hashes agree"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
