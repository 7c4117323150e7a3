"""Helpers for the `ohnix lock` tests: local git repositories, projects, and Nix's own answers.

Every expected value these helpers produce comes from git or Nix themselves (rev-parse,
nix-build of a fixed-output derivation, builtins.fetchGit, nix-prefetch-url, nix-hash),
never from ohnix, so a test comparing ohnix with them can fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from ohnix.pin import toolchain
from tests.helpers import SANDBOX_OFF

# The product every test project uses: provider host, so the lock also pins host tools.
PRODUCT = "qemu-arm64-linux-min"
# What `ohnix lock` pins for PRODUCT with the host provider: the OHOS toolchain's compiler
# and build tools (ohnix/data/runtimes.toml), the bootstrap Go and the sandbox builders.
HOST_TOOLS = (*toolchain.data()["host"]["programs"], "go", "bash-static", "busybox")


def git_env(home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)  # the identity: conftest.git_identity
    if home is not None:
        env["HOME"] = str(home)
    return env


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        env=git_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, f"git {' '.join(args)}: {res.stderr}"
    return res.stdout.strip()


class Repo:
    """A local git repository served as file://."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, token: str) -> Repo:
        """A repository with a first commit: nested dirs, an executable, a symlink, and a
        token that keeps its trees (and store paths) apart from other tests'."""
        path.mkdir(parents=True)
        git(path, "init", "-q")
        repo = cls(path)
        repo.commit(
            {
                "README": f"repository {token}\n",
                "src/lib/a.c": "int a(void) { return 1; }\n",
                "src/empty.txt": "",
                "bin/run.sh": "#!/bin/sh\necho run\n",
            },
            message="first",
        )
        (path / "bin/run.sh").chmod(0o755)
        (path / "link").symlink_to("src/lib/a.c")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "exec bit and symlink")
        return repo

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def commit(self, files: Mapping[str, str], message: str = "change") -> str:
        for name, text in files.items():
            f = self.path / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "-m", message)
        return self.rev("HEAD")

    def rev(self, ref: str) -> str:
        """The commit a ref names, according to git (annotated tags peeled)."""
        return git(self.path, "rev-parse", f"{ref}^{{commit}}")


# --- projects -------------------------------------------------------------------------


def write_project(root: Path, sources: Mapping[str, Mapping[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "project": {"name": "p"},
        "sources": {k: dict(v) for k, v in sources.items()},
        "products": {PRODUCT: {"provider": "host"}},
    }
    (root / "ohnix.toml").write_text(tomli_w.dumps(data))
    return root


def read_lock(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "ohnix.lock").read_text())


def host_tools_dir(path: Path) -> Path:
    """A PATH directory with only the host tools the product pins (no git, no nix)."""
    path.mkdir(parents=True, exist_ok=True)
    for tool in HOST_TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is not installed"
        (path / tool).symlink_to(found)
    return path


def tmp_leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp"))


def kill_session(sid: int) -> None:
    """SIGKILL every process left in session `sid` (a test's orphaned wrapper `sleep`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getsid(int(entry.name)) == sid:
                os.kill(int(entry.name), signal.SIGKILL)


# --- Nix's own answers ----------------------------------------------------------------


def run(argv: list[str], env: Mapping[str, str] | None = None) -> str:
    full = dict(os.environ)
    full.update(env or {})
    res = subprocess.run(argv, capture_output=True, text=True, env=full, check=False)
    assert res.returncode == 0, f"{' '.join(argv)} failed:\n{res.stderr[-3000:]}"
    return res.stdout.strip()


def nix(*args: str, env: Mapping[str, str] | None = None) -> str:
    return run(["nix", "--extra-experimental-features", "nix-command flakes", *args], env=env)


def to_sri(nix32: str) -> str:
    return nix("hash", "to-sri", "--type", "sha256", nix32)


def _nix_string(s: str) -> str:
    return json.dumps(s).replace("${", "\\${")  # a JSON string is a Nix string, but for ${


def fod_accepts(sri: str, name: str = "source") -> str:
    """Build a recursive sha256 FOD whose builder fails: it only succeeds if the store
    already holds a path with exactly that NAR hash. Returns the output path."""
    expr = (
        f"derivation {{ name = {_nix_string(name)}; system = builtins.currentSystem; "
        'builder = "/bin/sh"; args = [ "-c" "exit 1" ]; outputHashMode = "recursive"; '
        f'outputHashAlgo = "sha256"; outputHash = {_nix_string(sri)}; }}'
    )
    return run(["nix-build", "--no-out-link", "-E", expr])


CLONE_BUILDER = r"""
set -e
export PATH=/usr/bin:/bin HOME="$TMPDIR" GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=protocol.file.allow GIT_CONFIG_VALUE_0=always
/usr/bin/git clone -q --no-checkout "$url" "$out"
cd "$out"
/usr/bin/git checkout -q "$rev"
if [ -n "$submodules" ]; then /usr/bin/git submodule -q update --init --recursive; fi
find "$out" -name .git -prune -exec rm -rf {} +
"""


def fod_clone(url: str, rev: str, sri: str, *, submodules: bool) -> str:
    """Build a recursive sha256 FOD that really clones with the host's git (sandbox off;
    builds as root so the test's private temp dirs are readable). Nix checks the hash."""
    expr = (
        'derivation { name = "source"; system = builtins.currentSystem; builder = "/bin/sh"; '
        f'args = [ "-c" {_nix_string(CLONE_BUILDER)} ]; url = {_nix_string(url)}; '
        f"rev = {_nix_string(rev)}; submodules = {_nix_string('1' if submodules else '')}; "
        'outputHashMode = "recursive"; outputHashAlgo = "sha256"; '
        f"outputHash = {_nix_string(sri)}; }}"
    )
    return run(["nix-build", *SANDBOX_OFF, "--option", "build-users-group", "", "--no-out-link",
                "-E", expr])  # fmt: skip


def fetch_git(url: str, rev: str, *, submodules: bool) -> dict[str, str]:
    """builtins.fetchGit's store path (`path`) and `narHash` for url at rev."""
    expr = (
        f"let s = builtins.fetchGit {{ url = {_nix_string(url)}; rev = {_nix_string(rev)}; "
        f"submodules = {'true' if submodules else 'false'}; allRefs = true; }}; "
        # not `outPath` as a key: toJSON would turn the whole set into that string
        "in builtins.toJSON { path = s.outPath; inherit (s) narHash; }"
    )
    # git >= 2.38 refuses file:// submodules unless told otherwise, also inside Nix.
    allow = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
    }
    out: dict[str, str] = json.loads(nix("eval", "--impure", "--raw", "--expr", expr, env=allow))
    return out


def store_delete(path: str) -> None:
    run(["nix-store", "--delete", path])
    assert not Path(path).exists(), path


def is_valid(path: str) -> bool:
    res = subprocess.run(["nix-store", "--check-validity", path], capture_output=True, check=False)
    return res.returncode == 0
