"""Prefetchers: pin a Spec to a Pin (exact rev + Nix hash) and leave the content in the store.

git: `nix-prefetch-git` when it is on PATH, else a built-in equivalent that yields the same
hash: the exact rev read in place (a local repository) or fetched, hashed from its objects
when its checkout is just those (gittree), else checked out with every `.git` dropped.
url: `nix-prefetch-url` (flat, or --unpack). github/path (nixpkgs): Nix's own fetcher via
`nix flake prefetch`, so the narHash is exactly what flake.lock needs. Refs resolve with
`git ls-remote`, never a forge API. Every fetched tree is added to the store under the
name the rendered fetcher uses, so a build downloads nothing again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from ohnix import proc
from ohnix.atomic import temp_prefix
from ohnix.errors import CommandError, OhnixError, PrefetchError
from ohnix.pin import gittree
from ohnix.pin.lockfile import Pin, Spec
from ohnix.store import nar, nix

LS_REMOTE_TIMEOUT_S = 60.0  # a remote that says nothing for a minute is unreachable
FETCH_TIMEOUT_S = 3600.0  # big repositories and toolchain archives take a while
HEX_REV = re.compile(r"^[0-9a-f]{40}$")
GITHUB = re.compile(r"^github:(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)$")


def _git_env(home: Path) -> dict[str, str]:
    # Like nix-prefetch-git: ignore the user's and the system's git config, never prompt.
    return {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        # Only real transports, never `ext::`/`fd::` (which run commands), also for the
        # URLs of submodules a fetched repository names.
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    }


def git_url(url: str) -> str:
    """The git transport URL for a spec URL (`github:o/r` -> https://github.com/o/r.git)."""
    m = GITHUB.match(url)
    return f"https://github.com/{m['owner']}/{m['repo']}.git" if m else url


def _is_local(url: str) -> bool:
    return url.startswith(("file://", "/", "./", "../"))


def ls_remote(spec: Spec) -> str:
    """Resolve spec.ref to a commit with `git ls-remote` (peeled for annotated tags)."""
    if spec.rev:
        return spec.rev
    ref = spec.ref or "HEAD"
    url = git_url(spec.url)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("ls")) as home:
        try:
            out = proc.run(
                ["git", "ls-remote", "--", url],
                env=_git_env(Path(home)),
                timeout=LS_REMOTE_TIMEOUT_S,
                what=f"resolving `{spec.key}`",
            ).stdout
        except CommandError as exc:
            raise PrefetchError(
                f"Cannot reach the repository of `{spec.key}` at {url}: "
                f"{exc.stderr.strip() or 'no answer'}.",
                hint="Check the URL in ohnix.toml and your network (or use --offline with an "
                "existing lock).",
            ) from exc
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    if ref == "HEAD" or ref.startswith("refs/"):
        candidates = [f"{ref}^{{}}", ref]
    else:
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"]
    for name in candidates:
        if name in refs:
            return refs[name]
    raise PrefetchError(
        f"`{spec.key}`: the ref `{ref}` does not exist in {url}.",
        hint="Use a branch or tag name, `HEAD`, a full `refs/...` name, or set `rev`.",
    )


NETWORK_HINT = "(or use --offline with an existing lock)"


def _table(spec: Spec) -> str:
    """The ohnix.toml table a pin comes from: [nixpkgs], [sources.NAME]."""
    return f"[{spec.key.replace('/', '.', 1)}]"


def cannot_fetch(spec: Spec, url: str, rev: str, exc: CommandError) -> PrefetchError:
    """A fetch of an exact commit that failed (offline, a wrong rev, a moved repository),
    worded like an unreachable ref: the source, the URL, the tool's last line, what to do."""
    last = (exc.stderr.strip().splitlines() or ["no output"])[-1]
    if spec.rev:
        hint = (f"Check your network and that {_table(spec)} rev in ohnix.toml is a commit of "
                f"that repository {NETWORK_HINT}.")  # fmt: skip
    else:
        hint = (f"Check your network and that the rev is still there (a force-pushed branch "
                f"or tag loses commits; `ohnix lock --update {spec.name}` re-resolves the "
                f"ref) {NETWORK_HINT}.")  # fmt: skip
    return PrefetchError(f"`{spec.key}`: cannot fetch rev {rev} from {url}: {last}.", hint=hint)


