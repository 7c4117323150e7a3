"""The go step's interpreter check: a binary without the product's musl loader is removed
and the step fails, instead of leaving a binary that would not start on the device."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from ohnix import config
from ohnix.bridge import pipeline
from ohnix.errors import BuildError

# A stand-in `go build` that writes the host's own /bin/true (glibc's loader) as the output.
FAKE_GO = """#!/bin/sh
while [ "$#" -gt 0 ]; do
  if [ "$1" = -o ]; then cp {true} "$2"; exit 0; fi
  shift
done
exit 1
"""


def test_a_binary_without_the_musl_loader_is_removed_and_fails(tmp_path: Path) -> None:
    (tmp_path / "ohnix.toml").write_text(
        '[project]\nname = "p"\n[products.qemu-arm64-linux-min]\nprovider = "host"\n'
    )
    cfg = config.load(tmp_path)
    go = tmp_path / "go"
    host_true = shutil.which("true")
    assert host_true is not None
    go.write_text(FAKE_GO.replace("{true}", os.path.realpath(host_true)))
    go.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "GO": str(go), "OHOS_LOADER": "/lib/ld-musl-aarch64.so.1"}
    ctx = pipeline._Context(cfg, cfg.product("qemu-arm64-linux-min"), env, out, False, [])
    with pytest.raises(BuildError, match=re.escape("not OpenHarmony's /lib/ld-musl-aarch64.so.1")):
        pipeline.step_go(ctx)
    assert not (out / "bridge").exists() and ctx.artifacts == []
