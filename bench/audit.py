"""Benchmark `ohnix audit`, `ohnix audit diff` and ohnix's own path recomputation.

    .venv/bin/python bench/audit.py [--rounds 3] [--synthetic 2000]

Makes a project with every catalog product (provider nixpkgs, against the nixpkgs-shaped
package set in tests/nixpkgs; provider host for qemu-arm64-linux-min if that is missing)
and a pinned Go patch source, locks and renders it, then times the real CLI:
`ohnix audit --json -o` over all products (the first run, then the best of --rounds),
and `ohnix audit diff` of that report against one made after a new commit of the patch
source (CLI, and the diff alone in-process). Then recomputation of every path against
`nix show-derivation -r`: for the shells' closures and for a synthetic closure of
--synthetic derivations (a chain with fan-out), ohnix reading each .drv from the store,
parsing the ATerm and recomputing its .drv path and output paths (drv.verify_closure) vs
Nix printing the same closure as JSON. Nix runs offline, as in the tests. Prints figures
and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAKE_NIXPKGS = ROOT / "tests" / "nixpkgs"
sys.path.insert(0, str(ROOT))

SYNTHETIC_NIX = """
{ n }:
let
  mk = i: deps: derivation {
    name = "ohnix-bench-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo ${toString i} > $out" ];
    inherit deps;
  };
  # Each derivation depends on the previous one and on one ten steps back.
  step = acc: i: acc ++ [ (mk i (
    (if i > 0 then [ (builtins.elemAt acc (i - 1)) ] else [ ]) ++
    (if i > 9 then [ (builtins.elemAt acc (i - 10)) ] else [ ]))) ];
  all = builtins.foldl' step [ ] (builtins.genList (i: i) n);
in builtins.elemAt all (n - 1)
"""


def offline_env(tmp: Path) -> dict[str, str]:
    """The tests' offline Nix configuration (tests/conftest.py), and a quiet git."""
    registry = tmp / "registry.json"
    registry.write_text(json.dumps({"flakes": [], "version": 2}))
    env = dict(os.environ)
    env["NIX_CONFIG"] = "\n".join(["substituters =", f"flake-registry = {registry}",
                                   "sandbox = false", "warn-dirty = false",
                                   "experimental-features = nix-command flakes"])  # fmt: skip
    env["NIX_REMOTE"] = "local" if os.access("/nix", os.W_OK) else ""
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.org",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.org",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)  # fmt: skip
    return env


def products() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "ohnix", "products", "--json"], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return sorted(json.loads(out)["result"]["products"])


def ohnix(env: dict[str, str], *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "ohnix", *args], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"ohnix {' '.join(args)} failed:\n{res.stderr}")
    return res.stdout


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def git(cwd: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                   check=True, capture_output=True)  # fmt: skip


def make_project(tmp: Path, env: dict[str, str]) -> tuple[Path, Path, int]:
    patches = tmp / "patches"
    patches.mkdir()
    git(patches, env, "init", "-q")
    (patches / "0001-a.patch").write_text("--- a\n")
    git(patches, env, "add", "-A")
    git(patches, env, "commit", "-q", "-m", "a")
    root = tmp / "project"
    root.mkdir()
    if (FAKE_NIXPKGS / "default.nix").exists():
        names = products()
        body = (f'[nixpkgs]\npath = "{FAKE_NIXPKGS}"\n[toolchain]\ngo_patches = ["gop"]\n'
                + "".join(f'[products.{n}]\nprovider = "nixpkgs"\n' for n in names))  # fmt: skip
    else:
        names = ["qemu-arm64-linux-min"]
        body = '[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    toml = f'[project]\nname = "bench"\n[sources.gop]\ngit = "file://{patches}"\n{body}'
    (root / "ohnix.toml").write_text(toml)
    ohnix(env, "-C", str(root), "lock")
    ohnix(env, "-C", str(root), "render")
    return root, patches, len(names)