def prefetch(spec: Spec) -> Pin:
    """Pin one spec. Raises PrefetchError naming the source on any failure."""
    if spec.kind == "git":
        return prefetch_git(spec)
    if spec.kind == "github":
        return prefetch_github(spec)
    if spec.kind == "path":
        return prefetch_path(spec)
    if spec.kind == "url":
        return prefetch_url(spec)
    raise OhnixError(f"`{spec.key}`: no prefetcher for kind `{spec.kind}`.")


def _pin(spec: Spec, digest: bytes, **found: object) -> Pin:
    return Pin(
        key=spec.key,
        kind=spec.kind,
        url=spec.url,
        hash=nar.to_sri(digest),
        spec=spec.digest(),
        store_name=spec.store_name,
        ref=spec.ref,
        **spec.fetch_flags(),
        **found,  # type: ignore[arg-type]
    )


def prefetch_git(spec: Spec) -> Pin:
    rev = ls_remote(spec)
    if not HEX_REV.match(rev):
        raise PrefetchError(f"`{spec.key}`: rev `{rev}` is not a full 40-digit commit hash.")
    if proc.which("nix-prefetch-git"):
        return _nix_prefetch_git(spec, rev)
    return _builtin_git(spec, rev)


# Environment variables the script reads that would silently change the fetch (deep clone,
# kept .git, hash algorithm, a hook run before .git is removed): blank, so only the flags
# ohnix passes count.
NIX_PREFETCH_GIT_ENV = {
    "NIX_PREFETCH_GIT_DEEP_CLONE": "",
    "NIX_PREFETCH_GIT_LEAVE_DOT_GIT": "",
    "NIX_PREFETCH_GIT_CHECKOUT_HOOK": "",
    "NIX_PREFETCH_GIT_BRANCH_NAME": "",
    "NIX_HASH_ALGO": "",
}


def _nix_prefetch_git(spec: Spec, rev: str) -> Pin:
    """The nixpkgs script, with every flag explicit (its defaults differ from fetchgit's)."""
    argv = ["nix-prefetch-git", "--url", git_url(spec.url), "--rev", rev, "--quiet"]
    flags = (("--fetch-submodules", spec.submodules), ("--deepClone", spec.deep_clone),
             ("--leave-dotGit", spec.leave_dot_git), ("--fetch-lfs", spec.lfs))  # fmt: skip
    argv += [flag for flag, on in flags if on]
    try:
        res = proc.run(argv, env=NIX_PREFETCH_GIT_ENV, timeout=FETCH_TIMEOUT_S,
                       what=f"prefetching `{spec.key}`")  # fmt: skip
    except CommandError as exc:
        raise cannot_fetch(spec, git_url(spec.url), rev, exc) from exc
    data = json.loads(res.stdout)
    # Its `hash` field needs `nix-hash --to-sri`, absent on Nix 2.8: derive SRI ourselves.
    digest = nar.nix32_decode(data["sha256"])
    path = Path(data["path"])
    if path.name.split("-", 1)[1] != spec.store_name:
        # The script names the path after the URL; the build fetches it as store_name.
        with tempfile.TemporaryDirectory(prefix=temp_prefix("rename")) as tmp:
            target = Path(tmp) / spec.store_name
            shutil.copytree(path, target, symlinks=True)
            added = nix.add_fixed(target, recursive=True, what=f"`{spec.key}`")
            _make_writable(target)  # copied from the store read-only; let the temp dir go
        expected = nar.source_path(spec.store_name, digest)
        if added != expected:
            raise PrefetchError(f"`{spec.key}`: Nix stored {added}, ohnix computed {expected}.")
    commit = _commit_info_from_date(data.get("date", ""))
    return _pin(spec, digest, rev=data.get("rev") or rev, **commit)


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root):
        Path(dirpath).chmod(0o755)


