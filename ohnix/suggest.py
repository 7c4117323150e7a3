"""'Did you mean' for near misses, shared by config keys and product names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean `x`?' for a close match, else ''."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" Did you mean `{match[0]}`?" if match else ""
