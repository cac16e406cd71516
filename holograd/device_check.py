"""Check a device as a pipeline job would, and say where jobs would run (or, in one line, why not).

    python -m holograd.device_check [DEVICE] [--allow-cpu-generator]     # DEVICE: auto, cpu, cuda, cuda:N

prints e.g. `cuda: NVIDIA H100 80GB HBM3, directions by triton; torch 2.11.0+cu130, CUDA 13.0,
Triton 3.6.0, numba 0.61.2`, or `DeviceError: ...` / `GeneratorUnavailable: ...` on stderr with
exit status 1.  The device is checked by holograd.devices.resolve_device (CUDA usable: one
kernel runs), the direction generator by holograd.directions.generator_backend (on CUDA the
Triton kernels load, compile, launch and give the definition's bits).  The workflow runs it
once before the first job of a local `device: cuda` run; benchmarks/gpu_check.sh's preflight
runs it too.
"""

from __future__ import annotations

import argparse
import sys

from holograd.devices import first_line
from holograd.directions import generator_backend
from holograd.experiments.setup import environment, job_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--allow-cpu-generator", action="store_true", help="allow generating directions on the CPU")
    args = parser.parse_args(argv)
    try:
        device = job_device(args.device, args.allow_cpu_generator)
        generator_backend(device)
    except RuntimeError as exc:  # DeviceError, GeneratorUnavailable
        print(f"{type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None
    env = environment(device)
    print(
        f"{device}: {env['device']}, directions by {env['generator']}; torch {env['torch']}, "
        f"CUDA {env['cuda'] or 'none'}, Triton {env['triton'] or 'none'}, numba {env['numba'] or 'none'}"
    )


if __name__ == "__main__":
    main()
