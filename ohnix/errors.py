"""The one error hierarchy. Only the CLI catches these; it prints one paragraph and exits 1."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable
from typing import Any


class OhnixError(Exception):
    """An expected failure: `str(err)` is a complete, user-facing paragraph."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        # What the command got done before failing, for its --json envelope (docs/json.md).
        self.result: dict[str, Any] | None = None
        self.exit_code = 1  # 2 only for `audit diff`'s "trouble", as diff(1) has it
        super().__init__(message if hint is None else f"{message} {hint}")


class ConfigError(OhnixError):
    """ohnix.toml (or another user file) is malformed or refers to something unknown."""


class ProductError(OhnixError):
    """A product name is not in the catalog, or a product cannot do what was asked."""


class CommandError(OhnixError):
    """An external command failed; carries its argv and the tail of its stderr."""

    def __init__(
        self,
        argv: list[str],
        returncode: int | None,
        stderr: str,
        *,
        what: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        shown = shlex.join(argv)  # pasteable: `--extra-experimental-features 'nix-command flakes'`
        status = "timed out" if returncode is None else f"exited with status {returncode}"
        head = f"{what}: " if what else ""
        tail = stderr.strip()
        detail = f" Its last output was:\n{tail}" if tail else ""
        super().__init__(f"{head}`{shown}` {status}.{detail}", hint=hint)


class ToolNotFoundError(OhnixError):
    """A required program is not on PATH."""


class LockError(OhnixError):
    """ohnix.lock is missing, malformed, stale or does not match what was fetched."""


class PrefetchError(OhnixError):
    """Fetching or hashing a source failed."""


class RenderError(OhnixError):
    """Rendering the Nix files failed (e.g. an attribute the pinned nixpkgs lacks)."""


class BuildError(OhnixError):
    """A step of the bridge build failed."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' Did you mean `x`?' for a close match, else '' (config keys and product names)."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" Did you mean `{match[0]}`?" if match else ""
