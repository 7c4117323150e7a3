"""`ohnix audit diff` on synthetic reports (no Nix): the three levels, root causes rather
than ancestors, pins named with the components they reach, and tamper detection."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ohnix.audit import reportfile
from ohnix.audit.diff import diff, format_diff, level
from ohnix.audit.reportfile import pname
from tests.auditgraphs import git_pin, host_project, nixpkgs_project
from tests.helpers import Ohnix, json_result


def causes(d: dict[str, Any], product: str = "p") -> list[dict[str, Any]]:
    return list(d["products"][product]["causes"])


def changed_components(d: dict[str, Any], product: str = "p") -> dict[str, str]:
    comps = d["products"][product]["components"]
    return {cid: c["level"] for cid, c in comps.items() if c["level"] != "same-evaluation"}


def test_identical_reports() -> None:
    a = host_project()
    d = diff(a, copy.deepcopy(a))
    assert d["identical"]
    assert "identical" in format_diff(d)


def test_synthetic_reports_are_self_consistent() -> None:
    # The graphs' paths are computed like Nix's; check() recomputes them from the report.
    assert reportfile.check(host_project()) == []
    assert reportfile.check(nixpkgs_project()[0]) == []


def test_host_pin_change_names_exactly_that_pin() -> None:
    d = diff(host_project(cc="gcc-v1"), host_project(cc="gcc-v2"))
    assert set(d["pins"]) == {"host/cc"}
    assert d["pins"]["host/cc"]["fields"]["hash"][0] != d["pins"]["host/cc"]["fields"]["hash"][1]
    assert d["pins"]["host/cc"]["reaches"] == {"p": ["host-tools", "shell"]}
    assert d["pins"]["host/cc"]["outputs_changed"] is True
    [cause] = causes(d)  # the host-tools derivation only: the shell's CC change is masked
    assert cause["name"] == "ohnix-p-host-tools"
    assert [(c["what"], c["name"]) for c in cause["changes"]] == [("env", "toolHashes")]
    assert cause["pins"] == [{"key": "host/cc", "evidence": "value"}]
    assert cause["components"] == ["host-tools", "shell"]
    assert d["products"]["p"]["level"] == "differs-unbuilt"
    assert changed_components(d) == {"host-tools": "differs-unbuilt", "shell": "differs-unbuilt"}
    text = format_diff(d)
    assert "pin host/cc changed" in text and "reaches p: host-tools, shell" in text
    assert "output paths changed" in text


def test_user_env_change_is_a_root_cause_in_the_shell_without_pins() -> None:
    d = diff(host_project(), host_project(user_env={"FOO": "1"}))
    assert d["pins"] == {}
    [cause] = causes(d)
    assert cause["name"] == "ohnix-p"
    assert cause["changes"] == [{"what": "env", "name": "FOO", "a": None, "b": "1"}]
    assert cause["pins"] == []
    assert changed_components(d) == {"shell": "differs-unbuilt"}


def test_pin_that_reaches_no_shell() -> None:
    extra_a = (git_pin("x", "tree-1", "a" * 40),)
    extra_b = (git_pin("x", "tree-2", "b" * 40),)
    d = diff(host_project(extra_pins=extra_a), host_project(extra_pins=extra_b))
    assert set(d["pins"]) == {"sources/x"}
    assert d["pins"]["sources/x"]["reaches"] == {}
    assert d["pins"]["sources/x"]["outputs_changed"] is False
    assert d["products"]["p"]["level"] == "same-evaluation"
    assert "reaches no derivation of the audited shells" in format_diff(d)


def test_source_pin_change_reaches_go_and_the_shell() -> None:
    a, _ = nixpkgs_project(patches="patch-v1", rev="1" * 40)
    b, _ = nixpkgs_project(patches="patch-v2", rev="2" * 40)
    d = diff(a, b)
    assert set(d["pins"]) == {"sources/gop"}
    assert d["pins"]["sources/gop"]["reaches"] == {
        "p": ["nixpkgs:go_1_25", "pin:sources/gop", "shell"]
    }
    [cause] = causes(d)
    assert cause["name"] == "go-1.25.4"
    # The patch directory changed; `patches` only changed because it points into it.
    assert [(c["what"], c["name"]) for c in cause["changes"]] == [("inputSrc", "source")]
    assert cause["pins"] == [{"key": "sources/gop", "evidence": "store path"}]
    assert "nixpkgs:pkgsCross.musl64.stdenv.cc" not in changed_components(d)


def test_fixed_output_url_change_is_level_two() -> None:
    a, _ = nixpkgs_project(fetch_url="https://a.example/go.tar.gz")
    b, _ = nixpkgs_project(fetch_url="https://mirror.example/go.tar.gz")
    d = diff(a, b)
    assert d["pins"] == {}
    assert d["products"]["p"]["level"] == "same-outputs"
    [cause] = causes(d)
    assert cause["name"] == "go-src.tar.gz"
    assert cause["level"] == "same-outputs"
    assert cause["changes"] == [{"what": "env", "name": "url",
                                 "a": "https://a.example/go.tar.gz",
                                 "b": "https://mirror.example/go.tar.gz"}]  # fmt: skip
    assert set(changed_components(d).values()) == {"same-outputs"}
    assert "same recipe modulo fixed-output details" in format_diff(d)


def test_fixed_output_hash_change_changes_outputs() -> None:
    a, _ = nixpkgs_project(fetched="v1")
    b, _ = nixpkgs_project(fetched="v2")
    [cause] = causes(diff(a, b))
    assert cause["name"] == "go-src.tar.gz"
    assert [c["what"] for c in cause["changes"]] == ["fixed-output hash"]
    assert cause["level"] in ("differs", "differs-unbuilt")


def test_version_bump_is_paired_by_name_without_version() -> None:
    a, _ = nixpkgs_project(go_version="1.25.4")
    b, _ = nixpkgs_project(go_version="1.25.5")
    [cause] = causes(diff(a, b))
    assert cause["name"] == "go-1.25.5"
    assert {(c["what"], c["name"]) for c in cause["changes"]} == {("env", "name"),
                                                                 ("env", "version")}  # fmt: skip


def test_same_built_bytes_is_level_three() -> None:
    a, ga = nixpkgs_project(fetch_url="u1", fetched="v1")
    b, gb = nixpkgs_project(fetch_url="u1", fetched="v2")
    shell_a, shell_b = a["products"]["p"]["shell"], b["products"]["p"]["shell"]
    same = {ga.out(shell_a): "sha256-same", gb.out(shell_b): "sha256-same"}
    a2, _ = nixpkgs_project(fetch_url="u1", fetched="v1", nar=same)
    b2, _ = nixpkgs_project(fetch_url="u1", fetched="v2", nar=same)
    assert diff(a2, b2)["products"]["p"]["level"] == "same-bytes"
    assert diff(a, b)["products"]["p"]["level"] == "differs-unbuilt"


def test_levels() -> None:
    o1 = {"out": {"path": "/nix/store/a", "nar_hash": "sha256-x"}}
    o2 = {"out": {"path": "/nix/store/b", "nar_hash": "sha256-x"}}
    o3 = {"out": {"path": "/nix/store/b", "nar_hash": "sha256-y"}}
    o4 = {"out": {"path": "/nix/store/b", "nar_hash": None}}
    assert level(o1, o1, True) == "same-evaluation"
    assert level(o1, o1, False) == "same-outputs"
    assert level(o1, o2, False) == "same-bytes"
    assert level(o1, o3, False) == "differs"
    assert level(o1, o4, False) == "differs-unbuilt"
    assert level(None, o1, False) == "added"


@pytest.mark.parametrize(("name", "expected"), [("go-1.25.4", "go"), ("bash-interactive-5.3p3",
    "bash-interactive"), ("ohnix-qemu-arm64-linux-min-host-tools",
    "ohnix-qemu-arm64-linux-min-host-tools"), ("source", "source")])  # fmt: skip
def test_pname(name: str, expected: str) -> None:
    assert pname(name) == expected


def test_edited_report_is_not_self_consistent() -> None:
    a = host_project()
    b = copy.deepcopy(a)
    shell = b["products"]["p"]["shell"]
    b["derivations"][shell]["env"]["OHOS_PRODUCT"] = "forged"  # without recomputing paths
    d = diff(a, b)
    assert d["consistency"]["a"] == []
    assert [m["what"] for m in d["consistency"]["b"]] == ["drv", "output:out"]


def test_cli_exits_like_diff_1(tmp_path: Path, ohnix: Ohnix) -> None:
    """0 identical, 1 different, 2 trouble (unreadable or edited), with nothing else said
    about an edited report: no "identical" after a warning (issue 16, point 9)."""
    a = host_project()
    edited = copy.deepcopy(a)
    shell = edited["products"]["p"]["shell"]
    edited["derivations"][shell]["env"]["OHOS_PRODUCT"] = "forged"
    reports = {"a": a, "other": nixpkgs_project(patches="x")[0], "edited": edited}
    for name, report in reports.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
    f = {name: str(tmp_path / f"{name}.json") for name in [*reports, "missing"]}

    same = ohnix("audit", "diff", f["a"], f["a"])
    assert (same.returncode, same.stdout) == (
        0,
        "the reports are identical: same evaluation everywhere\n",
    )
    differ = ohnix("audit", "diff", f["a"], f["other"])
    assert differ.returncode == 1 and "the reports are identical" not in differ.stdout
    as_json = ohnix("audit", "diff", f["a"], f["other"], "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["ok"] is False
    assert json_result(as_json.stdout)["identical"] is False
    bad = ohnix("audit", "diff", f["a"], f["edited"])
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == (
        f"ohnix: error: Report B ({f['edited']}) does not recompute from its own content: its "
        "paths do not match its derivations, so it was edited or damaged; nothing was "
        "compared. Regenerate it with `ohnix audit -o FILE` on the machine it came from.\n"
    )
    assert ohnix("audit", "diff", f["missing"], f["a"]).returncode == 2
    bad_json = json.loads(ohnix("audit", "diff", f["a"], f["edited"], "--json").stdout)
    assert (bad_json["ok"], bad_json["error"]["exit_code"]) == (False, 2)
    # A report saved from `ohnix audit --json` (the envelope) reads like one from -o.
    (tmp_path / "env.json").write_text(json.dumps({"ohnix_json": 1, "result": a}))
    assert ohnix("audit", "diff", f["a"], str(tmp_path / "env.json")).returncode == 0
    # Relative paths are relative to -C DIR, as git takes them.
    assert ohnix("-C", str(tmp_path), "audit", "diff", "a.json", "env.json").returncode == 0


def test_diff_json_is_serialisable_and_sorted() -> None:
    a, _ = nixpkgs_project(patches="x")
    b, _ = nixpkgs_project(patches="y")
    text = json.dumps(diff(a, b), sort_keys=True)
    assert json.loads(text)["pins"]["sources/gop"]["status"] == "changed"
