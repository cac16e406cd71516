"""What every experiment job needs: its device, its samples, and a record of its scale."""

from __future__ import annotations

import logging

import torch

from holograd.data import SampleSet, TokenCache
from holograd.devices import allow_cpu_generator, device_name, generator_in_use, resolve_device, software
from holograd.numerics import cpu_description, cpu_numerics

log = logging.getLogger(__name__)


def job_device(name: str, cpu_generator: bool = False) -> torch.device:
    """The device of a job (holograd.devices.resolve_device: a job that cannot use the device it
    asks for stops here).  On CUDA the direction generator is checked at the job's first
    direction (holograd.directions.generator_backend), which stops a job whose Triton kernels
    cannot run unless `cpu_generator` lets it generate on the CPU and copy (exported, so that
    the job's child processes inherit it)."""
    device = resolve_device(name)
    if cpu_generator:
        allow_cpu_generator()
    log.info("device %s (%s)", device, device_name(device))
    return device


def train_samples(cache: TokenCache, block_size: int) -> SampleSet:
    """The training split cut into samples of block_size + 1 tokens."""
    return SampleSet(cache.splits["train"], block_size)


def scale(cfg: dict, cache: TokenCache, dim: int, steps: int = 0) -> dict:
    """The scale a job ran at, as the summary reports it."""
    return {
        "model": cfg["model"],
        "D": int(dim),
        "corpus": cache.meta["corpus"],
        "tokenizer": cache.meta["tokenizer"],
        "vocab_size": cache.vocab_size,
        "block_size": cfg["block_size"],
        "batch_size": cfg["batch_size"],
        "steps": int(steps),
    }


def environment(device: torch.device) -> dict:
    """Where a job ran: the device, its name, the direction generator's backend (numba, triton,
    or a copy from the CPU), torch's threads, the CPU arithmetic it was pinned to and the CPU
    itself (holograd.numerics), and the software versions (holograd.devices);
    the pipeline adds the git commit (paper_checks.provenance.git_commit)."""
    return {
        **software(),
        "device": device_name(device),
        "device_type": device.type,
        "generator": generator_in_use(device),
        "threads": torch.get_num_threads(),
        **cpu_numerics(),
        **cpu_description(),
    }
