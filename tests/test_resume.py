"""Fault injection: training jobs killed with SIGKILL at random points, then started again,
write the same file as an uninterrupted run (apart from its `timing` field).

Each job runs as its own process, as under Snakemake (paper_checks.runner, the code the
rules' scripts call), saving its progress every few steps.  For each kill point the job is
started, killed after a seeded random fraction of the uninterrupted run's wall time
(during start-up, mid-step, mid-save: wherever it lands), and started again with the same
arguments.  What its checkpoint held at the kill is recorded, so the test shows that kills
landed both before the first save and in the middle of runs.

Catches: state missing from a checkpoint (momentum, codebook, bootstrap history, records),
a resume that repeats or skips a step, runs of a job matched to the wrong saved result (the
measurement job runs two seeds, so also a seed's runs matched to another's), a finished seed
run again or lost, a
truncated checkpoint read after a kill during a save, a checkpoint left behind after success.
The SIGKILL of jobs under Snakemake itself is in tests/test_reliability.py.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline import ROOT

from holograd.checkpoint import Checkpoint
from paper_checks.hashing import TIMING, config_hash
from paper_checks.runner import checkpoint_file, job_identity

CODE = "test-code"
EVERY = 3

E3 = {
    "model": "micro",
    "block_size": 16,
    "batch_size": 2,
    "n_workers": 3,
    "k_random": 8,
    "beta": 0.9,
    "cold_start_steps": 1,
    "steps": 14,
    "eval_every": 4,
    "eval_batches": 2,
    "tune_steps": 4,
    "max_loss_factor": 2.0,
    "lr_grid": {"sgd": [0.5], "random_k64": [0.01], "random_k1": [0.001], "momentum": [10.0], "momentum_alg3": [10.0]},
}
E4_BOOTSTRAP = {
    "model": "micro",
    "block_size": 16,
    "batch_size": 2,
    "k": 4,
    "ranks": [4],
    "warm_start": "bootstrap",
    "warm_steps": 4,
    "alpha": 1.0e-3,
    "qr_every": 3,
    "steps": 12,
    "eval_every": 4,
    "eval_batches": 2,
    "tune_steps": 7,
    "max_loss_factor": 2.0,
    "lr_grid": {"adc": [3.0, 10.0], "random": [0.01, 0.03], "sgd": [0.3, 1.0]},
}
JOBS = {
    # (experiment module, what the killed job is, its config, kill points)
    "e3_run": ("holograd.experiments.momentum_comparison", "run", E3, 8),
    "e4_bootstrap_tuning": ("holograd.experiments.adc_energy", "tune", E4_BOOTSTRAP, 6),
}

# A zygote process imports what every job imports (torch, transformers: seconds) once, then
# forks one child per job start; a child is a job process like Snakemake's (it starts from
# a clean state and shares nothing with a killed predecessor but the files), minus the imports.
ZYGOTE = """
import json, logging, os, sys
import torch
import transformers.models.gpt2.modeling_gpt2
from paper_checks import runner
from paper_checks.joblog import setup_logging
for line in sys.stdin:
    args = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(args.pop("workdir"))
        setup_logging(args.pop("log"), threads=1)
        try:
            getattr(runner, args.pop("function"))(**args)
        except BaseException:
            logging.exception("job failed")
            os._exit(1)
        os._exit(0)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.fixture(scope="module")
def zygote():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    yield process
    process.stdin.close()
    process.wait(timeout=60)


def _job(name: str, tokens: Path) -> dict:
    module, kind, cfg, _ = JOBS[name]
    config = {"experiment": cfg, "device": "cpu"}
    args = {
        "module": module,
        "experiment": name,
        "setting": "default",
        "config": config,
        "code": CODE,
        "tokens": str(tokens),
        "checkpoint_every": EVERY,
        "log": f"logs/{name}.log",
    }
    if kind == "run":
        # a job of two seeds, one after another (config seeds_per_job): kills land in either
        args.update(
            function="run_experiment",
            seeds=[0, 1],
            output=f"results/runs/{name}/seeds0_1.json",
            tuning="results/tuning/e3.json",
        )
    else:
        args.update(function="tune_experiment", output=f"results/tuning/{name}.json")
    args["checkpoint"] = checkpoint_file(args["output"])
    return args


