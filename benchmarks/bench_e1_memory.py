"""E1's peak memory at the paper's D: n minibatch gradients of gpt2like with GPT-2's vocabulary.

    python benchmarks/bench_e1_memory.py [--n 50] [--batch 8] [--method preallocated|stacked]
                                         [--device cpu|cuda] [--out benchmarks/out/e1_memory.json]

E1 (holograd.experiments.gradient_variability) holds the n x D gradient matrix and forms its Gram
matrix over column chunks.  This runs that measurement once, in a process of its own, on random
tokens of GPT-2's 50,257-token vocabulary at the paper config's model (gpt2like, D = 44.7M) and
context (128), and reports the peak memory it adds: on the CPU the growth of the peak resident
set (ru_maxrss) from just before the gradients to the end of the Gram matrix; on CUDA
torch.cuda.max_memory_allocated, whole.  `--method stacked` measures the way d39e71f built the
matrix (a list of gradients, then torch.stack), for comparison; every other part is the same.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from holograd.derivatives import flat_grad  # noqa: E402
from holograd.experiments.gradient_variability import gradient_matrix, measure  # noqa: E402
from holograd.models import build_model  # noqa: E402
from holograd.params import ParamSpace  # noqa: E402

GPT2_VOCAB = 50257


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def run(n: int, batch: int, block: int, method: str, device: torch.device) -> dict:
    model = build_model("gpt2like", GPT2_VOCAB, block, seed=0, device=device)
    space = ParamSpace(model)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, GPT2_VOCAB, (batch, block + 1), generator=gen).to(device) for _ in range(n)]
    flat_grad(model, batches[0], space)  # first-use memory of the allocator and autograd, not E1's
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before, start = peak_bytes(), time.perf_counter()
    if method == "stacked":
        grads = torch.stack([flat_grad(model, b, space)[1] for b in batches])
    else:
        grads = gradient_matrix(model, batches, space)
    stats = measure(grads)
    seconds = time.perf_counter() - start
    matrix = grads.numel() * grads.element_size()
    if device.type == "cuda":
        peak, what = torch.cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated (whole)"
    else:
        peak, what = peak_bytes() - before, "growth of the peak resident set during the measurement"
    return {
        "method": method,
        "device": str(device),
        "D": space.dim,
        "n": n,
        "batch": batch,
        "block": block,
        "matrix_bytes": matrix,
        "peak_bytes": peak,
        "peak_over_matrix": peak / matrix,
        "peak_measured_as": what,
        "seconds": seconds,
        "mean_pairwise_cosine": stats["mean_pairwise_cosine"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="minibatch gradients (the paper config's n_batches)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--method", choices=("preallocated", "stacked"), default="preallocated")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "e1_memory.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args.n, args.batch, args.block, args.method, torch.device(args.device))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"E1 {result['method']} on {result['device']}: D = {result['D']:,}, n = {result['n']}, "
        f"batch {result['batch']} x {result['block']}: matrix {result['matrix_bytes'] / 1e9:.2f} GB, "
        f"peak {result['peak_bytes'] / 1e9:.2f} GB = {result['peak_over_matrix']:.2f}x the matrix "
        f"({result['peak_measured_as']}), {result['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
