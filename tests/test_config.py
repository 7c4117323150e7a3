import json
import subprocess
from pathlib import Path

import pytest

from ohnix import config
from ohnix.errors import ConfigError
from tests.helpers import json_result, run_ohnix

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


# --- hostile values: nothing from ohnix.toml may run a command (issue 15, class 1) ------

PRODUCT = '[products.qemu-arm64-linux-min]\nprovider = "host"\n'
HOSTILE_GIT = [
    "--upload-pack=touch {marker};:",
    "-c core.sshCommand=touch {marker}",
    "ext::sh -c touch% {marker}",
    "fd::3",
]


@pytest.mark.parametrize("value", HOSTILE_GIT)
def test_a_git_value_that_would_run_a_command_is_refused_and_runs_nothing(
    tmp_path: Path, value: str
) -> None:
    from tests.gitrepos import git_env

    marker = tmp_path / "marker"
    project = tmp_path / "p"
    project.mkdir()
    # Inside a git repository whose origin is a local path: the case that ran the command.
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=git_env())
    subprocess.run(["git", "-C", str(project), "remote", "add", "origin", str(tmp_path)],
                   check=True, env=git_env())  # fmt: skip
    url = value.format(marker=marker)
    (project / "ohnix.toml").write_text(
        f'[project]\nname = "x"\n[sources.lib]\ngit = {json.dumps(url)}\nref = "v1"\n'
    )
    res = run_ohnix("-C", str(project), "lock")
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("ohnix: error: ") and "Traceback" not in res.stderr
    assert "[sources.lib].git" in res.stderr and "would run commands" in res.stderr
    assert not marker.exists()
    assert not (project / "ohnix.lock").exists()


@pytest.mark.parametrize("value", ["./evil/x-", "/tmp/evil-", "../x-", "a b-"])
def test_a_host_prefix_that_is_a_path_is_refused_and_runs_nothing(
    tmp_path: Path, value: str
) -> None:
    project = tmp_path / "p"
    (project / "evil").mkdir(parents=True)
    marker = tmp_path / "marker"
    for tool in ("gcc", "g++", "ar", "ld", "nm", "objcopy", "strip", "ranlib"):
        script = project / "evil" / f"x-{tool}"
        script.write_text(f"#!/bin/sh\ntouch {marker}\n")
        script.chmod(0o755)
    (project / "ohnix.toml").write_text(
        '[project]\nname = "x"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
        f"host_prefix = {json.dumps(value)}\n"
    )
    res = run_ohnix("-C", str(project), "lock")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "host_prefix" in res.stderr and "looked up on PATH" in res.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ('[nixpkgs]\nurl = "--upload-pack=x"\nref = "nixos-25.11"\n', "[nixpkgs].url"),
        ('[sources.f]\nurl = "-o/tmp/x"\n', "[sources.f].url"),
        ('[sources.f]\nurl = "ftp://example.org/a.tar.gz"\n', "[sources.f].url"),
    ],
)
def test_hostile_nixpkgs_and_file_urls_are_refused(tmp_path: Path, table: str, where: str) -> None:
    (tmp_path / "ohnix.toml").write_text('[project]\nname = "x"\n' + table + PRODUCT)
    res = run_ohnix("-C", str(tmp_path), "config")
    assert res.returncode == 1 and where in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "url",
    ["https://example.org/r.git", "ssh://git@example.org/r", "git://example.org/r",
     "file:///srv/r", "/srv/r", "./vendor/r", "github:NixOS/nixpkgs", "git@example.org:o/r.git"],
)  # fmt: skip
def test_ordinary_repository_locations_are_accepted(tmp_path: Path, url: str) -> None:
    (tmp_path / "ohnix.toml").write_text(
        f'[project]\nname = "x"\n[sources.lib]\ngit = {json.dumps(url)}\nref = "v1"\n' + PRODUCT
    )
    res = run_ohnix("-C", str(tmp_path), "config")
    assert res.returncode == 0, res.stderr