def recompute(shells: list[str], env: dict[str, str], rounds: int) -> tuple[float, float, int]:
    """Best-of-rounds seconds: Nix's show-derivation -r, and ohnix's verify_closure."""
    from ohnix.store import drv

    argv = ["nix", "--extra-experimental-features", "nix-command flakes", "show-derivation",
            "-r", *shells]  # fmt: skip
    nix_s = min(timed(lambda: subprocess.run(argv, env=env, check=True, capture_output=True))
                for _ in range(rounds))  # fmt: skip
    count = len(json.loads(subprocess.run(argv, env=env, check=True, capture_output=True,
                                          text=True).stdout))  # fmt: skip
    mismatches: list[object] = []
    ohnix_s = min(timed(lambda: mismatches.extend(drv.verify_closure(shells)))
                  for _ in range(rounds))  # fmt: skip
    if mismatches:
        print(f"  !! {len(mismatches)} recomputed path(s) differ from Nix's")
    return nix_s, ohnix_s, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ohnix-bench-audit-") as t:
        tmp = Path(t)
        env = offline_env(tmp)
        os.environ.update({k: env[k] for k in ("NIX_CONFIG", "NIX_REMOTE")})
        root, patches, n = make_project(tmp, env)
        a, b = tmp / "a.json", tmp / "b.json"
        first = timed(lambda: ohnix(env, "-C", str(root), "audit", "--json", "-o", str(a)))
        warm = min(timed(lambda: ohnix(env, "-C", str(root), "audit", "--json", "-o", str(a)))
                   for _ in range(args.rounds))  # fmt: skip
        report = json.loads(a.read_text())
        size = a.stat().st_size
        closure = len(report["derivations"])

        (patches / "0002-b.patch").write_text("--- b\n")
        git(patches, env, "add", "-A")
        git(patches, env, "commit", "-q", "-m", "b")
        ohnix(env, "-C", str(root), "lock", "--update", "gop")
        ohnix(env, "-C", str(root), "render")
        ohnix(env, "-C", str(root), "audit", "--json", "-o", str(b))
        diff_cli = min(timed(lambda: ohnix(env, "audit", "diff", str(a), str(b), "--json"))
                       for _ in range(args.rounds))  # fmt: skip
        from ohnix.audit import diff, reportfile

        ra, rb = reportfile.load(a), reportfile.load(b)
        result: dict[str, object] = {}
        diff_core = min(timed(lambda: result.update(diff.diff(ra, rb)))
                        for _ in range(args.rounds))  # fmt: skip
        check = min(timed(lambda: reportfile.check(ra)) for _ in range(args.rounds))
        named = sorted(result["pins"])  # type: ignore[call-overload]

        shells = sorted(p["shell"] for p in report["products"].values())
        nix_s, ohnix_s, count = recompute(shells, env, args.rounds)

        syn = tmp / "synthetic.nix"
        syn.write_text(SYNTHETIC_NIX)
        argv = ["nix-instantiate", str(syn), "--arg", "n", str(args.synthetic)]
        run = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        top = run.stdout.strip()
        syn_nix, syn_ohnix, syn_count = recompute([top], env, args.rounds)

    print(f"ohnix audit: {n} products, {closure} derivations in their closures "
          f"(report {size} bytes)")  # fmt: skip
    print(f"  audit, all products (CLI, first run)       {first:8.3f} s")
    print(f"  audit, all products (CLI, best of {args.rounds})       {warm:8.3f} s")
    print(f"  audit diff after one pin change (CLI)      {diff_cli:8.3f} s   names {named}")
    print(f"  audit diff, the diff alone (in-process)    {diff_core:8.3f} s")
    print(f"  report self-check (recompute from report)  {check:8.3f} s")
    print("recompute every .drv and output path vs `nix show-derivation -r`:")
    rows = [("shells' closures", nix_s, ohnix_s, count),
            ("synthetic closure", syn_nix, syn_ohnix, syn_count)]  # fmt: skip
    for label, nix_t, ohnix_t, c in rows:
        print(f"  {label:<18} {c:6d} drvs: nix show-derivation -r {nix_t:7.3f} s, "
              f"ohnix verify_closure {ohnix_t:7.3f} s, ratio {ohnix_t / nix_t:5.2f} x")  # fmt: skip


if __name__ == "__main__":
    main()
