import os
import re
from pathlib import Path

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


# --- the table: full rows when piped, readable at 80 columns --------------------------


def _fields(row: str) -> list[str]:
    return re.split(r"\s{2,}", row.strip())


def test_products_piped_prints_full_rows(ohnix, monkeypatch) -> None:
    from ohnix import ui

    monkeypatch.delenv("COLUMNS", raising=False)
    res = ohnix("products")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert _fields(header) == ["product", "system", "kernel", "cpu", "triple", "Go"]
    catalog = products.catalog()
    assert [_fields(r)[0] for r in rows] == list(catalog)  # full names, one row each
    for row in rows:
        p = catalog[_fields(row)[0]]
        assert _fields(row) == [p.name, p.system_type, p.kernel, ", ".join((p.cpu, *p.variants)),
                                p.triple, ui._go(p)]  # fmt: skip
    assert "…" not in res.stdout
    # `cut` works on the aligned columns: the Go column starts at the header's offset.
    start = header.index("Go")
    assert {r[start:] for r in rows} >= {"GOARCH=arm GOARM=7", "not supported"}
    # --plain is the same on a terminal, or with COLUMNS set.
    assert ohnix("products", "--plain", env={"COLUMNS": "80"}).stdout == res.stdout


def _terminal(argv: list[str], columns: int, cwd: Path | None = None) -> str:
    """What a terminal of `columns` columns shows (script(1) gives ohnix a pty)."""
    import shlex
    import shutil
    import subprocess
    import sys

    if shutil.which("script") is None:
        pytest.skip("script(1) is not installed")
    cmd = shlex.join([sys.executable, "-m", "ohnix", *argv])
    # A terminal that takes styles, whatever the caller's (CI often has TERM=dumb or none).
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(COLUMNS=str(columns), TERM="xterm-256color")
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                         env=env, cwd=cwd, check=False)  # fmt: skip
    assert res.returncode == 0, res
    assert "\x1b[" in res.stdout  # styled: it was a terminal
    return re.sub(r"\x1b\[[0-9;]*m", "", res.stdout).replace("\r", "")


def test_products_at_80_columns_wraps_cells_and_keeps_names(ohnix) -> None:
    from ohnix import ui

    piped = ohnix("products", env={"COLUMNS": "80"}).stdout
    for out in (piped, _terminal(["products"], 80)):
        lines = out.splitlines()
        assert max(map(len, lines)) <= 80, out
        go_at = next(ln for ln in lines if ln.startswith("product ")).index("Go")
        for p in products.catalog().values():
            # The name whole at the start of its row, and a real Go column on that line.
            row = next(ln for ln in lines if ln.startswith(p.name + " "))
            assert row[go_at - 1] == " " and row[go_at:].strip(), (row, out)
            assert ui._go(p).startswith(row[go_at:].strip())
        assert "…" not in out


def test_table_layout_fits_and_never_narrows_kept_columns() -> None:
    from ohnix import ui

    columns = [ui.Column("name", "never"), ui.Column("words"), ui.Column("triple")]
    rows = [["qemu-arm64-linux-min", "a few words that wrap", "aarch64-linux-ohos"],
            ["x", "unbreakable_long_word_here", "riscv32-unknown-elf"]]  # fmt: skip
    assert ui._layout(columns, rows, None) == ([20, 26, 19], "  ")
    for limit in range(38, 80):  # 38: the kept column and two folded ones (FOLD_MIN)
        widths, gap = ui._layout(columns, rows, limit)
        assert widths[0] == 20  # kept whole
        assert sum(widths) + len(gap) * 2 <= limit
    # Words wrap before anything folds: at 60, every word still fits its column.
    widths, _ = ui._layout(columns, rows, 60)
    assert widths[1] >= len("unbreakable_long_word_here") and widths[2] >= len("unknown-elf")
