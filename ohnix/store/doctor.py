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
        return {"checks": {c.name: c.as_dict() for c in self.checks}}


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
        _store(config),
        _build_users(config),
        _sandbox(config),
        _builders(),
        _host_sandbox(config),
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
    value = str(config.get("sandbox", "")).lower() or "false"
    if value in ("true", "relaxed"):
        return Check(
            "sandbox",
            "ok",
            f"sandbox = {value}: builds see only the store. The `host` provider builds its "
            "shells with static builders it copies into the store, so it works here too.",
        )
    return Check(
        "sandbox",
        "warn",
        f"sandbox = {value}: builds can see this machine's files. ohnix works, but a "
        "nixpkgs or ohos-prebuilts build could use a host file without anyone noticing.",
        "Nix's default is `sandbox = true`: remove the `sandbox = false` line from nix.conf "
        "(/etc/nix/nix.conf, ~/.config/nix/nix.conf or NIX_CONFIG).",
    )


def _daemon(config: dict[str, Any]) -> bool:
    """Whether Nix talks to a daemon rather than to the store directly."""
    remote = os.environ.get("NIX_REMOTE", "")
    store = remote or str(config.get("store", "auto"))
    if store == "daemon" or store.startswith("unix://"):
        return True
    if store == "local" or store.startswith("/"):
        return False
    # `auto`: the store directly when it is writable, else the daemon.
    return not os.access(_state_dir(), os.W_OK)


def _state_dir() -> Path:
    return Path(os.environ.get("NIX_STATE_DIR", "/nix/var/nix"))


def _store(config: dict[str, Any]) -> Check:
    root = Path(str(config.get("store-dir", "") or "/nix/store"))
    if not _daemon(config):
        if os.access(root if root.exists() else root.parent.parent, os.W_OK):
            return Check("store", "ok", f"{root} is writable: single-user, no daemon")
        return Check(
            "store",
            "fail",
            f"{root} is not writable and NIX_REMOTE={os.environ.get('NIX_REMOTE', '')!r} "
            "asks for the store directly.",
            "Run as the store's owner, or unset NIX_REMOTE to use the Nix daemon.",
        )
    socket = Path(os.environ.get("NIX_DAEMON_SOCKET_PATH", str(DAEMON_SOCKET)))
    remote = os.environ.get("NIX_REMOTE", "")
    if remote.startswith("unix://"):
        socket = Path(remote[len("unix://") :])
    if not socket.exists():
        return Check(
            "store",
            "fail",
            f"{root} is not writable and no Nix daemon listens at {socket}.",
            "Start the daemon (`systemctl start nix-daemon`, or `nix-daemon &` as root) or "
            "run as the store's owner.",
        )
    trusted = _trusted(config)
    detail = f"Nix daemon at {socket} (multi-user), " + (
        "as a trusted user" if trusted else "as an untrusted user"
    )
    if trusted:
        return Check("store", "ok", detail)
    return Check(
        "store",
        "ok",
        detail + ": the daemon's nix.conf decides the sandbox and substituters; "
        "ohnix needs nothing more (it adds its pinned paths by content, which any user may).",
        "To use --option or extra substituters, an administrator adds you to "
        "`trusted-users = root <you>` in /etc/nix/nix.conf.",
    )


def _trusted(config: dict[str, Any]) -> bool:
    import grp
    import pwd

    user = pwd.getpwuid(os.getuid()).pw_name
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    groups.add(grp.getgrgid(os.getgid()).gr_name)
    for entry in _words(config.get("trusted-users")):
        if entry in ("*", user) or (entry.startswith("@") and entry[1:] in groups):
            return True
    return False


def _build_users(config: dict[str, Any]) -> Check:
    group = str(config.get("build-users-group", ""))
    if _daemon(config):
        return Check("build-users", "ok", "the Nix daemon runs builds as its own build users")
    if not group:
        return Check("build-users", "ok", "build-users-group is empty: builds run as you")
    if os.getuid() != 0:
        return Check("build-users", "ok", f"not root: builds run as you (not as @{group})")
    import grp

    try:
        members = grp.getgrnam(group).gr_mem
    except KeyError:
        return Check(
            "build-users",
            "fail",
            f"build-users-group = {group}, but the group `{group}` does not exist: every "
            "build fails. (Debian's nix-setup-systemd makes it; --no-install-recommends skips it.)",
            f"As root: `groupadd --system {group}` and `useradd --system --no-create-home "
            f"--gid {group} --groups {group} {group}1` (and {group}2..10); or set "
            "`build-users-group =` (empty) in /etc/nix/nix.conf to build as root.",
        )
    if not members:
        return Check(
            "build-users",
            "fail",
            f"the group `{group}` (build-users-group) has no members: every build fails.",
            f"Add build users: `useradd --system --no-create-home --gid {group} "
            f"--groups {group} {group}1` (and {group}2..10).",
        )
    return Check("build-users", "ok", f"@{group}: {len(members)} build users")


def _builders() -> Check:
    from ohnix.pin import host

    missing = [p for p in host.SANDBOX_BUILDERS if proc.which(p) is None]
    if not missing:
        return Check("sandbox-builders", "ok", "bash-static and busybox found (host provider)")
    return Check(
        "sandbox-builders",
        "warn",
        f"{' and '.join(missing)} not on PATH: the `host` provider (and any project without "
        "nixpkgs) cannot build its shells.",
        host.BUILDER_HINT,
    )


def _host_sandbox(config: dict[str, Any]) -> Check:
    from ohnix.pin import toolchain

    missing = toolchain.missing_sandbox_paths(config)
    if not missing:
        return Check("host-sandbox-paths", "ok",
                     "the sandbox shows the host provider's compilers (or is off)")  # fmt: skip
    return Check(
        "host-sandbox-paths",
        "warn",
        f"the sandbox hides {' '.join(missing)}: the host provider cannot build the OHOS "
        "runtimes and Go with this machine's clang-19.",
        toolchain.SANDBOX_HINT,
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
