"""`ohnix audit` against real Nix: reports identical across checkouts, every recomputed
path equal to Nix's, one changed pin named with exactly the components it reaches, the
three levels on real derivations; and the store/nix.py wrappers' argv for each Nix version."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ohnix import proc
from ohnix.audit import collect, diff, reportfile
from ohnix.pin.lockfile import Lock
from ohnix.store import drv, nix
from tests.helpers import SANDBOX_OFF, TESTS_DIR, Ohnix, json_result, ok_stdout, run_ohnix

PRODUCT = "qemu-arm64-linux-min"
DATA = TESTS_DIR / "data" / "nix-json"
FAKE_NIXPKGS = TESTS_DIR / "nixpkgs"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True)  # the identity: conftest.git_identity  # fmt: skip


def make_repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        git(path, "init", "-q")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "change")
    return f"file://{path}"


def setup_project(root: Path, toml: str) -> Path:
    root.mkdir(parents=True)
    (root / "ohnix.toml").write_text(toml)
    ok_stdout(run_ohnix("-C", str(root), "lock"))
    ok_stdout(run_ohnix("-C", str(root), "render"))
    return root


def report_of(root: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json_result(
        ok_stdout(run_ohnix("-C", str(root), "audit", *args, "--json"))
    )
    return data


def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".ohnix"))
    return dst


@pytest.fixture(scope="module")
def host_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host-provider project (works offline) with a pinned source no shell uses."""
    base = tmp_path_factory.mktemp("audit-host")
    url = make_repo(base / "repo", {"README": f"audit test {base.name}\n"})
    toml = (f'[project]\nname = "p"\n[sources.x]\ngit = "{url}"\n'
            f'[products.{PRODUCT}]\nprovider = "host"\n')  # fmt: skip
    return setup_project(base / "one", toml)


@pytest.mark.nix
def test_reports_from_two_directories_are_identical(host_project: Path, tmp_path: Path) -> None:
    other = copy_project(host_project, tmp_path / "elsewhere" / "two")
    ok_stdout(run_ohnix("-C", str(host_project), "audit", PRODUCT, "-o", str(tmp_path / "a.json")))
    ok_stdout(run_ohnix("-C", str(other), "audit", PRODUCT, "-o", str(tmp_path / "b.json")))
    a, b = (tmp_path / "a.json").read_bytes(), (tmp_path / "b.json").read_bytes()
    assert a == b
    assert str(host_project).encode() not in a and b"elsewhere" not in a
    assert json.loads(a) == report_of(other, PRODUCT)  # --json prints the same report
    diffed = json_result(ok_stdout(run_ohnix("audit", "diff", str(tmp_path / "a.json"),
                                     str(tmp_path / "b.json"), "--json")))  # fmt: skip
    assert diffed["identical"] is True


@pytest.mark.nix
def test_report_describes_the_shell(host_project: Path) -> None:
    report = report_of(host_project)
    system = nix.show_config()["system"]
    shell = nix.flake_drv(f".#devShells.{system}.{PRODUCT}", cwd=host_project)
    assert report["schema"] == "ohnix-audit" and report["version"] == 2
    assert report["store_dir"] == "/nix/store" and report["system"] == system
    assert report["nix"] == nix.version_string()
    from ohnix.pin import lockfile

    held = lockfile.read(host_project)
    assert held is not None and report["lock"] == held.digest()
    product = report["products"][PRODUCT]
    assert product["shell"] == shell and product["provider"] == "host"
    comps = product["components"]
    # The OHOS toolchain: the runtime, the clang wrapper and the patched Go, each built by
    # ohnix's Nix library from the [runtimes] sources with the host's pinned tools.
    assert set(comps) == {
        "builder",
        "ohos-cc",
        "ohos-go",
        "ohos-runtime",
        "shell",
        "pin:host/bash-static",
        "pin:runtimes/go",
        "pin:runtimes/llvm",
        "pin:runtimes/musl",
    }
    for cid in ("ohos-cc", "ohos-go", "ohos-runtime"):
        assert comps[cid]["hermetic"] is False and "non-hermetic" in comps[cid]["note"], cid
        assert "host/clang-19" in comps[cid]["pins"], cid
    assert {"CC", "CXX", "AR", "LD"} <= set(comps["ohos-cc"]["tools"])
    assert comps["ohos-go"]["tools"] == ["GO"]
    assert {"host/go", "runtimes/go"} <= set(comps["ohos-go"]["pins"])
    assert {"runtimes/musl", "runtimes/llvm"} <= set(comps["ohos-runtime"]["pins"])
    assert comps["pin:runtimes/musl"]["fixed"]["method"] == "flat"
    assert comps["shell"]["hermetic"] is False
    for c in comps.values():
        for out in c["outputs"].values():
            info = nix.path_info([out["path"]]) if Path(out["path"]).exists() else {}
            assert out["nar_hash"] == (info[out["path"]].nar_hash if info else None)
    # The pin no shell uses is in `pins` (with its store path and narHash), not a component.
    assert report["pins"]["sources/x"]["nar_hash"] == report["pins"]["sources/x"]["hash"]
    human = ok_stdout(run_ohnix("-C", str(host_project), "audit", PRODUCT))
    assert "[NON-HERMETIC]" in human and "pins no audited shell uses: sources/x" in human


