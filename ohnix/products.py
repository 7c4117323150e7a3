"""The built-in product catalog (data/products.toml) as frozen dataclasses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from ohnix.errors import ProductError, did_you_mean

SYSTEM_TYPES = ("mini", "small", "standard")
KERNELS = ("linux", "liteos_a", "liteos_m")
LIBCS = ("ohos-musl", "liteos-m-libc")
# Keys a variant (another target_cpu) may override.
VARIANT_KEYS = ("triple", "float_abi", "go", "march", "compiler", "cflags")


@dataclass(frozen=True)
class GoSettings:
    supported: bool
    goarch: str | None = None
    goarm: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"supported": self.supported}
        for key in ("goarch", "goarm", "reason"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Product:
    name: str
    board: str
    soc: str
    vendor: str
    system_type: str
    kernel: str
    cpu: str
    triple: str
    libc: str
    float_abi: str
    compiler: str
    go: GoSettings
    description: str = ""
    kernel_version: str | None = None
    compiler_version: str | None = None
    march: str | None = None
    alias_of: str | None = None
    kconfig: tuple[str, ...] = ()
    # The target-architecture compile flags OpenHarmony's build passes (-march/-mcpu/-mfpu...).
    cflags: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    builtin: bool = True
    _variant_data: tuple[tuple[str, Any], ...] = field(default=(), repr=False, compare=False)

    @property
    def arch(self) -> str:
        """The first component of the triple (aarch64, arm, riscv32, ...)."""
        return self.triple.split("-", 1)[0]

    @property
    def is_linux(self) -> bool:
        return self.kernel == "linux"

    def variant(self, cpu: str) -> Product:
        """This product built with another target_cpu (`cpu = "..."` in ohnix.toml)."""
        if cpu == self.cpu:
            return self
        data = dict(self._variant_data).get(cpu)
        if data is None:
            known = ", ".join((self.cpu, *self.variants))
            raise ProductError(
                f"Product `{self.name}` has no target_cpu `{cpu}`; it builds for: {known}."
                + did_you_mean(cpu, (self.cpu, *self.variants))
            )
        changes = {k: v for k, v in data.items() if k not in ("go", "cflags")}
        if "cflags" in data:
            changes["cflags"] = tuple(data["cflags"])
        if "go" in data:
            changes["go"] = GoSettings(**data["go"])
        return replace(self, cpu=cpu, **changes)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "board": self.board,
            "soc": self.soc,
            "vendor": self.vendor,
            "system_type": self.system_type,
            "kernel": self.kernel,
            "kernel_version": self.kernel_version,
            "cpu": self.cpu,
            "triple": self.triple,
            "libc": self.libc,
            "float_abi": self.float_abi,
            "compiler": self.compiler,
            "compiler_version": self.compiler_version,
            "march": self.march,
            "go": self.go.as_dict(),
            "kconfig": list(self.kconfig),
            "cflags": list(self.cflags),
            "alias_of": self.alias_of,
            "builtin": self.builtin,
            "description": self.description,
            "variants": {cpu: self.variant(cpu).variant_summary() for cpu in self.variants},
        }
        return out

    def variant_summary(self) -> dict[str, Any]:
        return {"triple": self.triple, "float_abi": self.float_abi, "go": self.go.as_dict(),
                "cflags": list(self.cflags)}  # fmt: skip


def product_from_dict(name: str, data: dict[str, Any], *, builtin: bool) -> Product:
    """Build a Product from a catalog entry (or a validated user definition)."""
    fields = {k: v for k, v in data.items() if k not in ("go", "variants", "kconfig", "cflags")}
    variants = data.get("variants", {})
    return Product(
        name=name,
        go=GoSettings(**data["go"]),
        kconfig=tuple(data.get("kconfig", ())),
        cflags=tuple(data.get("cflags", ())),
        variants=tuple(sorted(variants)),
        builtin=builtin,
        _variant_data=tuple(sorted(variants.items())),
        **fields,
    )


@cache
def catalog() -> dict[str, Product]:
    text = resources.files("ohnix").joinpath("data/products.toml").read_text()
    raw = tomllib.loads(text)["products"]
    return {name: product_from_dict(name, raw[name], builtin=True) for name in sorted(raw)}


def get(name: str) -> Product:
    products = catalog()
    if name not in products:
        raise ProductError(
            f"`{name}` is not a product in ohnix's catalog." + did_you_mean(name, products),
            hint="Run `ohnix products` to list them, or define it under [products] in ohnix.toml.",
        )
    return products[name]
