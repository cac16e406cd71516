"""One GPU per job on a machine shared by several jobs: a slot per GPU, claimed with a file lock.

Snakemake's `--resources gpu=N` bounds how many GPU jobs run at once, but a local job still
sees every GPU of the machine and torch puts it on `cuda:0` (Snakemake issue #281).  A job
script therefore wraps its work in

    with claim_gpus(snakemake.resources.gpu):
        run_experiment(...)

which takes `count` GPUs that no other running job holds, points `CUDA_VISIBLE_DEVICES` at
them before anything initialises CUDA (torch reads it then, so `cuda:0` ... `cuda:count-1`
are the claimed ones; torchrun's workers inherit it: holograd.distributed.placement) and lets
them go when the block ends.  The locks are `fcntl.flock` locks, which the OS drops when the process
dies, so a crashed or killed job frees its GPUs without any clean-up.

Which GPUs: `HOLOGRAD_GPU_DEVICES` (a comma-separated stand-in list, for tests), else the
entries of `CUDA_VISIBLE_DEVICES` if it is set, else the machine's devices as torch counts
them (in a child process, so this process's CUDA stays uninitialised).  Where the locks
live: `HOLOGRAD_GPU_LOCKS`, else `/tmp/holograd-gpu-slots-<uid>`, in a folder per machine and
per scheduler allocation (SLURM, PBS, LSF job id).  GPUs are the machine's, so two
pipelines on one machine share the slots; a job that a scheduler gave GPUs of its own (whose
ids it may number from 0 like its neighbours' on the same node) claims them in a folder of
its own, and a remote machine that runs a single job claims what is there at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger("paper_checks.gpu_slots")

DEVICES_VARIABLE = "HOLOGRAD_GPU_DEVICES"
LOCKS_VARIABLE = "HOLOGRAD_GPU_LOCKS"
# a job started by one of these schedulers holds the GPUs it was given (its own slot folder)
SCHEDULER_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")
WAIT_REMINDER_SECONDS = 600  # a waiting job says so again this often


class GpuSlotError(RuntimeError):
    """A job asks for more GPUs than the machine shows."""


def parse_devices(value: str) -> list[str]:
    """The device entries of a `CUDA_VISIBLE_DEVICES`-style list; CUDA stops at the first
    invalid entry, so "-1" (or an empty value) hides every device."""
    devices = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        devices.append(entry)
    return devices


def _torch_device_count() -> int:
    """How many CUDA devices torch sees, asked in a child process: asking here could
    initialise the CUDA driver, after which this process ignores `CUDA_VISIBLE_DEVICES`."""
    result = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return int(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        log.warning("could not count the CUDA devices (%s); taking none", result.stderr.strip()[-300:])
        return 0


def visible_devices() -> list[str]:
    """The devices a job may claim from (see the module docstring for the order of sources)."""
    for variable in (DEVICES_VARIABLE, "CUDA_VISIBLE_DEVICES"):
        if variable in os.environ:
            return parse_devices(os.environ[variable])
    return [str(i) for i in range(_torch_device_count())]


def lock_folder() -> Path:
    """The slot folder of this machine (and of the scheduler allocation, if any)."""
    base = os.environ.get(LOCKS_VARIABLE) or f"/tmp/holograd-gpu-slots-{os.getuid()}"
    scope = socket.gethostname()
    for variable in SCHEDULER_JOB_VARIABLES:
        if os.environ.get(variable):
            scope += f"-{variable.split('_')[0].lower()}{os.environ[variable]}"
            break
    return Path(base) / re.sub(r"[^A-Za-z0-9._-]", "_", scope)


def _try_lock(path: Path) -> IO[str] | None:
    """The open, exclusively locked file at `path`, or None if another process holds it."""
    handle = open(path, "a+")  # noqa: SIM115 - open for as long as the slot is held
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _slot(folder: Path, device: str) -> Path:
    return folder / f"gpu-{re.sub(r'[^A-Za-z0-9._-]', '_', device)}.lock"


def _write(handle: IO[str], text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def _claim_once(folder: Path, devices: list[str], count: int) -> tuple[list[str], list[IO[str]]] | list[str]:
    """Take `count` free slots at once, under the folder's claim lock so that two jobs never
    split the free slots between them; if too few are free, take none and return who holds
    the others ("device: holder")."""
    with open(folder / "claim.lock", "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # held for the few file operations below only
        claimed: list[str] = []
        handles: list[IO[str]] = []
        busy: list[str] = []
        for device in devices:
            handle = _try_lock(_slot(folder, device))
            if handle is None:
                busy.append(f"{device}: {_slot(folder, device).read_text().strip() or '?'}")
                continue
            claimed.append(device)
            handles.append(handle)
            if len(claimed) == count:
                for handle in handles:
                    _write(handle, f"pid {os.getpid()} on {socket.gethostname()}\n")
                return claimed, handles
        for handle in handles:
            handle.close()
        return busy


@contextmanager
def claim_gpus(
    count: int, devices: list[str] | None = None, poll_seconds: float = 5.0, *, up_to: bool = False
) -> Iterator[list[str]]:
    """Hold `count` GPUs of this machine that no other job holds, with `CUDA_VISIBLE_DEVICES`
    naming them, for the duration of the block; yields the claimed device entries.

    Waits while too few are free (a log line, repeated every 10 minutes).  Does nothing for
    `count` 0, and on a machine without GPUs (the job's `device` setting decides then: `auto`
    runs on the CPU, `cuda` stops).  Raises GpuSlotError if the machine shows fewer GPUs than
    `count`, unless `up_to`: a job whose processes can share GPUs (E8's ranks) then takes all
    the machine shows, logged.
    """
    count = int(count)
    if count <= 0:
        yield []
        return
    devices = visible_devices() if devices is None else list(devices)
    if not devices:
        log.warning("the job asks for %d GPU(s) but this machine shows none: running without a GPU slot", count)
        yield []
        return
    if count > len(devices) and up_to:
        log.info("the job asks for up to %d GPUs and this machine shows %d: claiming them all", count, len(devices))
        count = len(devices)
    if count > len(devices):
        raise GpuSlotError(
            f"the job asks for {count} GPUs but this machine shows {len(devices)} ({','.join(devices)}); "
            "lower the job's `gpu` in the config's resources or run it on a larger machine"
        )
    folder = lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    said = -float("inf")
    while isinstance(taken := _claim_once(folder, devices, count), list):
        if time.monotonic() - said >= WAIT_REMINDER_SECONDS:
            log.info(
                "waiting for %d free GPU(s) of %s (held: %s; slots in %s)",
                count,
                ",".join(devices),
                "; ".join(taken),
                folder,
            )
            said = time.monotonic()
        time.sleep(poll_seconds)
    claimed, handles = taken
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
    log.info("claimed GPU(s) %s after %.1fs (CUDA_VISIBLE_DEVICES)", ",".join(claimed), time.monotonic() - start)
    try:
        yield claimed
    finally:
        if previous is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = previous
        for handle in handles:
            _write(handle, "")  # a free slot names no holder (a killed job's stays named until reclaimed)
            handle.close()  # closing the file drops its lock
        log.info("released GPU(s) %s", ",".join(claimed))