def _commit_info_from_date(date: str) -> dict[str, object]:
    """The script's `date` is the commit's `%cI`; the built-in fetcher also records the
    commit time as a Unix timestamp (flake.lock's lastModified): derive the same here so
    the lock does not depend on which fetcher ran."""
    if not date:
        return {}
    return {"date": date, "last_modified": int(datetime.fromisoformat(date).timestamp())}


def _builtin_git(spec: Spec, rev: str) -> Pin:
    """nix-prefetch-git's result without it. The tree is hashed from git's objects where
    its checkout is just those objects (gittree): read in place from a local repository,
    else from a fetch into a temporary one; otherwise checked out as the script does."""
    if spec.leave_dot_git:
        raise PrefetchError(
            f"`{spec.key}`: leave_dot_git needs nix-prefetch-git (a kept .git is not "
            "deterministic, and ohnix's built-in fetcher does not try to make it so).",
            hint="Install nix-prefetch-git (nixpkgs attribute nix-prefetch-git) or drop "
            "leave_dot_git.",
        )
    url = git_url(spec.url)
    what = f"fetching `{spec.key}` from {url}"
    with tempfile.TemporaryDirectory(prefix=temp_prefix("fetch")) as tmp:
        env = _git_env(Path(tmp))
        local = _local_repo(url)
        if local is not None and not spec.lfs:
            # Fetching from a repository on this disk only copies its objects: read them
            # where they are (if the rev is there; else the fetch below says what is wrong).
            # The ceiling keeps git from taking a parent directory's repository for it.
            in_place = {**env, "GIT_CEILING_DIRECTORIES": str(local.parent)}
            commit = _commit_time(local, rev, in_place, what)
            if commit is not None:
                pin = _pin_from_objects(spec, local, rev, commit, in_place, what)
                if pin is not None:
                    return pin
        work = Path(tmp) / spec.store_name
        _fetch(spec, url, rev, work, env, what)
        commit = _commit_time(work, rev, env, what)
        if commit is None:
            raise PrefetchError(f"`{spec.key}`: {rev} is not a commit in {url}.")
        if not spec.lfs:
            pin = _pin_from_objects(spec, work, rev, commit, env, what)
            if pin is not None:
                return pin
        return _pin_from_checkout(spec, url, rev, commit, work, env, what)


