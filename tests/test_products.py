import pytest

from ohnix import products
from ohnix.errors import ProductError
from tests.helpers import json_result

# DESIGN.md section 4: every OpenHarmony 4.1 product, plus the rk3566 alias.
EXPECTED = {
    "rk3568": ("standard", "linux", "arm-linux-ohos", "ohos-musl"),
    "hispark_taurus_standard": ("standard", "linux", "arm-linux-ohos", "ohos-musl"),
    "ipcamera_hispark_taurus": ("small", "liteos_a", "arm-liteos-ohos", "ohos-musl"),
    "wifiiot_hispark_pegasus": ("mini", "liteos_m", "riscv32-unknown-elf", "liteos-m-libc"),
    "qemu-arm64-linux-min": ("standard", "linux", "aarch64-linux-ohos", "ohos-musl"),
    "qemu-arm-linux-min": ("standard", "linux", "arm-linux-ohos", "ohos-musl"),
    "qemu-x86_64-linux-min": ("standard", "linux", "x86_64-linux-ohos", "ohos-musl"),
    "qemu-riscv64-linux-min": ("standard", "linux", "riscv64-linux-ohos", "ohos-musl"),
    "qemu_mini_system_demo": ("mini", "liteos_m", "arm-none-eabi", "liteos-m-libc"),
    "qemu_small_system_demo": ("small", "liteos_a", "arm-liteos-ohos", "ohos-musl"),
    "rk3566": ("standard", "linux", "arm-linux-ohos", "ohos-musl"),
}


def test_catalog_covers_design() -> None:
    cat = products.catalog()
    assert set(cat) == set(EXPECTED)
    for name, (system, kernel, triple, libc) in EXPECTED.items():
        p = cat[name]
        assert (p.system_type, p.kernel, p.triple, p.libc) == (system, kernel, triple, libc), name


def test_arm32_is_softfp_and_go_matches_kernel() -> None:
    for p in products.catalog().values():
        if p.arch == "arm" and p.kernel != "liteos_m":
            assert p.float_abi == "softfp", p.name
        assert p.go.supported == (p.kernel == "linux"), p.name
        if not p.go.supported:
            assert p.go.reason
        if p.go.goarch == "arm":
            assert p.go.goarm == "7"


def test_rk3568_variant_arm64() -> None:
    base = products.get("rk3568")
    assert base.cpu == "arm"
    v = base.variant("arm64")
    assert (v.cpu, v.triple, v.go.goarch, v.float_abi) == (
        "arm64",
        "aarch64-linux-ohos",
        "arm64",
        "hard",
    )
    with pytest.raises(ProductError, match="no target_cpu `riscv64`"):
        base.variant("riscv64")


def test_rk3566_is_documented_alias() -> None:
    p = products.get("rk3566")
    assert p.alias_of == "khdvk_3566b"
    assert "not an OpenHarmony product" in p.description
    assert (p.cpu, p.go.goarch) == ("arm", "arm")
    assert p.variant("arm64").go.goarch == "arm64"


def test_unknown_product_suggests() -> None:
    with pytest.raises(ProductError, match="Did you mean `rk3568`"):
        products.get("rk3586")


def test_cli_products_json(ohnix) -> None:
    res = ohnix("products", "--json")
    assert res.returncode == 0, res.stderr
    data = list(json_result(res.stdout)["products"].values())
    assert {p["name"] for p in data} == set(EXPECTED)
    for p in data:
        assert p["triple"] and p["kernel"] and p["libc"] and "supported" in p["go"]


def test_cli_products_show_rk3568_variant(ohnix) -> None:
    res = ohnix("products", "show", "rk3568", "--json")
    assert res.returncode == 0, res.stderr
    data = json_result(res.stdout)
    assert data["variants"]["arm64"]["triple"] == "aarch64-linux-ohos"
    assert data["variants"]["arm64"]["go"]["goarch"] == "arm64"


def test_cli_products_table(ohnix) -> None:
    res = ohnix("products", env={"COLUMNS": "160"})
    assert res.returncode == 0
    assert "wifiiot_hispark_pegasus" in res.stdout and "khdvk_3566b" in res.stdout
