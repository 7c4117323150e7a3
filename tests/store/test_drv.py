"""ATerm parsing/printing and the independent recomputation of `.drv` and output paths."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ohnix import proc
from ohnix.errors import OhnixError
from ohnix.store.drv import (
    Derivation,
    Output,
    aterm_bytes,
    drv_name_of,
    drv_path,
    hash_derivation_modulo,
    output_paths,
    parse_aterm,
    read_drv,
    to_aterm,
    verify_closure,
)
from ohnix.store.nar import text_path
from ohnix.store.shapes import parse_show_derivation
from tests.helpers import TESTS_DIR

DATA = TESTS_DIR / "data" / "nix-json"
FIXTURE_NIX = DATA / "fixture.nix"
TOP = "/nix/store/2pnyns4hynwqbpb3db49i3dn31ss5kx8-ohnix-top.drv"


@pytest.fixture(scope="module")
def recorded() -> dict[str, Derivation]:
    """The fixture's derivations as Nix 2.8 printed them (no Nix needed)."""
    return parse_show_derivation((DATA / "show-derivation-2.8.json").read_text())


# --- pure -----------------------------------------------------------------------------


def test_to_file_vector() -> None:
    # Published vector (tvix/go-nix fixtures): builtins.toFile "foo" "bar".
    assert text_path("foo", b"bar") == "/nix/store/vxjiwkjkn7x4079qvh1jkl5pn05j2aw0-foo"


def test_aterm_escapes_round_trip() -> None:
    text = (
        'Derive([("out","/nix/store/x-a","","")],[],[],"x86_64-linux","/bin/sh",'
        '["-c","a\\"b\\\\c\\nd\\re\\tf"],[("k","\\"\\\\\\n\\r\\t"),("u","\\u00e9 ü")])'
    )
    drv = parse_aterm(text)
    assert drv.args == ("-c", 'a"b\\c\nd\re\tf')
    assert drv.env_map["k"] == '"\\\n\r\t'
    # Nix's reader turns any other `\x` into `x`; its writer only escapes the five.
    assert drv.env_map["u"] == "u00e9 ü"
    assert to_aterm(parse_aterm(to_aterm(drv))) == to_aterm(drv)


def test_aterm_rejects_garbage() -> None:
    with pytest.raises(OhnixError, match="expected"):
        parse_aterm('Derive([("out","/p","","")],[],[],"s","b",[],[]) trailing')
    with pytest.raises(OhnixError, match="Derive"):
        parse_aterm("DrvWithVersion(...)")


def test_input_drvs_resorted_by_replacement() -> None:
    drv = Derivation(
        outputs=(Output("out", "/nix/store/o-x", "", ""),),
        input_drvs=(("/nix/store/a.drv", ("out",)), ("/nix/store/b.drv", ("dev", "out"))),
        input_srcs=(),
        system="s",
        builder="b",
        args=(),
        env=(("out", "/nix/store/o-x"),),
    )
    # b's hash sorts before a's, so b comes first; equal keys merge their outputs.
    text = to_aterm(
        drv, input_drv_replacements={"/nix/store/a.drv": "ff", "/nix/store/b.drv": "00"}
    )
    assert '[("00",["dev","out"]),("ff",["out"])]' in text
    merged = to_aterm(
        drv, input_drv_replacements=dict.fromkeys(["/nix/store/a.drv", "/nix/store/b.drv"], "1")
    )
    assert '[("1",["dev","out"])]' in merged
    masked = to_aterm(drv, mask_outputs=True)
    assert '("out","","","")' in masked
    assert '("out","")' in masked


def test_recorded_closure_recomputes(recorded: dict[str, Derivation]) -> None:
    memo: dict[str, bytes] = {}
    for path, drv in recorded.items():
        assert drv_path(drv, drv_name_of(path)) == path
        ours = output_paths(drv, recorded.__getitem__, memo)
        assert ours == {o.name: o.path for o in drv.outputs}
    assert verify_closure([TOP], load=recorded.__getitem__) == []


def test_fod_url_change_keeps_output_paths(recorded: dict[str, Derivation]) -> None:
    """Audit claim: a fetcher's URL is in the `.drv` path, not in any output path."""
    [fod_path] = [p for p in recorded if p.endswith("-ohnix-flat-fod.drv")]
    fod = recorded[fod_path]
    env = dict(fod.env)
    env["url"] = "https://elsewhere.example/flat"
    moved = dataclasses.replace(fod, env=tuple(sorted(env.items())))
    moved_path = drv_path(moved, "ohnix-flat-fod")
    assert moved_path != fod_path
    assert output_paths(moved, recorded.__getitem__, {}) == output_paths(
        fod, recorded.__getitem__, {}
    )

    top = recorded[TOP]
    new_top = dataclasses.replace(
        top,
        input_drvs=tuple(
            sorted((moved_path if p == fod_path else p, outs) for p, outs in top.input_drvs)
        ),
    )
    drvs = {**recorded, moved_path: moved}
    assert drv_path(new_top, "ohnix-top") != TOP
    assert hash_derivation_modulo(new_top, drvs.__getitem__, {}) == hash_derivation_modulo(
        top, recorded.__getitem__, {}
    )
    assert output_paths(new_top, drvs.__getitem__, {}) == output_paths(
        top, recorded.__getitem__, {}
    )


