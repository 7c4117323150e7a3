"""Entering and running in product shells: freshness, GC roots, the environment cache.

`ohnix shell` hands the terminal to `nix develop`; `ohnix run` execs a command in the
shell's environment, taken from the cache when it is current (see envcache.py) and from
`nix print-dev-env` otherwise. Each shell's closure and pinned inputs are held by GC roots
under .ohnix/roots/, so a configured shell still enters offline after garbage collection.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from ohnix import proc
from ohnix.atomic import project_lock
from ohnix.config import Config
from ohnix.errors import OhnixError
from ohnix.pin.lockfile import Lock
from ohnix.shell import bash, contents, envcache
from ohnix.store import nix

ROOTS_DIR = envcache.ROOTS_DIR


@dataclass(frozen=True)
class Freshness:
    stale_files: tuple[str, ...]
    lock_problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.stale_files and not self.lock_problems


def freshness(config: Config) -> Freshness:
    from ohnix.pin import lockfile, resolve
    from ohnix.render import nixfiles, writer

    held = lockfile.require(config.root)  # no lock: the one error every command gives
    drift = resolve.stale(config, held)
    if drift:
        return Freshness((), tuple(f"{d.key}: {d.detail}" for d in drift))
    files = nixfiles.render(config, held)
    stale = tuple(r.path for r in writer.plan(config.root, files) if r.status != "identical")
    return Freshness(stale, ())


def ensure_fresh(config: Config, *, render_now: bool) -> None:
    """Never enter an out-of-date shell: render when asked, else say what is stale."""
    state = freshness(config)
    if state.lock_problems:
        raise OhnixError(
            f"ohnix.lock is out of date with ohnix.toml ({'; '.join(state.lock_problems)}).",
            hint="Run `ohnix lock` first.",
        )
    if not state.stale_files:
        return
    if render_now:
        from ohnix.render import project

        project.render_project(config)
        return
    raise OhnixError(
        f"The rendered Nix files are missing or out of date ({', '.join(state.stale_files)}).",
        hint="Run `ohnix render`, or pass --render to render before entering.",
    )


def add_roots(config: Config, product: str) -> Path:
    """Check the host tools, root the pinned inputs; the profile itself is made by
    print-dev-env/develop."""
    from ohnix.pin import host, lockfile, toolchain

    roots = config.root / ROOTS_DIR / product
    roots.mkdir(parents=True, exist_ok=True)
    held = lockfile.read(config.root)
    host.ensure_in_store(held or Lock())
    toolchain.check_sandbox(config)
    toolchain.check_sources(held or Lock())
    for key, path in (held or Lock()).fetched_paths().items():
        if Path(path).exists():
            name = key.replace("/", "-")
            proc.run(["nix-store", "--add-root", roots / name, "--indirect", "--realise", path])
    return roots


def _prune_generations(roots: Path) -> None:
    """Keep only the profile generation in use: each changed shell adds a profile-N-link,
    and older ones would keep every former shell's closure alive forever."""
    try:
        current = str((roots / "profile").readlink())
    except OSError:
        return
    for link in roots.glob("profile-*-link"):
        if link.name != current:
            link.unlink()


def installable(product: str) -> list[str]:
    """How ohnix's own commands name a shell: through default.nix, which instantiates the
    same .drv as the flake (tested) but is read in place, while a flake outside a git
    repository is first copied whole into the store on every change to the directory."""
    return ["--file", "default.nix", product]


def check_system(config: Config, product: str) -> None:
    """A shell this machine cannot run is refused before Nix is started (one paragraph)."""
    contents.check_system(config.product(product), contents.host_system())


def realise(config: Config, product: str) -> dict[str, str]:
    """Evaluate and build the shell (rooted), cache and return its variables."""
    with project_lock(config.root):
        check_system(config, product)
        roots = add_roots(config, product)
        before = envcache.key(config.root, product)
        _announce_toolchain(config, product)
        out = nix.build(
            "print-dev-env", "--json", "--profile", roots / "profile", *installable(product),
            cwd=config.root, what=f"building the {product} shell",
        ).stdout  # fmt: skip
        _prune_generations(roots)
        variables = envcache.variables_from_dev_env(json.loads(out))
        # The pinned host tools' size/mtime/inode: a warm run that sees them change takes the
        # cold path, whose host.verify checks their content hash against the lock.
        from ohnix.pin import lockfile

        held = lockfile.read(config.root)
        watched = [p.path for p in (held.pins if held else ()) if p.kind == "host" and p.path]
        envcache.store(config.root, product, variables, nix.version_string(), at_key=before,
                       watched=watched)  # fmt: skip
        return variables


