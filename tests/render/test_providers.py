"""The three providers through real Nix: every catalog product's shell, rendered by the real
CLI, instantiates the same .drv through the flake and through default.nix; rendering is
reproducible across directories; `nix develop` runs the shell's compiler and leaves
flake.lock alone; missing nixpkgs attributes are clear render-time errors.

The `nixpkgs` provider runs against tests/nixpkgs/, a small nixpkgs-shaped set whose
attribute paths are the real ones (listed once, in tests/nixpkgs/packages.toml); `host`
against this machine's Debian cross tools; `ohos-prebuilts` against archives made here and
served through a file:// [prebuilts] mirror.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import tomli_w

from ohnix import config, products
from ohnix.pin import resolve
from ohnix.shell import contents
from ohnix.store import nix
from tests.helpers import TESTS_DIR, json_result, ohos_sources_dir, ok, run_ohnix

ROOT = TESTS_DIR.parent
FAKE_NIXPKGS = TESTS_DIR / "nixpkgs"
SYSTEM = "x86_64-linux"
STAND_IN = "(ohnix test stand-in for nixpkgs attribute"
FIXED_MTIME = 1767225600  # 2026-01-01: the fake set's lastModified, whatever the checkout
CATALOG = sorted(products.catalog())
# (project, product): every catalog product in one project, and rk3568 with cpu = "arm64".
CASES = [("catalog", p) for p in CATALOG] + [("rk3568-arm64", "rk3568")]
PROVIDERS = ("nixpkgs", "host")

Proc = subprocess.CompletedProcess[str]


# --- helpers -----------------------------------------------------------------------------


def run(argv: list[str], cwd: Path | None = None) -> Proc:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def ohnix_ok(root: Path, *args: str) -> Proc:
    return ok(run_ohnix(*args, cwd=root))


def write_config(
    root: Path,
    product_tables: Mapping[str, Mapping[str, Any]],
    *,
    nixpkgs: Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    data: dict[str, Any] = {"project": {"name": "p"}}
    if nixpkgs is not None:
        data["nixpkgs"] = {"path": str(nixpkgs)}
    data.update(extra or {})
    data["products"] = {name: dict(table) for name, table in product_tables.items()}
    root.mkdir(parents=True, exist_ok=True)
    (root / "ohnix.toml").write_text(tomli_w.dumps(data))


def lock_and_render(root: Path) -> Proc:
    # --seed: the OHOS toolchain's sources (scripts/fetch-sources), for the Linux products.
    ohnix_ok(root, "lock", "--seed", str(ohos_sources_dir()))
    return ohnix_ok(root, "render")


def builds_ohos_toolchain(shell: Mapping[str, Any]) -> bool:
    """A Linux OHOS shell whose runtimes are built from source by its provider's clang: for
    nixpkgs that is the stand-in's, which cannot compile (its derivations are checked by
    instantiation; the host provider builds the same recipe for real)."""
    return "ohos" in shell


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".git", ".ohnix"} & set(p.relative_to(root).parts)
    }


def flake_drv(root: Path, product: str, system: str = SYSTEM) -> str:
    attr = f".#devShells.{system}.{product}.drvPath"
    return ok(run(["nix", "eval", "--raw", attr], cwd=root)).stdout.strip()


def classic_drv(root: Path, product: str, system: str = SYSTEM) -> str:
    argv = ["nix-instantiate", "default.nix", "--argstr", "system", system, "-A", product]
    return ok(run(argv, cwd=root)).stdout.strip()


def all_flake_drvs(root: Path) -> dict[str, str]:
    res = run(
        ["nix", "eval", "--json", f".#devShells.{SYSTEM}",
         "--apply", "builtins.mapAttrs (name: shell: shell.drvPath)"],
        cwd=root,
    )  # fmt: skip
    return dict(json.loads(ok(res).stdout))


def drv_inputs(drv: str) -> list[str]:
    shown = json.loads(ok(run(["nix", "show-derivation", drv])).stdout)
    return sorted(shown[drv]["inputDrvs"])


def drv_env(drv: str) -> dict[str, str]:
    shown = json.loads(ok(run(["nix", "show-derivation", drv])).stdout)
    return dict(shown[drv]["env"])


def develop(root: Path, product: str, script: str) -> list[str]:
    argv = ["nix", "develop", f".#{product}", "--command", "sh", "-c", script]
    res = run(argv, cwd=root)
    for _ in range(nix.KILLED_RETRIES):  # NixOS/nix#2176, as ohnix's own nix.build does
        if res.returncode == 0 or nix.KILLED_BUILDER not in res.stderr:
            break
        res = run(argv, cwd=root)
    return ok(res).stdout.splitlines()


def set_mtimes(root: Path, stamp: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in (*filenames, *dirnames):
            os.utime(Path(dirpath) / name, (stamp, stamp), follow_symlinks=False)
    os.utime(root, (stamp, stamp))


def copy_fake_nixpkgs(target: Path, *, drop: str | None = None) -> Path:
    """A copy of tests/nixpkgs with fixed mtimes (so its lastModified is fixed), optionally
    without one package (`drop`: a key of packages.toml)."""
    shutil.copytree(FAKE_NIXPKGS, target, ignore=shutil.ignore_patterns("__pycache__"))
    if drop is not None:
        toml = target / "packages.toml"
        text = toml.read_text()
        header = f"[packages.{drop}]\n"
        assert header in text
        start = text.index(header)
        end = text.find("\n[", start + 1)
        toml.write_text(text[:start] + (text[end + 1 :] if end != -1 else ""))
        assert drop not in tomllib.loads(toml.read_text())["packages"]
    set_mtimes(target, FIXED_MTIME)
    return target


def fake_packages() -> dict[str, Any]:
    return dict(tomllib.loads((FAKE_NIXPKGS / "packages.toml").read_text())["packages"])


def provided_attrs() -> set[str]:
    """Every attribute path the fake set provides: its packages and their extra outputs."""
    out: set[str] = set()
    for attr, spec in fake_packages().items():
        out.add(attr)
        out.update(f"{attr}.{o}" for o in spec.get("outputs", ()) if o != "out")
    return out


def template_attrs() -> set[str]:
    """Every nixpkgs attribute ohnix's data makes the templates use, for every catalog
    product (and rk3568 arm64) with the default toolchain."""
    tables: dict[str, Any] = {p: {"provider": "nixpkgs"} for p in CATALOG}
    tables["rk3568-arm64"] = {"provider": "nixpkgs", "extends": "rk3568", "cpu": "arm64"}
    raw = {"project": {"name": "p"}, "nixpkgs": {"path": "/nixpkgs"}, "products": tables}
    cfg = config.parse(raw, Path("/project/ohnix.toml"))
    return set(contents.nixpkgs_attrs(cfg))


def library_attrs() -> set[str]:
    """The nixpkgs attributes ohnix's Nix library uses itself (`pkgs.X.Y` in nix/*.nix), and
    ohnix's own flake.nix and default.nix (ohnix as a package; tests/test_own_flake.py)."""
    found: set[str] = set()
    for f in [*(ROOT / "nix").glob("*.nix"), ROOT / "flake.nix", ROOT / "default.nix"]:
        found.update(re.findall(r"\bpkgs\.([A-Za-z_][\w.'-]*[\w'-])", f.read_text()))
    return found