@pytest.mark.nix
def test_verify_recomputes_every_path_as_nix_does(host_project: Path) -> None:
    report = report_of(host_project, "--verify")
    product = report["products"][PRODUCT]
    assert report["verified"] == {"derivations": len(product["closure"]), "mismatches": []}
    # Independently: drv.verify_closure over the closure Nix itself lists.
    closure = nix.show_derivation([product["shell"]], recursive=True)
    assert sorted(closure) == product["closure"]
    assert drv.verify_closure(closure) == []
    # And from the report alone (what `audit diff` checks on another machine).
    assert reportfile.check(report) == []


@pytest.mark.nix
def test_changing_one_host_pin(host_project: Path, tmp_path: Path) -> None:
    other = copy_project(host_project, tmp_path / "b")
    lock_text = (other / "ohnix.lock").read_text()
    old = report_of(host_project)["pins"]["host/go"]["hash"]
    # A new Go on this machine, simulated: the pinned content hash changes.
    (other / "ohnix.lock").write_text(lock_text.replace(old, "sha256-" + "B" * 43 + "="))
    ok_stdout(run_ohnix("-C", str(other), "render"))
    (tmp_path / "a.json").write_text(json.dumps(report_of(host_project)))
    (tmp_path / "b.json").write_text(json.dumps(report_of(other)))
    res = run_ohnix("audit", "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    assert res.returncode == 1, res.stderr  # they differ, as diff(1) says it
    d = json_result(res.stdout)
    assert set(d["pins"]) == {"host/go"}
    # The bootstrap Go is one of the host tools every OHOS toolchain build names.
    reached = ["ohos-cc", "ohos-go", "ohos-runtime", "shell"]
    assert d["pins"]["host/go"]["reaches"] == {PRODUCT: reached}, d["pins"]
    assert d["pins"]["host/go"]["outputs_changed"] is True
    causes = d["products"][PRODUCT]["causes"]
    assert sorted({c for cause in causes for c in cause["components"]}) == reached, causes
    assert {c["name"] for cause in causes for c in cause["changes"]} >= {"toolHashes"}
    assert all(cause["pins"] == [{"key": "host/go", "evidence": "value"}] for cause in causes)
    human = run_ohnix("audit", "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")).stdout
    assert "pin host/go changed" in human and "output paths changed" in human


@pytest.mark.nix
def test_changing_a_pin_no_shell_uses(host_project: Path, tmp_path: Path) -> None:
    other = copy_project(host_project, tmp_path / "b")
    repo = Path(report_of(host_project)["pins"]["sources/x"]["url"].removeprefix("file://"))
    clone = tmp_path / "repo"
    shutil.copytree(repo, clone)
    url = make_repo(clone, {"README": "changed\n"})
    toml = (other / "ohnix.toml").read_text().replace(f"file://{repo}", url)
    (other / "ohnix.toml").write_text(toml)
    ok_stdout(run_ohnix("-C", str(other), "lock"))
    ok_stdout(run_ohnix("-C", str(other), "render"))
    a, b = report_of(host_project), report_of(other)
    d = diff.diff(a, b)
    assert set(d["pins"]) == {"sources/x"}
    assert d["pins"]["sources/x"]["reaches"] == {}
    assert d["pins"]["sources/x"]["outputs_changed"] is False
    assert d["products"][PRODUCT]["level"] == "same-evaluation"


