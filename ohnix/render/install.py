"""Where a CI runner gets ohnix: the source this ohnix was installed from, as pip recorded
it in the distribution's direct_url.json (PEP 610), or what `ohnix ci --ohnix-from SPEC`
says. Reads package metadata only; runs nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ohnix.errors import OhnixError

FROM_HINT = (
    "Say where the runner gets ohnix: `ohnix ci PROVIDER --ohnix-from SPEC`, SPEC being "
    "anything `pip install` takes, e.g. 'ohnix @ git+https://HOST/OWNER/ohnix@COMMIT'."
)

OTHER = "`ohnix ci --ohnix-from SPEC` chooses another"


@dataclass(frozen=True)
class Install:
    spec: str  # what the runner passes to `pip install`
    origin: str  # for the workflow's comment: where the spec comes from


def given(spec: str) -> Install:
    return Install(spec, "installed from what `ohnix ci --ohnix-from` was given")


def from_direct_url(info: dict[str, Any] | None, version: str) -> Install:
    """The pip requirement that installs this ohnix again, from its PEP 610 record (None:
    installed by name from an index). A local folder or file cannot be reached by a runner."""
    if info is None:
        return Install(f"ohnix=={version}", "installed by name and version from the runner's "
                       f"package index, as the ohnix that wrote this was; {OTHER}")  # fmt: skip
    url = str(info.get("url", ""))
    if url.startswith("file:"):
        kind = "editable folder" if info.get("dir_info", {}).get("editable") else "local path"
        raise OhnixError(
            f"This ohnix was installed from {url.removeprefix('file://')} ({kind} on this "
            "machine, as pip recorded it in direct_url.json), which a CI runner cannot reach.",
            hint=FROM_HINT,
        )
    sub = info.get("subdirectory")
    fragment = f"#subdirectory={sub}" if sub else ""
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id", "")
        asked = vcs.get("requested_revision")
        at = f" ({asked})" if asked and asked != commit else ""
        return Install(
            f"ohnix @ {vcs.get('vcs', 'git')}+{url}@{commit}{fragment}",
            f"installed from the commit{at} that the ohnix which wrote this came from, "
            f"as pip recorded it in direct_url.json (PEP 610); {OTHER}",
        )
    archive = info.get("archive_info")
    if isinstance(archive, dict):
        digest = archive.get("hashes", {}).get("sha256")
        pinned = f"#sha256={digest}" if digest and not fragment else ""
        return Install(
            f"ohnix @ {url}{fragment or pinned}",
            "installed from the archive that the ohnix which wrote this came from, as pip "
            f"recorded it in direct_url.json (PEP 610); {OTHER}",
        )
    raise OhnixError(f"This ohnix's direct_url.json names {url!r} in a form ohnix does not "
                     "know.", hint=FROM_HINT)  # fmt: skip


def recorded() -> Install:
    """How the runner installs the ohnix that is running now."""
    from importlib import metadata

    try:
        dist = metadata.distribution("ohnix")
    except metadata.PackageNotFoundError:
        raise OhnixError("This ohnix is not an installed package (run from a source tree?), "
                         "so there is no record of where it came from.",
                         hint=FROM_HINT) from None  # fmt: skip
    text = dist.read_text("direct_url.json")
    return from_direct_url(json.loads(text) if text else None, dist.version)
