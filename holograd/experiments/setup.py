"""What every experiment job needs: its device, its samples, and a record of its scale."""

from __future__ import annotations

import platform

import torch

from holograd.data import SampleSet, TokenCache


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" -> the first CUDA device if there is one, else the CPU; otherwise torch's name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available on this machine")
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
    """torch and Python versions, device name and thread count of a job (the pipeline adds
    the git commit: paper_checks.provenance.git_commit)."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})"
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": name,
        "threads": torch.get_num_threads(),
    }
