"""Rendering: golden files per product, nix_str round trips through real Nix, hostile
values in ohnix.toml cannot change what Nix evaluates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ohnix import config
from ohnix.pin import resolve
from ohnix.pin.lockfile import Lock, Pin
from ohnix.render import nixfiles
from tests.helpers import TESTS_DIR, run_ohnix

GOLDEN = TESTS_DIR / "golden"
UPDATE = os.environ.get("OHNIX_UPDATE_GOLDEN") == "1"
FAKE_SHA = "sha256-" + "A" * 43 + "="

CASES = {
    "rk3566": '[products.rk3566]\nprovider = "nixpkgs"\n',
    "rk3568-arm": '[products.rk3568]\nprovider = "nixpkgs"\n',
    "rk3568-arm64": '[products.rk3568]\nprovider = "nixpkgs"\ncpu = "arm64"\n',
    "ipcamera_hispark_taurus": '[products.ipcamera_hispark_taurus]\nprovider = "ohos-prebuilts"\n',
    "wifiiot_hispark_pegasus": '[products.wifiiot_hispark_pegasus]\nprovider = "nixpkgs"\n',
    "qemu-arm64-linux-min": '[products.qemu-arm64-linux-min]\nprovider = "host"\n',
}
HEADER = """[project]
name = "golden"
[nixpkgs]
url = "github:NixOS/nixpkgs"
ref = "nixos-25.11"
[toolchain]
go_patches = ["go-ohos"]
[sources.go-ohos]
git = "https://example.org/go-ohos.git"
ref = "v1"
"""


def synthetic_lock(cfg: config.Config) -> Lock:
    """A lock with fixed values for every spec: what `ohnix lock` would write, without
    touching the network or this machine's tools (so golden files are portable)."""
    pins = []
    for spec in resolve.specs(cfg):
        extra: dict[str, object] = {}
        if spec.kind in ("git", "github"):
            extra = {"rev": "0" * 39 + "1", "date": "2026-05-10T00:00:00+00:00",
                     "last_modified": 1778371200}  # fmt: skip
        if spec.kind == "host":
            extra = {"path": f"/usr/bin/{spec.url}", "version": f"{spec.url} 1.0"}
        pins.append(
            Pin(key=spec.key, kind=spec.kind, url=spec.url, hash=FAKE_SHA, spec=spec.digest(),
                store_name=spec.store_name, ref=spec.ref, unpack=spec.unpack,
                submodules=spec.submodules, **extra)  # type: ignore[arg-type]
        )  # fmt: skip
    return Lock().with_pins(pins)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(tmp_path: Path, case: str) -> None:
    (tmp_path / "ohnix.toml").write_text(HEADER + CASES[case])
    cfg = config.load(tmp_path)
    files = nixfiles.render(cfg, synthetic_lock(cfg))
    # The vendored library is rendered as a verbatim copy of the repository's nix/: check
    # that here once, and keep only the per-project files as golden files.
    lib = {f"nix/ohnix/{n}" for n in nixfiles.LIB_FILES}
    vendored = {k: v for k, v in files.items() if k in lib}
    for rel, text in vendored.items():
        assert text == (nixfiles.library_dir() / rel.removeprefix("nix/ohnix/")).read_text(), rel
    assert set(vendored) == {f"nix/ohnix/{n}" for n in nixfiles.LIB_FILES}
    files = {k: v for k, v in files.items() if k not in vendored}
    target = GOLDEN / case
    if UPDATE:
        for rel, text in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(text)
    on_disk = {str(p.relative_to(target)): p.read_text() for p in target.rglob("*") if p.is_file()}
    assert on_disk == files


def test_render_is_deterministic(tmp_path: Path) -> None:
    outs = []
    for d in ("a", "b"):
        root = tmp_path / d
        root.mkdir()
        (root / "ohnix.toml").write_text(HEADER + CASES["rk3568-arm64"])
        cfg = config.load(root)
        outs.append(nixfiles.render(cfg, synthetic_lock(cfg)))
    assert outs[0] == outs[1]


