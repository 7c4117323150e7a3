"""One JSON convention for every --json (docs/json.md; issue 16, points 6 and 14)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from ohnix.cli.cmdline import json_command
from ohnix.cli.main import app
from tests.helpers import Ohnix, json_result

CAMEL = re.compile(r"[a-z][A-Z]")


def keys(value: Any, *, skip: tuple[str, ...] = ("env", "variables", "tools")) -> set[str]:
    """Every key in `value`, except inside maps whose keys are users' own names."""
    if isinstance(value, dict):
        out = set(value)
        for k, v in value.items():
            if k not in skip:
                out |= keys(v, skip=skip)
        return out
    if isinstance(value, list):
        return set().union(*(keys(v, skip=skip) for v in value)) if value else set()
    return set()


@pytest.fixture
def project(ohnix: Ohnix, tmp_path: Path) -> Path:
    res = ohnix("-C", str(tmp_path), "init", "rk3568", "qemu-arm64-linux-min")
    assert res.returncode == 0, res.stderr
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "command", "collection"),
    [
        (("products", "--json"), "products", "products"),
        (("products", "show", "rk3568", "--json"), "products show", None),
        (("config", "--json"), "config", "products"),
    ],
)
def test_every_json_is_one_envelope_with_snake_case_keys(
    ohnix: Ohnix, project: Path, argv: tuple[str, ...], command: str, collection: str | None
) -> None:
    res = ohnix("-C", str(project), *argv)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"ohnix_json", "command", "ok", "result", "error"}
    assert (doc["ohnix_json"], doc["command"], doc["ok"], doc["error"]) == (1, command, True, None)
    assert isinstance(doc["result"], dict)
    assert not {k for k in keys(doc["result"]) if CAMEL.search(k)}
    if collection:  # named things are keyed by their name
        named = doc["result"][collection]
        assert isinstance(named, dict) and all(v["name"] == k for k, v in named.items())


def test_config_products_are_keyed_by_name(ohnix: Ohnix, project: Path) -> None:
    result = json_result(ohnix("-C", str(project), "config", "--json").stdout)
    assert sorted(result["products"]) == ["qemu-arm64-linux-min", "rk3568"]


def test_an_error_is_an_envelope_too(ohnix: Ohnix, tmp_path: Path) -> None:
    res = ohnix("-C", str(tmp_path), "config", "--json")  # no ohnix.toml here
    assert res.returncode == 1 and res.stderr.startswith("ohnix: error: ")
    doc = json.loads(res.stdout)
    assert (doc["command"], doc["ok"], doc["result"]) == ("config", False, None)
    assert doc["error"]["kind"] == "error" and doc["error"]["exit_code"] == 1
    assert doc["error"]["message"] in res.stderr


def test_a_usage_error_is_an_envelope_with_exit_2(ohnix: Ohnix, project: Path) -> None:
    res = ohnix("-C", str(project), "lock", "--jobs", "0", "--json")
    assert res.returncode == 2
    doc = json.loads(res.stdout)
    assert (doc["command"], doc["ok"], doc["error"]["kind"]) == ("lock", False, "usage")
    assert doc["error"]["exit_code"] == 2


def test_a_finding_prints_its_result_with_ok_false(ohnix: Ohnix, tmp_path: Path) -> None:
    # doctor without Nix on PATH: exit 1, its checks in `result`, no `error`.
    res = ohnix("doctor", "--json", env={"PATH": str(tmp_path)})
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert (doc["ok"], doc["error"]) == (False, None)
    assert doc["result"]["checks"]["nix"]["status"] == "fail"


ROOT = typer.main.get_command(app)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build", "rk3568", "--json"], "build"),
        (["-C", "dir", "-v", "cache", "paths", "rk3568", "--json"], "cache paths"),
        (["-C", "--json", "lock"], None),  # `--json` is -C's value there
        (["--directory=d", "audit", "diff", "a", "b", "--json"], "audit diff"),
        (["run", "rk3568", "--", "tool", "--json"], None),  # the user's own command's option
        (["run", "rk3568", "--json", "--print-env"], "run"),
        (["lock"], None),
    ],
)
def test_json_command_reads_the_command_line(argv: list[str], expected: str | None) -> None:
    assert json_command(ROOT, argv) == expected


@pytest.mark.nix
def test_init_and_ci_have_json_too(ohnix: Ohnix, tmp_path: Path) -> None:
    res = ohnix("-C", str(tmp_path), "init", "rk3568", "--json")
    assert res.returncode == 0, res.stderr
    written = json_result(res.stdout)["written"]
    assert str(tmp_path / "ohnix.toml") in written
    assert ohnix("-C", str(tmp_path), "lock").returncode == 0
    spec = "ohnix @ git+https://git.example.org/ohnix.git@0123abc"
    for status in ("create", "identical"):
        res = ohnix("-C", str(tmp_path), "ci", "gitlab", "--ohnix-from", spec, "--json")
        assert res.returncode == 0, res.stderr
        got = json_result(res.stdout)
        assert (got["status"], got["ohnix_from"]) == (status, spec)
        assert got["path"] == str(tmp_path / ".gitlab-ci.yml")
