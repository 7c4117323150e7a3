"""The OHOS target toolchain (nix/ohos.nix) built for real from pinned sources with the
host's clang-19: a C program per OHOS triple, the bridge build for the Linux products Go
can target, the patched Go, and what changes (or not) when an input does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import elf_facts, json_result, ok, ok_stdout, run_ohnix

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bridge"
# product -> (ELF class, e_machine, loader, how to run it)
TRIPLES = {
    "qemu-arm64-linux-min": (64, "EM_AARCH64", "/lib/ld-musl-aarch64.so.1", "qemu-aarch64"),
    "hi3516-a7": (32, "EM_ARM", "/lib/ld-musl-arm.so.1", "qemu-arm"),
    "qemu-x86_64-linux-min": (64, "EM_X86_64", "/lib/ld-musl-x86_64.so.1", None),
    "qemu-riscv64-linux-min": (64, "EM_RISCV", "/lib/ld-musl-riscv64.so.1", "qemu-riscv64"),
}
HELLO = r"""
#include <linux/version.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
static _Thread_local int tl = 41;
static atomic_int hits;
static void *work(void *arg) { (void)arg; tl++; atomic_fetch_add(&hits, 1); return 0; }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, work, 0);
    pthread_join(t, 0);
    long double ld = 1.5L * 1.5L;
#ifdef __OHOS__
    const char *env = "OHOS";
#else
    const char *env = "not OHOS";
