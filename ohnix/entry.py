"""Console entry point: the warm `ohnix run` path first (stdlib only), then the full CLI."""

from __future__ import annotations

import sys


def main() -> int:
    from ohnix.shell import envcache

    envcache.try_warm_run(sys.argv[1:])
    from ohnix.cli.main import main as cli_main

    return cli_main()
