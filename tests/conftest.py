"""Shared fixtures: an offline, isolated-from-the-user Nix configuration for every test.

Real-Nix tests (marker `nix`) use the machine's store but never the network: no
substituters, no flake registry. CI installs Nix first (.ci/run); on a developer machine
without Nix those tests are skipped, in CI they fail instead of silently passing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

NIX_TOOLS = ("nix", "nix-instantiate", "nix-store", "nix-hash")


@pytest.fixture(scope="session", autouse=True)
def offline_nix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    conf_dir = tmp_path_factory.mktemp("nixconf")
    registry = conf_dir / "registry.json"
    registry.write_text(json.dumps({"flakes": [], "version": 2}))
    config = "\n".join(
        [
            "substituters =",
            f"flake-registry = {registry}",
            "experimental-features = nix-command flakes",
            "warn-dirty = false",
        ]
    )
    old = {k: os.environ.get(k) for k in ("NIX_CONFIG", "NIX_REMOTE")}
    os.environ["NIX_CONFIG"] = config
    # Single-user: talk to the store directly, never to a daemon that may not run.
    os.environ["NIX_REMOTE"] = "local" if os.access("/nix", os.W_OK) else ""
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    have_nix = all(shutil.which(t) for t in NIX_TOOLS)
    if have_nix or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="Nix is not installed (CI installs it; see .ci/run)")
    for item in items:
        if "nix" in item.keywords or "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def sandbox_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of the nixpkgs stand-in (tests/nixpkgs/), whose packages wrap the host's
    compilers: real nixpkgs builds in the sandbox, the stand-in cannot."""
    monkeypatch.setenv("NIX_CONFIG", os.environ["NIX_CONFIG"] + "\nsandbox = false")


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def run_ohnix(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, so exit codes and stderr are what a user sees."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ohnix", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def ohnix() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_ohnix
