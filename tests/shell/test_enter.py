"""`ohnix run`, `shell`, `gc` and `direnv`: the environment cache, exec semantics, GC roots.

Real-Nix tests use a host-provider project (Debian's cross GCC and Go wrapped by content
hash: no nixpkgs, no network) locked and rendered once per module and copied per test.
"Warm does not start Nix" is proven by running with a PATH that has no `nix` at all; the
same PATH makes a cold run fail, so each such test can tell the two apart.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from ohnix.pin.lockfile import Lock, Pin
from ohnix.shell import bash, enter, envcache
from tests.helpers import json_result, ok_stdout, run_ohnix

P = "qemu-arm64-linux-min"
TOML = f'[project]\nname = "p"\n[products.{P}]\nprovider = "host"\n'
WRAPPER_CC = re.compile(
    r"^/nix/store/[0-9a-df-np-sv-z]{32}-ohos-cc-aarch64-linux-ohos/bin/aarch64-linux-ohos-clang$"
)
NO_NIX_TOOLS = ("sh", "bash", "cat", "head", "true", "env", "yes", "printf")
PTY_DEADLINE_S = 300  # only a guard against a hung shell; nothing is timed


def ohnix(root: Path, *args: str, **options: Any) -> subprocess.CompletedProcess[bytes]:
    """The real CLI in `root`, bytes in and out (helpers.run_ohnix: stdin, path, env)."""
    return run_ohnix(*args, cwd=root, binary=True, **options)


def entry(root: Path) -> Path:
    return envcache.entry_path(root, P)


def no_nix_path(tmp: Path) -> str:
    """A bin dir of symlinks to a few host tools and nothing named nix*."""
    bindir = tmp / "no-nix-bin"
    bindir.mkdir(exist_ok=True)
    for tool in NO_NIX_TOOLS:
        found = shutil.which(tool)
        assert found, tool
        link = bindir / tool
        if not link.exists():
            link.symlink_to(found)
    assert not any(p.name.startswith("nix") for p in bindir.iterdir())
    return str(bindir)


def fake_tool(bindir: Path, name: str, body: str) -> Path:
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def real(program: str) -> str:
    found = shutil.which(program)
    assert found, program
    return os.path.realpath(found)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shell-template")
    (root / "ohnix.toml").write_text(TOML)
    for cmd in (["lock"], ["render"]):
        ok_stdout(ohnix(root, *cmd))
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(template, root, ignore=shutil.ignore_patterns(".ohnix"))
    return root


@pytest.fixture
def warm(project: Path) -> Path:
    """A project whose cache entry exists (one cold run done)."""
    ok_stdout(ohnix(project, "run", P, "--", "true"))
    assert entry(project).is_file()
    return project


def make(root: Path, mode: str) -> Path:
    """`cold`: no cache entry; `warm`: a current one."""
    if mode == "warm":
        ok_stdout(ohnix(root, "run", P, "--", "true"))
        assert entry(root).is_file()
    else:
        entry(root).unlink(missing_ok=True)
    return root


MODES = pytest.mark.parametrize("mode", ["cold", "warm"])


# --- the command reaches the target compiler; exit status, signals, stdin, stdout -------


@pytest.mark.nix
def test_cold_then_warm_reaches_the_target_compiler(project: Path, tmp_path: Path) -> None:
    cmd = ["run", P, "--", "sh", "-c", 'echo "$CC"; "$CC" --version']
    assert not entry(project).exists()
    res = ohnix(project, *cmd)
    cold = ok_stdout(res).splitlines()
    assert WRAPPER_CC.match(cold[0]), cold
    assert b"error" not in res.stderr and b"flake:nixpkgs" not in res.stderr  # point 13
    # The OHOS wrapper runs the very clang ohnix.lock pinned.
    pinned = tomllib.loads((project / "ohnix.lock").read_text())["host"]["clang-19"]
    assert pinned["path"] == real("clang-19") and f"exec {Path(pinned['path'])}" in Path(
        cold[0]).read_text()  # fmt: skip
    assert "clang version 19" in cold[1], cold
    assert entry(project).is_file()
    # Warm, from another directory through -C, with no nix anywhere on PATH.
    warm_out = ok_stdout(ohnix(tmp_path, "-C", str(project), *cmd, path=no_nix_path(tmp_path)))
    assert warm_out.splitlines() == cold


@pytest.mark.nix
def test_run_from_a_sub_folder_and_global_options_after_the_command(
    project: Path, tmp_path: Path
) -> None:
    """Issue 16, point 4: the project is found above the working directory, which the
    command keeps; -C and -v may follow the subcommand, but not into the user's command."""
    sub = project / "nix" / "ohnix"
    cmd = ["run", P, "--", "sh", "-c", 'pwd; echo "$@"', "sh", "-v", "-C", "x"]
    cold = run_ohnix(*cmd, cwd=sub)
    assert ok_stdout(cold).splitlines() == [str(sub), "-v -C x"]
    assert "$ nix" not in cold.stderr
    warm = ok_stdout(ohnix(sub, *cmd, path=no_nix_path(tmp_path)))  # the warm path, from sub
    assert warm.splitlines() == [str(sub), "-v -C x"]
    verbose = run_ohnix("run", P, "-v", "-C", str(project), "--print-env", cwd=tmp_path)
    assert "export CC=" in ok_stdout(verbose)
    lock = run_ohnix("lock", "--check", "-C", str(project), "-v", cwd=tmp_path)
    assert "$ " in lock.stderr and "ohnix.lock matches" in ok_stdout(lock)