# --- paths from ohnix.toml stay inside the project (issue 15, class 3) --------------------


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ('[products."../../../escape/prod"]\nextends = "rk3568"\n', "a product name may use"),
        ('[products."a/b"]\nextends = "rk3568"\n', "a product name may use"),
        (f'[products.{"p" * 5000}]\nextends = "rk3568"\n', "at most 100 characters"),
        ('[bridge]\nbinary = "/tmp/escape"\n' + PRODUCT, "[bridge].binary"),
        ('[bridge]\nbinary = "../x"\n' + PRODUCT, "[bridge].binary"),
        ('[bridge]\nsyscalls_dir = "../.."\n' + PRODUCT, "[bridge].syscalls_dir"),
        ('[bridge]\ncgo_dir = "/tmp/gen"\n' + PRODUCT, "[bridge].cgo_dir"),
        ('[bridge]\nabi_dir = "a/../../b"\n' + PRODUCT, "[bridge].abi_dir"),
    ],
)
def test_paths_that_leave_the_project_are_refused(tmp_path: Path, table: str, where: str) -> None:
    outside = tmp_path / "escape"
    project = tmp_path / "a" / "b" / "c"
    project.mkdir(parents=True)
    (project / "ohnix.toml").write_text('[project]\nname = "x"\n' + table)
    for args in (["config"], ["lock"], ["run", "prod", "--", "true"]):
        res = run_ohnix("-C", str(project), *args)
        assert res.returncode == 1, (args, res.stderr)
        assert where in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr) < 2000  # one paragraph, not the 5000-character name
    assert not outside.exists() and not (project / "ohnix.lock").exists()


def test_bridge_folders_inside_the_project_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "x"\n[bridge]\nsyscalls_dir = "gen/sys"\ncgo_dir = "./gen/../cgo"\n'
        'binary = "my-bridge_1.0"\n' + PRODUCT
    )
    res = run_ohnix("-C", str(tmp_path), "config")
    assert res.returncode == 0, res.stderr


# --- env keys stay variables; go_patches files stay in the project (issues 15 class 4, 14) --


@pytest.mark.parametrize(
    ("key", "needle"),
    [
        ("outputHash", "attribute of the shell's derivation"),
        ("outputHashMode", "attribute of the shell's derivation"),
        ("__structuredAttrs", "attribute of the shell's derivation"),
        ("builder", "attribute of the shell's derivation"),
        ("CC", "sets this from its tools"),
        ("PATH", "sets this from its tools"),
    ],
)
def test_env_keys_that_are_not_plain_variables_are_refused(
    tmp_path: Path, key: str, needle: str
) -> None:
    (tmp_path / "ohnix.toml").write_text(
        f'[project]\nname = "x"\n[products.rk3568]\nprovider = "host"\nenv = {{ {key} = "v" }}\n'
    )
    res = run_ohnix("-C", str(tmp_path), "lock")
    assert res.returncode == 1 and needle in res.stderr and f"env.{key}" in res.stderr, res.stderr
    assert not (tmp_path / "ohnix.lock").exists()


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ("../outside.patch", "outside the project"),
        ("/etc/x.patch", "outside the project"),
        ("patches/missing.patch", "is not a file"),
        ("link.patch", "leads outside the project"),
    ],
)
def test_go_patch_files_must_be_files_of_the_project(
    tmp_path: Path, patch: str, needle: str
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (tmp_path / "outside.patch").write_text("x\n")
    (root / "link.patch").symlink_to(tmp_path / "outside.patch")
    (root / "ohnix.toml").write_text(
        f'[project]\nname = "x"\n[toolchain]\ngo_patches = ["{patch}"]\n'
        '[products.rk3568]\nprovider = "host"\n'
    )
    res = run_ohnix("-C", str(root), "config")
    assert res.returncode == 1 and needle in res.stderr, res.stderr
    assert "[toolchain].go_patches" in res.stderr


# --- [toolchain] go: what each provider can give (issue 16, point 3) --------------------

HOST_GO_PROJECT = '[project]\nname = "x"\n{toolchain}[products.rk3566]\nprovider = "host"\n'


@pytest.mark.parametrize("command", ["config", "lock"])
def test_a_go_the_host_provider_cannot_build_is_an_error(tmp_path: Path, command: str) -> None:
    (tmp_path / "ohnix.toml").write_text(
        HOST_GO_PROJECT.format(toolchain='[toolchain]\ngo = "1.22"\n')
    )
    res = run_ohnix("-C", str(tmp_path), command)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr == (
        f"ohnix: error: {tmp_path / 'ohnix.toml'}: [toolchain].go asks for Go 1.22, but the "
        "host provider builds Go 1.19.8 from source (go1.19.8.src.tar.gz) for rk3566, and no "
        'other Go. Set go = "1.19" (or remove the key), or take Go from nixpkgs for these '
        'products: tools = { go = "nixpkgs" } under [products.rk3566] (with a [nixpkgs] that '
        "has go_1_22).\n"
    )
    assert not (tmp_path / "ohnix.lock").exists()


@pytest.mark.parametrize("toolchain", ["", '[toolchain]\ngo = "1.19"\n'])
def test_config_shows_the_go_each_shell_really_gets(tmp_path: Path, toolchain: str) -> None:
    (tmp_path / "ohnix.toml").write_text(
        HOST_GO_PROJECT.format(toolchain=toolchain)
        + '[products.wifiiot_hispark_pegasus]\nprovider = "host"\n'
        + '[products.rk3568]\nprovider = "nixpkgs"\n[nixpkgs]\npath = "/nixpkgs"\n'
    )
    text = run_ohnix("-C", str(tmp_path), "config")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1] == (
        "  rk3566: arm-linux-ohos via host; Go 1.19.8 (built by ohnix from go1.19.8.src.tar.gz)"
    )
    go = "1.19" if toolchain else "1.25"
    attr = f"go_{go.replace('.', '_')}"
    assert lines[2].endswith(f"via nixpkgs; Go {go} (nixpkgs' {attr} at the pinned revision)")
    assert lines[3].endswith(
        "via host; Go: none: Go cannot target LiteOS-M (no MMU, no OS "
        "threads, no GOOS for it); only the C steps run"
    ), lines
    data = json_result(run_ohnix("-C", str(tmp_path), "config", "--json").stdout)
    assert data["toolchain"]["go"] == (go if toolchain else None)
    got = {name: p["go"] for name, p in data["products"].items()}
    assert got["rk3566"] == {"provider": "host", "version": "1.19.8",
                             "source": "built by ohnix from go1.19.8.src.tar.gz"}  # fmt: skip
    assert got["rk3568"]["version"] == go and got["wifiiot_hispark_pegasus"]["version"] is None