@pytest.mark.nix
@pytest.mark.skipif(not (FAKE_NIXPKGS / "default.nix").exists(), reason="no tests/nixpkgs")
def test_changing_a_source_pin_reaches_go(tmp_path: Path) -> None:
    url = make_repo(tmp_path / "patches", {"0001-a.patch": f"--- a {tmp_path.name}\n"})
    toml = (f'[project]\nname = "p"\n[nixpkgs]\npath = "{FAKE_NIXPKGS}"\n'
            f'[toolchain]\ngo_patches = ["gop"]\n[sources.gop]\ngit = "{url}"\n'
            f'[products.{PRODUCT}]\nprovider = "nixpkgs"\n')  # fmt: skip
    one = setup_project(tmp_path / "one", toml)
    a = report_of(one, "--verify")
    assert a["verified"]["mismatches"] == []
    two = copy_project(one, tmp_path / "two")
    make_repo(tmp_path / "patches", {"0002-b.patch": "--- b\n"})
    ok_stdout(run_ohnix("-C", str(two), "lock", "--update", "gop"))
    ok_stdout(run_ohnix("-C", str(two), "render"))
    d = diff.diff(a, report_of(two))
    assert set(d["pins"]) == {"sources/gop"}
    [reached] = d["pins"]["sources/gop"]["reaches"].values()
    go = [c for c in reached if c.startswith("nixpkgs:go_")]
    assert len(go) == 1 and reached == sorted([*go, "pin:sources/gop", "shell"])
    assert d["pins"]["sources/gop"]["outputs_changed"] is True
    [cause] = d["products"][PRODUCT]["causes"]
    assert cause["components"] == [*go, "shell"]
    assert {"key": "sources/gop", "evidence": "store path"} in cause["pins"]
    changed = {cid for cid, c in d["products"][PRODUCT]["components"].items()
               if c["level"] != "same-evaluation"}  # fmt: skip
    assert changed == set(reached)


# --- the three levels on real derivations ----------------------------------------------

LEVELS_NIX = """
{ url, junk, hash }:
let
  src = derivation {
    name = "ohnix-audit-src.txt";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo hello > $out" ];
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = hash;
    inherit url;
  };
in derivation {
  name = "ohnix-audit-top";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "read -r x < $src; echo $x > $out" ];
  inherit src junk;
}
"""


def levels_report(tmp_path: Path, url: str, junk: str, *, build: bool) -> dict[str, Any]:
    file = tmp_path / "levels.nix"
    file.write_text(LEVELS_NIX)
    hello = hashlib.sha256(b"hello\n").hexdigest()
    args = ["--argstr", "url", url, "--argstr", "junk", junk, "--argstr", "hash", hello]
    top = proc.run(["nix-instantiate", str(file), *args]).stdout.strip()
    if build:
        proc.run(["nix-build", *SANDBOX_OFF, "--no-out-link", str(file), *args])
    drvs = nix.show_derivation([top], recursive=True)
    outs = [o.path for d in drvs.values() for o in d.outputs if Path(o.path).exists()]
    nar = {p: i.nar_hash for p, i in nix.path_info(outs).items()}
    return collect.assemble(project="levels", system="x86_64-linux", nix_version="2.8.0",
                          lock=Lock(), shells={"p": top},
                          shells_json={"shells": {"p": {"env": {}, "tools": []}}},
                          drvs=drvs, nar=nar)  # fmt: skip