def test_verify_closure_reports_tampering(recorded: dict[str, Derivation]) -> None:
    [plain_path] = [p for p in recorded if p.endswith("-ohnix-plain.drv")]
    plain = recorded[plain_path]
    tampered = dataclasses.replace(plain, args=("-c", "echo evil > $out"))
    drvs = {**recorded, plain_path: tampered}
    found = {(m.drv_path, m.what) for m in verify_closure([TOP], load=drvs.__getitem__)}
    # The change also moves the output of everything built on it, but not their `.drv`
    # paths: those name the (recorded) input `.drv` path, not its contents.
    assert found == {(plain_path, "drv"), (plain_path, "output:out"), (TOP, "output:out")}


def test_deep_closure_needs_no_recursion() -> None:
    drvs: dict[str, Derivation] = {}
    prev: tuple[tuple[str, tuple[str, ...]], ...] = ()
    for i in range(3000):  # deeper than Python's recursion limit
        path = f"/nix/store/{i:032d}-d{i}.drv"
        drvs[path] = Derivation((Output("out", f"/o{i}", "", ""),), prev, (), "s", "b", (), ())
        prev = ((path, ("out",)),)
    assert len(hash_derivation_modulo(drvs[path], drvs.__getitem__, {})) == 32


def test_output_paths_refuse_floating_outputs() -> None:
    drv = Derivation(
        outputs=(Output("out", "", "r:sha256", ""),),
        input_drvs=(),
        input_srcs=(),
        system="s",
        builder="b",
        args=(),
        env=(("name", "ca"),),
    )
    with pytest.raises(OhnixError, match="only known after the build"):
        output_paths(drv, lambda _: drv, {})


# --- real Nix -------------------------------------------------------------------------

# Beyond fixture.nix: non-ASCII env, other FOD algorithms, a chain through a recursive FOD
# and a multi-output derivation used through two of its outputs.
EXTRA_NIX = r"""
let
  f = import FIXTURE;
  mk = args: derivation ({ system = builtins.currentSystem; builder = "/bin/sh"; } // args);
in rec {
  unicode = mk { name = "ohnix-unicode"; args = [ "-c" "echo > $out" ]; greet = "héllo wörld ✓"; };
  sha1Rec = mk { name = "ohnix-sha1-rec"; outputHashMode = "recursive"; outputHashAlgo = "sha1";
                 outputHash = "0000000000000000000000000000000000000000"; };
  sha512Flat = mk { name = "ohnix-sha512-flat"; outputHashAlgo = "sha512";
                    outputHash = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="; };
  chain = mk { name = "ohnix-chain"; outputs = [ "out" "doc" ];
               deps = [ f.recFod f.multi.dev f.multi.lib sha1Rec sha512Flat unicode f.top ];
               args = [ "-c" "echo > $out; echo > $doc" ]; };
  user = mk { name = "ohnix-user"; args = [ "-c" "echo ${chain.doc} > $out" ]; };
}
"""


def _instantiate(tmp_path: Path) -> list[str]:
    extra = tmp_path / "extra.nix"
    extra.write_text(EXTRA_NIX.replace("FIXTURE", str(FIXTURE_NIX)))
    out: list[str] = []
    for expr in (FIXTURE_NIX, extra):
        root = tmp_path / f"root-{expr.stem}"
        res = proc.run(["nix-instantiate", "--add-root", root, expr])
        # With --add-root Nix prints the roots (symlinks), not the store paths.
        out += [str(Path(p).resolve()) for p in res.stdout.split()]
    return sorted(set(out))


def _closure(drvs: list[str]) -> list[str]:
    res = proc.run(["nix-store", "--query", "--requisites", *drvs])
    return [p for p in res.stdout.split() if p.endswith(".drv")]


@pytest.mark.nix
def test_to_file_vector_real_nix() -> None:
    res = proc.run(["nix-instantiate", "--eval", "--expr", 'builtins.toFile "foo" "bar"'])
    assert res.stdout.strip().strip('"') == text_path("foo", b"bar")


@pytest.mark.nix
def test_aterm_round_trip_real_drvs(tmp_path: Path) -> None:
    for path in _closure(_instantiate(tmp_path)):
        raw = Path(path).read_bytes()
        assert aterm_bytes(read_drv(path)) == raw, path


@pytest.mark.nix
def test_recomputed_paths_equal_nix(tmp_path: Path) -> None:
    drvs = _instantiate(tmp_path)
    closure = _closure(drvs)
    assert len(closure) >= 10
    memo: dict[str, bytes] = {}
    for path in closure:
        drv = read_drv(path)
        assert drv_path(drv, drv_name_of(path)) == path
        nix_outs = proc.run(["nix-store", "--query", "--outputs", path]).stdout.split()
        assert sorted(output_paths(drv, read_drv, memo).values()) == sorted(nix_outs)
    assert verify_closure(drvs) == []


@pytest.mark.nix
def test_structured_attrs_json_matches_nix_formatting(tmp_path: Path) -> None:
    """store.shapes rebuilds `__json` from `structuredAttrs`: check the dump format is Nix's."""
    expr = tmp_path / "sa.nix"
    expr.write_text(
        'derivation { name = "ohnix-sa"; system = builtins.currentSystem; builder = "/bin/sh";'
        ' __structuredAttrs = true; list = [ 1 "two" { x = null; } true ]; nested.b = "é\\"";'
        " nested.a = 3; }"
    )
    [root] = proc.run(["nix-instantiate", "--add-root", tmp_path / "root", expr]).stdout.split()
    env = read_drv(Path(root).resolve()).env_map
    redone = json.dumps(
        json.loads(env["__json"]), separators=(",", ":"), sort_keys=True, ensure_ascii=False
    )
    assert redone == env["__json"]
