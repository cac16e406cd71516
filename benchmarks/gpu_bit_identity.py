"""Bit identity of the Triton generator on CUDA with the CPU generator, over 10^8 entries.

    python benchmarks/gpu_bit_identity.py [--seeds 100] [--dim 1000000] [--chunk 262144]

Generates z_i, 0 <= i < dim, for `--seeds` seeds (derive_seeds("gpu-bit-identity", 0, n)) with
holograd.generator_triton.gaussian on CUDA and with holograd.directions.gaussian_block on the
CPU, in column chunks of `--chunk` for all seeds at once, and compares the float32 bit patterns.
It also compares the fixed-point sums of squares: generator_triton.sumsq on CUDA against
sum_i trunc(fl(z_i^2) 2^28) of the CPU entries.  A second pass covers the top of the index
range (the last `--top` indices below 2^31).  Prints the count of differing entries and sums
and the first few differences; exits 0 only if both counts are 0, 1 if any differ, 2 without a
CUDA device or triton.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from holograd import directions, generator_triton
from holograd.direction_constants import FIXED_POINT


def fixed_point_sumsq(z: np.ndarray) -> np.ndarray:
    """sum_i trunc(fl32(fl32(z_i z_i) 2^28)) per row, int64."""
    return ((z * z) * np.float32(FIXED_POINT)).astype(np.int64).sum(axis=1)


def compare(seeds: list[int], start: int, stop: int, chunk: int, examples: list[str]) -> tuple[int, np.ndarray]:
    """(differing entries, CPU fixed-point sums) over columns start..stop of every seed."""
    keys_cpu, keys_gpu = directions.seed_keys(seeds), directions.seed_keys(seeds, "cuda")
    differing, sums = 0, np.zeros(len(seeds), dtype=np.int64)
    for c0 in range(start, stop, chunk):
        c1 = min(stop, c0 + chunk)
        gpu = generator_triton.gaussian(keys_gpu, c0, c1).cpu().numpy()
        cpu = directions.gaussian_block(keys_cpu, c0, c1).numpy()
        sums += fixed_point_sumsq(cpu)
        bad = np.argwhere(gpu.view(np.int32) != cpu.view(np.int32))
        differing += len(bad)
        for row, col in bad[: max(0, 5 - len(examples))]:
            examples.append(
                f"seed {seeds[row]} index {c0 + col}: cuda {gpu[row, col]!r} ({gpu.view(np.uint32)[row, col]:#010x}) "
                f"cpu {cpu[row, col]!r} ({cpu.view(np.uint32)[row, col]:#010x})"
            )
    return differing, sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--dim", type=int, default=10**6)
    parser.add_argument("--chunk", type=int, default=1 << 18, help="columns per comparison chunk (all seeds)")
    parser.add_argument("--top", type=int, default=10**5, help="also compare the last TOP indices below 2^31")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_bit_identity.py needs a CUDA device (torch.cuda.is_available() is False): nothing compared")
        sys.exit(2)
    if not generator_triton.is_available():
        print("gpu_bit_identity.py needs the triton package: nothing compared")
        sys.exit(2)

    seeds = directions.derive_seeds("gpu-bit-identity", 0, args.seeds)
    examples: list[str] = []
    t0 = time.perf_counter()
    differing, cpu_sums = compare(seeds, 0, args.dim, args.chunk, examples)
    gpu_sums = generator_triton.sumsq(directions.seed_keys(seeds, "cuda"), args.dim).cpu().numpy()
    sums_differing = int((gpu_sums != cpu_sums).sum())
    top_differing, _ = compare(seeds[:8], 2**31 - args.top, 2**31, args.chunk, examples)
    top_seeds = min(8, len(seeds))
    entries = len(seeds) * args.dim + top_seeds * args.top
    print(
        f"{len(seeds)} seeds x {args.dim} entries + {top_seeds} seeds x the top {args.top} indices = {entries} entries "
        f"compared in {time.perf_counter() - t0:.1f} s on {torch.cuda.get_device_name()}"
    )
    print(f"differing entries: {differing + top_differing}")
    print(f"differing fixed-point sums of squares: {sums_differing} of {len(seeds)}")
    for line in examples:
        print("  " + line)
    sys.exit(0 if differing + top_differing + sums_differing == 0 else 1)


if __name__ == "__main__":
    main()
