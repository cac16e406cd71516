"""A stand-in for a batch scheduler whose machines share no filesystem with the submitter,
for `snakemake --executor cluster-generic` in the tests.

    fake_cluster.py submit JOBSCRIPT   prints a job id and runs the job in the background
    fake_cluster.py status JOBID       prints running, success or failed

Each job runs on a "fresh machine": a directory that receives only the repository's
git-tracked files and the job's declared inputs (what the Vast.ai executor ships), with a
Python path on which `holograd` and `paper_checks` resolve to packages that refuse to be
imported, so that a job which imports the project from anywhere but the shipped tree fails.
Afterwards only the job's declared outputs and log files come back (Vast.ai's SSH transfer
brings back no more), then the job's state is set.  The queue lives in $FAKE_CLUSTER_QUEUE.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

POISON = "raise ImportError('{name} imported from outside the files shipped to the job')\n"


def queue() -> Path:
    return Path(os.environ["FAKE_CLUSTER_QUEUE"])


def submit(jobscript: str) -> None:
    jobid = uuid.uuid4().hex[:12]
    job = queue() / jobid
    job.mkdir(parents=True)
    shutil.copy(jobscript, job / "jobscript.sh")  # Snakemake may delete its copy
    with open(job / "runner.log", "w") as log:
        subprocess.Popen(
            [sys.executable, __file__, "run", jobid, os.getcwd()],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(jobid)


def status(jobid: str) -> None:
    state = queue() / jobid / "state"
    print(state.read_text().strip() if state.is_file() else "running")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    elif src.exists():
        shutil.copy2(src, dest)


def _poisoned_path(where: Path) -> Path:
    for name in ("holograd", "paper_checks"):
        (where / name).mkdir(parents=True, exist_ok=True)
        (where / name / "__init__.py").write_text(POISON.format(name=name))
    return where


def run(jobid: str, workdir: str) -> None:
    job, home = queue() / jobid, Path(workdir)
    script = (job / "jobscript.sh").read_text()
    properties = json.loads(re.search(r"^# properties = (.*)$", script, re.MULTILINE).group(1))
    machine = job / "machine"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=home, capture_output=True, check=True, text=True).stdout
    for name in filter(None, tracked.split("\0")):
        _copy(home / name, machine / name)
    for name in properties["input"]:
        _copy(home / name, machine / name)
    script = script.replace(str(home), str(machine))
    for tmp in re.findall(r"'([^']*/\.snakemake/tmp\.[^/']+)'", script):
        Path(tmp).mkdir(parents=True, exist_ok=True)  # Snakemake's job directory, waited for
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(_poisoned_path(job / "poison")), os.environ.get("PYTHONPATH")])
        ),
    }
    with open(job / "job.log", "w") as log:
        code = subprocess.run(
            ["sh", "-c", script], cwd=machine, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    for name in [*properties["output"], *properties["log"]]:
        _copy(machine / name, home / name)
    done = code == 0 and all((home / name).exists() for name in properties["output"])
    (job / "state").write_text("success" if done else "failed")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"submit": submit, "status": status, "run": run}[command](*args)