def _local_repo(url: str) -> Path | None:
    """The directory of a `file://` or absolute-path URL, if it is one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(urllib.parse.unquote(parts.path))
    elif not parts.scheme and url.startswith("/"):
        path = Path(url)
    else:
        return None
    return path if path.is_dir() else None


def _git(
    repo: Path, *args: str, env: Mapping[str, str], what: str, check: bool = True
) -> proc.Result:
    return proc.run(["git", "-C", str(repo), *args], env=env, timeout=FETCH_TIMEOUT_S,
                    what=what, check=check)  # fmt: skip


def _commit_time(repo: Path, rev: str, env: Mapping[str, str], what: str) -> tuple[str, int] | None:
    """The commit's date (%cI) and time (%ct, flake.lock's lastModified); None if `repo`
    has no such commit."""
    # `rev^{commit}`: a rev naming a tree or blob must not pass for a commit.
    res = _git(repo, "log", "-1", "--format=%cI%n%ct", f"{rev}^{{commit}}", env=env,
               what=what, check=False)  # fmt: skip
    if res.returncode != 0:
        return None
    date, stamp = res.stdout.split()
    return date, int(stamp)


def _fetch(spec: Spec, url: str, rev: str, work: Path, env: Mapping[str, str], what: str) -> None:
    proc.run(["git", "init", "-q", str(work)], env=env, what=what)
    # An `origin`, as nix-prefetch-git and Nix's fetchGit have: relative submodule URLs
    # (`../sub`) resolve against it, not against this temporary checkout.
    _git(work, "remote", "add", "--", "origin", url, env=env, what=what)
    depth = [] if spec.deep_clone else ["--depth", "1"]
    try:
        _git(work, "fetch", "-q", *depth, "origin", rev, env=env, what=what)
    except CommandError as exc:
        raise cannot_fetch(spec, url, rev, exc) from exc


def _pin_from_objects(
    spec: Spec, repo: Path, rev: str, commit: tuple[str, int], env: Mapping[str, str], what: str
) -> Pin | None:
    tree = gittree.read(repo, rev, env=env, submodules=spec.submodules, what=what)
    if tree is None:
        return None
    digest = gittree.nar_hash(tree, env=env, what=what)
    expected = nar.source_path(spec.store_name, digest)
    # Already in the store (a re-lock, or fetched by Nix before): nothing to add.
    if not nix.is_valid(expected):
        with tempfile.TemporaryDirectory(prefix=temp_prefix("restore")) as tmp:
            target = Path(tmp) / spec.store_name
            nix.restore(gittree.nar_chunks(tree, env=env, what=what), target)
            _add(spec, target, expected)
    return _pin(spec, digest, rev=rev, date=commit[0], last_modified=commit[1])


def _pin_from_checkout(
    spec: Spec, url: str, rev: str, commit: tuple[str, int], work: Path,
    env: Mapping[str, str], what: str,
) -> Pin:  # fmt: skip
    _git(work, "checkout", "-q", rev, env=env, what=what)
    if spec.submodules:
        _submodules(spec, url, work, env, what)
    if spec.lfs:
        proc.require("git-lfs", hint="Install git-lfs, or set lfs = false.")
        _git(work, "lfs", "install", "--local", env=env, what=what)
        _git(work, "lfs", "pull", env=env, what=what)
    _drop_dot_git(work)
    digest = nar.nar_hash(work)
    expected = nar.source_path(spec.store_name, digest)
    if not nix.is_valid(expected):
        _add(spec, work, expected)
    return _pin(spec, digest, rev=rev, date=commit[0], last_modified=commit[1])


def _add(spec: Spec, tree: Path, expected: str) -> None:
    added = nix.add_fixed(tree, recursive=True, what=f"`{spec.key}` ({spec.url})")
    if added != expected:
        raise PrefetchError(f"`{spec.key}`: Nix stored {added}, ohnix computed {expected}.")


def _submodules(spec: Spec, url: str, work: Path, env: Mapping[str, str], what: str) -> None:
    # git >= 2.38 refuses file:// submodules by default (CVE-2022-39253); a local repository
    # the user pinned is trusted for its own submodules, a remote one is not.
    allow = ["-c", "protocol.file.allow=always"] if _is_local(url) else []
    try:
        _git(work, *allow, "submodule", "update", "--init", "--recursive", env=env, what=what)
    except CommandError as exc:
        hint = None
        if "transport 'file' not allowed" in exc.stderr:
            hint = (
                "A submodule uses a file:// URL, which git >= 2.38 refuses from a remote "
                "superproject; mirror the submodule or fetch it separately as a source."
            )
        raise PrefetchError(
            f"`{spec.key}`: fetching submodules failed: {exc.stderr.strip()}", hint=hint
        ) from exc


def _drop_dot_git(root: Path) -> None:
    """Delete every `.git` (dir, or the file a submodule has) at any depth."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if ".git" in dirnames:
            shutil.rmtree(here / ".git")
            dirnames.remove(".git")
        if ".git" in filenames:
            (here / ".git").unlink()


def _flake_prefetch(spec: Spec, ref: str) -> tuple[bytes, str]:
    out = nix.nix(
        "flake", "prefetch", "--json", ref, what=f"prefetching `{spec.key}` ({ref})"
    ).stdout
    data = json.loads(out)
    return nar.parse_hash(data["hash"]), data["storePath"]


