"""GPU slots (paper_checks.gpu_slots): on one machine, each GPU job holds GPUs no other running
job holds.  Checked on the CPU with a stand-in device list (HOLOGRAD_GPU_DEVICES) and real
processes contending for the file locks."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline import ROOT, snakemake

from paper_checks.gpu_slots import GpuSlotError, claim_gpus, lock_folder, parse_devices, visible_devices

# A job in miniature: claims `count` GPUs, marks each as in use (a marker file created with
# O_EXCL, so a second holder of the same GPU fails loudly), holds them `hold` seconds.
CLAIMANT = """
import logging, os, sys, time
from pathlib import Path
from paper_checks.gpu_slots import claim_gpus
logging.basicConfig(level=logging.INFO, format="%(message)s")
count, hold, marks = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
with claim_gpus(count, poll_seconds=0.01) as claimed:
    for device in claimed:
        try:
            os.close(os.open(marks / device, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            print("COLLISION", device, flush=True)
            sys.exit(3)
    print("HELD", os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    time.sleep(hold)
    for device in claimed:
        os.unlink(marks / device)
"""
SCHEDULERS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")


@pytest.fixture()
def machine(tmp_path, monkeypatch):
    """A stand-in machine with four GPUs and its own lock folder; returns the claimants' env."""
    for variable in ("CUDA_VISIBLE_DEVICES", *SCHEDULERS):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOLOGRAD_GPU_DEVICES", "0,1,2,3")
    monkeypatch.setenv("HOLOGRAD_GPU_LOCKS", str(tmp_path / "locks"))
    (tmp_path / "marks").mkdir()
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def claimant(env: dict, marks: Path, count: int, hold: float, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CLAIMANT, str(count), str(hold), str(marks)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def held(process: subprocess.Popen) -> list[str]:
    """The GPUs a finished claimant held (its CUDA_VISIBLE_DEVICES)."""
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return re.fullmatch(r"HELD (\S+)\n", out).group(1).split(",")


def test_concurrent_jobs_never_share_a_gpu(machine, tmp_path):
    """Six one-GPU jobs and E8's four-GPU job, started together on four GPUs."""
    jobs = [claimant(machine, tmp_path / "marks", count, 0.3) for count in (1, 1, 1, 4, 1, 1, 1)]
    holdings = [held(job) for job in jobs]
    assert [len(h) for h in holdings] == [1, 1, 1, 4, 1, 1, 1]
    assert sorted(holdings[3]) == ["0", "1", "2", "3"]
    assert all(h[0] in {"0", "1", "2", "3"} for h in holdings)


def test_a_waiting_job_says_so_and_gets_the_freed_gpu(machine, tmp_path):
    log = tmp_path / "waiting.log"
    with claim_gpus(1, devices=["0"]) as mine, log.open("w") as stderr:
        assert mine == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        job = claimant({**machine, "HOLOGRAD_GPU_DEVICES": "0"}, tmp_path / "marks", 1, 0.0, stderr=stderr)
        deadline = time.monotonic() + 20
        while "waiting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert job.poll() is None  # still waiting while the slot is held here
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert held(job) == ["0"]
    assert re.search(rf"waiting for 1 free GPU\(s\) of 0 \(held: 0: pid {os.getpid()} ", log.read_text())


def test_a_killed_job_frees_its_gpu(machine, tmp_path):
    env = {**machine, "HOLOGRAD_GPU_DEVICES": "0"}
    job = claimant(env, tmp_path / "marks", 1, 60)
    assert job.stdout.readline() == "HELD 0\n"
    job.send_signal(signal.SIGKILL)  # no clean-up runs: the OS drops the lock
    job.wait(timeout=10)
    (tmp_path / "marks" / "0").unlink()  # the killed job's marker
    assert held(claimant(env, tmp_path / "marks", 1, 0.0)) == ["0"]


def test_more_gpus_than_the_machine_shows_is_one_line_error(machine):
    with pytest.raises(GpuSlotError) as error, claim_gpus(5):
        pass
    assert str(error.value).startswith("the job asks for 5 GPUs but this machine shows 4 (0,1,2,3);")
    assert "\n" not in str(error.value)


def test_a_job_whose_processes_share_gpus_takes_what_the_machine_shows(machine, caplog):
    """E8 asks for four GPUs `up_to`: on a machine showing one it claims that one (its ranks
    share it) instead of stopping, as a job that needs four must."""
    caplog.set_level(logging.INFO, logger="paper_checks.gpu_slots")
    with claim_gpus(6, up_to=True) as claimed:
        assert claimed == ["0", "1", "2", "3"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    with claim_gpus(4, devices=["0"], up_to=True) as claimed:
        assert claimed == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert "asks for up to 4 GPUs and this machine shows 1: claiming them all" in caplog.text


def test_no_gpu_asked_or_none_present_leaves_the_environment_alone(machine, monkeypatch, caplog):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with claim_gpus(0) as claimed:
        assert claimed == [] and os.environ["CUDA_VISIBLE_DEVICES"] == "7"
    monkeypatch.setenv("HOLOGRAD_GPU_DEVICES", "")
    with claim_gpus(1) as claimed:
        assert claimed == [] and os.environ["CUDA_VISIBLE_DEVICES"] == "7"
    assert "asks for 1 GPU(s) but this machine shows none" in caplog.text
    assert not Path(os.environ["HOLOGRAD_GPU_LOCKS"]).exists()


def test_the_pool_is_cuda_visible_devices_when_set(machine, monkeypatch, tmp_path):
    """A run restricted to some GPUs (CUDA_VISIBLE_DEVICES=2,5,6 snakemake ...) claims among them."""
    monkeypatch.delenv("HOLOGRAD_GPU_DEVICES")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5,6")
    with claim_gpus(2) as claimed:
        assert claimed == ["2", "5"] and os.environ["CUDA_VISIBLE_DEVICES"] == "2,5"
        env = {**machine, "CUDA_VISIBLE_DEVICES": "2,5,6"}
        del env["HOLOGRAD_GPU_DEVICES"]
        other = claimant(env, tmp_path / "marks", 1, 0.0)
        assert held(other) == ["6"]  # another job of the same run
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,5,6"


def test_device_lists_and_lock_folders(machine, monkeypatch):
    assert parse_devices("0, 1,GPU-ab12") == ["0", "1", "GPU-ab12"]
    assert parse_devices("") == [] and parse_devices("-1") == [] and parse_devices("1,-1,2") == ["1"]
    assert visible_devices() == ["0", "1", "2", "3"]
    machine_wide = lock_folder()
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # a scheduler's job holds the GPUs it was given
    assert lock_folder() == machine_wide.with_name(machine_wide.name + "-slurm4242")


def test_gpu_jobs_ask_snakemake_for_their_gpus():
    """`--resources gpu=N` bounds what the jobs ask for: one GPU each, E8 four (config/paper.yaml;
    under a smaller N, E8 asks for N: tests/test_gpu_path.py)."""
    out = snakemake(
        ROOT, "-n", "--forceall", "--configfile", "config/paper.yaml", "--resources", "gpu=4", "--",
        "results/systems/e8_distributed_protocol.json", "results/data/e5_unbiased_estimator.json",
    ).stdout  # fmt: skip
    gpus = {}
    for rule, block in re.findall(r"^rule (\w+):\n(.*?)(?=^\[|\Z)", out, re.MULTILINE | re.DOTALL):
        gpus.setdefault(rule, set()).update(re.findall(r"resources: .*\bgpu=(\d+)", block))
    assert gpus["distributed_protocol"] == {"4"} and gpus["run_experiment"] == {"1"}
