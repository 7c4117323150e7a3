from pathlib import Path

import pytest

from ohnix import config
from ohnix.errors import ConfigError

GOOD = """
[project]
name = "demo"

[nixpkgs]
url = "github:NixOS/nixpkgs"
ref = "nixos-24.05"

[toolchain]
llvm = 18
go = "1.22"
go_patches = ["go-patches"]

[sources.go-patches]
git = "https://example.org/go-patches.git"
ref = "v1"

[products.rk3568]
cpu = "arm64"
env = { FOO = "bar" }
tools = { go = "host" }

[products.qemu-arm64-linux-min]
provider = "host"

[products.myboard]
extends = "rk3568"
board = "myboard"
provider = "host"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ohnix.toml").write_text(text)
    return tmp_path


def test_good_config(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.project.name == "demo"
    assert cfg.nixpkgs is not None and cfg.nixpkgs.ref == "nixos-24.05"
    assert cfg.toolchain.go_patches == ("go-patches",)
    rk = cfg.product("rk3568")
    assert rk.product.triple == "aarch64-linux-ohos"
    assert rk.provider_for("go") == "host" and rk.provider_for("cc") == "nixpkgs"
    assert rk.env == (("FOO", "bar"),)
    mine = cfg.product("myboard")
    assert mine.product.board == "myboard" and not mine.product.builtin
    assert cfg.sources[0].kind == "git"


def test_user_defined_product(tmp_path: Path) -> None:
    text = """[project]\nname = "x"\n[products.board1]\nprovider = "host"\nboard = "b"
system_type = "standard"\nkernel = "linux"\ntriple = "aarch64-linux-ohos"\nlibc = "ohos-musl"
float_abi = "hard"\ncompiler = "clang"\ngoarch = "arm64"\n"""
    p = config.load(write(tmp_path, text)).product("board1").product
    assert p.go.goarch == "arm64" and p.cpu == "aarch64"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[project\nname='x'", "line 1"),
        ("[project]\nname = 'x'\nnmae = 'y'\n[products.rk3568]\n", "unknown key `nmae`"),
        ("[project]\nname = 1\n[products.rk3568]\n", "[project].name: expected a string"),
        ("[project]\nname = 'x'\n[products.rk3586]\n", "Did you mean `rk3568`"),
        (
            "[project]\nname = 'x'\n[products.rk3568]\n[products.rk3568]\n",
            "defined twice",
        ),
        ("[project]\nname = 'x'\n[products.rk3568]\n[products.RK3568]\n", "duplicate product"),
        (
            "[project]\nname = 'x'\n[products.rk3568]\nprovider = 'nixpks'\n",
            "Did you mean `nixpkgs`",
        ),
        (
            "[project]\nname = 'x'\n[products.rk3568]\nprovider = 'host'\ncpu = 'mips'\n",
            "no target_cpu",
        ),
        ("[project]\nname = 'x'\n[products.rk3568]\n", "no nixpkgs is configured"),
        ("[project]\nname = 'x'\n", "no products configured"),
        (
            "[project]\nname = 'x'\n[toolchain]\nllvm = '18'\n[products.rk3568]\nprovider='host'\n",
            "[toolchain].llvm: expected an integer",
        ),
        (
            "[project]\nname = 'x'\n[sources.a]\ngit = 'u'\nunpack = true\n[products.rk3568]\n",
            "`unpack` is for url sources",
        ),
        (
            "[project]\nname = 'x'\n[products.rk3568]\nprovider='host'\nenv = { 'A-B' = '1' }\n",
            "not a valid variable name",
        ),
    ],
)
def test_bad_config(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, text))
    assert needle in str(err.value)
    assert str(tmp_path / "ohnix.toml") in str(err.value)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ohnix init"):
        config.load(tmp_path)