def checked_entry(attr: str) -> str:
    """The nixpkgs_attrs.toml entry that vouches for `attr`: a cross set for anything under
    `pkgsCross.<set>` (stdenv.cc, .bintools are standard structure), else the exact path."""
    parts = attr.split(".")
    return ".".join(parts[:2]) if parts[0] == "pkgsCross" else attr


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _stand_in_builds_unsandboxed(request: pytest.FixtureRequest) -> None:
    """The stand-in nixpkgs wraps the host's compilers (see conftest.sandbox_off); the host
    provider's shells keep Nix's default sandbox."""
    params = getattr(request.node, "callspec", None)
    provider = params.params.get("provider") if params else None
    uses_stand_in = provider == "nixpkgs" or request.node.get_closest_marker("stand_in")
    if uses_stand_in:
        request.getfixturevalue("sandbox_off")


@pytest.fixture(scope="session")
def fake_nixpkgs(offline_nix: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/nixpkgs copied once per session, so every project pins the same absolute path."""
    return copy_fake_nixpkgs(tmp_path_factory.mktemp("fake") / "nixpkgs")


@pytest.fixture(scope="session")
def rendered(
    fake_nixpkgs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], Path]:
    """(provider, project) -> a locked and rendered project, made once per session."""
    made: dict[tuple[str, str], Path] = {}

    def get(provider: str, project: str) -> Path:
        if (provider, project) not in made:
            root = tmp_path_factory.mktemp(f"{provider}-{project}")
            if project == "catalog":
                tables = {p: {"provider": provider} for p in CATALOG}
            else:
                tables = {"rk3568": {"provider": provider, "cpu": "arm64"}}
            write_config(root, tables, nixpkgs=fake_nixpkgs if provider == "nixpkgs" else None)
            lock_and_render(root)
            made[(provider, project)] = root
        return made[(provider, project)]

    return get


# --- the fake nixpkgs --------------------------------------------------------------------


def test_every_attribute_ohnix_uses_is_faked_and_real() -> None:
    """Each attribute the templates, the data and the Nix library use is (a) in the fake set
    and (b) checked in nixpkgs_attrs.toml to exist at the pin; and the fake set carries
    nothing ohnix does not use (beyond the parents of what it uses)."""
    used = template_attrs() | library_attrs()
    assert "go_1_25" in used and "pkgsCross.arm-embedded.stdenv.cc.bintools" in used
    assert {"bashInteractive", "stdenvNoCC.mkDerivation", "autoPatchelfHook"} <= used
    provided = provided_attrs()
    assert sorted(used - provided) == []
    checked = tomllib.loads((ROOT / "ohnix/data/nixpkgs_attrs.toml").read_text())["attrs"]
    unchecked = sorted(
        a for a in used if checked.get(checked_entry(a), {}).get("exists") is not True
    )
    assert unchecked == []
    unused = sorted(a for a in provided if not any(u == a or u.startswith(a + ".") for u in used))
    assert unused == []


@pytest.mark.nix
def test_fake_set_has_exactly_what_it_lists(fake_nixpkgs: Path) -> None:
    """ohnix's own attribute check finds every listed path in the fake set, through both
    entry points (import and the flake's legacyPackages), for both systems."""
    attrs = sorted(provided_attrs())
    check = ROOT / "nix/check-attrs.nix"
    res = run(["nix-instantiate", "--eval", "--strict", "--json", str(check),
               "--argstr", "src", str(fake_nixpkgs), "--argstr", "attrs", json.dumps(attrs)])  # fmt: skip
    assert json.loads(ok(res).stdout) == []
    tops = sorted({a.split(".")[0] for a in attrs})
    for system in ("x86_64-linux", "aarch64-linux"):
        got = ok(run(["nix", "eval", "--json", f"path:{fake_nixpkgs}#legacyPackages.{system}",
                      "--apply", "builtins.attrNames"])).stdout  # fmt: skip
        assert json.loads(got) == tops


# --- flake and default.nix agree, for every product and provider ---------------------------


@pytest.mark.nix
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("project", "product"), CASES)
def test_flake_and_classic_instantiate_the_same_drv(
    rendered: Callable[[str, str], Path], provider: str, project: str, product: str
) -> None:
    root = rendered(provider, project)
    drv = flake_drv(root, product)
    assert drv.startswith("/nix/store/") and drv.endswith(f"-ohnix-{product}.drv")
    assert classic_drv(root, product) == drv
    other = flake_drv(root, product, "aarch64-linux")  # evaluated, not built
    assert other != drv and classic_drv(root, product, "aarch64-linux") == other
    env = drv_env(drv)
    shell = json.loads((root / "nix/ohnix/shells.json").read_text())["shells"][product]
    cc = next(t for t in shell["tools"] if t["var"] == "CC")
    # Linux OHOS products: CC is the OHOS toolchain's wrapper around the provider's clang.
    expected = "ohnix" if "ohos" in shell else provider
    assert env["OHNIX_PROVIDER"] == provider and cc["provider"] == expected
    exe = cc["exe"] if expected in ("nixpkgs", "ohnix") else f"bin/{cc['exe']}"
    assert env["CC"].startswith("/nix/store/") and env["CC"].endswith(f"/{exe}")
    assert env["OHOS_TARGET_TRIPLE"] == shell["env"]["OHOS_TARGET_TRIPLE"]


@pytest.mark.nix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_render_is_reproducible_across_directories(
    rendered: Callable[[str, str], Path], tmp_path: Path, provider: str
) -> None:
    first = rendered(provider, "catalog")
    second = tmp_path / "elsewhere" / "project"
    second.mkdir(parents=True)
    shutil.copy(first / "ohnix.toml", second / "ohnix.toml")
    lock_and_render(second)
    assert files_of(second) == files_of(first)
    drvs = all_flake_drvs(first)
    assert sorted(drvs) == CATALOG
    assert all_flake_drvs(second) == drvs


# --- git, nix develop, flake.lock ---------------------------------------------------------


@pytest.mark.nix
def test_render_in_git_marks_new_files_intent_to_add(
    rendered: Callable[[str, str], Path], fake_nixpkgs: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    write_config(root, {"qemu-arm64-linux-min": {"provider": "nixpkgs"}}, nixpkgs=fake_nixpkgs)
    ok(run(["git", "init", "-q", str(root)]))
    ohnix_ok(root, "lock")
    out = ohnix_ok(root, "render").stdout
    rendered_files = sorted(set(files_of(root)) - {"ohnix.toml"})
    assert "ohnix.lock" in rendered_files and "flake.nix" in rendered_files
    tracked = ok(run(["git", "ls-files"], cwd=root)).stdout.split()
    assert sorted(tracked) == rendered_files
    assert f"git: marked {len(rendered_files)} new file(s) intent-to-add" in out
    assert "flake.nix" in out.splitlines()[-1]
    # Nix sees them (the flake is a git+file flake now) and gets the same shell as outside git.
    outside = rendered("nixpkgs", "catalog")
    product = "qemu-arm64-linux-min"
    assert flake_drv(root, product) == flake_drv(outside, product)
    again = ohnix_ok(root, "render").stdout
    assert "git:" not in again and re.fullmatch(r"\d+ files unchanged\n", again), again


@pytest.mark.nix
@pytest.mark.parametrize("provider", PROVIDERS)
def test_nix_develop_runs_the_compiler_and_keeps_flake_lock(
    rendered: Callable[[str, str], Path], provider: str
) -> None:
    root = rendered(provider, "catalog")
    product = "qemu_mini_system_demo"  # Cortex-M: a cross GCC from either provider
    before = (root / "flake.lock").read_bytes()
    lines = develop(root, product, 'echo "$CC"; "$CC" --version; echo "$OHNIX_PROVIDER"')
    assert lines[0].startswith("/nix/store/")
    if provider == "nixpkgs":
        assert lines[0].endswith("/bin/arm-none-eabi-gcc")
        assert lines[1] == (
            "arm-none-eabi-gcc 14.3.0 (ohnix test stand-in for nixpkgs attribute "
            "pkgsCross.arm-embedded.stdenv.cc)"
        )
    else:
        assert lines[0].endswith("/bin/arm-none-eabi-gcc")
        pin = tomllib.loads((root / "ohnix.lock").read_text())["host"]["arm-none-eabi-gcc"]
        # The same compiler ohnix.lock pinned (gcc names itself after argv[0]).
        assert lines[1].split(" ", 1)[1] == pin["version"].split(" ", 1)[1]
    assert lines[-1] == provider
    assert (root / "flake.lock").read_bytes() == before


@pytest.mark.nix
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("project", "product"), CASES)
def test_every_tool_of_every_shell_runs(
    rendered: Callable[[str, str], Path], provider: str, project: str, product: str
) -> None:
    """Each variable naming a tool points at an executable of the right package: nixpkgs
    stand-ins name the attribute they stand in for; host tools run."""
    root = rendered(provider, project)
    shell = json.loads((root / "nix/ohnix/shells.json").read_text())["shells"][product]
    tools = [t for t in shell["tools"] if t["var"]]
    if provider == "nixpkgs" and builds_ohos_toolchain(shell):
        # CC is the OHOS wrapper around nixpkgs' clang, built from the runtime and the
        # stand-in's LLVM: read from the derivations, not run.
        env = drv_env(flake_drv(root, product))
        triple = shell["env"]["OHOS_TARGET_TRIPLE"]
        assert env["CC"].endswith(f"-ohos-cc-{shell['ohos']['runtime']['name']}/bin/{triple}-clang")
        wrapper = next(d for d in drv_inputs(flake_drv(root, product)) if "-ohos-cc-" in d)
        assert drv_env(wrapper)["CLANG"].endswith("-clang-19.1.7/bin/clang")
        return
    host_pins = tomllib.loads((root / "ohnix.lock").read_text()).get("host", {})
    script = "".join(
        f'"${t["var"]}" {"version" if t["var"] == "GO" else "--version"} 2>&1 | head -n 1; '
        for t in tools
    )
    lines = develop(root, product, script)
    assert len(lines) == len(tools)
    for t, line in zip(tools, lines, strict=True):
        name = t["exe"].rsplit("/", 1)[-1]
        if t["provider"] == "ohnix":  # the OHOS toolchain: LLVM 19's tools and the built Go
            assert "19.1.7" in line or "compatible with GNU" in line or (
                line.startswith("go version go1.19.8 ")), (t["var"], line)  # fmt: skip
        elif provider == "nixpkgs":
            assert line.startswith(f"{name} ") and line.endswith(f"{STAND_IN} {t['attr']})")
        else:  # the very program ohnix.lock pinned (gcc names itself after argv[0])
            pinned = host_pins[t["exe"]]["version"]
            assert line.split(" ", 1)[1] == pinned.split(" ", 1)[1], (t["var"], line)


@pytest.mark.stand_in
@pytest.mark.nix
def test_nix_develop_clang_and_go_from_nixpkgs(rendered: Callable[[str, str], Path]) -> None:
    root = rendered("nixpkgs", "catalog")
    # LiteOS-A: clang aimed at arm-liteos-ohos, no OHOS musl runtime (Go: the catalog's own).
    lines = develop(
        root, "ipcamera_hispark_taurus", '"$CC" --version; "$LD" --version; "$AR" --version'
    )
    assert lines == [
        f"clang 19.1.7 {STAND_IN} llvmPackages_19.clang-unwrapped)",
        f"ld.lld 19.1.7 {STAND_IN} llvmPackages_19.lld)",
        f"llvm-ar 19.1.7 {STAND_IN} llvmPackages_19.llvm)",
    ]
    # rk3568's Go is nixpkgs' go_1_25 (its CC the OHOS wrapper over the same clang).
    go = drv_env(flake_drv(root, "rk3568"))["GO"]
    assert go.startswith("/nix/store/") and go.endswith("-go-1.25.4/bin/go")


@pytest.mark.nix
def test_flake_lock_is_the_one_nix_writes(
    rendered: Callable[[str, str], Path], tmp_path: Path
) -> None:
    """Nix locking the same flake.nix itself writes ohnix's flake.lock byte for byte,
    lastModified of the `path` input included."""
    root = rendered("nixpkgs", "catalog")
    mine = (root / "flake.lock").read_text()
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "flake.lock").unlink()
    ok(run(["nix", "flake", "lock"], cwd=copy))
    assert (copy / "flake.lock").read_text() == mine
    assert json.loads(mine)["nodes"]["nixpkgs"]["locked"]["lastModified"] == FIXED_MTIME


