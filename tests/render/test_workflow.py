"""`ohnix ci github|gitlab`: the workflows validate against the schemas check-jsonschema
ships, install what ohnix.lock pins, get ohnix from where it was installed, leave an edited
workflow alone, and the GitHub one's steps pass, run in order in a fresh clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ohnix.errors import OhnixError
from ohnix.pin import debian
from ohnix.render import install
from tests.helpers import ok, ok_stdout, run_ohnix

REPO = Path(__file__).resolve().parents[2]
PRODUCT = "qemu-arm64-linux-min"
SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}
TARGETS = {"github": ".github/workflows/ohnix.yml", "gitlab": ".gitlab-ci.yml"}
SPEC = "ohnix @ git+https://git.example.org/ohnix.git@0123456789abcdef0123456789abcdef01234567"


def load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def init_project(root: Path, *products: str) -> Path:
    """A project as `ohnix init` makes it (host provider), locked, rendered, committed."""
    ok(run_ohnix("-C", str(root), "init", *products, "--provider", "host"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    ok(run_ohnix("-C", str(root), "lock"))
    ok(run_ohnix("-C", str(root), "render"))
    return root


@pytest.fixture(scope="module")
def host_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_project(tmp_path_factory.mktemp("ci") / "proj")


# --- where the runner gets ohnix (PEP 610) --------------------------------------------------


def test_install_spec_from_pep_610_records() -> None:
    vcs = {"url": "https://git.example.org/ohnix.git",
           "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "v0.1.0"}}  # fmt: skip
    got = install.from_direct_url(vcs, "0.1.0")
    assert got.spec == "ohnix @ git+https://git.example.org/ohnix.git@0123abc"
    assert "(v0.1.0)" in got.origin and "PEP 610" in got.origin
    sub = install.from_direct_url({**vcs, "subdirectory": "py"}, "0.1.0")
    assert sub.spec.endswith("@0123abc#subdirectory=py")
    archive = {"url": "https://files.example.org/ohnix-0.1.0.tar.gz",
               "archive_info": {"hashes": {"sha256": "ab12"}}}  # fmt: skip
    assert install.from_direct_url(archive, "0.1.0").spec == (
        "ohnix @ https://files.example.org/ohnix-0.1.0.tar.gz#sha256=ab12"
    )
    assert install.from_direct_url(None, "0.1.0").spec == "ohnix==0.1.0"
    for local in ({"url": "file:///home/me/ohnix", "dir_info": {"editable": True}},
                  {"url": "file:///tmp/ohnix-0.1.0.whl", "archive_info": {}}):  # fmt: skip
        with pytest.raises(OhnixError, match="which a CI runner cannot reach") as err:
            install.from_direct_url(local, "0.1.0")
        assert "--ohnix-from SPEC" in str(err.value)


@pytest.mark.nix
def test_ci_names_the_unreachable_install_and_refuses_a_bad_spec(host_project: Path) -> None:
    # This ohnix is an editable install of a folder here: no runner can install that.
    path = host_project / TARGETS["github"]
    before = path.read_text() if path.exists() else None
    res = run_ohnix("-C", str(host_project), "ci", "github")
    assert res.returncode == 1, res
    assert f"This ohnix was installed from {REPO} (editable folder" in res.stderr
    assert "`ohnix ci PROVIDER --ohnix-from SPEC`" in res.stderr
    assert (path.read_text() if path.exists() else None) == before
    unknown = run_ohnix("-C", str(host_project), "ci", "jenkins", "--ohnix-from", SPEC)
    assert unknown.returncode == 2 and "choose github or gitlab" in unknown.stderr
    bad = run_ohnix("-C", str(host_project), "ci", "github", "--ohnix-from", "ohnix\nrm -rf /")
    assert bad.returncode == 2, bad
    assert "Invalid value for '--ohnix-from': give one pip requirement on one line" in bad.stderr


# --- what the workflows install, and their schemas ------------------------------------------


def test_debian_packages_are_the_ones_dpkg_names() -> None:
    """data/debian.toml against this Debian machine: each program on PATH belongs to the
    package the data names (a cross GCC: to one of its set)."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian machine")
    wanted = dict(debian.data()["programs"])
    wanted |= {prefix + "gcc": "" for prefix in debian.data()["prefixes"]}
    checked = 0
    for program in wanted:
        found = shutil.which(program)
        if found is None:
            continue
        name = Path(found).name
        owners = set()
        for path in (found, f"/bin/{name}", f"/usr/bin/{name}"):  # usrmerge: dpkg knows one
            res = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True,
                                 check=False)  # fmt: skip
            owners |= {line.split(":", 1)[0] for line in res.stdout.splitlines()}
        assert owners & set(debian.packages_of(program)), (program, owners)
        checked += 1
    assert checked >= len(debian.data()["programs"])  # the host provider's whole set


