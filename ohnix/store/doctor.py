"""`ohnix doctor`: is this machine ready? Each check says what it found and how to fix it."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ohnix import proc
from ohnix.errors import OhnixError
from ohnix.store import nix

PROBE_TIMEOUT_S = 3.0  # a substituter that does not answer in this time counts as offline
DAEMON_SOCKET = Path("/nix/var/nix/daemon-socket/socket")


CheckStatus = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def run() -> Report:
    checks: list[Check] = [_git(), _prefetch_git()]
    if proc.which("nix") is None:
        checks.insert(0, Check("nix", "fail", "`nix` is not on PATH.", nix.INSTALL_HINT))
        return Report(tuple(checks))
    try:
        ver = nix.version_string()
        config = nix.show_config()
    except OhnixError as exc:
        checks.insert(0, Check("nix", "fail", f"`nix` is present but failed: {exc}", None))
        return Report(tuple(checks))
    path = proc.which("nix")
    checks[:0] = [
        Check("nix", "ok", f"Nix {ver} at {path}"),
        _features(config),
        _sandbox(config),
        _store(config),
        _substituters(config),
    ]
    return Report(tuple(checks))


def _git() -> Check:
    path = proc.which("git")
    if path is None:
        return Check("git", "fail", "`git` is not on PATH.", "Install git (apt-get install git).")
    out = proc.run(["git", "--version"], timeout=10).stdout.strip()
    return Check("git", "ok", f"{out} at {path}")


def _prefetch_git() -> Check:
    path = proc.which("nix-prefetch-git")
    if path is None:
        return Check(
            "nix-prefetch-git",
            "ok",
            "not installed; ohnix uses its built-in equivalent (same hashes).",
        )
    return Check("nix-prefetch-git", "ok", f"found at {path}")


def _words(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else [str(v) for v in value or []]


def _features(config: dict[str, Any]) -> Check:
    enabled = _words(config.get("experimental-features"))
    missing = [f for f in ("nix-command", "flakes") if f not in enabled]
    if not missing:
        return Check("experimental-features", "ok", "nix-command flakes enabled")
    return Check(
        "experimental-features",
        "ok",
        f"{' '.join(missing)} not enabled in nix.conf; ohnix passes "
        "--extra-experimental-features itself.",
        "To use `nix develop` by hand, add `experimental-features = nix-command flakes` "
        "to ~/.config/nix/nix.conf.",
    )


def _sandbox(config: dict[str, Any]) -> Check:
    value = str(config.get("sandbox", "")).lower()
    if value in ("true", "relaxed"):
        return Check("sandbox", "ok", f"sandbox = {value}")
    return Check(
        "sandbox",
        "warn",
        f"sandbox = {value or 'false'}: builds can see the host (Debian's default). "
        "The `host` provider relies on that; other providers are less hermetic without it.",
        "Set `sandbox = true` in /etc/nix/nix.conf if your Nix supports it here.",
    )


def _store(config: dict[str, Any]) -> Check:
    store = str(config.get("store", "auto"))
    root = Path("/nix/store")
    if os.access(root if root.exists() else root.parent.parent, os.W_OK):
        return Check("store", "ok", f"{root} is writable (single-user, store = {store})")
    if DAEMON_SOCKET.exists():
        return Check("store", "ok", f"daemon socket {DAEMON_SOCKET} present (multi-user)")
    return Check(
        "store",
        "fail",
        f"{root} is not writable and no Nix daemon socket at {DAEMON_SOCKET}.",
        "Start the daemon (systemctl start nix-daemon) or run as the store's owner.",
    )


def _substituters(config: dict[str, Any]) -> Check:
    urls = _words(config.get("substituters"))
    if not urls:
        return Check(
            "substituters", "ok", "none configured: offline, everything builds or is pinned locally"
        )
    reachable = [u for u in urls if _reachable(u)]
    if reachable:
        return Check("substituters", "ok", f"reachable: {' '.join(reachable)}")
    return Check(
        "substituters",
        "warn",
        f"none reachable ({' '.join(urls)}): working offline; Nix will retry each one.",
        "Offline? Set `substituters =` (empty) to stop Nix retrying the network.",
    )


def _reachable(url: str) -> bool:
    if not url.startswith(("http://", "https://")):
        return url.startswith("file://") and Path(url[len("file://") :]).is_dir()
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/nix-cache-info", timeout=PROBE_TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False
