"""Which commit pre-registered the rules a summary's verdicts follow: the commit that last
changed claims.yaml.  Apart from paper_checks.provenance, which every measurement job imports,
so that this helper of the summary can change without rerunning a measurement."""

from __future__ import annotations

import subprocess
from pathlib import Path

from paper_checks.hashing import ROOT


def last_commit_of(path: str | Path, root: Path = ROOT) -> str:
    """The commit that last changed `path` (with "+dirty" when the file differs from it now);
    "uncommitted" for a file git does not know, "unknown" outside git."""
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run(
            [*git, "log", "-1", "--format=%H", "--", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return (commit or "uncommitted") + ("+dirty" if dirty else "")