# --- errors, --check, --dry-run ----------------------------------------------------------


@pytest.mark.nix
@pytest.mark.parametrize("case", ["llvm-15", "no-go_1_25", "go-1.22"])
def test_missing_attribute_is_a_clear_render_error(
    fake_nixpkgs: Path, tmp_path: Path, case: str
) -> None:
    root = tmp_path / "project"
    extra: dict[str, Any] = {}
    if case == "llvm-15":
        nixpkgs, missing = fake_nixpkgs, "llvmPackages_15.clang-unwrapped"
        extra = {"toolchain": {"llvm": 15}}
    elif case == "go-1.22":  # a Go the pinned nixpkgs has no attribute for (issue 16, point 3)
        nixpkgs, missing = fake_nixpkgs, "go_1_22"
        extra = {"toolchain": {"go": "1.22"}}
    else:
        nixpkgs, missing = copy_fake_nixpkgs(tmp_path / "nixpkgs", drop="go_1_25"), "go_1_25"
    write_config(
        root, {"qemu-arm64-linux-min": {"provider": "nixpkgs"}}, nixpkgs=nixpkgs, extra=extra
    )
    ohnix_ok(root, "lock")
    before = files_of(root)
    res = run_ohnix("render", cwd=root)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert f"`{missing}`" in res.stderr and str(nixpkgs) in res.stderr
    if case == "go-1.22":
        assert f'[toolchain].go = "1.22" in {root / "ohnix.toml"} names `go_1_22`' in res.stderr
    assert files_of(root) == before