#endif
    printf("%s pid=%d/%ld tl=%d hits=%d ld=%.2Lf linux=%d\n", env, (int)getpid(),
           syscall(SYS_getpid), tl, atomic_load(&hits), ld, LINUX_VERSION_CODE >> 16);
    return 0;
}
"""


def project(tmp: Path, products: str, seed: Path, toolchain: str | None = None) -> Path:
    """examples/bridge with these [products] tables, locked and rendered in a git work tree."""
    shutil.copytree(EXAMPLE, tmp, dirs_exist_ok=True)
    toml = (tmp / "ohnix.toml").read_text()
    head = toml.split("[products.", 1)[0]
    if toolchain is not None:
        head = head.replace(head[head.index("[toolchain]") : head.index("[bridge]")], toolchain)
    (tmp / "ohnix.toml").write_text(head + products)
    subprocess.run(["git", "init", "-q", str(tmp)], check=True)
    ok(run_ohnix("-C", str(tmp), "lock", "--seed", str(seed)))
    ok(run_ohnix("-C", str(tmp), "render"))
    subprocess.run(["git", "-C", str(tmp), "add", "-A"], check=True)
    return tmp


def shell_var(root: Path, product: str, var: str) -> str:
    return ok_stdout(run_ohnix("-C", str(root), "run", product, "--", "printenv", var)).strip()


def run_target(binary: Path, sysroot: str, qemu: str | None, loader: str) -> str:
    argv = [qemu, "-L", sysroot, str(binary)] if qemu else [sysroot + loader, str(binary)]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"{argv}: {res.stdout}{res.stderr}"
    return res.stdout


# The Hi3516 board's own flags (cortex-a7, softfp, neon-vfpv4) on a user-defined product:
# the catalog's Linux arm products take OpenHarmony's generic armv7-a flags (build:config/arm.gni).
A7 = (
    '[products.hi3516-a7]\nprovider = "host"\nextends = "hispark_taurus_standard"\n'
    'cflags = ["-mcpu=cortex-a7", "-mfloat-abi=softfp", "-mfpu=neon-vfpv4"]\n\n'
)


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory, ohos_sources: Path) -> Path:
    products = "".join(
        A7 if p == "hi3516-a7" else f'[products.{p}]\nprovider = "host"\n\n' for p in TRIPLES
    )
    return project(tmp_path_factory.mktemp("four"), products, ohos_sources)


@pytest.mark.nix
@pytest.mark.e2e
@pytest.mark.parametrize("product", sorted(TRIPLES))
def test_c_program_is_an_ohos_executable_and_runs(four: Path, product: str) -> None:
    elf_class, machine, loader, qemu = TRIPLES[product]
    src = four / "hello.c"
    src.write_text(HELLO)
    out = four / f"hello-{product}"
    ok(run_ohnix("-C", str(four), "run", product, "--", "sh", "-c",
                 f'$CC -O2 -pthread {src} -o {out}'))  # fmt: skip
    assert elf_facts(out) == (elf_class, machine, loader)
    sysroot = shell_var(four, product, "OHOS_SYSROOT")
    assert Path(sysroot, loader.lstrip("/")).resolve().name == "libc.so"
    printed = run_target(out, sysroot, qemu, loader)
    pid, raw = printed.split("pid=")[1].split()[0].split("/")
    assert printed.startswith("OHOS ") and pid == raw, printed
    assert "tl=41 hits=1 ld=2.25" in printed, printed  # emulated TLS: the thread's own copy


@pytest.mark.nix
@pytest.mark.e2e
def test_arm_softfp_uses_clangs_multilib(four: Path) -> None:
    """-mcpu=cortex-a7 -mfloat-abi=softfp -mfpu=neon-vfpv4 select clang's
    a7_softfp_neon-vfpv4 multilib: the runtime is built there."""
    sysroot = Path(shell_var(four, "hi3516-a7", "OHOS_SYSROOT"))
    resource = Path(shell_var(four, "hi3516-a7", "OHOS_RESOURCE_DIR"))
    multi = "arm-linux-ohos/a7_softfp_neon-vfpv4"
    assert (sysroot / "usr/lib" / multi / "libc.so").is_file()
    assert (resource / "lib" / multi / "libclang_rt.builtins.a").is_file()
    assert (resource / "lib/arm-linux-ohos/libunwind.a").is_file()


BUILDS = {
    # name: (product table, qemu, GOARCH)
    "qemu-arm64-linux-min": (
        '[products.qemu-arm64-linux-min]\nprovider = "host"\n',
        "qemu-aarch64",
    ),
    "qemu-arm-linux-min": ('[products.qemu-arm-linux-min]\nprovider = "host"\n', "qemu-arm"),
    "rk3568": ('[products.rk3568]\nprovider = "host"\n', "qemu-arm"),
    "rk3568-arm64": ('[products.rk3568]\nprovider = "host"\ncpu = "arm64"\n', "qemu-aarch64"),
}


@pytest.mark.nix
@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(BUILDS))
def test_bridge_build_runs_on_the_ohos_runtime(
    tmp_path: Path, ohos_sources: Path, case: str
) -> None:
    table, qemu = BUILDS[case]
    root = project(tmp_path, table, ohos_sources)
    product = case.removesuffix("-arm64")
    ok(run_ohnix("-C", str(root), "build", product, "--update-abi"))
    report = json.loads((root / "out" / product / "build.json").read_text())
    art = report["artifacts"][0]
    loader = report["interpreter"]
    assert art["elf"]["interpreter"] == loader and loader.startswith("/lib/ld-musl-")
    assert report["libc"] == "musl 1.2.3 (OpenHarmony's fork base)"
    assert report["triple"].endswith("-linux-ohos") and report["compiler"] == "host"
    assert report["toolchain"]["CC"].startswith(("clang version 19", "Debian clang version 19"))
    assert report["toolchain"]["GO"].startswith("go version go1.19.8 ")
    for part in ("runtime", "cc"):
        assert report["runtimes"][part]["nar_hash"].startswith("sha256-")
    go = report["go"]
    assert go["source"]["hash"] == "sha256-HXpnkp3Mr+r4op5VmFvCt4ngSZyxoXEAA58ITjI42i8="
    assert [p["file"] for p in go["patches"]] == [
        "patches/go/0001-cmd-link-musl-loader-for-linux.patch"
    ]
    sysroot = shell_var(root, product, "OHOS_SYSROOT")
    printed = run_target(root / art["path"], sysroot, qemu, loader)
    assert printed.strip().endswith("agree"), printed


@pytest.mark.nix
@pytest.mark.e2e
def test_patched_go_links_musls_loader_without_cgo(four: Path) -> None:
    """The example's patch makes musl's loader linux/arm64's default interpreter: a PIE
    that Go links itself (no cgo, no -I) gets it; Debian's unpatched Go gives glibc's."""
    main = four / "nocgo" / "main.go"
    main.parent.mkdir()
    main.write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("no cgo") }\n')
    (four / "nocgo" / "go.mod").write_text("module example.org/nocgo\n\ngo 1.19\n")
    script = (
        f"cd {main.parent} && " + "CGO_ENABLED=0 GOARCH=arm64 $GO build -buildmode=pie -o {out} ."
    )
    ok(run_ohnix("-C", str(four), "run", "qemu-arm64-linux-min", "--", "sh", "-c",
                 script.format(out="patched")))  # fmt: skip
    assert elf_facts(four / "nocgo/patched")[2] == "/lib/ld-musl-aarch64.so.1"
    stock = shutil.which("go")
    assert stock is not None
    subprocess.run(["sh", "-c", script.replace("$GO", stock).format(out="stock")], check=True)
    assert elf_facts(four / "nocgo/stock")[2] == "/lib/ld-linux-aarch64.so.1"


def _drv(root: Path, product: str) -> str:
    res = subprocess.run(["nix-instantiate", "default.nix", "-A", product], cwd=root,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return res.stdout.strip()


def _inputs(drv: str) -> dict[str, str]:
    """{name without hash: .drv path} of every derivation the shell depends on."""
    res = subprocess.run(["nix-store", "-q", "--requisites", drv], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return {p.split("-", 1)[1]: p for p in res.stdout.split() if p.endswith(".drv")}


@pytest.mark.nix
def test_flake_and_default_nix_agree_and_two_directories_too(
    tmp_path: Path, ohos_sources: Path, four: Path
) -> None:
    from ohnix.store import nix

    flake = nix.flake_drvs(".#devShells.x86_64-linux", cwd=four)
    for product in TRIPLES:
        assert flake[product] == _drv(four, product)
    products = "[products." + (four / "ohnix.toml").read_text().split("[products.", 1)[1]
    other = project(tmp_path / "elsewhere", products, ohos_sources)
    assert (other / "ohnix.lock").read_text() == (four / "ohnix.lock").read_text()
    for product in TRIPLES:
        assert _drv(other, product) == _drv(four, product)


@pytest.mark.nix
def test_a_changed_patch_changes_go_only_and_audit_diff_names_it(
    tmp_path: Path, ohos_sources: Path, four: Path
) -> None:
    before = _inputs(_drv(four, "qemu-arm64-linux-min"))
    ok(run_ohnix("-C", str(four), "audit", "report", "qemu-arm64-linux-min", "-o",
                 str(tmp_path / "a.json")))  # fmt: skip
    root = tmp_path / "edited"
    shutil.copytree(four, root, ignore=shutil.ignore_patterns(".ohnix", "out"))
    patch = root / "patches/go/0001-cmd-link-musl-loader-for-linux.patch"
    patch.write_text(patch.read_text().replace("for go1.19.8.", "for go1.19.8 (edited)."))
    ok(run_ohnix("-C", str(root), "lock", "--seed", str(ohos_sources)))
    ok(run_ohnix("-C", str(root), "render"))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    after = _inputs(_drv(root, "qemu-arm64-linux-min"))
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    assert changed == ["ohnix-go-1.19.8.drv", "ohnix-qemu-arm64-linux-min.drv"], changed
    ok(run_ohnix("-C", str(root), "audit", "report", "qemu-arm64-linux-min", "-o",
                 str(tmp_path / "b.json")))  # fmt: skip
    diff = run_ohnix("audit", "diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert "ohnix-go-1.19.8" in diff.stdout, diff.stdout + diff.stderr


@pytest.mark.nix
def test_a_changed_runtime_source_rebuilds_only_what_depends_on_it(four: Path) -> None:
    """Another musl archive (here: the LLVM one's hash, as if musl were re-pinned) changes
    every runtime and wrapper and shell, and not Go."""
    before = _inputs(_drv(four, "qemu-arm64-linux-min"))
    lock = four / "ohnix.lock"
    saved = lock.read_text()
    try:
        text = saved.split("[runtimes.musl]")
        llvm_hash = saved.split("[runtimes.llvm]")[1].split('hash = "')[1].split('"')[0]
        musl_hash = text[1].split('hash = "')[1].split('"')[0]
        lock.write_text(text[0] + "[runtimes.musl]" + text[1].replace(musl_hash, llvm_hash, 1))
        after = _inputs(_drv(four, "qemu-arm64-linux-min"))
    finally:
        lock.write_text(saved)
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    assert changed == [
        "musl-1.2.3.tar.gz.drv",
        "ohnix-qemu-arm64-linux-min.drv",
        "ohos-cc-aarch64-linux-ohos.drv",
        "ohos-runtimes-aarch64-linux-ohos.drv",
    ], changed


@pytest.mark.nix
@pytest.mark.e2e
def test_second_build_builds_nothing(tmp_path: Path, ohos_sources: Path) -> None:
    root = project(tmp_path, '[products.qemu-arm64-linux-min]\nprovider = "host"\n', ohos_sources)
    ok(run_ohnix("-C", str(root), "build", "qemu-arm64-linux-min"))
    # `nix develop` builds the shell's inputs (the runtime, the wrapper, Go), never the
    # shell derivation itself: after one build, none of them is left to build.
    drv = _drv(root, "qemu-arm64-linux-min")
    inputs = [
        p
        for p in subprocess.run(
            ["nix-store", "-q", "--references", drv], capture_output=True, text=True, check=True
        ).stdout.split()
        if p.endswith(".drv")
    ]
    assert any("-ohos-runtimes-" in p for p in inputs) and any("-ohnix-go-" in p for p in inputs)
    dry = subprocess.run(["nix-store", "--realise", "--dry-run", *inputs], capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert "will be built" not in dry.stderr and "will be fetched" not in dry.stderr, dry.stderr
    (root / ".ohnix" / "env").joinpath("qemu-arm64-linux-min.json").unlink()  # the cold path
    again = run_ohnix("-C", str(root), "build", "qemu-arm64-linux-min", "--json")
    assert json.loads(ok(again).stdout)["ok"] is True and json_result(again.stdout)["steps"]
    assert "building the OHOS toolchain" not in again.stderr, again.stderr
