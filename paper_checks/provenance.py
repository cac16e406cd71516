"""Where a result came from: the git commit of the repository it was computed in.

The hashes of configurations, files and sources that provenance also rests on are in
paper_checks.hashing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from paper_checks.hashing import ROOT

GIT_COMMIT_VARIABLE = "HOLOGRAD_GIT_COMMIT"
"""The commit of the repository where Snakemake runs, set by the workflow and forwarded to
every job (`envvars:`): a job on a remote machine receives the tracked files, not .git."""


def git_commit(root: Path = ROOT) -> str:
    """$HOLOGRAD_GIT_COMMIT if set, else HEAD's commit with "+dirty" when tracked files differ
    from it; "unknown" outside git."""
    if os.environ.get(GIT_COMMIT_VARIABLE):
        return os.environ[GIT_COMMIT_VARIABLE]
    try:
        git = ["git", "-C", str(root)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")