def prefetch_github(spec: Spec) -> Pin:
    """github:owner/repo: Nix's tarball fetcher for the narHash (what flake.lock checks);
    the commit time (flake.lock's lastModified) from a tree-less shallow git fetch."""
    m = GITHUB.match(spec.url)
    if not m:
        raise PrefetchError(f"`{spec.key}`: `{spec.url}` is not of the form github:owner/repo.")
    rev = ls_remote(spec)
    url = git_url(spec.url)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("gh")) as tmp:
        env = _git_env(Path(tmp))
        proc.run(["git", "init", "-q", tmp], env=env)
        try:
            proc.run(
                ["git", "-C", tmp, "fetch", "-q", "--depth", "1", "--filter=tree:0", url, rev],
                env=env,
                timeout=FETCH_TIMEOUT_S,
                what=f"reading the commit time of `{spec.key}`",
            )
        except CommandError as exc:
            raise cannot_fetch(spec, url, rev, exc) from exc
        date, stamp = proc.run(["git", "-C", tmp, "log", "-1", "--format=%cI%n%ct", rev],
                               env=env).stdout.split()  # fmt: skip
    try:
        digest, _ = _flake_prefetch(spec, f"github:{m['owner']}/{m['repo']}/{rev}")
    except CommandError as exc:
        raise cannot_fetch(spec, url, rev, exc) from exc
    return _pin(spec, digest, rev=rev, date=date, last_modified=int(stamp))


def prefetch_path(spec: Spec) -> Pin:
    path = Path(spec.url).expanduser().resolve()
    if not path.is_dir():
        raise PrefetchError(f"`{spec.key}`: {path} is not a directory.")
    digest, _ = _flake_prefetch(spec, f"path:{path}")
    return _pin(spec, digest, last_modified=tree_mtime(path))


def tree_mtime(root: Path) -> int:
    """flake.lock's `lastModified` of a `path:` input, as Nix computes it while adding
    the tree: the newest whole-second mtime of any entry (lstat, the root included)."""
    newest = root.lstat().st_mtime_ns
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            newest = max(newest, (Path(dirpath) / name).lstat().st_mtime_ns)
    return newest // 1_000_000_000


def prefetch_url(spec: Spec, *, seed: Path | None = None) -> Pin:
    """nix-prefetch-url: a flat hash of the file, or with unpack the NAR hash of the tree.

    With `seed`, a copy of the archive already on disk is hashed and added to the store
    under the same name instead of downloading; the pin still records the real URL.
    """
    argv = ["nix-prefetch-url", "--type", "sha256", "--name", spec.store_name, "--print-path"]
    if spec.unpack:
        argv.append("--unpack")
    argv.append(seed.resolve().as_uri() if seed is not None else spec.url)
    try:
        out = proc.run(argv, timeout=FETCH_TIMEOUT_S, what=f"prefetching `{spec.key}`").stdout
    except CommandError as exc:
        if seed is not None:
            raise bad_seed(spec, seed, exc) from exc
        raise PrefetchError(
            f"`{spec.key}`: cannot download {spec.url}: "
            f"{(exc.stderr.strip().splitlines() or ['no output'])[-1]}.",
            hint="Check the URL (or the [prebuilts] mirror) in ohnix.toml and the network.",
        ) from exc
    lines = out.split()
    digest = nar.nix32_decode(lines[0])
    return _pin(spec, digest)


def bad_seed(spec: Spec, seed: Path, exc: CommandError) -> PrefetchError:
    """A seed file Nix could not read: a damaged archive on disk, not a download failure."""
    import hashlib

    last = (exc.stderr.strip().splitlines() or ["no output"])[-1].removeprefix("error: ")
    seed = seed.resolve()
    with seed.open("rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    what = "archive" if spec.unpack else "file"
    check = (f" (OpenHarmony's server publishes its sha256 at {spec.url}.sha256)"
             if spec.group == "prebuilts" else "")  # fmt: skip
    return PrefetchError(
        f"`{spec.key}`: the seed file {seed} is not a valid {what} ({last}); its sha256 is "
        f"{sha256}, and it stands for {spec.url}.",
        hint=f"Download that {what} again{check} into {seed.parent}, or remove {seed.name} "
        f"from there to let `ohnix lock` download it; then run `ohnix lock --seed "
        f"{seed.parent}` again.",
    )
