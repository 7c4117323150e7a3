import json
import shutil
from pathlib import Path

import pytest

from ohnix.store import doctor, nix
from tests.helpers import json_result


@pytest.mark.nix
def test_doctor_with_nix(ohnix) -> None:
    res = ohnix("doctor", "--json")
    assert res.returncode == 0, res.stderr
    checks = json_result(res.stdout)["checks"]
    assert checks["nix"]["status"] == "ok"
    assert nix.version_string() in checks["nix"]["detail"]
    # The test session configures no substituters: doctor must say offline, not fail.
    assert "offline" in checks["substituters"]["detail"]
    # The suite keeps Nix's default sandbox; doctor says it suits every provider.
    assert checks["sandbox"]["status"] == "ok"
    assert checks["sandbox"]["detail"].startswith("sandbox = true")
    assert checks["build-users"]["status"] == "ok"
    assert checks["sandbox-builders"]["status"] == "ok"
    assert checks["store"]["status"] == "ok"
    assert checks["git"]["status"] == "ok"
    assert "nix-prefetch-git" in checks
    assert json.loads(res.stdout)["ok"] is True


def test_doctor_without_nix(ohnix, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git
    (bin_dir / "git").symlink_to(git)
    res = ohnix("doctor", "--json", env={"PATH": str(bin_dir)})
    assert res.returncode == 1
    assert json.loads(res.stdout)["ok"] is False
    nix_check = json_result(res.stdout)["checks"]["nix"]
    assert nix_check["status"] == "fail"
    assert "nix-bin" in nix_check["hint"]
    human = ohnix("doctor", env={"PATH": str(bin_dir)})
    assert human.returncode == 1 and "fix:" in human.stdout and "Traceback" not in human.stderr


def test_substituter_probe_reads_file_urls(tmp_path: Path) -> None:
    assert doctor._reachable(f"file://{tmp_path}")
    assert not doctor._reachable(f"file://{tmp_path}/missing")
    check = doctor._substituters({"substituters": ""})
    assert check.status == "ok" and "offline" in check.detail


def test_parse_version() -> None:
    assert nix.parse_version("nix (Nix) 2.8.0") == (2, 8, 0)
    assert nix.parse_version("nix (Nix) 2.24") == (2, 24, 0)