def test_a_missing_host_tool_names_its_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ohnix.errors import PrefetchError
    from ohnix.pin import host

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(PrefetchError) as err:
        host.locate("ld.lld-19")
    assert "Install Debian's lld-19 (`apt-get install lld-19`), set host_prefix" in str(err.value)
    with pytest.raises(PrefetchError) as err:
        host.locate("aarch64-linux-gnu-gcc")
    assert "`apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu" in str(err.value)
    with pytest.raises(PrefetchError) as err:
        host.locate("mips-linux-gnu-gcc")
    assert "Install it, set host_prefix" in str(err.value) and "scripts/" not in str(err.value)


def check_schema(provider: str, path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                          SCHEMAS[provider], str(path)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.nix
@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_workflows_validate_and_install_what_the_lock_pins(
    host_project: Path, provider: str
) -> None:
    ok(run_ohnix("-C", str(host_project), "ci", provider, "--ohnix-from", SPEC, "--force"))
    path = host_project / TARGETS[provider]
    check_schema(provider, path)
    text = path.read_text()
    lock = (host_project / "ohnix.lock").read_text()
    programs = re.findall(r'^url = "([^"]+)"', lock, re.MULTILINE)
    host_programs = [p for p in programs if "://" not in p]
    assert "clang-19" in host_programs and "ld.lld-19" in host_programs
    listed = re.search(r"^ *for p in (.*); do$", text, re.MULTILINE)
    assert listed, text
    packages = set(listed.group(1).split())
    for program in host_programs:
        assert set(debian.packages_of(program)) <= packages, program
    assert {"nix-bin", "git", "linux-libc-dev-arm64-cross"} <= packages
    assert "extra-sandbox-paths = /usr /lib /lib64? /bin" in text
    assert "|| true" not in text and "pipx" not in text
    assert "'ohnix @ git+https://git.example.org/ohnix.git@0123" in text
    assert "ohnix: installed from what `ohnix ci --ohnix-from` was given." in text
    assert "ohnix lock --seed" in text and "apt-get" in text and "source --download-only" in text
    # No Go module in an `ohnix init` project: each shell is built and its compiler run.
    assert f"ohnix run {PRODUCT} -- sh -c" in text and f"ohnix build {PRODUCT}" not in text
    if provider == "gitlab":
        assert "key:\n      files:" not in text  # GitLab keys are files; ohnix's is a command
        assert "key=$(ohnix cache key qemu-arm64-linux-min)" in text
        assert '".nix-cache/$key"' in text


@pytest.mark.nix
def test_a_go_module_gets_ohnix_build_and_liteos_the_cross_gcc(tmp_path: Path) -> None:
    root = tmp_path / "bridge"
    shutil.copytree(REPO / "examples" / "bridge", root)
    toml = root / "ohnix.toml"
    toml.write_text(toml.read_text() + '\n[products.lite]\nextends = "qemu_mini_system_demo"\n'
                    'provider = "host"\n')  # fmt: skip
    ok(run_ohnix("-C", str(root), "lock"))
    ok(run_ohnix("-C", str(root), "render"))
    for provider in ("github", "gitlab"):
        ok(run_ohnix("-C", str(root), "ci", provider, "--ohnix-from", SPEC))
        path = root / TARGETS[provider]
        check_schema(provider, path)
        text = path.read_text()
        assert f"ohnix build {PRODUCT}" in text and "ohnix build lite" in text
        assert "gcc-arm-none-eabi" in text and "binutils-arm-none-eabi" in text


@pytest.mark.nix
def test_an_edited_workflow_is_left_alone_unless_forced(host_project: Path) -> None:
    path = host_project / TARGETS["github"]
    path.unlink(missing_ok=True)
    args = ("-C", str(host_project), "ci", "github", "--ohnix-from", SPEC)
    assert ok_stdout(run_ohnix(*args)) == f"wrote {path}\n"
    first = path.read_text()
    assert ok_stdout(run_ohnix(*args)) == f"unchanged {path}\n"
    assert ok_stdout(run_ohnix(*args, PRODUCT)) == f"unchanged {path}\n"  # the same products
    # Unedited but out of date (another ohnix source): ohnix's own file, so rewritten.
    other = ok_stdout(run_ohnix(*args[:-1], "ohnix @ git+https://git.example.org/o.git@1"))
    assert other == f"updated {path}\n"
    path.write_text(first.replace("runs-on: ubuntu-latest", "runs-on: self-hosted"))
    edited = path.read_text()
    res = run_ohnix(*args)
    assert res.returncode == 1, res
    assert f"ohnix: error: {path} was edited since `ohnix ci github` wrote it" in res.stderr
    assert "`ohnix ci github --force`" in res.stderr
    assert path.read_text() == edited
    assert ok_stdout(run_ohnix(*args, "--force")) == f"overwrote (edited) {path}\n"
    assert path.read_text() == first


@pytest.mark.nix
def test_a_machine_that_is_not_debian_is_refused(host_project: Path) -> None:
    from ohnix import config
    from ohnix.pin import lockfile
    from ohnix.render import workflow

    cfg = config.load(host_project)
    held = lockfile.require(host_project)
    with pytest.raises(OhnixError) as err:
        workflow.plan(cfg, held, [], install.given(SPEC),
                      {"ID": "fedora", "PRETTY_NAME": "Fedora Linux 40"})  # fmt: skip
    assert "ohnix.lock pins this machine's bash-static, clang-19" in str(err.value)
    assert "this machine is Fedora Linux 40" in str(err.value)
    assert workflow.plan(cfg, held, [], install.given(SPEC), workflow.os_release()).image == (
        "debian:12"
    )


# --- the GitHub workflow's steps, run in order in a fresh clone ------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}")


def expand(value: str, outputs: dict[str, dict[str, str]]) -> str:
    def one(m: re.Match[str]) -> str:
        return outputs[m.group(1)][m.group(2)]

    out = EXPRESSION.sub(one, value)
    assert "${{" not in out, value  # an expression this runner does not know
    return out


def link_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True, copy_function=os.link)


