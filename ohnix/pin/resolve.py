"""Config + old Lock -> new Lock: bounded parallelism, reuse of unchanged pins, keep-going.

A pin whose spec digest still matches ohnix.toml is reused without any network or
command; host tools are re-hashed in Python. Nothing is written here: the caller writes
the lock only after everything succeeded, so a failed or interrupted run leaves the old
lock intact.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from ohnix import proc
from ohnix.atomic import project_lock
from ohnix.config import Config
from ohnix.errors import LockError, OhnixError
from ohnix.pin import host, prefetch, toolchain
from ohnix.pin.lockfile import Lock, Pin, PinKind, Spec

DEFAULT_JOBS = max(4, 2 * (os.cpu_count() or 1))  # I/O-bound: more jobs than cores pays off


# fetched: downloaded or taken from the store; seeded: added from `--seed DIR`; hashed: a
# host tool or project file read and hashed here; dropped: no longer in ohnix.toml.
OutcomeStatus = Literal["reused", "fetched", "seeded", "hashed", "failed", "dropped"]
NEW_PIN: tuple[OutcomeStatus, ...] = ("fetched", "seeded", "hashed")
DriftProblem = Literal["missing", "extra", "stale-spec", "ref-moved", "hash-mismatch", "failed"]


@dataclass(frozen=True)
class Outcome:
    key: str
    status: OutcomeStatus
    pin: Pin | None = None
    error: str | None = None


@dataclass(frozen=True)
class Resolution:
    lock: Lock
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")


@cache
def prebuilt_catalog(release: str) -> dict[str, Any]:
    text = resources.files("ohnix").joinpath(f"data/prebuilts-{release}.toml").read_text()
    return dict(tomllib.loads(text)["prebuilts"])


def _mirrored(url: str, mirror: str | None) -> str:
    if not mirror:
        return url
    return mirror.rstrip("/") + urlsplit(url).path


def _unpacks(url: str) -> bool:
    return url.endswith((".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".zip", ".tar"))


def specs(config: Config) -> list[Spec]:
    """Every pin ohnix.toml asks for, in key order."""
    toolchain.check_go(config)  # a Go the provider cannot give is an error, not ignored
    out: list[Spec] = []
    if config.nixpkgs is not None:
        n = config.nixpkgs
        if n.path:
            path = (config.root / n.path).resolve()
            out.append(Spec(key="nixpkgs", kind="path", url=str(path)))
        else:
            assert n.url is not None
            kind: PinKind = "github" if n.url.startswith("github:") else "git"
            out.append(Spec(key="nixpkgs", kind=kind, url=n.url, ref=n.ref, rev=n.rev))
    for s in config.sources:
        out.append(
            Spec(
                key=f"sources/{s.name}",
                kind=s.kind,
                url=s.url,
                ref=s.ref,
                rev=s.rev,
                store_name=s.store_name or "source",
                **s.fetch_flags(),
            )
        )
    if config.uses("ohos-prebuilts"):
        catalog = prebuilt_catalog(config.project.openharmony)
        wanted = config.prebuilts.include or tuple(sorted(catalog))
        for name in wanted:
            if name not in catalog:
                raise LockError(
                    f"{config.path}: [prebuilts].include names `{name}`, which OpenHarmony "
                    f"{config.project.openharmony} does not have; it has {', '.join(catalog)}."
                )
            url = _mirrored(catalog[name]["url"], config.prebuilts.mirror)
            out.append(
                Spec(
                    key=f"prebuilts/{name}",
                    kind="url",
                    url=url,
                    store_name=f"ohos-{name}",
                    unpack=_unpacks(url),
                )
            )
    out += [host.spec(p) for p in host.programs(config)]
    out += toolchain.source_specs(config) + toolchain.patch_specs(config)
    return sorted(out, key=lambda s: s.key)


def _reusable(spec: Spec, old: Pin | None) -> bool:
    if old is None or old.spec != spec.digest():
        return False
    return host.unchanged(old) if spec.kind == "host" else True


def _fetch(spec: Spec, seeds: dict[str, Path] | None = None) -> Pin:
    if spec.kind == "host":
        return host.pin(spec)
    seed = _seed_for(spec, seeds)
    if seed is None and (held := toolchain.in_store(spec)) is not None:
        return held
    return prefetch.prefetch_url(spec, seed=seed) if seed else prefetch.prefetch(spec)


def _seed_for(spec: Spec, seeds: dict[str, Path] | None) -> Path | None:
    """The seed for a pin: named like its URL, or (a runtime source) as Debian's source
    package names it, so `apt-get source --download-only` output seeds as it is."""
    if not seeds or spec.kind != "url":
        return None
    found = seeds.get(PurePosixPath(urlsplit(spec.url).path).name)
    debian = toolchain.debian_file(spec)
    return found if found is not None or debian is None else seeds.get(debian)


def seed_files(directory: Path) -> dict[str, Path]:
    """Archives already on disk (`ohnix lock --seed DIR`), by file name."""
    if not directory.is_dir():
        raise LockError(f"--seed {directory}: not a directory.")
    return {p.name: p for p in sorted(directory.iterdir()) if p.is_file()}


def resolve(
    config: Config,
    old: Lock | None,
    *,
    update: Iterable[str] = (),
    update_all: bool = False,
    jobs: int = DEFAULT_JOBS,
    keep_going: bool = False,
    offline: bool = False,
    force: bool = False,
    seeds: dict[str, Path] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> Resolution:
    """Pin every spec. `force` re-fetches everything (what --check uses)."""
    wanted = specs(config)
    update_set = _match_updates(wanted, update)
    old = old or Lock()
    outcomes: dict[str, Outcome] = {}
    todo: list[Spec] = []
    for spec in wanted:
        prev = old.get(spec.key)
        if spec.kind == "file":  # a file of the project: hashed every time, no fetch
            pin = toolchain.pin_file(spec, config.root)
            status: OutcomeStatus = (
                "reused" if prev is not None and prev.hash == pin.hash else "hashed"
            )
            outcomes[spec.key] = Outcome(spec.key, status, pin)
            continue
        seeded = _seed_for(spec, seeds) is not None  # re-added from disk: cheap, and verified
        if not (force or update_all or seeded or spec.key in update_set) and _reusable(spec, prev):
            outcomes[spec.key] = Outcome(spec.key, "reused", prev)
        else:
            todo.append(spec)
    offline_blocked = (
        [
            s
            for s in todo
            if s.kind != "host" and _seed_for(s, seeds) is None and toolchain.in_store(s) is None
        ]
        if offline
        else []
    )
    if offline_blocked:
        raise LockError(
            "--offline, but these pins need fetching: "
            + ", ".join(f"`{s.key}` ({s.url})" for s in offline_blocked)
            + ".",
            hint=toolchain.seed_hint()
            if any(s.group == "runtimes" for s in offline_blocked)
            else "Run `ohnix lock` with network access once; later runs reuse the pins.",
        )
    for outcome in _run_parallel(todo, jobs, keep_going, on_done, seeds):
        if outcome.pin is not None:
            toolchain.expected(outcome.pin)
        prev = old.get(outcome.key)
        if outcome.pin and prev and prev.spec == outcome.pin.spec and prev.hash != outcome.pin.hash:
            seed = _seed_for(next(s for s in todo if s.key == outcome.key), seeds)
            if seed is not None:
                raise LockError(
                    f"`{outcome.key}`: the seed file {seed} hashes to {outcome.pin.hash}, but "
                    f"ohnix.lock pins {prev.hash} for {prev.url}.",
                    hint="The file on disk is not the pinned archive; remove it from the seed "
                    "directory, or re-pin with `ohnix lock --update " + prev.name + "`.",
                )
        outcomes[outcome.key] = outcome
    if on_done:
        for o in outcomes.values():
            if o.status == "reused":
                on_done(o)
    ordered = tuple(outcomes[s.key] for s in wanted)
    pins = [o.pin for o in ordered if o.pin is not None]
    keys = {s.key for s in wanted}
    dropped = tuple(Outcome(p.key, "dropped", p) for p in old.pins if p.key not in keys)
    return Resolution(Lock().with_pins(pins), ordered + dropped)


def _match_updates(wanted: list[Spec], names: Iterable[str]) -> set[str]:
    keys = {s.key for s in wanted}
    out: set[str] = set()
    for name in names:
        matches = {k for k in keys if k == name or k.split("/", 1)[-1] == name}
        if not matches:
            raise LockError(f"`--update {name}`: no such pin; pins are: {', '.join(sorted(keys))}.")
        out |= matches
    return out


def _run_parallel(
    todo: list[Spec],
    jobs: int,
    keep_going: bool,
    on_done: Callable[[Outcome], None] | None,
    seeds: dict[str, Path] | None = None,
) -> list[Outcome]:
    if not todo:
        return []
    results: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ohnix-prefetch")
    futures: dict[Future[Pin], Spec] = {pool.submit(_fetch, s, seeds): s for s in todo}
    try:
        for fut in as_completed(futures):
            spec = futures[fut]
            try:
                got = fut.result()
                seeded = _seed_for(spec, seeds) is not None
                how: OutcomeStatus = (
                    "hashed" if spec.kind == "host" else "seeded" if seeded else "fetched"
                )
                outcome = Outcome(spec.key, how, got)
            except OhnixError as exc:
                if not keep_going:
                    raise
                outcome = Outcome(spec.key, "failed", error=str(exc))
            results.append(outcome)
            if on_done:
                on_done(outcome)
    except BaseException:
        proc.terminate_all()  # Ctrl-C or a failure: stop the other prefetches now
        raise
    finally:
        # On failure or Ctrl-C: drop queued work; running prefetches got the same SIGINT.
        pool.shutdown(wait=True, cancel_futures=True)
    return results


@dataclass(frozen=True)
class Drift:
    key: str
    problem: DriftProblem
    detail: str


def stale(config: Config, lock: Lock) -> list[Drift]:
    """What makes the lock out of date with ohnix.toml, offline (a moved ref or a changed
    remote is not): the check `ohnix render` and entering a shell make before anything."""
    return [d for d in check(config, lock, offline=True) if d.problem != "hash-mismatch"]


def check(config: Config, lock: Lock, *, offline: bool, jobs: int = DEFAULT_JOBS) -> list[Drift]:
    """Does the lock still match ohnix.toml and the world? Nothing is written.

    Offline it checks the lock against ohnix.toml and re-hashes host tools; online it also
    re-resolves every ref and re-fetches every pin to compare revs and hashes.
    """
    host.check_go(config, lock)
    wanted = specs(config)
    drift: list[Drift] = []
    keys = {s.key for s in wanted}
    drift += [
        Drift(p.key, "extra", "in ohnix.lock but no longer in ohnix.toml")
        for p in lock.pins
        if p.key not in keys
    ]
    for spec in wanted:
        pin = lock.get(spec.key)
        if pin is None:
            drift.append(Drift(spec.key, "missing", "in ohnix.toml but not in ohnix.lock"))
        elif pin.spec != spec.digest():
            drift.append(Drift(spec.key, "stale-spec", "ohnix.toml changed since it was locked"))
    if offline:
        for spec in wanted:
            held = lock.get(spec.key)
            if spec.kind == "host" and held is not None and not host.unchanged(held):
                drift.append(
                    Drift(
                        spec.key,
                        "hash-mismatch",
                        f"{held.url} changed on this machine (was {held.hash})",
                    )
                )
        return sorted(drift, key=lambda d: d.key)
    fresh = resolve(config, lock, jobs=jobs, keep_going=True, force=True)
    for outcome in fresh.outcomes:
        locked = lock.get(outcome.key)
        if locked is None:
            continue
        if outcome.pin is None:
            drift.append(Drift(outcome.key, "failed", outcome.error or "could not be fetched"))
        elif locked.rev != outcome.pin.rev:
            drift.append(
                Drift(
                    outcome.key,
                    "ref-moved",
                    f"{locked.ref or 'ref'} of {locked.url} moved from {locked.rev} "
                    f"to {outcome.pin.rev}",
                )
            )
        elif locked.hash != outcome.pin.hash:
            drift.append(
                Drift(
                    outcome.key,
                    "hash-mismatch",
                    f"{locked.url} at {locked.rev or 'the pinned version'}: locked "
                    f"{locked.hash}, fetched {outcome.pin.hash}",
                )
            )
    return sorted(drift, key=lambda d: d.key)


@dataclass(frozen=True)
class LockReport:
    path: str
    written: bool
    outcomes: tuple[Outcome, ...]
    kept: tuple[str, ...] = ()  # failed pins that kept their previous entry (--keep-going)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "written": self.written,
            "pins": {
                o.key: {
                    "status": o.status,
                    "error": o.error,
                    **({"kept_previous": o.key in self.kept} if o.status == "failed" else {}),
                    **({"rev": o.pin.rev, "hash": o.pin.hash} if o.pin else {}),
                }
                for o in self.outcomes
            },
        }


def lock_project(
    config: Config,
    *,
    update: Iterable[str] = (),
    update_all: bool = False,
    jobs: int = DEFAULT_JOBS,
    keep_going: bool = False,
    offline: bool = False,
    seed: Path | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> LockReport:
    """`ohnix lock`: resolve and write ohnix.lock (only if it changed).

    With keep_going, a failed pin keeps its previous entry (if any) so nothing is lost, and
    the caller reports the failures.
    """
    with project_lock(config.root):
        from ohnix.pin import lockfile

        old = lockfile.read(config.root)
        res = resolve(
            config,
            old,
            update=update,
            update_all=update_all,
            jobs=jobs,
            keep_going=keep_going,
            offline=offline,
            seeds=seed_files(seed) if seed else None,
            on_done=on_done,
        )
        host.check_go(config, res.lock)
        pins = {p.key: p for p in res.lock.pins}
        kept = []
        for o in res.failed:
            prev = old.get(o.key) if old else None
            if prev is not None:
                pins[o.key] = prev
                kept.append(o.key)
        # Nothing pinned and no lock before: an empty ohnix.lock would only hide that.
        written = bool(pins or old) and lockfile.write(
            config.root, Lock().with_pins(list(pins.values()))
        )
        return LockReport(str(config.root / lockfile.LOCK_NAME), written, res.outcomes,
                          tuple(kept))  # fmt: skip
