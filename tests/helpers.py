"""Plain helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

# Test-only derivations whose builders are this machine's /bin/sh or git (fixtures for JSON
# shapes, audits and hash checks, not ohnix's own shells): Nix's default sandbox hides the
# host, so these builds alone turn it off. Everything ohnix renders builds sandboxed.
SANDBOX_OFF = ("--option", "sandbox", "false")


def c_sizeof(cc: str, c_type: str, header: str) -> int:
    """sizeof(c_type) as the compiler `cc` lays it out, read from the assembly it emits: an
    expectation that follows the toolchain in use (Debian 13's arm32 glibc has a 64-bit
    time_t by default, so its struct stat is 112 bytes where Debian 12's is 88)."""
    import re
    import subprocess

    source = f"#include <{header}>\nint ohnix_size = sizeof({c_type});\n"
    asm = subprocess.run([cc, "-S", "-o", "-", "-x", "c", "-"], input=source,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    match = re.search(r"^ohnix_size:\s*\n\s*\.(?:word|long|4byte)\s+(\d+)", asm, re.MULTILINE)
    assert match, asm
    return int(match.group(1))
