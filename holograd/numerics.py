"""The CPU arithmetic every pipeline job runs with, pinned so that a job's files are bit for bit
the same on any x86-64 CPU with AVX2.

torch picks its CPU kernels by the machine's vector width: ATen's vectorised kernels (AVX2 or
AVX-512) and MKL's BLAS (its own dispatch).  The two widths sum in different orders, so one
`tiny` gradient has different last bits under each (tests/test_numerics.py shows it on a
machine with AVX-512), and training amplifies last-bit differences into different verdicts on
two machines (issue 25).  Two environment variables fix both at AVX2, the widest that every
x86-64 machine of the last decade has:

    ATEN_CPU_CAPABILITY=avx2   ATen's kernels (read when ATen first dispatches a CPU op)
    MKL_CBWR=AVX2              MKL's conditional numerical reproducibility: its AVX2 code
                               path on any processor that has AVX2

oneDNN's ISA (ONEDNN_MAX_CPU_ISA) moved no bit of the test's gradient and is left alone.  Both
must be set before the process's first CPU op: the workflow sets them when it parses
(inherited by every job it starts, here or on a remote machine, which parses it again) and
every job's script again before it imports the project (workflow/scripts/_project.py).  On a
CPU without AVX2 (ARM, old x86) the variables have no effect and the files may differ from an
x86 run's; `cpu_numerics()` records what a job ran with in its environment.
"""

from __future__ import annotations

import os

PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
"""What every pipeline job runs with (environment variables)."""


def pin_cpu_numerics(environ: dict | None = None) -> None:
    """Set PINNED in `environ` (os.environ by default), over any value already there: a job's
    arithmetic must not depend on the machine or the shell it was started from."""
    (os.environ if environ is None else environ).update(PINNED)


def cpu_numerics() -> dict:
    """What this process computes with on the CPU: ATen's kernel capability as torch reports it
    and MKL's reproducibility mode (None where unset)."""
    import torch

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkl_cbwr": os.environ.get("MKL_CBWR")}


def cpu_description() -> dict:
    """The machine's CPU as a run reports it: its model name and the widest vector extension it
    has (AVX-512, AVX2, ...; what the pin above narrows to AVX2), from /proc/cpuinfo where there
    is one, else what the platform module says."""
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() in ("flags", "Features") and not flags:
            flags = set(value.split())
    widths = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"), ("asimd", "NEON"))
    width = next((name for flag, name in widths if flag in flags), "unknown")
    return {"cpu_model": model, "cpu_vector_width": width}
