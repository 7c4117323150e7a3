"""The host provider under the Nix set-ups users really have, and what `ohnix doctor` says
about each: Nix's default sandbox, the sandbox off, a missing build-users group, and a
nix-daemon used by a non-root user (the daemon and the user are made here)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import json_result, run_ohnix

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "bridge"
BASE = "qemu-arm64-linux-min"
DAEMON_USER = "ohnix-daemon-test"
DAEMON_START_S = 30.0


def bridge_project(root: Path) -> tuple[Path, str]:
    """examples/bridge with a product of its own (extending qemu-arm64-linux-min), so that
    every derivation of its shell is new to the store and really built here."""
    product = f"setup-{uuid.uuid4().hex[:8]}"
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    with (root / "ohnix.toml").open("a") as fh:
        fh.write(f'\n[products.{product}]\nextends = "{BASE}"\nprovider = "host"\n')
    shutil.copy(root / "abi" / f"{BASE}.json", root / "abi" / f"{product}.json")
    return root, product


def run_binary(path: Path) -> str:
    """The bridge binary under qemu with the musl sysroot its build report names."""
    report = json.loads((path.parent / "build.json").read_text())
    sysroot = report["runtimes"]["runtime"]["path"] + "/sysroot"
    res = subprocess.run(["qemu-aarch64", "-L", sysroot, str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def with_config(extra: str) -> dict[str, str]:
    return {"NIX_CONFIG": os.environ["NIX_CONFIG"] + "\n" + extra}


def doctor(env: dict[str, str] | None = None) -> tuple[int, dict[str, dict[str, str]]]:
    res = run_ohnix("doctor", "--json", env=env)
    return res.returncode, json_result(res.stdout)["checks"]


@pytest.mark.nix
@pytest.mark.e2e
@pytest.mark.parametrize("sandbox", ["true", "false"])
def test_host_provider_builds_with_the_sandbox_on_and_off(tmp_path: Path, sandbox: str) -> None:
    env = with_config(f"sandbox = {sandbox}")
    shown = subprocess.run(["nix", "--extra-experimental-features", "nix-command",
                            "show-config"], env={**os.environ, **env}, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    assert f"sandbox = {sandbox}" in shown.splitlines()
    root, product = bridge_project(tmp_path / "p")
    for args in (["lock"], ["render"], ["build", product]):
        res = run_ohnix("-C", str(root), *args, env=env)
        assert res.returncode == 0, res.stdout + res.stderr
    assert run_binary(root / "out" / product / "bridge").strip().endswith("agree")
    shell = run_ohnix("-C", str(root), "run", product, "--", "sh", "-c", "echo $CC", env=env)
    assert (
        shell.returncode == 0
        and "-ohos-cc-aarch64-linux-ohos/bin/aarch64-linux-ohos-clang" in shell.stdout
    )


@pytest.mark.nix
@pytest.mark.parametrize("sandbox", ["true", "false"])
def test_doctor_on_the_sandbox_setting(sandbox: str) -> None:
    code, checks = doctor(with_config(f"sandbox = {sandbox}"))
    assert code == 0
    check = checks["sandbox"]
    assert check["detail"].startswith(f"sandbox = {sandbox}")
    if sandbox == "true":
        assert check["status"] == "ok" and "host" in check["detail"]
    else:
        assert check["status"] == "warn" and "sandbox = true" in check["hint"]


@pytest.mark.nix
def test_missing_build_users_group_fails_nix_and_doctor_says_so(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("build-users-group applies to root's builds only")
    group = "ohnix-no-such-group"
    env = with_config(f"build-users-group = {group}")
    expr = (f'derivation {{ name = "x"; system = builtins.currentSystem; builder = "/bin/sh";'
            f' args = [ "-c" "echo {uuid.uuid4().hex} > $out" ]; }}')  # fmt: skip
    built = subprocess.run(["nix-build", "--no-out-link", "-E", expr], env={**os.environ, **env},
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert built.returncode != 0 and f"the group '{group}'" in built.stderr  # Nix's own word
    code, checks = doctor(env)
    assert code == 1
    check = checks["build-users"]
    assert check["status"] == "fail" and group in check["detail"]
    # Commands an installed ohnix's user can run, not a script of ohnix's repository.
    assert check["hint"].startswith(f"As root: `groupadd --system {group}`")
    assert "scripts/" not in check["hint"]
    code, checks = doctor()
    assert code == 0 and checks["build-users"]["status"] == "ok"
    assert checks["build-users"]["detail"].startswith("@nixbld: ")


# --- a nix-daemon and a non-root user ---------------------------------------------------


@dataclass(frozen=True)
class Daemon:
    socket: Path
    conf: Path
    user: str
    base: Path

    def run_as_user(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.base / "home"),
            "LANG": "C.UTF-8",
            "NIX_REMOTE": "daemon",
            "NIX_DAEMON_SOCKET_PATH": str(self.socket),
            "NIX_CONF_DIR": str(self.conf),
        }
        argv = ["runuser", "-u", self.user, "--", "env", "-i",
                *(f"{k}={v}" for k, v in env.items()), *args]  # fmt: skip
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def _nix_env() -> dict[str, str]:
    drop = ("NIX_CONFIG", "NIX_REMOTE", "NIX_USER_CONF_FILES", "NIX_CONF_DIR")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("starting a nix-daemon and making a user needs root")
    base = Path(tempfile.mkdtemp(prefix="ohnix-daemon-", dir="/tmp"))
    base.chmod(0o755)
    conf = base / "conf"
    conf.mkdir()
    (conf / "registry.json").write_text('{"flakes": [], "version": 2}\n')
    # The daemon's nix.conf: offline, and otherwise Nix's defaults (sandbox = true,
    # build-users-group = nixbld, trusted-users = root).
    # The system's nix.conf comes first, as a daemon reads it (scripts/bootstrap's
    # extra-sandbox-paths for the host provider's toolchain builds).
    system = Path("/etc/nix/nix.conf")
    (conf / "nix.conf").write_text(
        (system.read_text() if system.is_file() else "")
        + f"substituters =\nflake-registry = {conf / 'registry.json'}\n"
        "experimental-features = nix-command flakes\n"
    )
    socket = base / "socket"
    env = {**_nix_env(), "NIX_CONF_DIR": str(conf), "NIX_DAEMON_SOCKET_PATH": str(socket)}
    log = (base / "daemon.log").open("w")
    proc = subprocess.Popen(["nix-daemon"], env=env, stdout=log, stderr=log,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + DAEMON_START_S
    while not socket.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    made_user = False
    try:
        assert socket.exists(), (base / "daemon.log").read_text()
        home = base / "home"
        try:
            pwd.getpwnam(DAEMON_USER)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                            "/bin/sh", DAEMON_USER], check=True)  # fmt: skip
            made_user = True
        home.mkdir()
        shutil.chown(home, DAEMON_USER, DAEMON_USER)
        d = Daemon(socket, conf, DAEMON_USER, base)
        probe = d.run_as_user(sys.executable, "-c", "import ohnix", cwd=base)
        if probe.returncode != 0:
            pytest.skip(f"{DAEMON_USER} cannot run {sys.executable} from this checkout "
                        f"({probe.stderr.strip()[-200:]}); clone it where others can read")  # fmt: skip
        yield d
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if made_user:
            subprocess.run(["userdel", DAEMON_USER], check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.nix
@pytest.mark.e2e
def test_host_provider_through_a_daemon_as_a_non_root_user(daemon: Daemon) -> None:
    root, product = bridge_project(daemon.base / "project")
    subprocess.run(["chown", "-R", f"{daemon.user}:{daemon.user}", str(root)], check=True)
    for args in (["lock"], ["render"], ["build", product]):
        res = daemon.run_as_user(sys.executable, "-m", "ohnix", *args, cwd=root)
        assert res.returncode == 0, res.stdout + res.stderr
    binary = root / "out" / product / "bridge"
    assert binary.stat().st_uid == pwd.getpwnam(daemon.user).pw_uid
    assert run_binary(binary).strip().endswith("agree")
    # The shell was built by the daemon (a build user, in its sandbox), not by the client.
    shell = daemon.run_as_user(sys.executable, "-m", "ohnix", "run", product, "--", "sh", "-c",
                               "echo $CC", cwd=root)  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    cc = Path(shell.stdout.strip())
    assert cc.parent.parent.stat().st_uid == 0  # a store path: owned by root, made by the daemon


@pytest.mark.nix
def test_doctor_through_a_daemon_as_a_non_root_user(daemon: Daemon) -> None:
    res = daemon.run_as_user(sys.executable, "-m", "ohnix", "doctor", "--json", cwd=daemon.base)
    assert res.returncode == 0, res.stdout + res.stderr
    checks = json_result(res.stdout)["checks"]
    store = checks["store"]
    assert store["status"] == "ok"
    assert str(daemon.socket) in store["detail"] and "untrusted user" in store["detail"]
    assert "trusted-users" in store["hint"]
    assert checks["build-users"]["detail"] == "the Nix daemon runs builds as its own build users"
    assert checks["sandbox"]["status"] == "ok"


def test_add_fixed_failure_on_a_deep_tree_names_the_source_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nix 2.26 crashes in `nix-store --add-fixed --recursive` beyond ~70 levels (checked
    for real in a Debian 13 chroot; here a stand-in nix-store fails the way it does)."""
    from ohnix.errors import CommandError, OhnixError
    from ohnix.store import nix

    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "nix-store"
    fake.write_text("#!/bin/sh\necho 'error: stack overflow (possible infinite recursion)' >&2\n"
                    "exit 139\n")  # fmt: skip
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setattr(nix, "version_string", lambda: "2.26.3")
    shallow = tmp_path / "shallow"
    (shallow / "a").mkdir(parents=True)
    with pytest.raises(CommandError):
        nix.add_fixed(shallow, recursive=True, what="`sources/x`")
    deep = tmp_path / "deep"
    leaf = deep.joinpath(*["d"] * 80)
    leaf.mkdir(parents=True)
    with pytest.raises(OhnixError) as err:
        nix.add_fixed(deep, recursive=True, what="`sources/x`")
    text = str(err.value)
    assert "`sources/x`" in text and "80 directories deep" in text and "about 70" in text
    assert "Nix 2.26.3" in text and "exit status 139" in text


def test_a_build_killed_by_nix_2176_is_retried_and_other_failures_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ohnix.errors import CommandError
    from ohnix.store import nix

    calls: list[tuple[str, ...]] = []

    def failing(stderr: str, times: int):  # type: ignore[no-untyped-def]
        def run(*args, **_):  # type: ignore[no-untyped-def]
            calls.append(args)
            if len(calls) <= times:
                raise CommandError(["nix", *map(str, args)], 1, stderr)
            return "built"

        return run

    killed = "error: builder for '/nix/store/x.drv' failed due to signal 9 (Killed)"
    monkeypatch.setattr(nix, "nix", failing(killed, 2))
    assert nix.build("print-dev-env") == "built" and len(calls) == 3
    calls.clear()
    monkeypatch.setattr(nix, "nix", failing(killed, 5))
    with pytest.raises(CommandError):
        nix.build("print-dev-env")
    assert len(calls) == 1 + nix.KILLED_RETRIES
    calls.clear()
    monkeypatch.setattr(nix, "nix", failing("error: builder failed with exit code 1", 1))
    with pytest.raises(CommandError):
        nix.build("print-dev-env")
    assert len(calls) == 1