def run_github_job(workflow: Any, origin: Path, runner: Path,
                   caches: dict[str, Path]) -> tuple[str, subprocess.CompletedProcess[str]] | None:  # fmt: skip
    """The workflow's one job as a fresh GitHub runner does it, with bash and this machine's
    Nix: `run:` steps as `bash --noprofile --norc -eo pipefail` (the workflow's shell) in the
    workspace, with $GITHUB_OUTPUT, $GITHUB_PATH and $RUNNER_TEMP; actions/checkout is a git
    clone; actions/cache restores from `caches` by key, and saves a miss at the end.
    Returns the failed step's name and its result, or None when every step passed."""
    (job,) = workflow["jobs"].values()
    assert job["defaults"]["run"]["shell"] == "bash"
    work, temp = runner / "work", runner / "temp"
    work.mkdir(parents=True)
    temp.mkdir()
    outputs: dict[str, dict[str, str]] = {}
    extra_path: list[str] = []
    saves: list[tuple[str, Path]] = []
    for i, step in enumerate(job["steps"]):
        uses = step.get("uses", "").split("@")[0]
        if uses == "actions/checkout":
            subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
        elif uses == "actions/cache":
            key, path = expand(step["with"]["key"], outputs), work / step["with"]["path"]
            if key in caches:
                link_tree(caches[key], path)
            else:
                saves.append((key, path))
        else:
            assert not uses, uses  # no other action
            files = {n: temp / f"{n}-{i}" for n in ("GITHUB_OUTPUT", "GITHUB_PATH")}
            script = temp / f"step-{i}.sh"
            script.write_text(expand(step["run"], outputs))
            env = {**os.environ, **{k: str(v) for k, v in files.items()}, "CI": "true",
                   "RUNNER_TEMP": str(temp), "GITHUB_WORKSPACE": str(work),
                   "PATH": os.pathsep.join([*extra_path, os.environ["PATH"]])}  # fmt: skip
            res = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                 cwd=work, env=env, capture_output=True, text=True,
                                 check=False)  # fmt: skip
            if res.returncode != 0:
                return step.get("name", step["run"]), res
            if files["GITHUB_OUTPUT"].exists() and "id" in step:
                pairs = files["GITHUB_OUTPUT"].read_text().splitlines()
                outputs[step["id"]] = dict(p.split("=", 1) for p in pairs)
            if files["GITHUB_PATH"].exists():
                extra_path = files["GITHUB_PATH"].read_text().split() + extra_path
    for key, path in saves:  # the post-job half of actions/cache
        if path.exists():
            shutil.move(path, runner.parent / f"cache-{key}")
            caches[key] = runner.parent / f"cache-{key}"
    return None


