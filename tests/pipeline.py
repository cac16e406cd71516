"""Helpers of the pipeline tests: running Snakemake on scratch copies of the repository, and
the one full run of the smoke config that they share (conftest.py's `smoke_run`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TARGET = "results/RESULTS_SUMMARY.md"
SMOKE = ["--configfile", "config/smoke.yaml", "--"]
# Credentials in the environment of the smoke run (its jobs inherit them); made here, so that
# no file can hold them except by leaking them.
FAKE_KEY = f"fake-secret-{uuid.uuid4().hex}"
FAKE_CREDENTIALS = {"VAST_API_KEY": FAKE_KEY, "AWS_SECRET_ACCESS_KEY": FAKE_KEY}


def snakemake(cwd, *args, check=True, env=None):
    result = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def planned_outputs(cwd, *args) -> list[str]:
    """The first output of every job a dry run would execute ([] only if Snakemake says so)."""
    result = snakemake(cwd, "-n", *args)
    outputs = sorted(m.group(1).split(",")[0] for m in re.finditer(r"^\s+output: (.+)$", result.stdout, re.MULTILINE))
    if not outputs:  # an empty list must mean "nothing to do", not a parser that stopped matching
        assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-2000:]
    return outputs


def copy_repository(dest: Path) -> Path:
    """The pipeline's own folders, for tests that only read or dry-run it."""
    for name in ("workflow", "config", "paper_checks", "holograd"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def tracked_copy(dest: Path) -> Path:
    """The repository's tracked (and new, not ignored) files as a fresh git repository: what a
    remote executor ships is `git ls-files`, so a file the pipeline needs but git ignores fails here."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    # fixed dates: two copies of the same tree get the same commit, as results record it
    dates = {"GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*git, *command], cwd=dest, check=True, capture_output=True, env={**os.environ, **dates})
    return dest


def run_on_fake_cluster(repo: Path, queue: Path, *args) -> subprocess.CompletedProcess:
    """Snakemake with snakemake-executor-plugin-cluster-generic submitting every non-local
    job to tests/fake_cluster.py (a fresh "machine" per job, no shared filesystem)."""
    fake = f"{sys.executable} {ROOT / 'tests' / 'fake_cluster.py'}"
    env = {**os.environ, **FAKE_CREDENTIALS, "FAKE_CLUSTER_QUEUE": str(queue)}
    return snakemake(
        repo,
        "--executor", "cluster-generic",
        "--cluster-generic-submit-cmd", f"{fake} submit",
        "--cluster-generic-status-cmd", f"{fake} status",
        "--jobs", "2", "--local-cores", "1",
        "--latency-wait", "5", "--seconds-between-status-checks", "1",
        *args,
        check=False, env=env,
    )  # fmt: skip
