"""Benchmark the OHOS target toolchain: how long each part takes to build from source, and
what the store saves an `ohnix build` afterwards.

    .venv/bin/python bench/toolchain.py [--products qemu-arm64-linux-min,hispark_taurus_standard]

Locks and renders examples/bridge (host provider) for the given products with the sources
scripts/fetch-sources puts in the cache, instantiates each shell and times, in this run:
- the cold build of each runtime (musl sysroot + compiler-rt + libunwind) and of the
  patched Go: `nix-store --realise --check`, which rebuilds a path the store already has
  from scratch (and checks that the rebuild gives the same bytes), or a plain first build;
- `ohnix build` of the first product in a fresh copy of the project (new env cache, empty
  GOCACHE: everything but the toolchain itself is cold), then the same command again (warm).
Prints the figures and the ratios cold toolchain + cold build : warm build. Asserts
nothing. Takes minutes: each runtime and Go are real builds on this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def offline_env(tmp: Path, gocache: Path) -> dict[str, str]:
    """The tests' offline Nix (sandbox on, as users have it) and a private Go cache."""
    registry = tmp / "registry.json"
    registry.write_text(json.dumps({"flakes": [], "version": 2}))
    env = dict(os.environ)
    env["NIX_CONFIG"] = "\n".join(["substituters =", f"flake-registry = {registry}",
                                   "experimental-features = nix-command flakes",
                                   "warn-dirty = false"])  # fmt: skip
    env["GOCACHE"] = str(gocache)
    env["PATH"] = f"{ROOT / '.venv/bin'}:{env['PATH']}"
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    res = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    return res.stdout


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.monotonic()
    run(argv, env, cwd)
    return time.monotonic() - start


def project(where: Path, products: list[str], seed: Path, env: dict[str, str]) -> Path:
    shutil.copytree(ROOT / "examples/bridge", where)
    toml = (where / "ohnix.toml").read_text().split("[products.", 1)[0]
    toml += "".join(f'[products.{p}]\nprovider = "host"\n\n' for p in products)
    (where / "ohnix.toml").write_text(toml)
    run(["git", "init", "-q", str(where)], env)
    run(["ohnix", "-C", str(where), "lock", "--seed", str(seed)], env)
    run(["ohnix", "-C", str(where), "render"], env)
    run(["git", "-C", str(where), "add", "-A"], env)
    return where


def toolchain_drvs(root: Path, product: str, env: dict[str, str]) -> dict[str, str]:
    shell = run(["nix-instantiate", "default.nix", "-A", product], env, root).strip()
    reqs = run(["nix-store", "-q", "--requisites", shell], env).split()
    wanted = ("-ohos-runtimes-", "-ohnix-go-")
    return {p.split("-", 1)[1].removesuffix(".drv"): p for p in reqs if any(w in p for w in wanted)}


def cold_build(drv: str, env: dict[str, str]) -> tuple[float, str]:
    out = run(["nix-store", "-q", "--outputs", drv], env).split()[0]
    valid = subprocess.run(["nix-store", "--check-validity", out], env=env,
                           capture_output=True, check=False).returncode == 0  # fmt: skip
    argv = ["nix-store", "--realise", drv] + (["--check"] if valid else [])
    for _ in range(3):  # NixOS/nix#2176 kills a finishing builder now and then: again
        start = time.monotonic()
        res = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - start
        if "failed due to signal 9 (Killed)" not in res.stderr:
            break
    note = "rebuilt with --check, same bytes" if valid else "first build"
    if res.returncode != 0:
        if "may not be deterministic" not in res.stderr:
            sys.exit(f"bench: building {drv} failed:\n{res.stderr[-3000:]}")
        note = "rebuilt with --check: output differs (not bit-for-bit reproducible)"
    return seconds, note


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--products", default="qemu-arm64-linux-min,hispark_taurus_standard")
    args = parser.parse_args()
    products = args.products.split(",")
    from tests.helpers import ohos_sources_dir

    seed = ohos_sources_dir()
    with tempfile.TemporaryDirectory(prefix="ohnix-bench-toolchain-") as tmp_name:
        tmp = Path(tmp_name)
        env = offline_env(tmp, tmp / "gocache")
        root = project(tmp / "p", products, seed, env)
        drvs: dict[str, str] = {}
        for product in products:
            drvs.update(toolchain_drvs(root, product, env))
        print(f"cold builds from source ({os.cpu_count()} cores):")
        cold: dict[str, float] = {}
        for name, drv in sorted(drvs.items()):
            seconds, note = cold_build(drv, env)
            cold[name] = seconds
            print(f"  {name:45} {seconds:8.1f} s  ({note})")
        first = products[0]
        fresh = project(tmp / "fresh", products, seed, env)
        cold_build_s = timed(["ohnix", "-C", str(fresh), "build", first, "--update-abi"], env)
        warm_build_s = timed(["ohnix", "-C", str(fresh), "build", first], env)
        print(f"ohnix build {first}, toolchain in the store, fresh project: {cold_build_s:7.1f} s")
        print(f"ohnix build {first}, again (warm):                        {warm_build_s:7.1f} s")
        print(f"  warm : fresh project = 1 : {cold_build_s / warm_build_s:.1f}")
        total = sum(cold.values())
        print(f"toolchain cold, all listed parts:                          {total:7.1f} s")
        print(f"  warm : (toolchain cold + fresh project) = 1 : "
              f"{(total + cold_build_s) / warm_build_s:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