@pytest.mark.nix
@pytest.mark.e2e
def test_github_workflow_passes_in_a_fresh_clone(tmp_path: Path, ohos_sources: Path) -> None:
    """On this machine, which has what the workflow's first steps install (they then install
    and write nothing: checked first, so the test cannot change the system), and whose store
    holds the OHOS toolchain. A first run with no cache passes and saves one; a second run,
    in another fresh clone, pulls from it; a damaged cache fails the pull step visibly."""
    # ohnix from a wheel of this checkout: what `--ohnix-from` is for (a git URL on a runner).
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(REPO)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = dist.glob("ohnix-*.whl")
    origin = init_project(tmp_path / "origin", PRODUCT)
    ok(run_ohnix("-C", str(origin), "ci", "github", "--ohnix-from", str(wheel)))
    subprocess.run(["git", "-C", str(origin), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(origin), "commit", "-qm", "ohnix init"], check=True)
    workflow = load_yaml(origin / TARGETS["github"])
    steps = workflow["jobs"]["build"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)

    # The set-up steps change nothing here: every package is installed, the build users and
    # the sandbox paths exist (scripts/bootstrap made them).
    listed = re.search(r"^for p in (.*); do$", script, re.MULTILINE)
    assert listed
    for package in listed.group(1).split():
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert "ok installed" in res.stdout, f"{package} missing: run scripts/bootstrap"
    group = subprocess.run(["getent", "group", "nixbld"], capture_output=True, check=False)
    assert group.returncode == 0, "no nixbld group: run scripts/bootstrap"
    conf = Path("/etc/nix/nix.conf").read_text()
    assert "extra-sandbox-paths = /usr /lib /lib64? /bin\n" in conf

    # The sources cache as an earlier run saved it (fetching them needs Debian's mirror):
    # Debian's file names, as `apt-get source --download-only` leaves them.
    caches: dict[str, Path] = {}
    (sources_step,) = [s for s in steps if s.get("with", {}).get("path") == ".ohos-sources"]
    saved = tmp_path / "saved-sources"
    saved.mkdir()
    from ohnix.pin import toolchain

    for src in toolchain.data()["sources"].values():
        (saved / src["debian"]["file"]).symlink_to(ohos_sources / src["url"].rsplit("/", 1)[1])
    caches[sources_step["with"]["key"]] = saved

    assert run_github_job(workflow, origin, tmp_path / "run1", caches) is None
    nix_keys = [k for k in caches if k.startswith("ohnix-x86_64-linux-") or
                k.startswith("ohnix-aarch64-linux-")]  # fmt: skip
    assert len(nix_keys) == 1, caches  # the first run saved the Nix cache under its key
    saved_cache = caches[nix_keys[0]]
    assert (saved_cache / "nix-cache-info").is_file() and list(saved_cache.glob("*.narinfo"))

    assert run_github_job(workflow, origin, tmp_path / "run2", caches) is None

    damaged = tmp_path / "damaged"
    link_tree(saved_cache, damaged)
    (damaged / "nix-cache-info").unlink()
    caches[nix_keys[0]] = damaged
    failed = run_github_job(workflow, origin, tmp_path / "run3", caches)
    assert failed is not None
    name, res = failed
    assert name == "Restore Nix paths"
    assert ".nix-cache was restored but is not a Nix binary cache" in res.stderr