def test_a_go_other_than_the_hosts_pinned_go_is_an_error(tmp_path: Path) -> None:
    """A product whose shell runs this machine's own `go` (a Debian GCC stand-in): the
    version ohnix.lock recorded for it must be the one asked for."""
    from ohnix.pin import host
    from ohnix.pin.lockfile import Lock, Pin

    text = '[project]\nname = "x"\n[toolchain]\ngo = "1.22"\n[products.q]\nextends = ' \
        '"qemu-arm64-linux-min"\nprovider = "host"\nhost_prefix = "aarch64-linux-gnu-"\n'  # fmt: skip
    cfg = config.load(write(tmp_path, text))
    pin = Pin(key="host/go", kind="host", url="go", hash="sha256-" + "A" * 43 + "=", spec="x",
              store_name="host-go", path="/usr/lib/go-1.19/bin/go",
              version="go version go1.19.8 linux/amd64")  # fmt: skip
    with pytest.raises(ConfigError) as err:
        host.check_go(cfg, Lock().with_pins([pin]))
    assert str(err.value) == (
        f"{tmp_path / 'ohnix.toml'}: [toolchain].go asks for Go 1.22, but the host provider "
        "gives q this machine's `go` (/usr/lib/go-1.19/bin/go: go version go1.19.8 "
        'linux/amd64). Put Go 1.22 first on PATH and run `ohnix lock`, set go = "1.19", or '
        'take Go from nixpkgs: tools = { go = "nixpkgs" } under [products.q].'
    )
    host.check_go(config.load(write(tmp_path, text.replace("1.22", "1.19"))),
                  Lock().with_pins([pin]))  # fmt: skip


@pytest.mark.parametrize("value", ["1.22.3", "go1.22", "latest", "1"])
def test_go_must_be_a_release_line(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(
            write(tmp_path, HOST_GO_PROJECT.format(toolchain=f'[toolchain]\ngo = "{value}"\n'))
        )
    assert str(err.value) == (
        f"{tmp_path / 'ohnix.toml'}: [toolchain].go: `{value}` is not a Go release line: give "
        'MAJOR.MINOR, e.g. go = "1.25" (nixpkgs names Go so: go_1_25).'
    )
