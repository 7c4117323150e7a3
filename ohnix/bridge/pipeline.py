"""`ohnix build PRODUCT`: the bridge build, step by step, inside the product's shell.

syscalls (the table from the target's kernel headers) -> abi (layouts measured with the
shell's $CC, checked against the committed snapshot) -> cgo (the wrapper header, compiled
once with $CC) -> go (cross `go build` with CGO) -> report (out/PRODUCT/build.json: inputs,
lock digest, toolchain versions, output hashes, ELF machine/class/interpreter).
The shell's variables come from the same cache `ohnix run` uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ohnix import proc
from ohnix.atomic import write_text_atomic
from ohnix.config import Config, ProductConfig
from ohnix.errors import BuildError, OhnixError
from ohnix.shell import envcache

GOARCH_TO_ARCH = {"arm64": "arm64", "arm": "arm", "riscv64": "riscv64", "amd64": "x86_64"}


@dataclass(frozen=True)
class Step:
    name: str
    status: Literal["ok", "skipped", "failed"]
    detail: str
    seconds: float


@dataclass(frozen=True)
class BuildReport:
    product: str
    ok: bool
    steps: tuple[Step, ...]
    report_path: str
    artifacts: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "report": self.report_path,
            "steps": [asdict(s) for s in self.steps],
            "artifacts": list(self.artifacts),
        }


class _NotApplicableError(Exception):
    """A step that does not apply to this product (said plainly, not pretended)."""


@dataclass
class _Context:
    config: Config
    pc: ProductConfig
    env: dict[str, str]
    out: Path
    update_abi: bool
    artifacts: list[dict[str, Any]]

    @property
    def root(self) -> Path:
        return self.config.root

    def run(self, argv: list[str], what: str) -> proc.Result:
        return proc.run(argv, env=self.env, cwd=self.root, what=what)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def elf_info(path: Path) -> dict[str, Any]:
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as fh:
        elf = ELFFile(fh)
        interp = None
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_INTERP":
                interp = seg.get_interp_name()  # type: ignore[attr-defined]  # InterpSegment
        return {"class": f"ELF{elf.elfclass}", "machine": elf["e_machine"],
                "type": elf["e_type"], "interpreter": interp}  # fmt: skip


def _headers(ctx: _Context, arch: str) -> Path:
    from ohnix.bridge import syscalls

    if ctx.config.bridge.headers:
        return (ctx.root / ctx.config.bridge.headers).resolve()
    sysroot = ctx.env.get("OHOS_SYSROOT")
    if sysroot:
        return Path(sysroot) / "usr" / "include"
    for multiarch in syscalls.ARCHES[arch].multiarch:
        candidate = Path("/usr") / multiarch / "include"
        if candidate.is_dir():
            return candidate
    raise BuildError(
        f"No kernel headers for {arch}: set [bridge] headers in ohnix.toml or OHOS_SYSROOT.",
        hint=f"On Debian: apt-get install {syscalls.ARCHES[arch].debian_pkg}.",
    )


def step_syscalls(ctx: _Context) -> str:
    from ohnix.bridge import syscalls

    product = ctx.pc.product
    if not product.is_linux or not product.go.goarch:
        raise _NotApplicableError(f"{product.kernel} has no Linux syscall table")
    arch = GOARCH_TO_ARCH[product.go.goarch]
    table = syscalls.generate(arch, _headers(ctx, arch))
    target = ctx.root / ctx.config.bridge.syscalls_dir / f"zsysnum_linux_{product.go.goarch}.go"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, syscalls.to_go(table))
    write_text_atomic(ctx.out / "syscalls.json", syscalls.to_json(table))
    return f"{len(table.entries)} syscalls from {table.headers} -> {target.relative_to(ctx.root)}"


def step_abi(ctx: _Context) -> str:
    from ohnix.bridge import abi

    product = ctx.pc.product
    if product.kernel == "liteos_m":
        raise _NotApplicableError("LiteOS-M has no Linux uapi/libc structures to snapshot")
    types = ctx.root / ctx.config.bridge.abi_types if ctx.config.bridge.abi_types else None
    cflags = tuple(ctx.env.get("CFLAGS", "").split())
    snap = abi.snapshot(product.triple, ctx.env["CC"], types, cflags)
    write_text_atomic(ctx.out / "abi.json", snap.to_json())
    baseline = ctx.root / ctx.config.bridge.abi_dir / f"{ctx.pc.name}.json"
    if not baseline.exists() or ctx.update_abi:
        if not ctx.update_abi:
            raise BuildError(
                f"No committed ABI snapshot at {baseline}.",
                hint="Run `ohnix build PRODUCT --update-abi` once and commit the file.",
            )
        baseline.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(baseline, snap.to_json())
        return f"{len(snap.layouts)} layouts; baseline written to {baseline.relative_to(ctx.root)}"
    changes = abi.compare(abi.load_snapshot(baseline), snap)
    if abi.has_breaking(changes):
        raise BuildError(
            f"ABI check against {baseline.relative_to(ctx.root)} found breaking changes:\n"
            + abi.render_table(changes),
            hint="If the change is intended, run with --update-abi and commit the snapshot.",
        )
    return f"{len(snap.layouts)} layouts match {baseline.relative_to(ctx.root)}" + (
        f" ({len(changes)} non-breaking differences)" if changes else ""
    )


def step_cgo(ctx: _Context) -> str:
    from ohnix.bridge import cgo

    clang = "clang" in Path(ctx.env.get("CC", "")).name
    prof = cgo.profile(ctx.pc.product, clang=clang)
    header = ctx.root / ctx.config.bridge.cgo_dir / "cgo_wrapper.h"
    header.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(header, prof.header)
    write_text_atomic(
        ctx.out / "cgo.json", json.dumps(prof.as_dict(), indent=2, sort_keys=True) + "\n"
    )
    # Compile it once with the target compiler: the C half of the bridge must build.
    obj = ctx.out / "cgo_wrapper.o"
    ctx.run([ctx.env["CC"], *ctx.env.get("CFLAGS", "").split(), "-x", "c", "-c", str(header),
             "-o", str(obj)], what="compiling the cgo wrapper")  # fmt: skip
    return f"{header.relative_to(ctx.root)} compiled with {Path(ctx.env['CC']).name}"


def step_go(ctx: _Context) -> str:
    product = ctx.pc.product
    if not product.go.supported:
        raise _NotApplicableError(f"Go cannot target {ctx.pc.name}: {product.go.reason}")
    go = ctx.env.get("GO", "go")
    binary = ctx.out / ctx.config.bridge.binary
    loader = ctx.env.get("OHOS_LOADER")
    # cgo binaries take the interpreter from $CC (the OHOS clang); -I says the same for
    # whatever Go links itself, since GO_LDSO only applies to the linker's own GOARCH.
    flags = ["-ldflags=-I " + loader] if loader else []
    ctx.run([go, "build", "-trimpath", *flags, "-o", str(binary), ctx.config.bridge.package],
            what=f"go build for GOARCH={product.go.goarch}")  # fmt: skip
    info: dict[str, Any] = {"path": str(binary.relative_to(ctx.root)), "sha256": _sha256(binary),
            "size": binary.stat().st_size, "elf": elf_info(binary)}  # fmt: skip
    if loader and info["elf"]["interpreter"] != loader:
        binary.unlink()
        raise BuildError(
            f"go build made {info['path']} with the interpreter {info['elf']['interpreter']}, "
            f"not OpenHarmony's {loader}; it was removed, it would not start on the device.",
            hint="Check that $CC is the shell's OHOS clang (`ohnix run PRODUCT -- env`).",
        )
    ctx.artifacts.append(info)
    return f"{info['path']}: {info['elf']['class']} {info['elf']['machine']}"


STEPS: tuple[tuple[str, Callable[[_Context], str]], ...] = (
    ("syscalls", step_syscalls),
    ("abi", step_abi),
    ("cgo", step_cgo),
    ("go", step_go),
)


def _versions(ctx: _Context) -> dict[str, str]:
    out = {}
    for var, args in (("CC", ["--version"]), ("GO", ["version"])):
        exe = ctx.env.get(var)
        if exe:
            res = proc.run([exe, *args], env=ctx.env, check=False)
            out[var] = (res.stdout or res.stderr).strip().splitlines()[0] if res.stdout else ""
    return out


def _target_toolchain(ctx: _Context, held: Any) -> dict[str, Any]:
    """What the OHOS target toolchain was made of: the libc, the musl loader, each runtime's
    store path and NAR hash, the Go source and patches (from the lock) and `go version`."""
    from ohnix.pin import toolchain
    from ohnix.shell import contents
    from ohnix.store import nix

    if toolchain.compiler_for(ctx.pc) is None:
        return {}
    sysroot = ctx.env.get("OHOS_SYSROOT", "")
    runtime = str(Path(sysroot).parent) if sysroot else None
    wrapper = str(Path(ctx.env["CC"]).parent.parent) if ctx.env.get("CC") else None
    paths = [p for p in (runtime, wrapper) if p]
    go_exe = ctx.env.get("GO")
    go_root = str(Path(go_exe).parent.parent) if go_exe and toolchain.builds_go(ctx.pc) else None
    if go_root:
        paths.append(go_root)
    hashes = {path: info.nar_hash for path, info in nix.path_info(paths).items()}
    out: dict[str, Any] = {
        "libc": contents.musl_libc(),
        "interpreter": ctx.env.get("OHOS_LOADER"),
        "compiler": toolchain.compiler_for(ctx.pc),
        "runtimes": {
            name: {"path": path, "nar_hash": hashes.get(path)}
            for name, path in (("runtime", runtime), ("cc", wrapper))
            if path
        },
    }
    if go_root and held is not None:
        src = held.get("runtimes/go")
        out["go"] = {
            "path": go_root,
            "nar_hash": hashes.get(go_root),
            "source": {"url": src.url, "hash": src.hash} if src else None,
            "patches": [{"file": p.url, "hash": p.hash} for p in held.pins if p.group == "patches"],
        }
    return out


def build(
    config: Config,
    product: str,
    *,
    update_abi: bool = False,
    render_now: bool = False,
    on_step: Callable[[Step], None] | None = None,
) -> BuildReport:
    from ohnix.atomic import project_lock

    # One build at a time per project: its steps write syscalls/, gen/, abi/ and out/.
    with project_lock(config.root):
        return _build(config, product, update_abi=update_abi, render_now=render_now,
                      on_step=on_step)  # fmt: skip


def _build(
    config: Config,
    product: str,
    *,
    update_abi: bool,
    render_now: bool,
    on_step: Callable[[Step], None] | None,
) -> BuildReport:
    from ohnix.pin import lockfile
    from ohnix.shell import enter

    pc = config.product(product)
    variables = enter.variables(config, product, render_now=render_now)
    env = envcache.environment(variables, dict(os.environ))
    out = config.root / "out" / product
    out.mkdir(parents=True, exist_ok=True)
    ctx = _Context(config, pc, env, out, update_abi, [])
    steps: list[Step] = []
    failure: OhnixError | None = None
    for name, fn in STEPS:
        start = time.monotonic()
        try:
            step = Step(name, "ok", fn(ctx), 0.0)
        except _NotApplicableError as skip:
            step = Step(name, "skipped", str(skip), 0.0)
        except OhnixError as exc:
            step = Step(name, "failed", str(exc), 0.0)
            failure = exc
        step = Step(step.name, step.status, step.detail, round(time.monotonic() - start, 3))
        steps.append(step)
        if on_step:
            on_step(step)
        if failure:
            break
    held = lockfile.read(config.root)
    report: dict[str, Any] = {
        "schema": 1,
        "product": product,
        "triple": pc.product.triple,
        "provider": pc.provider,
        "libc_used": variables.get("OHNIX_LIBC_USED", ""),
        "lock_digest": held.digest() if held else None,
        "toolchain": _versions(ctx),
        **_target_toolchain(ctx, held),
        "steps": [asdict(s) for s in steps],
        "artifacts": ctx.artifacts,
        "ok": failure is None,
    }
    report_path = out / "build.json"
    write_text_atomic(report_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    result = BuildReport(product, failure is None, tuple(steps), str(report_path),
                         tuple(ctx.artifacts))  # fmt: skip
    if failure is not None:
        err = BuildError(
            f"`ohnix build {product}` failed at step `{steps[-1].name}`: {failure.message}",
            hint=failure.hint or f"The report is at {report_path}.",
        )
        err.result = result.as_dict()  # `build --json` still shows the steps that ran
        raise err
    return result