@pytest.mark.nix
@MODES
@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_status_propagates(project: Path, mode: str, code: int) -> None:
    make(project, mode)
    res = ohnix(project, "run", P, "--", "sh", "-c", f"exit {code}")
    assert res.returncode == code, res.stderr


@pytest.mark.nix
@MODES
def test_death_by_signal_propagates(project: Path, mode: str) -> None:
    make(project, mode)
    res = ohnix(project, "run", P, "--", "sh", "-c", "kill -TERM $$")
    # exec semantics: the CLI process *is* the command, so it dies of the same signal.
    assert res.returncode == -signal.SIGTERM, res.stderr
    make(project, mode)
    seen = subprocess.run(
        ["sh", "-c", '"$@"; echo "status=$?"', "sh", sys.executable, "-m", "ohnix",
         "run", P, "--", "sh", "-c", "kill -TERM $$"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert seen.stdout.strip() == "status=143", seen


@pytest.mark.nix
@MODES
def test_sigpipe_is_not_inherited_as_ignored(project: Path, mode: str) -> None:
    """`ohnix run P -- yes | head` must end like `nix develop --command yes | head`:
    killed by SIGPIPE, not an EPIPE error (Python ignores SIGPIPE and exec keeps that)."""
    make(project, mode)
    child = subprocess.Popen(
        [sys.executable, "-m", "ohnix", "run", P, "--", "yes"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(4) == b"y\ny\n"
    child.stdout.close()
    assert child.wait() == -signal.SIGPIPE, child.stderr.read()
    assert child.stderr.read() == b""


@pytest.mark.nix
@MODES
def test_stdin_and_binary_stdout_pass_through(project: Path, mode: str, tmp_path: Path) -> None:
    make(project, mode)
    assert ohnix(project, "run", P, "--", "cat", stdin=b"hi\n").stdout == b"hi\n"
    make(project, mode)
    data = bytes(range(256)) * 64 + b"\r\n\x00\xff"
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    res = ohnix(project, "run", P, "--", "head", "-c", "1000", str(blob))
    assert res.returncode == 0 and res.stdout == data[:1000]
    make(project, mode)
    res = ohnix(project, "run", P, "--", "head", "-c", "300", stdin=data)
    assert res.returncode == 0 and res.stdout == data[:300]


# --- the cache: what it keys on, what refuses it ----------------------------------------


@pytest.mark.nix
def test_warm_needs_no_nix_but_cold_does(project: Path, tmp_path: Path) -> None:
    bare = no_nix_path(tmp_path)
    cold = ohnix(project, "run", P, "--", "true", path=bare)
    assert cold.returncode == 1 and b"nix" in cold.stderr  # the no-nix PATH really has none
    assert b"Traceback" not in cold.stderr
    ok_stdout(ohnix(project, "run", P, "--", "true"))
    before = entry(project).read_bytes()
    out = ok_stdout(ohnix(project, "run", P, "--", "sh", "-c", 'echo "$OHOS_PRODUCT"', path=bare))
    assert out == f"{P}\n"
    assert entry(project).read_bytes() == before


@pytest.mark.nix
def test_warm_path_imports_no_cli_libraries(warm: Path) -> None:
    """The fast path is stdlib only: it execs before Typer, rich, Jinja are imported."""
    probe = (
        "import sys\nfrom ohnix.shell import envcache\n"
        "def fake_exec(variables, argv):\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'click', 'rich', 'jinja2') or m in ('ohnix.cli.main', 'ohnix.shell.enter'))\n"
        "    print(variables['OHOS_PRODUCT'], argv, heavy)\n"
        "    sys.exit(0)\n"
        "envcache.exec_command = fake_exec\n"
        f"envcache.try_warm_run(['run', '{P}', '--', 'true'])\n"
        "sys.exit(5)\n"
    )
    res = subprocess.run([sys.executable, "-c", probe], cwd=warm, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{P} ['true'] []\n"


@pytest.mark.nix
def test_another_nix_on_path_refuses_the_entry(warm: Path, tmp_path: Path) -> None:
    log = tmp_path / "nix-calls"
    bindir = tmp_path / "other-nix"
    wrapper = fake_tool(bindir, "nix", f'echo "$*" >> {log}\nexec {real("nix")} "$@"\n')
    first = json.loads(entry(warm).read_text())
    assert first["nix"] == real("nix")
    path = f"{bindir}:{os.environ['PATH']}"
    assert ok_stdout(
        ohnix(warm, "run", P, "--", "sh", "-c", 'echo "$OHOS_PRODUCT"', path=path)
    ) == (f"{P}\n")
    assert "print-dev-env" in log.read_text()  # the cold path ran, through the other nix
    second = json.loads(entry(warm).read_text())
    assert second["nix"] == str(wrapper)
    assert second["key"] == first["key"]
    # Back to the usual nix: refused again, rebuilt with it.
    log.unlink()
    ok_stdout(ohnix(warm, "run", P, "--", "true"))
    assert not log.exists()
    assert json.loads(entry(warm).read_text())["nix"] == real("nix")


@pytest.mark.nix
def test_lock_change_invalidates(warm: Path, tmp_path: Path) -> None:
    old = json.loads(entry(warm).read_text())["key"]
    assert old == envcache.key(warm, P)
    with (warm / "ohnix.lock").open("a") as fh:
        fh.write("# a comment changes the bytes\n")
    refused = ohnix(warm, "run", P, "--", "true", path=no_nix_path(tmp_path))
    assert refused.returncode == 1, refused.stderr  # the entry was refused: Nix needed
    ok_stdout(ohnix(warm, "run", P, "--", "true"))
    new = json.loads(entry(warm).read_text())["key"]
    assert new != old and new == envcache.key(warm, P)


@pytest.mark.nix
def test_unrelated_files_do_not_invalidate(warm: Path, tmp_path: Path) -> None:
    before = entry(warm).read_bytes(), entry(warm).stat().st_mtime_ns
    (warm / "README.md").write_text("# notes\n")
    (warm / "src").mkdir()
    (warm / "src" / "main.go").write_text("package main\n\nfunc main() {}\n")
    out = ok_stdout(
        ohnix(warm, "run", P, "--", "sh", "-c", 'echo "$CC"', path=no_nix_path(tmp_path))
    )
    assert WRAPPER_CC.match(out.strip())
    assert (entry(warm).read_bytes(), entry(warm).stat().st_mtime_ns) == before


@pytest.mark.nix
def test_entry_without_its_gc_root_is_refused(warm: Path, tmp_path: Path) -> None:
    """A moved project or a wiped store leaves an entry whose store paths may be gone."""
    shutil.rmtree(warm / envcache.ROOTS_DIR / P)
    refused = ohnix(warm, "run", P, "--", "true", path=no_nix_path(tmp_path))
    assert refused.returncode == 1, refused.stderr
    ok_stdout(ohnix(warm, "run", P, "--", "true"))
    assert envcache.profile_path(warm, P).resolve().is_relative_to("/nix/store")


# --- never an out-of-date shell ----------------------------------------------------------


@pytest.mark.nix
def test_hand_edited_rendered_file_is_refused_then_rendered(warm: Path) -> None:
    shells_json = warm / "nix" / "ohnix" / "shells.json"
    rendered = shells_json.read_text()
    shells_json.write_text(rendered.replace('"hard"', '"soft"'))
    res = ohnix(warm, "run", P, "--", "true")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "nix/ohnix/shells.json" in err and "ohnix render" in err and "--render" in err
    assert "Traceback" not in err
    out = ok_stdout(ohnix(warm, "run", P, "--render", "--", "sh", "-c", 'echo "$OHOS_FLOAT_ABI"'))
    assert out == "hard\n"
    assert shells_json.read_text() == rendered


@pytest.mark.nix
def test_changed_toml_needs_render(warm: Path) -> None:
    with (warm / "ohnix.toml").open("a") as fh:
        fh.write('env = { X = "1" }\n')
    res = ohnix(warm, "run", P, "--", "sh", "-c", 'echo "X=$X"')
    assert res.returncode == 1 and res.stdout == b""
    assert b"nix/ohnix/shells.json" in res.stderr and b"--render" in res.stderr
    assert ok_stdout(ohnix(warm, "run", P, "--render", "--", "sh", "-c", 'echo "X=$X"')) == "X=1\n"
    assert ok_stdout(ohnix(warm, "run", P, "--", "sh", "-c", 'echo "X=$X"')) == "X=1\n"


@pytest.mark.nix
def test_stale_lock_says_run_ohnix_lock(warm: Path) -> None:
    with (warm / "ohnix.toml").open("a") as fh:
        fh.write('[products.qemu_mini_system_demo]\nprovider = "host"\n')  # new host pins
    for args in (["run", P, "--", "true"], ["run", P, "--render", "--", "true"]):
        res = ohnix(warm, *args)
        assert res.returncode == 1
        err = res.stderr.decode()
        assert "ohnix lock" in err and "ohnix.lock" in err and "Traceback" not in err


@pytest.mark.nix
def test_unconfigured_product_did_you_mean(warm: Path) -> None:
    res = ohnix(warm, "run", "qemu-arm64-linux-mim", "--", "true")
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f"Did you mean `{P}`" in err and "Traceback" not in err


# --- GC roots and ohnix gc ----------------------------------------------------------------


def closure(path: Path) -> list[str]:
    out = subprocess.run(
        ["nix-store", "-qR", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.nix
def test_roots_survive_garbage_collection_and_reenter_offline(project: Path) -> None:
    """The one test that collects garbage in the machine's store. The env gets a unique
    variable, so only this project's root can keep its profile alive."""
    with (project / "ohnix.toml").open("a") as fh:
        fh.write(f'env = {{ OHNIX_TEST_NONCE = "{uuid.uuid4()}" }}\n')
    ok_stdout(ohnix(project, "render"))
    ok_stdout(ohnix(project, "run", P, "--", "true"))
    profile = envcache.profile_path(project, P)
    target = profile.resolve()
    assert target.is_relative_to("/nix/store") and target.name.endswith(f"-ohnix-{P}-env")
    paths = closure(profile)
    assert any(p.endswith("-ohos-cc-aarch64-linux-ohos") for p in paths)
    for path in paths:
        roots = subprocess.run(["nix-store", "--query", "--roots", path], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
        assert str(project / envcache.ROOTS_DIR / P) in roots, (path, roots)
    litter = project.parent / f"unrooted-{uuid.uuid4()}"
    litter.write_text("collect me\n")
    dead = subprocess.run(["nix-store", "--add", str(litter)], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    gc = subprocess.run(["nix-collect-garbage"], capture_output=True, text=True, check=False)
    assert gc.returncode == 0, gc.stderr
    assert not Path(dead).exists()  # the collector really ran
    assert all(Path(p).exists() for p in paths)
    # Warm still works; and cold, re-evaluating from local files only.
    ok_stdout(ohnix(project, "run", P, "--", "sh", "-c", '"$CC" --version'))
    entry(project).unlink()
    out = ok_stdout(ohnix(project, "run", P, "--", "sh", "-c", '"$CC" --version'))
    assert "clang version 19" in out.splitlines()[0]
    assert profile.resolve() == target


@pytest.mark.nix
def test_profile_keeps_only_the_current_generation(warm: Path) -> None:
    roots = warm / envcache.ROOTS_DIR / P
    first = envcache.profile_path(warm, P).resolve()
    with (warm / "ohnix.toml").open("a") as fh:
        fh.write('env = { X = "2" }\n')
    ok_stdout(ohnix(warm, "run", P, "--render", "--", "true"))
    second = envcache.profile_path(warm, P).resolve()
    assert second != first
    links = sorted(p.name for p in roots.glob("profile-*-link"))
    assert len(links) == 1, links  # the old shell is no longer held by this project
    assert (roots / links[0]).resolve() == second


@pytest.mark.nix
def test_gc_drops_unconfigured_products_only(tmp_path: Path) -> None:
    root = tmp_path / "two"
    root.mkdir()
    (root / "ohnix.toml").write_text(TOML + '[products.rk3568]\nprovider = "host"\n')
    for cmd in (["lock"], ["render"], ["run", P, "--", "true"], ["run", "rk3568", "--", "true"]):
        ok_stdout(ohnix(root, *cmd))
    assert json_result(ok_stdout(ohnix(root, "gc", "--json"))) == {"removed": []}
    (root / "ohnix.toml").write_text(TOML)
    for cmd in (["lock"], ["render"]):
        ok_stdout(ohnix(root, *cmd))
    report = json_result(ok_stdout(ohnix(root, "gc", "--json")))
    assert report == {"removed": [".ohnix/roots/rk3568", ".ohnix/env/rk3568.json"]}
    assert not (root / ".ohnix" / "roots" / "rk3568").exists()
    assert not envcache.entry_path(root, "rk3568").exists()
    assert envcache.profile_path(root, P).resolve().is_relative_to("/nix/store")
    assert envcache.entry_path(root, P).is_file()
    ok_stdout(ohnix(root, "run", P, "--", "true"))  # (cold: ohnix.toml and ohnix.lock changed)
    assert ok_stdout(ohnix(root, "gc")) == "nothing to remove\n"


# --- direnv and --print-env --------------------------------------------------------------


@pytest.mark.nix
def test_direnv_watches_exactly_the_key_files(warm: Path, tmp_path: Path) -> None:
    written = json_result(ok_stdout(ohnix(warm, "direnv", P, "--json")))
    assert written == {"product": P, "path": str(warm / ".envrc")}
    lines = (warm / ".envrc").read_text().splitlines()
    watch = [ln for ln in lines if ln.startswith("watch_file ")]
    assert len(watch) == 1
    expected = [str(p.relative_to(warm)) for p in envcache.key_files(warm)]
    assert shlex.split(watch[0])[1:] == expected
    assert all((warm / f).is_file() for f in expected)
    # direnv's own functions stubbed: the .envrc loads the shell (warm: no nix needed).
    script = (
        'watch_file() { :; }\nohnix() { "$OHNIX_PY" -m ohnix "$@"; }\n'
        'source ./.envrc\necho "$CC"\ncommand -v aarch64-linux-ohos-clang\n'
    )
    res = subprocess.run(
        ["bash", "-c", script], cwd=warm, capture_output=True, text=True, check=False,
        env={**os.environ, "OHNIX_PY": sys.executable, "PATH": no_nix_path(tmp_path)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    cc, found = res.stdout.split()
    assert WRAPPER_CC.match(cc) and found == cc


@pytest.mark.nix
@MODES
def test_print_env_is_sourceable_and_json(project: Path, mode: str) -> None:
    make(project, mode)
    variables = json_result(ok_stdout(ohnix(project, "run", P, "--print-env", "--json")))[
        "variables"
    ]
    assert isinstance(variables, dict)
    assert variables["OHOS_PRODUCT"] == P and WRAPPER_CC.match(variables["CC"])
    script = (
        'eval "$("$OHNIX_PY" -m ohnix run "$0" --print-env)"\n'
        'printf "%s\\n" "$CC" "$OHNIX_LIBC_USED" "${PATH%%:*}"\n'
    )
    res = subprocess.run(
        ["bash", "-c", script, P], cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "OHNIX_PY": sys.executable},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        variables["CC"],
        variables["OHNIX_LIBC_USED"],  # has a quote: "the host's ..."
        variables["PATH"].split(":")[0],
    ]


# --- ohnix shell ---------------------------------------------------------------------------


@pytest.mark.nix
@pytest.mark.parametrize("start", ["root", "sub-folder"])
@pytest.mark.parametrize("classic", [False, True], ids=["develop", "classic"])
def test_shell_execs_nix_with_the_flake_ref_and_root(
    project: Path, tmp_path: Path, classic: bool, start: str
) -> None:
    """A fake `nix`/`nix-shell` first on PATH records argv and its pid, then exits 7; other
    nix calls (if any) go to the real one. From a sub-folder the flake is named by the
    project's path (`.` would be the sub-folder: issue 16, point 4)."""
    log = tmp_path / "argv"
    bindir = tmp_path / "fake"
    record = (
        f'{{ echo "pid=$$"; echo "product=$OHNIX_PRODUCT"; echo "shell=$NIX_BUILD_SHELL"; '
        f'printf "%s\\n" "$@"; }} > {log}\nexit 7\n'
    )
    passthrough = f'case " $* " in *" develop "*) ;; *) exec {real("nix")} "$@";; esac\n'
    fake_tool(bindir, "nix", passthrough + record)
    fake_tool(bindir, "nix-shell", record)
    args = ["shell", *(["--classic"] if classic else []), P]
    cwd = project if start == "root" else project / "nix" / "ohnix"
    child = subprocess.Popen(
        [sys.executable, "-m", "ohnix", *args], cwd=cwd, stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
    )  # fmt: skip
    assert child.wait() == 7
    lines = log.read_text().splitlines()
    assert lines[:2] == [f"pid={child.pid}", f"product={P}"]  # exec'd: the same process
    if classic:
        assert lines[3:] == [str(project / "default.nix"), "-A", P]
        assert lines[2] == f"shell={project / '.ohnix/shell/nix-shell-bash'}"
    else:
        profile = str(envcache.profile_path(project, P))
        shell_dir = project / ".ohnix/shell"
        # No nixpkgs: nix develop's bash is ohnix's bash-static, from a flake of ohnix's
        # and with an empty registry (point 13).
        assert lines[3:] == [
            "--extra-experimental-features", "nix-command flakes",
            "develop", f"{'.' if start == 'root' else project}#{P}", "--profile", profile,
            "--override-flake", "nixpkgs", f"path:{shell_dir / 'bash'}",
            "--option", "flake-registry", str(shell_dir / "registry.json"),
        ]  # fmt: skip
        pinned = tomllib.loads((project / "ohnix.lock").read_text())["host"]["bash-static"]
        assert json.loads((shell_dir / "bash/bash.json").read_text()) == {
            "store_name": "host-bash-static", "nar_hash": pinned["nar_hash"],
            "systems": ["x86_64-linux", "aarch64-linux"],
        }  # fmt: skip


def drive_pty(argv: list[str], cwd: Path, typed: bytes) -> tuple[int, bytes]:
    """Run argv on a pseudo-terminal, type `typed`, read to EOF: (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        os.execv(argv[0], argv)
    out = b""
    deadline = time.monotonic() + PTY_DEADLINE_S
    os.write(fd, typed)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


# A ~/.bashrc like the usual ones: a prompt, and tools found on PATH (pyenv's and rustup's
# init scripts run `/usr/bin/env bash`), each saying so.
BASHRC = """\
PS1='user-prompt$ '
env bash -c 'echo "bashrc: env bash ok"'
rm -f "$HOME/none" && echo "bashrc: rm ok"
"""
# What the shells print in reply to TYPED, one `name=[value]` line each.
TYPED = (
    b'printf "%s=[%s]\\n" prod "$OHOS_PRODUCT" ps1 "$PS1" path "$PATH" go "$(command -v go)" '
    b'exported "$(env | grep "^PATH=")" cc "$CC"; exit 3\n'
)
REPLY = re.compile(r"^(prod|ps1|path|go|exported|cc)=\[(.*)\]$", re.MULTILINE)
TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def enter_on_a_terminal(project: Path, home: Path, classic: bool) -> tuple[bytes, dict[str, str]]:
    """`ohnix shell [--classic] P` on a pty with HOME=home: its output and its REPLY lines."""
    home.mkdir(exist_ok=True)
    (home / ".bashrc").write_text(BASHRC)
    argv = ["/usr/bin/env", f"HOME={home}", sys.executable, "-m", "ohnix", "shell",
            *(["--classic"] if classic else []), P]  # fmt: skip
    code, out = drive_pty(argv, project, TYPED)
    assert code == 3, out
    text = TERMINAL_CODES.sub("", out.decode())
    return out, {m[1]: m[2] for m in REPLY.finditer(text)}


@pytest.mark.nix
@pytest.mark.parametrize("classic", [False, True], ids=["develop", "classic"])
def test_shell_on_a_terminal(project: Path, tmp_path: Path, classic: bool) -> None:
    """Interactive for real: nix develop / nix-shell on a pty, a typed command, an exit code.
    (With stdin not a terminal, bash skips its rc file and the shell's variables are unset:
    Nix's behaviour, so the non-interactive check is the fake-nix test above.)
    No line of Nix's or bash's complaints (issue 16, points 7 and 13): nix develop found its
    bash without a flake registry, nix-shell's rc and ~/.bashrc their rm, env and bash."""
    out, reply = enter_on_a_terminal(project, tmp_path / "home", classic)
    assert reply["prod"] == P and reply["ps1"] == f"(ohnix:{P}) user-prompt$ "
    assert b"bashrc: env bash ok" in out and b"bashrc: rm ok" in out
    complaints = (b"error", b"warning", b"flake:nixpkgs", b"not found", b"No such", b"nix-shell:")
    assert not [c for c in complaints if c in out], out
    # The shell's tools first (not `/usr/bin::…`), exported, and its Go before the host's.
    assert reply["path"].startswith("/nix/store/") and "::" not in reply["path"]
    assert reply["exported"] == f"PATH={reply['path']}"
    assert reply["go"].startswith("/nix/store/") and reply["go"].endswith("/bin/go")


@pytest.mark.nix
def test_classic_shell_is_the_flake_shell(project: Path, tmp_path: Path) -> None:
    """`ohnix shell --classic` gives what `ohnix shell` gives: PATH, tools, prompt (point 7)."""
    _, develop = enter_on_a_terminal(project, tmp_path / "home", classic=False)
    _, classic = enter_on_a_terminal(project, tmp_path / "home", classic=True)
    assert classic == develop and set(develop) == {"prod", "ps1", "path", "go", "exported", "cc"}
    assert WRAPPER_CC.match(classic["cc"])


# --- fast lane: the cache and exec without Nix ----------------------------------------------


def test_nix_develop_is_told_the_bash_only_without_nixpkgs(tmp_path: Path) -> None:
    """The flake's own nixpkgs input has the bash nix develop looks for; else ohnix's flake."""
    sha = "sha256-" + "A" * 43 + "="
    bash_static = Pin(key="host/bash-static", kind="host", url="bash-static", hash=sha,
                      spec=sha, store_name="host-bash-static", nar_hash=sha)  # fmt: skip
    nixpkgs = Pin(key="nixpkgs", kind="path", url="/nixpkgs", hash=sha, spec=sha)
    options = bash.develop_options(tmp_path, Lock().with_pins([bash_static]), ["x86_64-linux"])
    assert options[:2] == ["--override-flake", "nixpkgs"]
    assert (tmp_path / ".ohnix/shell/bash/flake.nix").is_file()
    # A path Nix 2.8 cannot take as a flake URL: only the empty registry (no download).
    spaced = tmp_path / "a b"
    assert bash.develop_options(spaced, Lock().with_pins([bash_static]), []) == [
        "--option", "flake-registry", str(spaced / ".ohnix/shell/registry.json"),
    ]  # fmt: skip
    assert bash.develop_options(tmp_path, Lock().with_pins([bash_static, nixpkgs]), []) == []
    assert bash.develop_options(tmp_path, Lock(), []) == []


def test_classic_shell_gives_back_the_callers_variables(tmp_path: Path) -> None:
    """NIX_BUILD_SHELL and NIX_SHELL_PRESERVE_PROMPT are nix-shell's only (the rc evals this)."""
    with_own = bash.classic_env(tmp_path, {"PATH": "/bin", "NIX_BUILD_SHELL": "/my bash"})
    assert with_own["OHNIX_RESTORE"] == (
        "export NIX_BUILD_SHELL='/my bash'; unset NIX_SHELL_PRESERVE_PROMPT"
    )
    assert with_own["OHNIX_CALLER_PATH"] == "/bin"
    assert os.access(with_own["NIX_BUILD_SHELL"], os.X_OK)


def fake_project(root: Path) -> Path:
    """The files the key reads, with made-up contents, and a profile root that resolves."""
    for name in envcache.KEY_FILES:
        (root / name).write_text(f"{name}\n")
    lib = root / envcache.LIB_DIR
    lib.mkdir(parents=True)
    (lib / "default.nix").write_text("{ }\n")
    (lib / "shells.json").write_text("{}\n")
    store_path = root / "fake-store-path"
    store_path.mkdir()
    profile = envcache.profile_path(root, P)
    profile.parent.mkdir(parents=True)
    profile.symlink_to(store_path)
    return root


def test_key_covers_each_key_file_and_nothing_else(tmp_path: Path) -> None:
    root = fake_project(tmp_path)
    names = [str(p.relative_to(root)) for p in envcache.key_files(root)]
    assert names == [*envcache.KEY_FILES, "nix/ohnix/default.nix", "nix/ohnix/shells.json"]
    seen = {envcache.key(root, P)}
    for rel in names:
        with (root / rel).open("a") as fh:
            fh.write(" ")
        seen.add(envcache.key(root, P))
    assert len(seen) == len(names) + 1  # every file changes the key
    assert envcache.key(root, "rk3568") not in seen  # and so does the product
    now = envcache.key(root, P)
    (root / "README.md").write_text("x")
    (root / "src").mkdir()
    (root / "src" / "main.go").write_text("package main\n")
    assert envcache.key(root, P) == now
    (root / "default.nix").unlink()
    assert envcache.key(root, P) not in (None, now)  # optional file: "<missing>"
    for required in ("flake.lock", "ohnix.lock", "flake.nix"):
        (root / required).unlink()
        assert envcache.key(root, P) is None


def test_load_accepts_only_a_current_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_project(tmp_path)
    monkeypatch.setattr(envcache, "nix_identity", lambda: "/usr/bin/nix")
    envcache.store(root, P, {"CC": "cc"}, "2.8.0")
    assert envcache.load(root, P) == {"CC": "cc"}
    monkeypatch.setattr(envcache, "nix_identity", lambda: None)  # no nix on PATH: fine
    assert envcache.load(root, P) == {"CC": "cc"}
    monkeypatch.setattr(envcache, "nix_identity", lambda: "/opt/other/bin/nix")
    assert envcache.load(root, P) is None
    monkeypatch.setattr(envcache, "nix_identity", lambda: "/usr/bin/nix")
    (root / "fake-store-path").rmdir()  # the profile's target was collected
    assert envcache.load(root, P) is None
    (root / "fake-store-path").mkdir()
    assert envcache.load(root, P) == {"CC": "cc"}
    raw = json.loads(envcache.entry_path(root, P).read_text())
    for change in ({"schema": 0}, {"key": "0" * 64}, {"variables": ["CC"]}):
        envcache.entry_path(root, P).write_text(json.dumps({**raw, **change}))
        assert envcache.load(root, P) is None, change
    envcache.entry_path(root, P).write_text("{not json")
    assert envcache.load(root, P) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", P, "--", "true"], ("cwd", P, ["true"])),
        (["-C", "DIR", "run", P, "--", "sh", "-c", "x"], ("DIR", P, ["sh", "-c", "x"])),
        (["--directory", "DIR", "run", P, "--", "a"], ("DIR", P, ["a"])),
        (["run", P, "--render", "--", "true"], None),
        (["run", "--render", P, "--", "true"], None),
        (["run", P, "--print-env"], ("cwd", P, ["<print-env>"])),
        (["run", P, "--print-env", "--json"], None),
        (["run", P, "--"], None),
        (["-v", "run", P, "--", "true"], None),
        (["shell", P, "--", "true"], None),
    ],
)
def test_warm_path_takes_only_the_plain_run_shape(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    expected: tuple[str, str, list[str]] | None,
) -> None:
    calls: list[tuple[str, str, list[str]]] = []
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DIR").mkdir()
    (tmp_path / "ohnix.toml").write_text(TOML)
    (tmp_path / "DIR" / "ohnix.toml").write_text(TOML)

    def load(root: Path, product: str) -> dict[str, str]:
        calls.append(("cwd" if root == tmp_path else root.name, product, []))
        return {"CC": "cc"}

    def exec_command(variables: dict[str, str], cmd: list[str]) -> None:
        calls[-1] = (calls[-1][0], calls[-1][1], cmd)

    def print_exports(variables: dict[str, str]) -> None:
        calls[-1] = (calls[-1][0], calls[-1][1], ["<print-env>"])

    monkeypatch.setattr(envcache, "load", load)
    monkeypatch.setattr(envcache, "exec_command", exec_command)
    monkeypatch.setattr(envcache, "print_exports", print_exports)
    envcache.try_warm_run([a.replace("DIR", str(tmp_path / "DIR")) for a in argv])
    assert calls == ([expected] if expected else [])


def test_warm_path_finds_the_project_above_like_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a sub-folder the warm path serves the project above (issue 16, point 4); with
    no ohnix.toml anywhere above, or a -C that is not a folder, it leaves it to the CLI."""
    roots: list[Path] = []
    monkeypatch.setattr(envcache, "load", lambda root, _product: roots.append(root))
    (tmp_path / "proj" / "nix" / "deep").mkdir(parents=True)
    (tmp_path / "proj" / "ohnix.toml").write_text(TOML)
    monkeypatch.setenv("OHNIX_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(tmp_path / "proj" / "nix" / "deep")
    envcache.try_warm_run(["run", P, "--", "true"])
    envcache.try_warm_run(["-C", str(tmp_path / "proj" / "nix"), "run", P, "--", "true"])
    envcache.try_warm_run(["-C", str(tmp_path / "proj" / "ohnix.toml"), "run", P, "--", "true"])
    monkeypatch.chdir(tmp_path)
    envcache.try_warm_run(["run", P, "--", "true"])
    assert roots == [tmp_path / "proj", tmp_path / "proj"]


def test_environment_prepends_path_like_nix_develop() -> None:
    env = envcache.environment({"PATH": "/s/bin", "CC": "cc"}, {"PATH": "/usr/bin", "HOME": "/h"})
    assert env == {"PATH": "/s/bin:/usr/bin", "CC": "cc", "HOME": "/h", "IN_NIX_SHELL": "impure"}


def test_dev_env_json_keeps_exported_variables_only() -> None:
    data = {
        "variables": {
            "CC": {"type": "exported", "value": "/nix/store/x/bin/cc"},
            "HOME": {"type": "exported", "value": "/homeless-shelter"},
            "shellHook": {"type": "exported", "value": "PS1=x"},
            "arr": {"type": "array", "value": ["a"]},
            "local": {"type": "var", "value": "v"},
        }
    }
    assert envcache.variables_from_dev_env(data) == {"CC": "/nix/store/x/bin/cc"}


def exec_in_python(argv: list[str], stdout: int) -> subprocess.Popen[bytes]:
    code = "import sys; from ohnix.shell import envcache; envcache.exec_command({}, sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=stdout, stderr=subprocess.PIPE
    )


def test_exec_restores_sigpipe() -> None:
    child = exec_in_python(["yes"], subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.read(2) == b"y\n"
    child.stdout.close()
    assert child.wait() == -signal.SIGPIPE, child.stderr.read()


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [(["no-such-program-xyz"], 127, b"was not found"), (["/etc/passwd"], 126, b"cannot execute")],
)
def test_exec_failure_is_one_line_and_a_shell_status(
    argv: list[str], code: int, needle: bytes
) -> None:
    child = exec_in_python(argv, subprocess.DEVNULL)
    assert child.stderr is not None
    assert child.wait() == code
    err = child.stderr.read()
    assert err.startswith(b"ohnix: error: ") and needle in err and b"Traceback" not in err


HOSTILE = ["plain", "", "it's", 'a "quote"', "$HOME `id` $(id)", "back\\slash", "new\nline",
           "tab\there", "  spaces  ", "ünïcödé", "-n", "*"]  # fmt: skip


def test_export_lines_round_trip_through_bash() -> None:
    variables = {f"V{i}": v for i, v in enumerate(HOSTILE)} | {"PATH": "/s/bin"}
    script = enter.export_lines(variables) + "env -0\n"
    res = subprocess.run(["bash", "-c", script], capture_output=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    got = dict(item.split("=", 1) for item in res.stdout.decode().split("\0") if item)
    assert {k: got[k] for k in variables} == {**variables, "PATH": "/s/bin:/usr/bin:/bin"}
