"""CI caching: which store paths a product shell needs, a stable cache key, and `nix copy`
to and from a binary cache (file://, s3://, ssh://).

Pull works without a manifest: the pinned inputs' store paths follow from ohnix.lock alone
(nar.py), and the rest is substituted by realising the shell with the cache as an extra
substituter, exactly as Nix would use any binary cache.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ohnix import proc
from ohnix.config import Config
from ohnix.errors import OhnixError
from ohnix.pin.lockfile import Lock
from ohnix.shell import contents, enter, envcache
from ohnix.store import nix

# The binary caches Nix copies to and substitutes from, by URL scheme (Nix's store types,
# less the machine's own stores: a bare path, `local`, `daemon`, `unix://`).
CACHE_SCHEMES = ("file", "http", "https", "s3", "ssh", "ssh-ng")
CACHE_FORMS = "file:///DIR, http(s)://HOST/PATH, s3://BUCKET, ssh://HOST or ssh-ng://HOST"
LOCAL_STORES = ("auto", "local", "daemon")


class CacheUrlError(OhnixError):
    """A --to/--from value that is not a binary cache Nix can copy to or from."""


def check_url(url: str, base: Path | None = None) -> str:
    """`url` if Nix reads it as a binary cache, else CacheUrlError with the URL to use
    (a relative path taken under `base`, the folder ohnix works in).

    A bare path is refused rather than taken for file://PATH: Nix reads a path as a local
    store (a whole Nix store under it, which then refuses the unsigned copies), so a
    command that works with ohnix would do something else when pasted into `nix copy`.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url in LOCAL_STORES:
            raise CacheUrlError(
                f"`{url}` names this machine's own Nix store, not a binary cache.",
                hint=f"Nix copies to and from {CACHE_FORMS}.",
            )
        folder = (base or Path.cwd()) / Path(url).expanduser()
        raise CacheUrlError(
            f"`{url}` is a path, which Nix reads as a local Nix store (a whole store under "
            f"{folder}), not as a binary cache.",
            hint=f"For a binary cache in that folder use file://{folder}"
            + (
                " (in a folder without spaces: Nix cannot open those)."
                if any(c.isspace() for c in str(folder))
                else "."
            ),
        )
    if scheme not in CACHE_SCHEMES:
        raise CacheUrlError(f"`{url}` is not a binary-cache URL (scheme `{scheme}://`).",
                            hint=f"Nix copies to and from {CACHE_FORMS}.")  # fmt: skip
    if scheme == "file" and any(c.isspace() for c in rest):
        raise CacheUrlError(
            f"`{url}`: Nix cannot open a file:// cache whose path has white space (it takes "
            "the path as written, and a `%20` as those three characters).",
            hint="Use a folder without spaces.",
        )
    if scheme == "file" and not rest.startswith("/"):
        raise CacheUrlError(
            f"`{url}`: a file:// cache is named by an absolute path, file:///DIR.",
            hint=f"For the folder {rest.split('?')[0]} here use "
            f"file://{(base or Path.cwd()) / rest.split('?')[0]}.",
        )
    return url


def local_cache(url: str) -> Path | None:
    """The folder of a file:// cache (Nix takes the path after `file://` as it is)."""
    scheme, _, rest = url.partition("://")
    return Path(rest.split("?", 1)[0]) if scheme == "file" else None


def require_cache(url: str, products: list[str]) -> None:
    """A pull from a file:// cache that is not there is an error, not a silent
    "0 of 0 paths": Nix would only find nothing in it and build everything."""
    folder = local_cache(url)
    if folder is None or (folder / "nix-cache-info").is_file():
        return
    what = "does not exist" if not folder.exists() else "has no nix-cache-info"
    raise CacheUrlError(
        f"No binary cache at {url}: {folder} {what}.",
        hint="Check the path, or fill the cache first: "
        f"`{shlex.join(['ohnix', 'cache', 'push', '--to', url, *products])}`.",
    )


def system() -> str:
    """Nix's system string for this machine, without starting Nix."""
    return contents.host_system()


def _lock(config: Config) -> Lock:
    from ohnix.pin import lockfile

    return lockfile.require(config.root)


