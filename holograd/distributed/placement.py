"""Where each process of a distributed run computes, and which backend connects the processes.

torchrun starts LOCAL_WORLD_SIZE processes on a machine that shows G CUDA devices (after
CUDA_VISIBLE_DEVICES, e.g. the GPUs a pipeline job claimed).  The run asks for a device:

    cpu                every rank on the CPU; gloo
    auto, G = 0        every rank on the CPU (said in the log); gloo
    cuda, G = 0        stop: CUDA was asked for and this machine cannot give it (holograd.devices)
    auto or cuda, G>0  local rank r on cuda:(r mod G); NCCL when every rank of the machine has
                       a GPU of its own (LOCAL_WORLD_SIZE <= G), else gloo (NCCL refuses two
                       ranks on one GPU), with the proofs crossing through host memory

So four workers run on one, two or four GPUs alike: only the transport differs, never the
numbers (each rank regenerates the directions from the seeds and applies the same update, and
the ranks compare a SHA-256 of theta).  Every rank must choose the same backend, so on several
machines the ranks agree through torchrun's store before the process group starts: NCCL only
if every machine chose it (`agree_backend`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Placement:
    """One rank's device and the backend it proposes, with the reason in words (for the log)."""

    device: torch.device
    backend: str
    reason: str


def place(device: str, local_rank: int, local_world: int, gpus: int, cuda_problem: str | None = None) -> Placement:
    """The placement of local rank `local_rank` of `local_world` processes on a machine with
    `gpus` usable CUDA devices for the run's `device` setting (see the module docstring).
    `cuda_problem` says why CUDA is unusable when `gpus` is 0 (holograd.devices.cuda_problem)."""
    if not 0 <= local_rank < local_world:
        raise ValueError(f"local rank {local_rank} is not among the machine's {local_world} processes")
    kind = torch.device(device).type if device != "auto" else "auto"
    if kind not in ("auto", "cuda"):
        return Placement(torch.device(device), "gloo", f"device {device}: every rank on it, gloo")
    if gpus <= 0:
        why = cuda_problem or "no CUDA device is visible"
        if kind == "cuda":
            raise RuntimeError(f"device {device!r} was asked for, but {why}")
        return Placement(torch.device("cpu"), "gloo", f"device auto and no usable GPU ({why}): the CPU, gloo")
    index = local_rank % gpus
    if local_world <= gpus:
        return Placement(torch.device("cuda", index), "nccl", f"{local_world} rank(s) on {gpus} GPU(s), one each: NCCL")
    return Placement(
        torch.device("cuda", index),
        "gloo",
        f"{local_world} ranks on {gpus} GPU(s): rank r on cuda:(r mod {gpus}), gloo (NCCL needs a GPU per rank)",
    )


def agree_backend(store: dist.Store, rank: int, world: int, proposed: str) -> str:
    """The backend every rank uses: NCCL if every rank proposed it, else gloo.  Each rank
    writes its proposal to the rendezvous store and reads everyone's (blocking until all are
    there), so machines with different GPU counts still start one process group."""
    store.set(f"backend/{rank}", proposed)
    proposals = {store.get(f"backend/{r}").decode() for r in range(world)}
    return "nccl" if proposals == {"nccl"} else "gloo"
