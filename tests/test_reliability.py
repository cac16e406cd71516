"""Reliability of the pipeline as a whole: a second run of part of the smoke DAG, killed twice
on the way, ends with the same results as the shared smoke run; a run with a failed job still
writes a summary that names the failure.

The second run (fixture `interrupted_smoke_run`) runs locally with `--retries 1`, in a clone of
the shared smoke run's repository (conftest.py's `smoke_run`: the same commit, which results
record), on a smaller DAG than the smoke run's:
- one experiment's whole chain, E7's (its tuning jobs, five measurement jobs, the aggregation
  and claim C7): every stage, killed and resumed;
- one measurement job of every other experiment (the seeds of its first setting), reading the
  token cache and tuning files copied from the smoke run: each experiment's measurement code
  run a second time, in another process, by another executor.
It is killed twice:
1. as soon as a measurement job has saved progress, every running measurement job is killed
   with SIGKILL while Snakemake lives on (a preempted machine): Snakemake retries the jobs,
   which resume from their checkpoints;
2. later, Snakemake and all its jobs are killed with SIGKILL together (the machine that runs
   Snakemake dies); after `snakemake --unlock` (Snakemake's guard against two runs in one
   folder, which a SIGKILL cannot release) the same command goes on: jobs that finished
   before the kill are not run again, the jobs that were cut off resume.
Each kill first freezes the processes it will kill (SIGSTOP) and looks at the checkpoints
while nothing can move: a job that saved progress and then finished between the look and the
kill (E7's static arm runs both seeds in well under a second) would otherwise leave a kill
that cut off no saved progress.  The jobs whose checkpoints lay on disk at a kill are the ones
that must resume.
Every results file it writes must equal the smoke run's (made through a submitting
executor, uninterrupted), byte for byte apart from each file's `timing` field.
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from pipeline import SMOKE, SNAKEMAKE, TARGET, snakemake, tracked_copy

from paper_checks.hashing import TIMING
from paper_checks.verdict import NOT_RUN

RESULTS = ("runs", "tuning", "data", "claims")
CHAIN = "e7_byzantine"  # the experiment whose every job the interrupted run runs
CHAIN_CLAIM = "results/claims/C7.json"
SECOND_KILL_AFTER = 6  # measurement files written (of 11: a job per setting) before Snakemake itself is killed
# Snakemake's rerun triggers but `code`: that trigger compares the rules' own code, in which
# the absolute path of the folder appears, so it would remake the files copied from the smoke
# run's folder (the project's code is in the jobs' params, compared as ever).
TRIGGERS = ["--rerun-triggers", "mtime", "params", "input", "software-env"]


def _wait_for(condition, process, timeout=300.0):
    end = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < end, "the kill point was never reached"
        time.sleep(0.01)


def _checkpoints(folder: Path) -> list[Path]:
    """The checkpoints under folder, not the temporary file of a save that a SIGKILL cut
    short (holograd.files.atomic_write writes `.NAME.XXXX.pt` beside the checkpoint, which a
    kill leaves behind): a checkpoint there means a job with saved progress."""
    return [p for p in folder.rglob("*.pt") if not p.name.startswith(".")]


def _files(repo: Path, folder: str) -> dict[str, Path]:
    return {str(p.relative_to(repo)): p for p in sorted((repo / "results" / folder).rglob("*.json"))}


def _recorded_as_finished(snakemake_output: Path) -> set[str]:
    """Outputs of the measurement jobs that Snakemake reported finished before the kill (a
    job whose output was written but not yet recorded is, rightly, run again)."""
    text = snakemake_output.read_text()
    outputs = dict(re.findall(r"^\s+output: (results/runs/\S+)\n(?:\s+.*\n)*?\s+jobid: (\d+)$", text, re.MULTILINE))
    done = set(re.findall(r"^Finished jobid: (\d+) \(Rule: run_experiment\)$", text, re.MULTILINE))
    return {output for output, jobid in outputs.items() if jobid in done}


def _second_run_repository(smoke: Path, dest: Path) -> tuple[Path, list[str], set[str]]:
    """A clone of the smoke run's repository holding the smoke run's token cache and the
    tuning files of every experiment but E7's, with their mtimes and Snakemake's records of
    them (.snakemake/metadata: the code and parameters that made them), so that Snakemake
    takes them as done.  Returns (repo, targets, copied files): the targets are E7's claim and
    one measurement job of every other experiment."""
    subprocess.run(["git", "clone", "-q", str(smoke), str(dest)], check=True, capture_output=True)
    shutil.copytree(smoke / "resources", dest / "resources")
    shutil.copytree(smoke / ".snakemake" / "metadata", dest / ".snakemake" / "metadata")
    targets, copied = [CHAIN_CLAIM], set()
    for experiment in sorted(p.name for p in (smoke / "results" / "runs").iterdir() if p.name != CHAIN):
        setting = sorted(p.name for p in (smoke / "results" / "runs" / experiment).iterdir())[0]
        targets.append(f"results/runs/{experiment}/{setting}/seeds0_1.json")
        tuning = Path("results", "tuning", experiment)
        if (smoke / tuning).is_dir():
            shutil.copytree(smoke / tuning, dest / tuning)
            copied |= {str(p.relative_to(dest)) for p in (dest / tuning).rglob("*.json")}
    return dest, targets, copied


def _kill_with_saved_progress(run: subprocess.Popen, saves: Path, ready, which: list[str]) -> set[Path]:
    """Once ready() holds, SIGKILL the processes of run's session that `which` (pkill's
    arguments) selects, at a moment when a checkpoint lies under saves: they are frozen
    (SIGSTOP) and the checkpoints looked at while nothing moves; if the job that had saved
    progress finished meanwhile, they go on (SIGCONT) and the wait starts again.
    Returns the checkpoints that lay on disk when the processes died."""
    session = ["-s", str(run.pid), *which]
    while True:
        _wait_for(lambda: ready() and _checkpoints(saves), run)
        if subprocess.run(["pkill", "-STOP", *session], check=False).returncode != 0:
            continue  # the job ended before it could be frozen
        held = set(_checkpoints(saves))
        if held:
            subprocess.run(["pkill", "-KILL", *session], check=True)
            return held
        subprocess.run(["pkill", "-CONT", *session], check=False)


def _log_of(checkpoint: Path, repo: Path) -> Path:
    """The log of the job that saves progress to checkpoint (one folder tree mirrors the other)."""
    job = checkpoint.relative_to(repo / "results" / "checkpoints" / "runs").with_suffix(".log")
    return repo / "logs" / "runs" / job


@pytest.fixture(scope="session")
def interrupted_smoke_run(smoke_run, tmp_path_factory):
    """The smaller second run of the module docstring, killed twice and finished.
    Returns (repo, targets, copied files, the checkpoints on disk at each kill, finished
    {output: mtime} at the second kill, the finishing run's result)."""
    repo, targets, copied = _second_run_repository(smoke_run, tmp_path_factory.mktemp("second") / "repo")
    command = [*SNAKEMAKE, "--cores", "2", "--retries", "1", *TRIGGERS, *SMOKE, *targets]
    saves, runs = repo / "results" / "checkpoints" / "runs", repo / "results" / "runs"
    with open(repo / "first.out", "w") as out:
        run = subprocess.Popen(command, cwd=repo, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        preempted = _kill_with_saved_progress(run, saves, saves.exists, ["-f", "run_experiment"])
        cut_off = _kill_with_saved_progress(  # Snakemake and every job it started
            run, saves, lambda: len(list(runs.rglob("*.json"))) >= SECOND_KILL_AFTER, []
        )
        run.wait()
    finished = {
        path: p.stat().st_mtime_ns
        for path, p in _files(repo, "runs").items()
        if path in _recorded_as_finished(repo / "first.out")
    }
    snakemake(repo, "--unlock", *SMOKE, *targets)
    second = snakemake(repo, "--cores", "2", *TRIGGERS, *SMOKE, *targets)
    return repo, targets, copied, (preempted, cut_off), finished, second


def test_a_killed_job_is_retried_and_resumes(interrupted_smoke_run):
    """Every job killed with saved progress, at either kill, resumes from it: Snakemake
    deletes a job's log when it starts the job again, so each log holds its last attempt,
    which is the one that found the checkpoint (a checkpoint stays until its job finishes)."""
    repo, _, _, (preempted, cut_off), _, _ = interrupted_smoke_run
    assert preempted and cut_off  # by construction: each kill waited for saved progress
    first = (repo / "first.out").read_text()
    assert "Trying to restart job" in first  # Snakemake's retry
    for checkpoint in preempted | cut_off:
        assert "resuming from" in _log_of(checkpoint, repo).read_text(), f"{checkpoint} was not resumed"


def test_the_rerun_after_a_kill_goes_on_where_the_run_stopped(interrupted_smoke_run):
    repo, _, _, _, finished, _ = interrupted_smoke_run
    assert len(finished) >= 4, "too few jobs had finished at the second kill point"
    now = {path: p.stat().st_mtime_ns for path, p in _files(repo, "runs").items()}
    assert all(now[path] == mtime for path, mtime in finished.items())  # not run again
    assert len(now) > len(finished)
    assert not _checkpoints(repo / "results" / "checkpoints")  # every resumed job finished and cleaned up
    # the copied token cache and tuning files were taken as done: none of them was made again
    assert [p.name for p in (repo / "logs" / "data").glob("*.log")] == [f"{CHAIN}.log"]  # its aggregation's
    assert not [p for p in (repo / "logs" / "tuning").rglob("*.log") if CHAIN not in p.parts]


def test_two_runs_of_the_smoke_pipeline_give_the_same_results(smoke_run, interrupted_smoke_run):
    """Determinism: every results file the second run wrote equals the smoke run's, except
    under `timing` (wall times and timestamps); files without timing, byte for byte.  They
    cover every stage of E7 and a measurement job of every experiment."""
    repo, targets, copied, *_ = interrupted_smoke_run
    compared = []
    for folder in RESULTS:
        first, second = _files(smoke_run, folder), _files(repo, folder)
        assert set(second) <= set(first) and second
        for path in sorted(set(second) - copied):
            a, b = json.loads(first[path].read_text()), json.loads(second[path].read_text())
            assert TIMING in a, f"{path} has no timing field"
            a.pop(TIMING), b.pop(TIMING)
            assert a == b, f"{path} differs between two runs of the same configuration"
            compared.append(path)
    assert set(targets) <= set(compared)
    smoke_runs = _files(smoke_run, "runs")
    assert {p for p in smoke_runs if f"/{CHAIN}/" in p} <= set(compared)  # E7's every measurement
    assert {p.split("/")[2] for p in compared if p.startswith("results/runs/")} == {
        p.split("/")[2] for p in smoke_runs
    }  # a measurement of every experiment
    assert any(p.startswith(f"results/tuning/{CHAIN}/") for p in compared)
    assert f"results/data/{CHAIN}.json" in compared


def test_a_failed_job_leaves_a_summary_that_names_it(tmp_path):
    """A job that fails (an E4 codebook rank above D, which only the job can know) stops its
    experiment's claim, the other experiment is still judged (keep-going), and the summary
    lists C5 as NOT RUN with the job's error, the rest as not configured."""
    repo = tracked_copy(tmp_path)
    config = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    config["experiments"] = {
        k: v for k, v in config["experiments"].items() if k in ("e4_adc_energy", "e6_pogp_verification")
    }
    config["experiments"]["e4_adc_energy"]["ranks"] = [8, 1000000]
    config["experiments"]["e4_adc_energy"].pop("sweep")  # one warm start: one tuning job fails
    (repo / "config" / "failing.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(repo, "--configfile", "config/failing.yaml", "--", TARGET, check=False)
    assert result.returncode != 0
    summary = (repo / TARGET).read_text()
    assert "This run did not finish: 1 job(s) failed." in summary
    rows = {line.split(" | ")[0].strip("| "): line for line in summary.splitlines() if line.startswith("| C")}
    assert sorted(rows) == [f"C{i}" for i in range(1, 9)]
    assert (
        f"**{NOT_RUN}**" in rows["C5"]
        and "ValueError: codebook rank must lie in [1, D=22880], got 1000000" in rows["C5"]
    )
    assert "**PASS**" in rows["C8"] or "**FAIL**" in rows["C8"] or "**INCONCLUSIVE**" in rows["C8"]
    # (a NOT RUN reading that would need true gradients is still labelled so: "NOT RUN (not verifiable)")
    not_configured = ("C1", "C2", "C3", "C4", "C6", "C7")
    assert all(f"**{NOT_RUN}" in rows[c] and "** | experiment `" in rows[c] for c in not_configured)