def test_shell_env_for_products(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        HEADER + CASES["rk3568-arm"] + CASES["wifiiot_hispark_pegasus"]
    )
    cfg = config.load(tmp_path)
    data = json.loads(nixfiles.render(cfg, synthetic_lock(cfg))["nix/ohnix/shells.json"])
    arm = data["shells"]["rk3568"]["env"]
    assert arm["GOARCH"] == "arm" and arm["GOARM"] == "7" and arm["CGO_ENABLED"] == "1"
    assert "-mfloat-abi=softfp" in arm["CGO_CFLAGS"] and "-D__MUSL__" in arm["CGO_CFLAGS"]
    # --target, --sysroot and -resource-dir are the OHOS clang wrapper's (nix/wrapper.sh),
    # built for the runtime the shell describes; -fuse-ld would break cgo's -Werror.
    runtime = data["shells"]["rk3568"]["ohos"]["runtime"]
    assert runtime["triple"] == "arm-linux-ohos" and "-mfloat-abi=softfp" in runtime["targetFlags"]
    assert arm["OHOS_LOADER"] == "/lib/ld-musl-arm.so.1" and "-fuse-ld" not in arm["CGO_LDFLAGS"]
    cc = next(t for t in data["shells"]["rk3568"]["tools"] if t["var"] == "CC")
    assert cc == {**cc, "provider": "ohnix", "exe": "bin/arm-linux-ohos-clang"}
    mini = data["shells"]["wifiiot_hispark_pegasus"]["env"]
    assert mini["CGO_ENABLED"] == "0" and "GOARCH" not in mini
    assert "Go cannot target LiteOS-M" in mini["OHNIX_GO"]
    assert "-ffreestanding" in mini["CFLAGS"] and "-march=rv32imac" in mini["CFLAGS"]
    vars_ = {t["var"] for t in data["shells"]["wifiiot_hispark_pegasus"]["tools"]}
    assert {"CC", "CXX", "AR", "LD", "NM", "OBJCOPY", "STRIP", "RANLIB"} <= vars_


def _nix_eval(expr_file: Path) -> object:
    out = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", str(expr_file)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.mark.nix
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_nix_str_round_trip(tmp_path: Path, value: str) -> None:
    f = tmp_path / "v.nix"
    f.write_text(nixfiles.nix_str(value), encoding="utf-8")
    assert _nix_eval(f) == value


@pytest.mark.nix
@pytest.mark.parametrize(
    "hostile",
    [
        'a"b',
        "back\\slash",
        '${builtins.abort "x"}',
        "line\nbreak",
        "ünïcødé ✓",
        "''${x}''",
        "\\${y}",
    ],
)
def test_hostile_values_stay_data(tmp_path: Path, hostile: str) -> None:
    """Project name and env values reach Nix as data: evaluating the rendered files gives
    back exactly the string, and nothing in it is evaluated."""
    name = json.dumps(hostile)
    (tmp_path / "ohnix.toml").write_text(
        f'[project]\nname = {name}\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
        f"env = {{ HOSTILE = {name} }}\n"
    )
    cfg = config.load(tmp_path)
    files = nixfiles.render(cfg, synthetic_lock(cfg))
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    from ohnix.pin import lockfile

    lockfile.write(tmp_path, synthetic_lock(cfg))
    flake = tmp_path / "flake.nix"
    probe = tmp_path / "probe.nix"
    probe.write_text(
        'let f = import ./flake.nix; shells = (import ./default.nix { system = "x86_64-linux"; }); in '
        "{ d = f.description; e = shells.qemu-arm64-linux-min.HOSTILE; }"
    )
    assert flake.exists()
    got = _nix_eval(probe)
    assert got == {"d": f"ohnix development shells for {hostile} (OpenHarmony 4.1)", "e": hostile}


@pytest.mark.nix
def test_render_refuses_git_ignored_outputs_and_writes_nothing(tmp_path: Path) -> None:
    from tests.gitrepos import git_env

    project = tmp_path / "p"
    project.mkdir()
    (project / "ohnix.toml").write_text(
        '[project]\nname = "ign"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    )
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=git_env())
    (project / ".gitignore").write_text("/flake.nix\n/nix/\n")
    assert run_ohnix("-C", str(project), "lock").returncode == 0
    lock = (project / "ohnix.lock").read_bytes()
    res = run_ohnix("-C", str(project), "render")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    err = res.stderr
    assert err.startswith("ohnix: error: git ignores files that the flake")
    assert "flake.nix by .gitignore:1:/flake.nix" in err
    assert "nix/ohnix/default.nix, " in err and "more by .gitignore:2:/nix/" in err
    assert not (project / "flake.nix").exists() and not (project / "nix").exists()
    assert (project / "ohnix.lock").read_bytes() == lock