@pytest.mark.nix
def test_render_check_and_dry_run(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write_config(root, {"qemu-arm64-linux-min": {"provider": "host"}})
    ohnix_ok(root, "lock")
    locked = files_of(root)
    dry = ohnix_ok(root, "render", "--dry-run").stdout
    assert "create flake.nix" in dry
    assert files_of(root) == locked
    check = run_ohnix("render", "--check", cwd=root)
    assert check.returncode == 1 and "+++ b/flake.nix" in check.stdout
    ohnix_ok(root, "render")
    rendered_files = files_of(root)
    # Only what changes is listed, then one line for the rest; --json lists every file.
    quiet = ohnix_ok(root, "render", "--check").stdout
    assert quiet == f"{len(rendered_files) - 2} files unchanged\n", quiet  # no ohnix.toml/lock
    listed = json_result(ohnix_ok(root, "render", "--check", "--json").stdout)["files"]
    assert len(listed) == len(rendered_files) - 2
    assert set(listed.values()) == {"identical"} and "flake.nix" in listed
    flake = root / "flake.nix"
    flake.write_text(flake.read_text().replace("devShells =", "devShells = # edited\n"))
    edited = files_of(root)
    res = run_ohnix("render", "--check", cwd=root)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "--- a/flake.nix" in res.stdout and "# edited" in res.stdout
    assert "differ" in res.stderr and "Traceback" not in res.stderr
    dry = ohnix_ok(root, "render", "--dry-run").stdout
    assert dry == f"update flake.nix\n{len(rendered_files) - 3} files unchanged\n", dry
    assert files_of(root) == edited
    ohnix_ok(root, "render")
    assert files_of(root) == rendered_files


# --- go from nixpkgs with the pinned patch set or fork -----------------------------------


def make_tarball(path: Path, members: Mapping[str, bytes], *, mode: int = 0o644) -> None:
    """A deterministic .tar.gz (fixed mtimes, no gzip timestamp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))
    with gzip.GzipFile(path, "wb", mtime=0) as gz:
        gz.write(buf.getvalue())


@pytest.mark.stand_in
@pytest.mark.nix
@pytest.mark.parametrize("how", ["go_patches", "go_fork"])
def test_go_with_pinned_patches_or_fork(fake_nixpkgs: Path, tmp_path: Path, how: str) -> None:
    if how == "go_patches":
        members = {"go-ohos/0002-default-pie.patch": b"b\n", "go-ohos/0001-musl-tls.patch": b"a\n",
                   "go-ohos/README": b"not a patch\n"}  # fmt: skip
        expect = "go go1.25.4, patched: 0001-musl-tls.patch 0002-default-pie.patch"
        toolchain: dict[str, Any] = {"go_patches": ["go-ohos"]}
    else:
        members = {"go/VERSION": b"go1.25.4-ohos\n", "go/src/README": b"fork\n"}
        expect = "go go1.25.4-ohos"
        toolchain = {"go_fork": "go-ohos"}
    archive = tmp_path / "go-ohos.tar.gz"
    make_tarball(archive, members)
    root = tmp_path / "project"
    extra = {"toolchain": toolchain,
             "sources": {"go-ohos": {"url": f"file://{archive}", "unpack": True}}}  # fmt: skip
    write_config(
        root, {"qemu-arm64-linux-min": {"provider": "nixpkgs"}}, nixpkgs=fake_nixpkgs, extra=extra
    )
    lock_and_render(root)
    # Only Go is built: the shell's CC is the OHOS wrapper over the stand-in clang.
    shell = flake_drv(root, "qemu-arm64-linux-min")
    go_drv = next(d for d in drv_inputs(shell) if d.endswith("-go-1.25.4.drv"))
    out = ok(run(["nix-store", "--realise", go_drv])).stdout.split()[0]
    assert drv_env(shell)["GO"] == f"{out}/bin/go"
    assert ok(run([f"{out}/bin/go", "version"])).stdout.splitlines() == [
        f"{expect} {STAND_IN} go_1_25)"
    ]


# --- ohos-prebuilts ----------------------------------------------------------------------

PREBUILT_LINE = "(ohnix test stand-in for OpenHarmony's prebuilt {})"
# The archive members of each prebuilt the shells use, laid out as toolchains.toml expects:
# a top directory with bin/ (fetchTarball strips it), or the executable alone at the root.
PREBUILT_MEMBERS = {
    "clang": [
        f"clang-15.0.4/{exe}"
        for exe in contents.toolchains()["prebuilts"]["clang"]["tools"].values()
    ],
    "gn": ["gn"],
    "ninja": ["ninja"],
    "node": ["node-v14.21.1-linux-x64/bin/node"],
    "python": ["linux-x86/3.10.2/bin/python3"],  # linux-x86/current -> 3.10.2 is made later
    "cmake": ["linux-x86/bin/cmake"],
}


@pytest.fixture(scope="session")
def prebuilts_mirror(offline_nix: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenHarmony's prebuilt archives as small stand-ins, at the paths a mirror has them."""
    mirror = tmp_path_factory.mktemp("mirror")
    catalog = resolve.prebuilt_catalog("4.1")
    for name, members in PREBUILT_MEMBERS.items():
        url = catalog[name]["url"]
        target = mirror / urlsplit(url).path.lstrip("/")  # a mirror keeps the URL's path
        scripts = {
            m: f'#!/bin/sh\necho "{m.rsplit("/", 1)[-1]} {PREBUILT_LINE.format(name)}"\n'.encode()
            for m in members
        }
        make_tarball(target, scripts, mode=0o755)
    return mirror


@pytest.mark.stand_in
@pytest.mark.nix
@pytest.mark.parametrize("with_nixpkgs", [False, True], ids=["symlinked", "autopatchelf"])
def test_ohos_prebuilts_shell(
    prebuilts_mirror: Path, fake_nixpkgs: Path, tmp_path: Path, with_nixpkgs: bool
) -> None:
    root = tmp_path / "project"
    extra = {
        "prebuilts": {"mirror": f"file://{prebuilts_mirror}", "include": sorted(PREBUILT_MEMBERS)}
    }
    if with_nixpkgs:
        product, table = "rk3568", {"provider": "ohos-prebuilts", "tools": {"go": "nixpkgs"}}
    else:
        product, table = "ipcamera_hispark_taurus", {"provider": "ohos-prebuilts"}
    write_config(
        root, {product: table}, nixpkgs=fake_nixpkgs if with_nixpkgs else None, extra=extra
    )
    lock_and_render(root)
    lock = tomllib.loads((root / "ohnix.lock").read_text())
    assert sorted(lock["prebuilts"]) == sorted(PREBUILT_MEMBERS)
    assert all(
        p["url"].startswith(f"file://{prebuilts_mirror}/") for p in lock["prebuilts"].values()
    )
    tools = ("CC", "CXX", "LD", "GN", "NINJA", "NODE", "PYTHON", "CMAKE")
    lines = develop(root, product, 'echo "$CC"; ' + "".join(f'"${v}" --version; ' for v in tools))
    expect = [
        f"clang {PREBUILT_LINE.format('clang')}",
        f"clang++ {PREBUILT_LINE.format('clang')}",
        f"ld.lld {PREBUILT_LINE.format('clang')}",
        f"gn {PREBUILT_LINE.format('gn')}",
        f"ninja {PREBUILT_LINE.format('ninja')}",
        f"node {PREBUILT_LINE.format('node')}",
        f"python3 {PREBUILT_LINE.format('python')}",
        f"cmake {PREBUILT_LINE.format('cmake')}",
    ]
    assert lines[1:] == expect
    cc = Path(lines[0])
    assert cc.name == "clang" and str(cc).startswith("/nix/store/")
    # Without nixpkgs the archive's tree is linked as-is; with it, copied and patched.
    fetched = Path(os.path.realpath(cc))
    assert (fetched != cc) is not with_nixpkgs
    if with_nixpkgs:
        assert develop(root, product, '"$GO" version') == [f"go go1.25.4 {STAND_IN} go_1_25)"]


@pytest.mark.nix
def test_prebuilts_include_leaving_out_a_needed_tool_is_a_render_error(
    prebuilts_mirror: Path, tmp_path: Path
) -> None:
    """Not a missing attribute deep inside the Nix library at `nix develop` time."""
    root = tmp_path / "project"
    extra = {"prebuilts": {"mirror": f"file://{prebuilts_mirror}", "include": ["clang"]}}
    write_config(root, {"ipcamera_hispark_taurus": {"provider": "ohos-prebuilts"}}, extra=extra)
    ohnix_ok(root, "lock")
    before = files_of(root)
    res = run_ohnix("render", cwd=root)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert "`prebuilts/gn` (GN of ipcamera_hispark_taurus)" in res.stderr
    assert "[prebuilts].include" in res.stderr
    assert files_of(root) == before
