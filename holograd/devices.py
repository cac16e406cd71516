"""The device a job computes on, checked before it is used, and a record of the software under it.

A job that asks for CUDA must get CUDA or stop: a CUDA build of torch that does not match the
host's driver makes `torch.cuda.is_available()` return False with no more than a warning, and a
job that then ran on the CPU would "succeed" at a hundredth of the speed.  So:

- `device: cuda` (or `cuda:N`) raises DeviceError, one line saying why CUDA cannot be used
  (a CPU-only build of torch, a driver too old for the build, no device visible, a device the
  build has no kernels for), before any work starts;
- `device: auto` takes CUDA when it is usable and otherwise the CPU, saying so in the log (a
  warning when torch is a CUDA build, since that is rarely what the user wanted);
- every job's record names the device, its name, the direction generator's backend and the
  versions of torch, CUDA, Triton and numba (`software`, `generator_in_use`).

`python -m holograd.device_check DEVICE` makes the check a job makes, the direction generator
included, and prints where jobs would run.

Usability is decided by running one small kernel on the device (`torch.ones(4) + 1`), which
catches what `is_available` does not: a GPU newer or older than the architectures the build
was compiled for ("no kernel image is available for execution on the device").
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import sys
import warnings
from importlib import metadata

import torch

log = logging.getLogger(__name__)


GENERATOR_FALLBACK = "HOLOGRAD_ALLOW_CPU_GENERATOR"
"""Set to 1 to let a CUDA process whose Triton kernels cannot run generate its directions on the
CPU and copy them (hundreds of times slower; said in the log and in the generator's name).
Unset, such a process stops with holograd.directions.GeneratorUnavailable at its first direction."""


class DeviceError(RuntimeError):
    """The device a job asks for cannot be used here (the message says why, in one line)."""


def first_line(text: object) -> str:
    """The first line of an error message (the one line a failure is reported in)."""
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


@functools.cache
def cuda_problem(index: int = 0) -> str | None:
    """Why this process cannot compute on cuda:`index`, in one line; None when it can.

    Asked once per process and device (the answer cannot change once CUDA is initialised)."""
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return f"this torch ({torch.__version__}) is a CPU-only build; install a CUDA build of torch"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    shown = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if not available:
        why = "; ".join(first_line(w.message) for w in caught) or "no CUDA device is visible"
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) cannot use CUDA: {why}{shown}"
    if index >= torch.cuda.device_count():
        return f"this process sees {torch.cuda.device_count()} CUDA device(s), not cuda:{index}{shown}"
    try:
        probe = torch.ones(4, device=torch.device("cuda", index))
        if float((probe + 1).sum().item()) != 8.0:
            return f"a first kernel on {torch.cuda.get_device_name(index)} returned a wrong result"
    except Exception as exc:  # noqa: BLE001 - any failure of the first kernel means CUDA is unusable
        return f"a first kernel on CUDA failed: {type(exc).__name__}: {first_line(exc)}{shown}"
    return None


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device of `name`: "auto" -> CUDA when usable, else the CPU (logged); "cuda"
    or "cuda:N" -> that device, or DeviceError saying why it cannot be used; else torch's name."""
    if name == "auto":
        problem = cuda_problem()
        if problem is None:
            return torch.device("cuda")
        if torch.version.cuda is not None:
            log.warning("device auto: running on the CPU because %s", problem)
        else:
            log.info("device auto: the CPU (%s)", problem)
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        problem = cuda_problem(device.index or 0)
        if problem is not None:
            raise DeviceError(f"device {name!r} was asked for, but {problem}")
    return device


def allow_cpu_generator() -> None:
    """Let this process, and the processes it starts, fall back to the CPU generator on CUDA."""
    os.environ[GENERATOR_FALLBACK] = "1"


def generator_in_use(device: torch.device) -> str:
    """The direction generator's backend on `device` (holograd.directions.generator_backend) if
    this process generates directions, else "none": asked through the imported module, so that
    a measurement that never generates one (E1) neither needs Triton nor depends on the
    generator's source for its reruns."""
    directions = sys.modules.get("holograd.directions")
    return "none" if directions is None else directions.generator_backend(device)


def device_name(device: torch.device) -> str:
    """The device's model name as torch reports it (`cpu (x86_64)` for the CPU)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({platform.machine()})"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def software() -> dict:
    """Versions of what the numbers depend on: torch, the CUDA it was built for (None for a CPU
    build), Triton and numba (None when not installed), Python."""
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "triton": _version("triton"),
        "numba": _version("numba"),
        "python": platform.python_version(),
    }