def key(config: Config, products: list[str]) -> str:
    """The same inputs give the same key on any machine: lock digest, rendered files,
    products and system; no paths, no mtimes."""
    for p in products:
        config.product(p)
    h = hashlib.sha256(b"ohnix-cache-v1\0")
    h.update(_lock(config).digest().encode() + b"\0")
    for path in envcache.key_files(config.root):
        rel = path.relative_to(config.root)
        if rel.name in ("ohnix.toml", "ohnix.lock"):
            continue  # the lock digest covers what matters; ohnix.toml comments should not
        h.update(str(rel).encode() + b"\0")
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    h.update(("\0".join(sorted(set(products))) + "\0" + system()).encode())
    return f"ohnix-{system()}-{h.hexdigest()[:32]}"


def pin_paths(lock: Lock) -> list[str]:
    return sorted(lock.fetched_paths().values())


def paths(config: Config, products: list[str]) -> list[str]:
    """Every store path CI needs for these shells: the runtime closure of each realised
    shell environment (toolchains included) and every pinned input, deduplicated."""
    wanted: set[str] = set()
    for product in products:
        config.product(product)
        enter.ensure_fresh(config, render_now=False)
        enter.realise(config, product)
        profile = config.root / enter.ROOTS_DIR / product / "profile"
        out = proc.run(["nix-store", "--query", "--requisites", str(profile.resolve())])
        wanted.update(out.stdout.split())
    held = _lock(config)
    roots = nix.valid_paths(pin_paths(held))
    if roots:
        wanted.update(proc.run(["nix-store", "--query", "--requisites", *roots]).stdout.split())
    return sorted(wanted)


@dataclass(frozen=True)
class Transfer:
    direction: Literal["push", "pull"]
    url: str
    paths: int
    copied: tuple[str, ...]
    nar_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "url": self.url, "paths": self.paths,
                "copied": list(self.copied), "nar_bytes": self.nar_bytes}  # fmt: skip


def _missing_in(url: str, store_paths: list[str]) -> list[str]:
    if not store_paths:
        return []
    out = nix.nix("path-info", "--json", "--store", url, *store_paths,
                  what=f"asking {url} which paths it has").stdout  # fmt: skip
    from ohnix.store import shapes

    have = shapes.parse_path_info(out)
    return [p for p in store_paths if p not in have]


def _nar_size(store_paths: list[str]) -> int:
    if not store_paths:
        return 0
    from ohnix.store import shapes

    info = shapes.parse_path_info(nix.nix("path-info", "--json", *store_paths).stdout)
    return sum(i.nar_size or 0 for i in info.values())


def push(config: Config, products: list[str], url: str, secret_key: str | None) -> Transfer:
    """`nix copy` the shells' paths to a binary cache, copying only what it lacks."""
    check_url(url)
    all_paths = paths(config, products)
    missing = _missing_in(url, all_paths)
    target = url if secret_key is None else _with_param(url, "secret-key", secret_key)
    if missing:
        nix.nix("copy", "--to", target, *missing, what=f"pushing to {url}")
    return Transfer("push", url, len(all_paths), tuple(missing), _nar_size(missing))


def _with_param(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


def pull(config: Config, products: list[str], url: str, public_key: str | None) -> Transfer:
    """Fetch the pinned inputs, then realise each shell with the cache as a substituter."""
    check_url(url)
    require_cache(url, products)
    held = _lock(config)
    trust = (
        ["--option", "trusted-public-keys", public_key]
        if public_key
        else ["--option", "require-sigs", "false"]
    )
    before = set(nix.valid_paths(pin_paths(held)))
    wanted = [p for p in pin_paths(held) if p not in before]
    available = [p for p in wanted if p not in _missing_in(url, wanted)]
    if available:
        check = [] if public_key else ["--no-check-sigs"]
        nix.nix("copy", "--from", url, *check, *available, what=f"pulling from {url}")
    copied = list(available)
    for product in products:
        config.product(product)
        enter.ensure_fresh(config, render_now=False)
        res = nix.build(
            "print-dev-env", "--json", "--option", "extra-substituters", url, *trust,
            "--profile", str(enter.add_roots(config, product) / "profile"),
            *enter.installable(product),
            cwd=config.root, what=f"realising {product} from {url}",
        )  # fmt: skip
        # Nix says "copying path '/nix/store/...' from 'URL'" for each substituted path.
        copied += re.findall(r"copying path '(/nix/store/[^']+)' from", res.stderr)
        variables = envcache.variables_from_dev_env(json.loads(res.stdout))
        envcache.store(config.root, product, variables, nix.version_string())
    unique = sorted(set(copied))
    return Transfer("pull", url, len(unique), tuple(unique), _nar_size(unique))
