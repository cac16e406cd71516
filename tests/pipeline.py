"""Helpers of the pipeline tests: running Snakemake on scratch copies of the repository, and
the one full run of the smoke config that they share (conftest.py's `smoke_run`)."""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


# Dry runs (-n) are forked from one process that has already imported Snakemake and what
# building the DAG imports (torch, through the measurement modules: seconds of every dry run
# otherwise).  Each child runs Snakemake's command line in the folder it plans and imports
# the project from there, as a fresh `snakemake -n` does: the parent never imports it.
DRY_RUNNER = """
import json, os, sys, traceback
import torch
import transformers.models.gpt2.modeling_gpt2
import snakemake.cli
assert not {"holograd", "paper_checks"} & set(sys.modules), "the dry-run server imported the project"
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(request["cwd"])
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["snakemake", *request["args"]]
        try:
            snakemake.cli.main(request["args"])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@functools.cache
def _dry_runner() -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", DRY_RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    atexit.register(lambda: (process.stdin.close(), process.wait(timeout=60)))
    return process


def _dry_run(cwd, args) -> subprocess.CompletedProcess:
    server = _dry_runner()
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        request = {"cwd": str(cwd), "args": list(args), "stdout": str(out), "stderr": str(err)}
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        code = int(server.stdout.readline())
        return subprocess.CompletedProcess([*SNAKEMAKE, *args], code, out.read_text(), err.read_text())


def snakemake(cwd, *args, check=True, env=None):
    """`python -m snakemake ARGS` in cwd; a dry run without an environment of its own forks
    from the dry-run server (DRY_RUNNER) instead of starting an interpreter."""
    if "-n" in args and env is None:
        result = _dry_run(cwd, args)
    else:
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
