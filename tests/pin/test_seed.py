"""`ohnix lock --seed DIR`: OpenHarmony prebuilt archives already on disk go into the
store under the pinned name, with no download; a wrong file is refused."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ohnix.pin import resolve
from tests.helpers import run_ohnix

WANTED = ("gn", "ninja")


def archive(path: Path, member: str, text: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo(f"top/{member}")
        info.size, info.mode, info.mtime = len(data), 0o755, 1
        tar.addfile(info, io.BytesIO(data))


def seed_project(
    tmp_path: Path,
    names: tuple[str, ...] = WANTED,
    mirror: str | None = "file:///nonexistent/mirror",
) -> tuple[Path, Path]:
    """A project whose prebuilts `names` lie as archives in a seed folder. With the default
    mirror (which does not exist) any download attempt fails, so success proves seeding;
    mirror=None keeps the real URLs."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    catalog = resolve.prebuilt_catalog("4.1")
    for name in names:
        file = Path(urlsplit(catalog[name]["url"]).path).name
        archive(seeds / file, name, f"#!/bin/sh\necho {name} stand-in {tmp_path.name}\n")
    project = tmp_path / "p"
    project.mkdir()
    mirrored = f'mirror = "{mirror}"\n' if mirror else ""
    (project / "ohnix.toml").write_text(
        f'[project]\nname = "seed"\n[prebuilts]\n{mirrored}include = {json.dumps(list(names))}\n'
        '[products.ipcamera_hispark_taurus]\nprovider = "ohos-prebuilts"\n'
    )
    return project, seeds


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Path]:
    return seed_project(tmp_path)


@pytest.mark.nix
def test_seed_adds_archives_without_download(seeded: tuple[Path, Path]) -> None:
    project, seeds = seeded
    res = run_ohnix("-C", str(project), "lock", "--offline", "--seed", str(seeds), "--json")
    assert res.returncode == 0, res.stderr
    text = (project / "ohnix.lock").read_text()
    assert "file:///nonexistent/mirror/openharmony/compiler/gn/" in text  # the real URL
    for name in WANTED:
        file = next(seeds.glob(f"{name}-*"))
        expected = subprocess.run(
            ["nix-prefetch-url", "--unpack", "--name", f"ohos-{name}", "--print-path",
             file.as_uri()], capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        sri = subprocess.run(["nix", "hash", "to-sri", "--type", "sha256", expected[0]],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        assert f'hash = "{sri}"' in text
        assert Path(expected[1]).exists()
    # Without --seed the same lock is reused: no download needed either.
    again = run_ohnix("-C", str(project), "lock", "--offline")
    assert again.returncode == 0, again.stderr


@pytest.mark.nix
def test_seed_with_the_wrong_file_is_refused(seeded: tuple[Path, Path]) -> None:
    project, seeds = seeded
    assert run_ohnix("-C", str(project), "lock", "--seed", str(seeds)).returncode == 0
    before = (project / "ohnix.lock").read_bytes()
    gn = next(seeds.glob("gn-*"))
    archive(gn, "gn", "#!/bin/sh\necho tampered\n")
    res = run_ohnix("-C", str(project), "lock", "--seed", str(seeds))
    assert res.returncode == 1
    assert "prebuilts/gn" in res.stderr and str(gn) in res.stderr
    assert (project / "ohnix.lock").read_bytes() == before


def test_seed_dir_must_exist(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[products.rk3566]\nprovider = "host"\n'
    )
    res = run_ohnix("-C", str(tmp_path), "lock", "--seed", str(tmp_path / "nope"))
    assert res.returncode == 1 and "not a directory" in res.stderr


@pytest.mark.nix
def test_seeded_ohos_prebuilts_lock_pins_the_4_1_urls(tmp_path: Path) -> None:
    """OpenHarmony 4.1 as tagged: clang 15.0.4-81cdec and gn 20240115, locked offline from
    archives on disk under their real huaweicloud URLs."""
    project, seeds = seed_project(tmp_path, ("clang", "gn"), mirror=None)
    res = run_ohnix("-C", str(project), "lock", "--offline", "--seed", str(seeds))
    assert res.returncode == 0, res.stderr
    text = (project / "ohnix.lock").read_text()
    base = "https://repo.huaweicloud.com/openharmony/compiler"
    assert f"{base}/clang/15.0.4-81cdec/linux/clang_linux-x86_64-81cdec-20240308.tar.gz" in text
    assert f"{base}/gn/20240115/linux/gn-linux-x86-20240115.tar.gz" in text


@pytest.mark.nix
def test_runtime_sources_seed_under_debians_file_names(tmp_path: Path, ohos_sources: Path) -> None:
    """`apt-get source --download-only musl ...` leaves musl_1.2.3.orig.tar.gz: --seed takes
    that name for runtimes/musl (so a wrong one under it is refused, naming both hashes)."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "ohnix.toml").write_text(
        '[project]\nname = "deb"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    )
    seeds = tmp_path / "debian"
    seeds.mkdir()
    (seeds / "musl_1.2.3.orig.tar.gz").write_bytes(b"not musl " + tmp_path.name.encode())
    res = run_ohnix("-C", str(project), "lock", "--offline", "--seed", str(seeds))
    assert res.returncode == 1, res
    assert "`runtimes/musl`: the archive for https://musl.libc.org/" in res.stderr
    assert "Debian's `musl` source package" in res.stderr
    (seeds / "musl_1.2.3.orig.tar.gz").unlink()
    (seeds / "musl_1.2.3.orig.tar.gz").symlink_to(ohos_sources / "musl-1.2.3.tar.gz")
    ok = run_ohnix("-C", str(project), "lock", "--offline", "--seed", str(seeds))
    assert ok.returncode == 0, ok.stderr


@pytest.mark.nix
def test_a_damaged_seed_archive_is_named_as_such(seeded: tuple[Path, Path]) -> None:
    """Issue 16, point 8d: a truncated archive in the seed folder is reported as that file,
    with its sha256 and what to do, not as "cannot download … check the network"."""
    import gzip
    import hashlib

    project, seeds = seeded
    gn = next(seeds.glob("gn-*"))
    whole = gzip.compress(b"x" * 100_000)
    gn.write_bytes(whole[: len(whole) // 2])
    url = ("file:///nonexistent/mirror/openharmony/compiler/gn/20240115/linux/"
           "gn-linux-x86-20240115.tar.gz")  # fmt: skip
    res = run_ohnix("-C", str(project), "lock", "--seed", str(seeds))
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == (
        f"ohnix: error: `prebuilts/gn`: the seed file {gn} is not a valid archive (failed to "
        f"open archive: truncated gzip input); its sha256 is "
        f"{hashlib.sha256(gn.read_bytes()).hexdigest()}, and it stands for {url}. Download "
        f"that archive again (OpenHarmony's server publishes its sha256 at {url}.sha256) into "
        f"{seeds}, or remove {gn.name} from there to let `ohnix lock` download it; then run "
        f"`ohnix lock --seed {seeds}` again.\n"
    )
    assert not (project / "ohnix.lock").exists()