@pytest.mark.nix
def test_fixed_output_url_change_keeps_output_paths(tmp_path: Path) -> None:
    a = levels_report(tmp_path, "https://a.example/src.txt", "j", build=False)
    b = levels_report(tmp_path, "https://mirror.example/src.txt", "j", build=False)
    d = diff.diff(a, b)
    assert d["products"]["p"]["level"] == "same-outputs"
    assert a["products"]["p"]["shell"] != b["products"]["p"]["shell"]
    [cause] = d["products"]["p"]["causes"]
    assert cause["name"] == "ohnix-audit-src.txt" and cause["level"] == "same-outputs"
    assert [(c["what"], c["name"]) for c in cause["changes"]] == [("env", "url")]
    comps = a["products"]["p"]["components"]
    assert comps["input:ohnix-audit-src.txt"]["fixed"]["url"] == "https://a.example/src.txt"
    assert comps["input:ohnix-audit-src.txt"]["fixed"]["method"] == "flat"


@pytest.mark.nix
def test_same_built_bytes(tmp_path: Path) -> None:
    a = levels_report(tmp_path, "u", "one", build=True)
    b = levels_report(tmp_path, "u", "two", build=True)
    d = diff.diff(a, b)
    assert d["products"]["p"]["level"] == "same-bytes"
    [cause] = d["products"]["p"]["causes"]
    assert cause["changes"] == [{"what": "env", "name": "junk", "a": "one", "b": "two"}]


# --- the store/nix.py wrappers, per Nix version (no Nix needed) ------------------------------


def fake_nix(monkeypatch: pytest.MonkeyPatch, ver: tuple[int, int, int], stdout: str) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(nix, "version", lambda: ver)

    def run(argv: Any, **_: Any) -> proc.Result:
        calls.append([str(a) for a in argv])
        return proc.Result(tuple(calls[-1]), 0, stdout, "")

    monkeypatch.setattr(proc, "run", run)
    return calls


@pytest.mark.parametrize(
    ("ver", "fixture", "sub"),
    [((2, 8, 0), "show-derivation-2.8.json", ["show-derivation"]),
     ((2, 33, 0), "derivation-show-2.33.json", ["derivation", "show"])],
)  # fmt: skip
def test_show_derivation_argv(monkeypatch: pytest.MonkeyPatch, ver: tuple[int, int, int],
                              fixture: str, sub: list[str]) -> None:  # fmt: skip
    calls = fake_nix(monkeypatch, ver, (DATA / fixture).read_text())
    drvs = nix.show_derivation(["/nix/store/x.drv"], recursive=True)
    assert calls == [["nix", *nix.FEATURES, *sub, "--recursive", "/nix/store/x.drv"]]
    assert drvs and all(p.startswith("/nix/store/") and p.endswith(".drv") for p in drvs)


@pytest.mark.parametrize(
    ("ver", "fixture", "extra"),
    [((2, 8, 0), "path-info-r-2.8.json", []),
     ((2, 33, 0), "path-info-r-2.33-json-format-2.json", ["--json-format", "2"])],
)  # fmt: skip
def test_path_info_argv(monkeypatch: pytest.MonkeyPatch, ver: tuple[int, int, int],
                        fixture: str, extra: list[str]) -> None:  # fmt: skip
    calls = fake_nix(monkeypatch, ver, (DATA / fixture).read_text())
    infos = nix.path_info(["/nix/store/p"], recursive=True, derivation=True)
    assert calls == [["nix", *nix.FEATURES, "path-info", "--json", *extra, "--recursive",
                      "--derivation", "/nix/store/p"]]  # fmt: skip
    assert infos and all(i.nar_hash.startswith("sha256-") for i in infos.values())
    assert nix.path_info([]) == {} and len(calls) == 1


def test_audit_diff_rejects_non_reports(tmp_path: Path, ohnix: Ohnix) -> None:
    (tmp_path / "x.json").write_text('{"hello": 1}')
    res = ohnix("audit", "diff", str(tmp_path / "x.json"), str(tmp_path / "x.json"))
    assert res.returncode == 2 and "not an ohnix audit report" in res.stderr
    res = ohnix("audit", "diff", str(tmp_path / "missing.json"), str(tmp_path / "x.json"))
    assert res.returncode == 2 and "Cannot read the audit report" in res.stderr
