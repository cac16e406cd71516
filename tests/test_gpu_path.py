"""The GPU path, checked on a CPU machine with stand-ins: where E8's ranks go on machines with 1,
2 or 4 GPUs, a device that is asked for and cannot be used, a CUDA job whose Triton kernels
cannot run, what every run records about where it ran, and the pipeline on a stand-in one-GPU
machine (`--resources gpu=1` with E8 asking for four)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import warnings

import pytest
import torch
import torch.distributed as dist
import yaml
from pipeline import ROOT, SMOKE, SNAKEMAKE, copy_repository, snakemake

from holograd import devices, directions
from holograd.distributed.placement import agree_backend, place
from holograd.experiments.setup import environment, job_device

# --- E8's ranks on the GPUs a machine has -------------------------------------------------------


@pytest.mark.parametrize(
    "gpus, expected_devices, backend",
    [
        (1, [0, 0, 0, 0], "gloo"),  # a workstation with one GPU: every rank shares it
        (2, [0, 1, 0, 1], "gloo"),
        (4, [0, 1, 2, 3], "nccl"),  # one GPU per rank: NCCL
        (8, [0, 1, 2, 3], "nccl"),
    ],
)
def test_four_ranks_go_round_robin_on_the_gpus_and_nccl_only_with_one_each(gpus, expected_devices, backend):
    """At d39e71f rank r went to cuda:r, which does not exist on a machine with fewer than four
    GPUs, and the backend was NCCL, which refuses two ranks on one GPU."""
    placed = [place("cuda", r, 4, gpus) for r in range(4)]
    assert [p.device for p in placed] == [torch.device("cuda", i) for i in expected_devices]
    assert {p.backend for p in placed} == {backend}
    assert all(str(gpus) in p.reason for p in placed)
    assert [place("auto", r, 4, gpus).device for r in range(4)] == [p.device for p in placed]


def test_without_a_gpu_auto_runs_on_the_cpu_and_cuda_stops():
    for r in range(4):
        assert place("auto", r, 4, 0).device == torch.device("cpu")
        assert place("cpu", r, 4, 4).device == torch.device("cpu") and place("cpu", r, 4, 4).backend == "gloo"
    assert "driver too old" in place("auto", 0, 4, 0, cuda_problem="driver too old").reason
    with pytest.raises(RuntimeError, match="device 'cuda' was asked for, but driver too old"):
        place("cuda", 0, 4, 0, cuda_problem="driver too old")
    with pytest.raises(ValueError, match="local rank 4"):
        place("cuda", 4, 4, 1)


def test_a_rank_whose_gpu_fails_its_first_kernel_stops_naming_it(monkeypatch):
    """Each rank checks its own GPU (not cuda:0 for all, which would put every rank's context on
    the first GPU): rank 1 of two on two GPUs stops when cuda:1 cannot run a kernel."""
    from holograd.distributed import train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(train, "cuda_problem", lambda index=0: "broken" if index == 1 else None)
    assert train._placement("cuda", 0, 2).device == torch.device("cuda", 0)
    with pytest.raises(devices.DeviceError, match="rank 1's cuda:1 cannot be used: broken"):
        train._placement("cuda", 1, 2)
    assert train._placement("cpu", 1, 2).device == torch.device("cpu")


def _agree(proposals: list[str]) -> list[str]:
    """agree_backend of each rank, the ranks as threads sharing one store (as torchrun's)."""
    store, out = dist.HashStore(), [None] * len(proposals)

    def rank(r):
        out[r] = agree_backend(store, r, len(proposals), proposals[r])

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(len(proposals))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


def test_machines_with_different_gpu_counts_agree_on_one_backend():
    """Two machines, one with a GPU per rank (NCCL) and one without (gloo): every rank must
    start the same process group, so all take gloo; all NCCL stays NCCL."""
    assert _agree(["nccl", "nccl", "gloo", "gloo"]) == ["gloo"] * 4
    assert _agree(["nccl"] * 4) == ["nccl"] * 4


# --- the device: asked for, and cannot be used ----------------------------------------------------


@pytest.fixture()
def fresh_cuda_check():
    devices.cuda_problem.cache_clear()
    yield
    devices.cuda_problem.cache_clear()


def test_cuda_on_a_cpu_build_stops_in_one_line_naming_the_build(fresh_cuda_check, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(devices.DeviceError) as error:
        devices.resolve_device("cuda")
    message = str(error.value)
    assert "\n" not in message and "CPU-only build" in message and torch.__version__ in message


def test_a_cuda_build_that_cannot_reach_the_gpu_stops_and_says_why(fresh_cuda_check, monkeypatch, caplog):
    """A CUDA build whose driver is too old: is_available() is False with only a warning, on
    which d39e71f's `auto` ran every job on the CPU in silence.  Now `cuda` stops with the
    warning's reason and `auto` logs it as a warning."""

    def unavailable():
        warnings.warn(
            "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).", stacklevel=2
        )
        return False

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", unavailable)
    with pytest.raises(devices.DeviceError, match=r"CUDA 12\.4\) cannot use CUDA: .*driver on your system is too old"):
        devices.resolve_device("cuda:0")
    with caplog.at_level(logging.INFO, logger="holograd.devices"):
        assert devices.resolve_device("auto") == torch.device("cpu")
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "driver on your system is too old" in warned[0].getMessage()


def test_a_gpu_the_build_has_no_kernels_for_stops(fresh_cuda_check, monkeypatch):
    """is_available() is True, but the first kernel fails (a GPU the build was not compiled for)."""
    real_ones = torch.ones

    def ones(*args, device=None, **kwargs):
        if device is not None and torch.device(device).type == "cuda":
            raise RuntimeError("CUDA error: no kernel image is available for execution on the device\nmore")
        return real_ones(*args, device=device, **kwargs)

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch, "ones", ones)
    with pytest.raises(devices.DeviceError, match="a first kernel on CUDA failed: RuntimeError: CUDA error: no kernel"):
        devices.resolve_device("cuda")
    with pytest.raises(devices.DeviceError, match=r"sees 1 CUDA device\(s\), not cuda:3"):
        devices.resolve_device("cuda:3")


def test_the_paper_config_asks_for_cuda_and_the_default_for_auto():
    """The paper scale must never run on the CPU in silence; the laptop default may."""
    assert yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["device"] == "cuda"
    assert yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["device"] == "auto"


# --- the direction generator on CUDA --------------------------------------------------------------


@pytest.fixture()
def broken_triton(monkeypatch):
    """A stand-in CUDA device 0 whose Triton kernels cannot run (as with triton missing)."""
    monkeypatch.delenv(devices.GENERATOR_FALLBACK, raising=False)
    monkeypatch.setattr(directions, "_triton_problem", lambda index: "RuntimeError: triton is not importable")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    directions._warn_fallback.cache_clear()
    return torch.device("cuda", 0)


def test_a_cuda_job_without_working_triton_kernels_stops_in_one_line(broken_triton):
    """At d39e71f such a job generated its directions on the CPU and copied them, hundreds of
    times slower, and nothing recorded it."""
    with pytest.raises(directions.GeneratorUnavailable) as error:
        directions.generator_backend(broken_triton)
    assert "\n" not in str(error.value) and "triton is not importable" in str(error.value)
    assert devices.GENERATOR_FALLBACK in str(error.value)
    with pytest.raises(directions.GeneratorUnavailable):
        directions._on_cuda(broken_triton)  # what project / reconstruct ask first


def test_the_explicit_fallback_generates_on_the_cpu_and_says_so(broken_triton, monkeypatch, caplog):
    monkeypatch.setenv(devices.GENERATOR_FALLBACK, "1")
    with caplog.at_level(logging.WARNING, logger="holograd.directions"):
        backend = directions.generator_backend(broken_triton)
        assert not directions._on_cuda(broken_triton)
    assert backend == "numba, copied to cuda:0 (RuntimeError: triton is not importable)"
    assert len(caplog.records) == 1 and devices.GENERATOR_FALLBACK in caplog.records[0].getMessage()


def test_the_triton_check_reports_why_the_kernels_cannot_run_here():
    """On this CPU machine the real check fails (no CUDA device) and says why, not None."""
    problem = directions._triton_problem.__wrapped__(0)
    assert problem and "\n" not in problem


def test_job_device_sets_the_fallback_for_the_jobs_children(monkeypatch):
    monkeypatch.delenv(devices.GENERATOR_FALLBACK, raising=False)
    assert job_device("cpu") == torch.device("cpu") and devices.GENERATOR_FALLBACK not in os.environ
    job_device("cpu", cpu_generator=True)
    assert os.environ[devices.GENERATOR_FALLBACK] == "1"


def test_every_run_records_device_generator_and_versions():
    env = environment(torch.device("cpu"))
    assert env["device_type"] == "cpu" and env["device"].startswith("cpu (")
    assert env["generator"] == "numba" and env["torch"] == torch.__version__
    assert env["cuda"] == torch.version.cuda and set(env) >= {"triton", "numba", "python", "threads"}
    assert env["numba"]  # installed with the project


def test_a_job_that_generates_no_direction_records_none_and_needs_no_triton():
    """E1 never generates a direction: it records generator "none", never asks for the Triton
    kernels (a CUDA machine with a broken Triton still runs it), and editing the generator
    does not rerun it (tests/test_catalog.py: its import closure)."""
    code = (
        "import sys, torch\n"
        "from holograd.experiments import gradient_variability\n"
        "from holograd.experiments.setup import environment\n"
        "print(environment(torch.device('cpu'))['generator'], 'holograd.directions' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["none", "False"]


# --- the pipeline ---------------------------------------------------------------------------------


def test_e8_asks_for_at_most_the_gpus_the_run_was_given():
    """The paper config's E8 asks for four GPUs; under `--resources gpu=1` (one rented H100) it
    must ask for one, else Snakemake stops the whole run when E8 becomes ready."""
    for given, expected in (("1", "1"), ("2", "2"), ("4", "4"), (None, "4")):
        limit = ["--resources", f"gpu={given}"] if given else []
        out = snakemake(
            ROOT, "-n", "--forceall", "--configfile", "config/paper.yaml", *limit, "--",
            "results/systems/e8_distributed_protocol.json",
        ).stdout  # fmt: skip
        block = out[out.index("rule distributed_protocol:") :]
        assert re.search(r"resources: .*\bgpu=(\d+)", block).group(1) == expected, given


def _smoke_copy(tmp_path, edit):
    repo = copy_repository(tmp_path)
    smoke = repo / "config" / "smoke.yaml"
    config = yaml.safe_load(smoke.read_text())
    edit(config)
    smoke.write_text(yaml.safe_dump(config, sort_keys=False))
    return repo


def test_a_stand_in_one_gpu_machine_schedules_and_runs_e8(tmp_path):
    """E8 asking for four GPUs under `--resources gpu=1` on a machine showing one GPU (a stand-in
    device list): it is scheduled, claims the one GPU and runs its ranks (here on the CPU, the
    smoke config's device).  At d39e71f Snakemake raised a WorkflowError when E8 became ready."""

    def four_gpus(config):
        config["resources"] = {"e8_distributed_protocol": {"gpu": 4}}

    repo = _smoke_copy(tmp_path, four_gpus)
    env = {**os.environ, "HOLOGRAD_GPU_DEVICES": "0", "HOLOGRAD_GPU_LOCKS": str(tmp_path / "locks")}
    result = snakemake(
        repo, "--cores", "2", "--resources", "gpu=1", *SMOKE, "results/systems/e8_distributed_protocol.json", env=env
    )
    assert "WorkflowError" not in result.stderr
    log = (repo / "logs" / "systems" / "e8_distributed_protocol.log").read_text()
    assert "claimed GPU(s) 0 " in log, log[-2000:]
    e8 = json.loads((repo / "results" / "systems" / "e8_distributed_protocol.json").read_text())
    assert e8["backend"] == "gloo" and e8["environment"]["generator"] == "numba" and "placement" in e8


def test_a_cuda_run_without_cuda_stops_before_its_first_job_in_one_line(tmp_path):
    """`device: cuda` (the paper config's) on a machine that cannot use CUDA: the run stops before
    any job, with one line saying why, and nothing runs on the CPU.  At d39e71f (`auto`) every
    job ran on the CPU; with `cuda` alone, every job would fail in turn (the profiles keep going)."""

    def on_cuda(config):
        config["device"] = "cuda"

    repo = _smoke_copy(tmp_path, on_cuda)
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "1", *SMOKE, "results/RESULTS_SUMMARY.md"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if "DeviceError: " in ln]
    assert len(lines) == 1 and "device 'cuda' was asked for, but" in lines[0], result.stderr[-3000:]
    assert not (repo / "results").exists() and not (repo / "logs").exists()


def test_a_job_asked_to_run_on_cuda_without_it_stops_at_its_start(tmp_path, token_cache_file):
    """Each job checks its device itself (remote jobs run where the run cannot check first)."""
    from paper_checks.runner import run_experiment

    with pytest.raises(devices.DeviceError, match="device 'cuda' was asked for"):
        run_experiment(
            module="holograd.experiments.unbiased_estimator",
            experiment="e5_unbiased_estimator",
            setting="base",
            seeds=[0],
            config={"experiment": {}, "device": "cuda"},
            code="0" * 64,
            tokens=str(token_cache_file),
            output=str(tmp_path / "results" / "runs" / "seed0.json"),
        )
    assert not (tmp_path / "results").exists()


# --- on a GPU (benchmarks/gpu_check.sh runs these; skipped without CUDA) -------------------------


@pytest.mark.gpu
def test_gpu_cuda_is_usable_and_directions_come_from_the_triton_kernels():
    device = job_device("cuda")
    env = environment(device)
    assert device.type == "cuda" and env["generator"] == "triton" and env["device_type"] == "cuda"
    assert env["cuda"] and env["triton"]


@pytest.mark.gpu
def test_gpu_e1_at_the_paper_scale_fits_in_16_gb():
    """E1's measurement at the paper config's largest setting (gpt2like, GPT-2's vocabulary, 128
    tokens, batches of 32, n = 50 gradients: a 8.9 GB matrix) within 16 GiB of GPU memory; at
    d39e71f the list of gradients and their stack alone took 17.9 GB."""
    from holograd.experiments.gradient_variability import gradient_matrix, measure
    from holograd.models import build_model
    from holograd.params import ParamSpace

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = build_model("gpt2like", 50257, 128, seed=0, device="cuda")
    space = ParamSpace(model)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 50257, (32, 129), generator=gen).cuda() for _ in range(50)]
    grads = gradient_matrix(model, batches, space)
    stats = measure(grads)
    peak = torch.cuda.max_memory_allocated()
    assert 0 < stats["mean_pairwise_cosine"] < 1
    assert peak < 16 * 2**30, f"peak {peak / 2**30:.2f} GiB"
