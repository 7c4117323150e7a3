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
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import GIT_IDENTITY, Ohnix, environ_overlay, run_ohnix

NIX_TOOLS = ("nix", "nix-instantiate", "nix-store", "nix-hash")


@pytest.fixture(scope="session", autouse=True)
def git_identity() -> Iterator[None]:
    """Every git command of the session (the tests', ohnix's, Nix's fetchGit) commits as
    the same test identity and reads no user or system configuration."""
    with environ_overlay(GIT_IDENTITY):
        yield


@pytest.fixture(scope="session", autouse=True)
def project_ceiling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test's project search climbs out of the test folders (to a stray ohnix.toml)."""
    ceiling = str(tmp_path_factory.getbasetemp())
    with environ_overlay({"OHNIX_CEILING_DIRECTORIES": ceiling}):
        yield


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
    # Single-user: talk to the store directly, never to a daemon that may not run.
    remote = "local" if os.access("/nix", os.W_OK) else ""
    with environ_overlay({"NIX_CONFIG": config, "NIX_REMOTE": remote}):
        yield


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


@pytest.fixture
def ohnix() -> Ohnix:
    return run_ohnix


@pytest.fixture(scope="session", autouse=True)
def ohos_sources(offline_nix: None, tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A `--seed` folder with the OHOS toolchain's sources (scripts/fetch-sources, from
    Debian's source packages), also added to the store as `ohnix lock --seed` would: every
    Linux OHOS project of the suite then locks offline, as on a machine the demo set up."""
    if not all(shutil.which(t) for t in NIX_TOOLS):
        return None
    from ohnix.pin import toolchain
    from tests.helpers import ohos_sources_dir

    folder = ohos_sources_dir()
    roots = tmp_path_factory.mktemp("source-roots")
    for src in toolchain.data()["sources"].values():
        name = src["url"].rsplit("/", 1)[1]
        added = subprocess.run(["nix-prefetch-url", "--type", "sha256", "--name", name,
                                "--print-path", (folder / name).as_uri()], check=True,
                               capture_output=True, text=True).stdout.split()[1]  # fmt: skip
        # Rooted for the session: a test that collects garbage must not take them.
        subprocess.run(["nix-store", "--add-root", str(roots / name), "--indirect", "--realise",
                        added], check=True, capture_output=True)  # fmt: skip
    return folder
