"""CI caching through real Nix: push to a file:// cache, collect garbage, pull offline,
enter; the cache key is the same for two checkouts in different directories."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers import json_result, run_ohnix


def project(root: Path, product: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    # A product name of its own makes every store path of this test unique to it, so
    # garbage collection here cannot be blocked by (or break) other tests' roots. A LiteOS-M
    # base: its shell is the host's GCC, not the OHOS toolchain that other tests share.
    base = "qemu_mini_system_demo" if product != "qemu-arm64-linux-min" else product
    (root / "ohnix.toml").write_text(
        f'[project]\nname = "cache-test"\n[products.{product}]\n'
        f'extends = "{base}"\nprovider = "host"\n'
    )
    for args in (["lock"], ["render"]):
        res = run_ohnix("-C", str(root), *args)
        assert res.returncode == 0, res.stderr
    return root


def valid(path: str) -> bool:
    return subprocess.run(["nix-store", "--check-validity", path], capture_output=True,
                          check=False).returncode == 0  # fmt: skip


@pytest.mark.nix
def test_push_gc_pull_enter(tmp_path: Path) -> None:
    product = f"cachetest-{uuid.uuid4().hex[:8]}"
    root = project(tmp_path / "proj", product)
    cache_url = f"file://{tmp_path / 'cache'}"
    res = run_ohnix("-C", str(root), "cache", "paths", product, "--json")
    assert res.returncode == 0, res.stderr
    paths = json_result(res.stdout)["paths"]
    assert any(p.endswith(f"ohnix-{product}-env") for p in paths)
    assert any(p.endswith(f"ohnix-{product}-host-tools") for p in paths)

    pushed = run_ohnix("-C", str(root), "cache", "push", "--to", cache_url, product, "--json")
    assert pushed.returncode == 0, pushed.stderr
    assert sorted(json_result(pushed.stdout)["copied"]) == sorted(paths)
    again = run_ohnix("-C", str(root), "cache", "push", "--to", cache_url, product, "--json")
    assert json_result(again.stdout)["copied"] == []  # only what the cache lacks

    # Drop ohnix's roots and collect exactly these paths: they are gone from the store.
    shutil.rmtree(root / ".ohnix")
    # The copied sandbox builders are shared with other projects' shells and may stay alive
    # (`nix-store --delete` stops at the first live path): collect this product's own.
    own = [p for p in paths if product in p]
    subprocess.run(["nix-store", "--delete", *own], capture_output=True, check=False)
    assert own and not any(valid(p) for p in own)

    pulled = run_ohnix("-C", str(root), "cache", "pull", "--from", cache_url, product, "--json")
    assert pulled.returncode == 0, pulled.stderr
    got = json_result(pulled.stdout)["copied"]
    assert any(p.endswith(f"ohnix-{product}-env") for p in got)  # substituted, not rebuilt
    assert all(valid(p) for p in paths)

    res = run_ohnix("-C", str(root), "run", product, "--", "sh", "-c", "$CC --version")
    assert res.returncode == 0, res.stderr
    assert "arm-none-eabi-gcc" in res.stdout


@pytest.mark.nix
def test_cache_key_same_across_checkouts(tmp_path: Path) -> None:
    keys = []
    for d in ("one", "two/deeper"):
        root = project(tmp_path / d, "qemu-arm64-linux-min")
        res = run_ohnix("-C", str(root), "cache", "key", "qemu-arm64-linux-min")
        assert res.returncode == 0, res.stderr
        keys.append(res.stdout.strip())
    assert keys[0] == keys[1]
    assert keys[0].startswith("ohnix-x86_64-linux-") or keys[0].startswith("ohnix-aarch64-")
    # A different product set gives a different key.
    (tmp_path / "one" / "ohnix.toml").write_text(
        (tmp_path / "one" / "ohnix.toml").read_text() + "\n# a comment changes nothing\n"
    )
    res = run_ohnix("-C", str(tmp_path / "one"), "cache", "key", "qemu-arm64-linux-min")
    assert res.stdout.strip() == keys[0]


@pytest.mark.nix
def test_signed_push_and_verified_pull(tmp_path: Path) -> None:
    product = f"signtest-{uuid.uuid4().hex[:8]}"
    root = project(tmp_path / "proj", product)
    secret = tmp_path / "cache.sk"
    secret.write_text(
        subprocess.run(
            ["nix", "key", "generate-secret", "--key-name", "ohnix-test"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    public = subprocess.run(["nix", "key", "convert-secret-to-public"], input=secret.read_text(),
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    cache_dir = tmp_path / "cache"
    res = run_ohnix("-C", str(root), "cache", "push", "--to", f"file://{cache_dir}",
                    "--secret-key", str(secret), product)  # fmt: skip
    assert res.returncode == 0, res.stderr
    narinfos = list(cache_dir.glob("*.narinfo"))
    assert narinfos
    assert all("Sig: ohnix-test:" in p.read_text() for p in narinfos)
    paths = json_result(run_ohnix("-C", str(root), "cache", "paths", product, "--json").stdout)[
        "paths"
    ]
    shutil.rmtree(root / ".ohnix")
    subprocess.run(["nix-store", "--delete", *paths], capture_output=True, check=False)
    pulled = run_ohnix("-C", str(root), "cache", "pull", "--from", f"file://{cache_dir}",
                       "--public-key", public, product, "--json")  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    assert all(valid(p) for p in paths)


@pytest.mark.nix
def test_valid_paths_keeps_order_and_drops_invalid_ones(tmp_path: Path) -> None:
    from ohnix.store import nar, nix

    tree = tmp_path / "source"
    tree.mkdir()
    (tree / "f").write_text(f"{uuid.uuid4()}\n")
    present = nix.add_fixed(tree, recursive=True)
    absent = nar.source_path("source", nar.nar_hash(tmp_path))  # never added
    assert nix.valid_paths([absent, present]) == [present]
    assert nix.valid_paths([present, absent, present]) == [present, present]
    assert nix.valid_paths([]) == []


# --- cache URLs are checked before Nix runs (issue 16, point 5) ---------------------------

PUSH_USAGE = (
    "Usage: ohnix cache {verb} [OPTIONS] PRODUCT...\nTry 'ohnix cache {verb} --help' for help.\n\n"
)


@pytest.mark.parametrize(
    ("verb", "url", "error"),
    [
        (
            "push",
            "{tmp}/dir",
            "Invalid value for '--to': `{tmp}/dir` is a path, which Nix "
            "reads as a local Nix store (a whole store under {tmp}/dir), not as a binary cache. "
            "For a binary cache in that folder use file://{tmp}/dir.",
        ),
        (
            "pull",
            "rel",
            "Invalid value for '--from': `rel` is a path, which Nix reads as a "
            "local Nix store (a whole store under {tmp}/rel), not as a binary cache. For a "
            "binary cache in that folder use file://{tmp}/rel.",
        ),
        (
            "push",
            "gs://bucket",
            "Invalid value for '--to': `gs://bucket` is not a "
            "binary-cache URL (scheme `gs://`). Nix copies to and from file:///DIR, "
            "http(s)://HOST/PATH, s3://BUCKET, ssh://HOST or ssh-ng://HOST.",
        ),
        (
            "pull",
            "daemon",
            "Invalid value for '--from': `daemon` names this machine's own Nix "
            "store, not a binary cache. Nix copies to and from file:///DIR, http(s)://HOST/PATH, "
            "s3://BUCKET, ssh://HOST or ssh-ng://HOST.",
        ),
        (
            "pull",
            "file:///a b",
            "Invalid value for '--from': `file:///a b`: Nix cannot open "
            "a file:// cache whose path has white space (it takes the path as written, and a "
            "`%20` as those three characters). Use a folder without spaces.",
        ),
        (
            "push",
            "file://dir",
            "Invalid value for '--to': `file://dir`: a file:// cache is "
            "named by an absolute path, file:///DIR. For the folder dir here use "
            "file://{tmp}/dir.",
        ),
    ],
)
def test_a_url_that_is_no_binary_cache_is_refused_before_nix(
    tmp_path: Path, verb: str, url: str, error: str
) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    )
    option = "--to" if verb == "push" else "--from"
    res = run_ohnix("cache", verb, option, url.format(tmp=tmp_path), "qemu-arm64-linux-min",
                    cwd=tmp_path)  # fmt: skip
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == PUSH_USAGE.format(verb=verb) + f"Error: {error.format(tmp=tmp_path)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ohnix.toml"]  # no store made


@pytest.mark.nix
def test_a_pull_from_a_file_cache_that_is_not_there_fails(tmp_path: Path) -> None:
    """Exit 1 naming the URL, not "0 of 0 paths copied" and a cold build; a cache that
    `nix copy` filled is one, an empty folder is not."""
    product = "qemu_mini_system_demo"
    root = project(tmp_path / "proj", product)
    for folder, what in ((tmp_path / "missing", "does not exist"),
                         (tmp_path / "empty", "has no nix-cache-info")):  # fmt: skip
        if what != "does not exist":
            folder.mkdir()
        res = run_ohnix("-C", str(root), "cache", "pull", "--from", f"file://{folder}", product)
        assert (res.returncode, res.stdout) == (1, ""), res.stderr
        assert res.stderr == (
            f"ohnix: error: No binary cache at file://{folder}: {folder} {what}. Check the "
            f"path, or fill the cache first: `ohnix cache push --to file://{folder} "
            f"{product}`.\n"
        )
    cache = tmp_path / "cache"
    pushed = run_ohnix("-C", str(root), "cache", "push", "--to", f"file://{cache}", product)
    assert pushed.returncode == 0, pushed.stderr
    assert (cache / "nix-cache-info").is_file()
    pulled = run_ohnix("-C", str(root), "cache", "pull", "--from", f"file://{cache}", product)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.startswith(f"pulled from file://{cache}: ")


@pytest.mark.nix
def test_a_failed_nix_command_is_shown_pasteable(tmp_path: Path) -> None:
    """Issue 16, point 8a: the command in the error is quoted for a shell (its feature
    list is one argument), so it can be pasted to see Nix's full answer."""
    product = "qemu_mini_system_demo"
    root = project(tmp_path / "proj", product)
    res = run_ohnix("-C", str(root), "cache", "push", "--to", "file:///proc/ohnix-cache", product)
    assert res.returncode == 1
    head, _, rest = res.stderr.partition(" /nix/store/")
    assert head == (
        "ohnix: error: asking file:///proc/ohnix-cache which paths it has: `nix "
        "--extra-experimental-features 'nix-command flakes' path-info --json --store "
        "file:///proc/ohnix-cache"
    )
    assert rest.endswith(
        "` exited with status 1. Its last output was:\n"
        "error: creating directory '/proc/ohnix-cache': No such file or directory\n"
    ), rest
