"""Speed of the Triton generator kernels on CUDA, beside torch.randn.

    python benchmarks/bench_triton.py [--out benchmarks/out/bench_triton.json] [--repeats 7]
    python benchmarks/bench_triton.py --paper-shape [--out ...] [--repeats 3]

For K = 64 seeds and D = 10^6 (6.4 x 10^7 entries) and D = 1,562,500 (10^8 entries):

| measurement                            | what it does per call                                   |
|----------------------------------------|---------------------------------------------------------|
| torch.randn (reference)                | fills a reused float32 (K, D) buffer (torch's Philox)   |
| generator_triton.gaussian              | writes the (K, D) float32 entries z (a new tensor)      |
| generator_triton.project_partials      | <g, z_j> and the fixed-point ||z_j||^2, z never stored  |
| generator_triton.reconstruct           | sum_j c_j z_j, (D,), z never stored                     |

With `--paper-shape`, instead, the library's own `project` and `reconstruct`
(holograd.directions: seed hashing, the fused kernels, norms, scaling) at the largest shape of
the paper config, E2's K = 33,200 directions of D = 3,324,736 (tiny with GPT-2's vocabulary and
a 128-token context; K/D = 0.01): 1.1 x 10^11 entries a call, beside the rate the analytical
H100 work model assumes (benchmarks/estimate_suite.py, H100Units.ENTRIES_PER_SECOND).

Rates are direction entries (K x D) per second; times are medians of `--repeats` timed calls
after one untimed call (compilation), each bracketed by torch.cuda.synchronize.  Needs a CUDA
device and triton; exits with status 2 and a message otherwise.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from holograd import generator_triton
from holograd.directions import derive_seeds, seed_keys

SIZES = ((64, 10**6), (64, 1_562_500))
PAPER_K = 33_200  # E2's largest K in config/paper.yaml (K/D = 0.01 on tiny)
MODEL_RATE = 2e11  # estimate_suite.H100Units.ENTRIES_PER_SECOND, the rate the H100 work model assumes


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], object], repeats: int, device: str = "cuda") -> float:
    """Median wall time of fn() over `repeats` calls, after one warm-up call."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(k: int, dim: int, repeats: int, device: str = "cuda") -> dict:
    """Times and rates of randn, gaussian, project_partials and reconstruct for K x D entries
    (device "cpu" runs the kernels under the interpreter: only to check this script)."""
    keys = seed_keys(derive_seeds("bench-triton", 0, k), device)
    grad = torch.randn(dim, device=device)
    coef = torch.randn(k, device=device)
    buffer = torch.empty(k, dim, device=device)
    entries = k * dim
    seconds = {
        "randn": median_seconds(lambda: torch.randn(k, dim, device=device, out=buffer), repeats, device),
        "gaussian": median_seconds(lambda: generator_triton.gaussian(keys, 0, dim), repeats, device),
        "project_partials": median_seconds(lambda: generator_triton.project_partials(grad, keys), repeats, device),
        "reconstruct": median_seconds(lambda: generator_triton.reconstruct(coef, keys, dim), repeats, device),
    }
    rates = {name: entries / s for name, s in seconds.items()}
    return {
        "k": k,
        "dim": dim,
        "entries": entries,
        "seconds": seconds,
        "entries_per_second": rates,
        "vs_randn": {name: rates[name] / rates["randn"] for name in rates if name != "randn"},
    }


def measure_api(k: int, dim: int, repeats: int, device: str = "cuda") -> dict:
    """Times and rates of the library's project and reconstruct (what a training step calls)
    for K directions of dimension D; the entries of each call are K x D."""
    from holograd.directions import project, reconstruct

    seeds = derive_seeds("bench-paper-shape", 0, k)
    grad = torch.randn(dim, device=device)
    scalars, inv = project(grad, seeds, return_inv_norms=True)
    seconds = {
        "project": median_seconds(lambda: project(grad, seeds, return_inv_norms=True), repeats, device),
        "reconstruct": median_seconds(lambda: reconstruct(scalars, seeds, dim, inv_norms=inv), repeats, device),
    }
    rates = {name: k * dim / s for name, s in seconds.items()}
    return {
        "k": k,
        "dim": dim,
        "entries": k * dim,
        "seconds": seconds,
        "entries_per_second": rates,
        "vs_work_model": {name: rate / MODEL_RATE for name, rate in rates.items()},
        "work_model_entries_per_second": MODEL_RATE,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/out/bench_triton.json")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--paper-shape", action="store_true", help="project and reconstruct at K = 33,200, D = 3.32M")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_triton.py needs a CUDA device (torch.cuda.is_available() is False): nothing measured")
        sys.exit(2)
    if not generator_triton.is_available():
        print("bench_triton.py needs the triton package: nothing measured")
        sys.exit(2)

    if args.paper_shape:
        from holograd.models import param_count

        row = measure_api(PAPER_K, param_count("tiny", 50257, 128), args.repeats)
        for name, s in row["seconds"].items():
            print(
                f"paper shape K = {row['k']:,}, D = {row['dim']:,}: {name} {s:.3f} s = "
                f"{row['entries_per_second'][name] / 1e9:.1f} G entries/s "
                f"({row['vs_work_model'][name]:.2f}x the H100 work model's {MODEL_RATE / 1e9:.0f} G/s)"
            )
        _write(args.out, {**_software(args.repeats), "paper_shape": row})
        return
    rows = [measure(k, dim, args.repeats) for k, dim in SIZES]
    header = f"{'K':>4} {'D':>10} {'entries':>12} | {'measurement':<18} {'median ms':>10} {'G entries/s':>12}"
    print(f"{header} {'vs randn':>9}")
    for row in rows:
        for name, s in row["seconds"].items():
            ratio = "" if name == "randn" else f"{row['vs_randn'][name]:.2f}x"
            print(
                f"{row['k']:>4} {row['dim']:>10} {row['entries']:>12} | {name:<18} {s * 1e3:>10.2f} "
                f"{row['entries_per_second'][name] / 1e9:>12.2f} {ratio:>9}"
            )
    _write(
        args.out,
        {
            **_software(args.repeats),
            "config": {
                "block": generator_triton.BLOCK,
                "num_warps": generator_triton.NUM_WARPS,
                "project_span_blocks": generator_triton.PROJECT_SPAN_BLOCKS,
                "project_rows": generator_triton.PROJECT_ROWS,
            },
            "measurements": rows,
        },
    )


def _software(repeats: int) -> dict:
    return {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": __import__("triton").__version__,
        "python": platform.python_version(),
        "repeats": repeats,
    }


def _write(path: str, result: dict) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