def _tuning_file(workdir: Path, config: dict) -> None:
    """The E3 run's learning rates, as a tuning job of this config and code would record them."""
    rates = {arm: {"lr": grid[0]} for arm, grid in config["experiment"]["lr_grid"].items()}
    path = workdir / "results" / "tuning" / "e3.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config_sha256": config_hash(config), "code_sha256": CODE, "tuned": rates}))


def _observe(
    zygote, workdir: Path, args: dict, kill_after: float | None = None, before_first_save: bool = False
) -> tuple[float, float]:
    """Run the job; with kill_after, SIGKILL it that many seconds after its first save (or,
    with before_first_save, after its start).  Returns the seconds from the start to its
    first save and to its output (None for what did not happen)."""
    workdir.mkdir(parents=True, exist_ok=True)
    saved, output = workdir / args["checkpoint"], workdir / args["output"]
    start = time.perf_counter()
    zygote.stdin.write(json.dumps({**args, "workdir": str(workdir)}) + "\n")
    zygote.stdin.flush()
    pid = int(zygote.stdout.readline())
    first = None
    killed = False
    while not output.exists() and not killed:
        now = time.perf_counter() - start
        if first is None and saved.exists():
            first = now
        if kill_after is not None and (
            now > kill_after if before_first_save else first is not None and now > first + kill_after
        ):
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.002)
    done = None if killed else time.perf_counter() - start
    code = int(zygote.stdout.readline())
    if kill_after is None:
        assert code == 0, (workdir / args["log"]).read_text()[-2000:]
    return first, done


def _content(path: Path) -> str:
    """The file's text without its timing field, as write_json would write it."""
    data = json.loads(path.read_text())
    assert TIMING in data
    return json.dumps({k: v for k, v in data.items() if k != TIMING}, indent=1, sort_keys=True)


@pytest.mark.parametrize("name", sorted(JOBS))
def test_a_job_killed_anywhere_resumes_to_the_uninterrupted_result(name, tmp_path, token_cache_file, zygote):
    _, kind, _, kills = JOBS[name]
    args = _job(name, token_cache_file)
    runs = []
    for reference in (
        tmp_path / "reference",
        tmp_path / "reference2",
    ):  # the second one's timing is free of first-run costs
        if kind == "run":
            _tuning_file(reference, args["config"])
        runs.append(_observe(zygote, reference, args))
        assert not (reference / args["checkpoint"]).exists()  # removed once the output is written
    expected = _content(reference / args["output"])
    assert _content(tmp_path / "reference" / args["output"]) == expected  # deterministic
    first_save, wall = runs[-1]
    assert first_save is not None, "the job saved no progress"

    rng = random.Random(f"kills-{name}")
    landed = []
    for i in range(kills):
        workdir = tmp_path / f"kill{i}"
        if kind == "run":
            _tuning_file(workdir, args["config"])
        if i == 0:  # during start-up or the first steps
            _observe(zygote, workdir, args, kill_after=rng.uniform(0.3, 1.0) * first_save, before_first_save=True)
        else:  # anywhere in the job's training
            _observe(zygote, workdir, args, kill_after=rng.uniform(0.0, 1.0) * (wall - first_save))
        if (workdir / args["output"]).exists():  # the kill came too late to test anything
            landed.append("after the end")
            continue
        saved = workdir / args["checkpoint"]
        if saved.exists():
            state = Checkpoint(saved, job_identity(args["config"], CODE, args.get("seeds")), EVERY)
            assert state.done or state.current, "a checkpoint of this job must be read back"
            seeds_done = sorted(k for k in state.done if k.startswith("record/"))
            landed.append(
                f"{len(state.done) - len(seeds_done)} runs done"
                + (f" after {', '.join(seeds_done)}" if seeds_done else "")
                + (f", run at step {state.current['step']}" if state.current else "")
            )
        else:
            landed.append("before the first save")
        _observe(zygote, workdir, args)
        assert _content(workdir / args["output"]) == expected, f"kill {i} ({landed[-1]}) resumed to another result"
        assert not saved.exists()
        resumed = "resuming from" in (workdir / args["log"]).read_text()
        assert resumed == (landed[-1] != "before the first save")
    print(
        f"{name}: {kills} kills, landed {landed}; all resumed to the uninterrupted result "
        f"(job: {wall:.1f} s, first save at {first_save:.1f} s)"
    )
    assert sum(w not in ("after the end", "before the first save") for w in landed) >= kills // 2, (
        landed
    )  # most kills hit saved progress
    if kind == "run":  # some kill hit the second seed, after the first one's record was saved
        assert any("record/seed0" in w for w in landed), landed