def _announce_toolchain(config: Config, product: str) -> None:
    """Say so before Nix builds the OHOS toolchain from source: minutes, not seconds."""
    from ohnix import ui
    from ohnix.pin import toolchain

    pc = config.product(product)
    if toolchain.compiler_for(pc) is not None and not toolchain.built_before(pc):
        ui.note(f"building the OHOS toolchain of {product} from source (musl, compiler-rt, "
                "libunwind and Go; once per machine: a runtime takes a few minutes, Go about "
                "5 to 10)")  # fmt: skip


def variables(config: Config, product: str, *, render_now: bool = False) -> dict[str, str]:
    check_system(config, product)  # also a clear error for a product not configured
    cached = envcache.load(config.root, product)
    if cached is not None:
        return cached
    ensure_fresh(config, render_now=render_now)
    return realise(config, product)


def run(config: Config, product: str, argv: list[str], *, render_now: bool = False) -> None:
    if not argv:
        raise OhnixError("No command given.", hint=f"Usage: ohnix run {product} -- CMD [ARGS...]")
    envcache.exec_command(variables(config, product, render_now=render_now), argv)


def develop_argv(config: Config, product: str, roots: Path, ref: str = ".") -> list[str]:
    """`nix develop` of a product's shell (`ref`: how it names the project's flake, see
    flake_dir), told which bash to start (bash.py)."""
    from ohnix.pin import lockfile

    held = lockfile.read(config.root) or Lock()
    return [*nix.develop_argv(f"{ref}#{product}"), "--profile", str(roots / "profile"),
            *bash.develop_options(config.root, held, contents.SYSTEMS)]  # fmt: skip


def enter(config: Config, product: str, *, classic: bool, render_now: bool = False) -> None:
    check_system(config, product)
    ensure_fresh(config, render_now=render_now)
    if envcache.load(config.root, product) is None:
        # Build first where a failure can be retried (nix.build), not inside the exec'd
        # `nix develop`; it then finds everything built. realise checks and roots too.
        realise(config, product)
        roots = envcache.profile_path(config.root, product).parent
    else:
        roots = add_roots(config, product)
        _prune_generations(roots)
    env = {"OHNIX_PRODUCT": product}
    cwd = None
    if classic:
        argv = ["nix-shell", str(config.root / "default.nix"), "-A", product]
        # Also saves nix-shell from looking for bash in <nixpkgs> (Nix 2.8 segfaults
        # without a nixpkgs in NIX_PATH): see bash.py.
        env.update(bash.classic_env(config.root))
    else:
        ref, cwd = flake_dir(config.root)
        argv = develop_argv(config, product, roots, ref)
    envcache.restore_signals()  # an ignored SIGPIPE would stay ignored in the shell
    proc.exec_replace(argv, env=env, cwd=cwd)


def flake_dir(root: Path) -> tuple[str, Path | None]:
    """How `nix develop` names the project's flake, and the folder to start it in (None:
    here). `.` only at the root: from a sub-folder or through -C, Nix would look for the
    flake where ohnix was started; a root whose path has `#` or `?` (which end a flake
    reference) is reached by starting there instead."""
    if Path.cwd().resolve() == root:
        return ".", None
    if "#" in str(root) or "?" in str(root):
        return ".", root
    return str(root), None


export_lines = envcache.export_lines


def gc(config: Config) -> list[str]:
    """Drop ohnix's roots and cache entries for products no longer configured."""
    keep = {p.name for p in config.products}
    removed = []
    roots = config.root / ROOTS_DIR
    if roots.is_dir():
        for d in sorted(roots.iterdir()):
            if d.name not in keep:
                shutil.rmtree(d)
                removed.append(f"{ROOTS_DIR}/{d.name}")
    cache = config.root / envcache.CACHE_DIR
    if cache.is_dir():
        for f in sorted(cache.glob("*.json")):
            if f.stem not in keep:
                f.unlink()
                removed.append(f"{envcache.CACHE_DIR}/{f.name}")
    return removed


ENVRC = """\
# Generated by `ohnix direnv {product}`: loads the {product} shell from ohnix's cache.
# It watches exactly the files the cache key hashes.
watch_file {watched}
eval "$(ohnix run {product} --print-env)"
"""


def direnv(config: Config, product: str) -> Path:
    config.product(product)
    watched = " ".join(
        shlex.quote(str(p.relative_to(config.root))) for p in envcache.key_files(config.root)
    )
    path = config.root / ".envrc"
    from ohnix.atomic import write_text_atomic

    write_text_atomic(path, ENVRC.format(product=product, watched=watched))
    return path
