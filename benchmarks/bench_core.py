"""Kernel benchmarks of the core library, each beside its physical reference, in one run.

    python benchmarks/bench_core.py [--out benchmarks/out/core.json] [--device cpu|cuda] [--quick]

| measurement                          | reference                          | target        |
|--------------------------------------|------------------------------------|---------------|
| seeded generator (streaming tiles)   | torch.randn, same number of values, same tile size, reused buffer | >= 1x |
| random_directions (dense, unit rows) | torch.randn                        | (reported)    |
| project, K=64, D=1e6                 | torch.randn                        | >= 1.5x       |
| project + reconstruct, K=64, D=1e6   | torch.randn                        | >= 0.75x      |
| generated entries unlike the correctly rounded reference (8.4 M) | none   | 0             |
| JVP directional derivative, "tiny"   | forward + backward                 | <= 3x         |
| one training step per strategy (*)   | the forward + backward passes (**) | (reported)    |

(*) SGD, Random K, ADC, Momentum-Centric, per preset.
(**) that the step needs: 1; N for Momentum-Centric's N workers.

A training step's ratio to its forward + backward passes is what the HoloGrad machinery
(directions, projection, synthesis, codebook, aggregation) adds to the gradient it needs.
Rates count direction entries per second: project and reconstruct each touch K x D entries,
so "project + reconstruct" is 2 K D entries over the time of both calls (reconstruct reusing
the norms that project returns, as a training step does).  Times are medians of repeats.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from holograd.data import Batch
from holograd.derivatives import directional_derivative, flat_grad
from holograd.directions import (
    DEFAULT_CHUNK_ELEMENTS,
    derive_seeds,
    inverse_norms,
    project,
    random_directions,
    reconstruct,
)
from holograd.models import build_model
from holograd.params import ParamSpace
from holograd.strategies import make_strategy

# The strategies as the training experiments run them (learning rates small enough that
# repeated steps stay finite; speed does not depend on them).
STEP_STRATEGIES = {
    "sgd": {"lr": 1e-3},
    "random_k64": {"name": "random", "lr": 1e-6, "k": 64},
    "adc_r32_k8": {"name": "adc", "lr": 1e-3, "k": 8, "rank": 32, "warm_start": "none"},
    "momentum_n4": {"name": "momentum", "lr": 1e-3, "n_workers": 4},
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> float:
    """Median wall time of fn() over `repeats` runs after one warm-up run."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_generation(device: str, repeats: int, k: int, dim: int) -> dict:
    seeds = derive_seeds("bench", 0, k)
    n = k * dim
    # The reference fills a reused buffer of the generator's tile size: both sides then pay for
    # generation only, not for first-touch page faults of a fresh n-value allocation.
    tile = torch.empty(DEFAULT_CHUNK_ELEMENTS, device=device)

    def randn_tiles():
        for _ in range(0, n, tile.numel()):
            torch.randn(tile.numel(), out=tile)

    t_randn = timed(randn_tiles, device, repeats)
    t_stream = timed(lambda: inverse_norms(seeds, dim, device=device), device, repeats)  # one generation pass
    dense_k = max(1, k // 4)
    t_dense = timed(lambda: random_directions(seeds[:dense_k], dim, device=device), device, repeats)
    return {
        "randn_per_s": n / t_randn,
        "generator_per_s": n / t_stream,
        "random_directions_per_s": dense_k * dim / t_dense,
    }


def bench_project_reconstruct(device: str, repeats: int, k: int, dim: int) -> dict:
    seeds = derive_seeds("bench", 1, k)
    grad = torch.randn(dim, device=device)

    def both():
        a, inv = project(grad, seeds, return_inv_norms=True)
        reconstruct(a, seeds, dim, inv_norms=inv)

    t_project = timed(lambda: project(grad, seeds), device, repeats)
    t = timed(both, device, repeats)
    return {
        "project_per_s": k * dim / t_project,
        "project_s": t_project,
        "project_reconstruct_per_s": 2 * k * dim / t,
        "project_reconstruct_s": t,
    }


def count_reference_mismatches(seeds: int = 8, width: int = 1 << 20) -> dict:
    """Entries of `seeds` x `width` (8.4 M) generated entries whose bits differ from the
    correctly rounded numpy reference of the definition (tests/generator_reference.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import generator_reference as reference

    from holograd.directions import gaussian_block, seed_keys

    chosen = derive_seeds("bench-reference", 0, seeds)
    got = gaussian_block(seed_keys(chosen), 0, width).numpy().view("int32")
    differ = sum(int((row != reference.gaussian(s, 0, width).view("int32")).sum()) for row, s in zip(got, chosen))
    return {"entries": seeds * width, "differing": differ}


def bench_jvp(device: str, repeats: int, preset: str, vocab: int, block: int, batch: int) -> dict:
    model = build_model(preset, vocab, block, seed=0, device=device)
    space = ParamSpace(model)
    tokens = torch.randint(0, vocab, (batch, block + 1), generator=torch.Generator().manual_seed(0)).to(device)
    v = random_directions([7], space.dim, device=device)[0]
    t_jvp = timed(lambda: directional_derivative(model, tokens, v, space), device, repeats)
    t_bp = timed(lambda: flat_grad(model, tokens, space), device, repeats)
    return {
        "preset": preset,
        "dim": space.dim,
        "batch": batch,
        "block": block,
        "jvp_s": t_jvp,
        "forward_backward_s": t_bp,
    }


def bench_training_steps(device: str, repeats: int, preset: str, vocab: int, block: int, batch: int) -> dict:
    """Seconds per strategy.step against the forward + backward passes it needs."""
    gen = torch.Generator().manual_seed(0)
    batches = [
        Batch(
            tuple(range(i * batch, (i + 1) * batch)),
            torch.randint(0, vocab, (batch, block + 1), generator=gen).to(device),
        )
        for i in range(4)
    ]
    out = {"preset": preset, "batch": batch, "block": block, "strategies": {}}
    for label, options in STEP_STRATEGIES.items():
        options = dict(options)
        strategy = make_strategy(
            options.pop("name", label), build_model(preset, vocab, block, seed=0, device=device), **options
        )
        step_batches = batches[: strategy.batches_per_step]
        t = iter(range(10**9))  # a fresh step index each call: fresh proof seeds, as in training
        t_step = timed(lambda s=strategy, bs=step_batches, t=t: s.step(bs, next(t)), device, repeats)
        t_grad = timed(
            lambda s=strategy, bs=step_batches: [flat_grad(s.model, b, s.space) for b in bs], device, repeats
        )
        out["dim"] = strategy.dim
        out["strategies"][label] = {"step_s": t_step, "forward_backward_s": t_grad, "ratio": t_step / t_grad}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/out/core.json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a smoke run)")
    args = parser.parse_args()
    repeats, dim = (2, 100_000) if args.quick else (5, 1_000_000)

    gen = bench_generation(args.device, repeats, k=64, dim=dim)
    pr = bench_project_reconstruct(args.device, repeats, k=64, dim=dim)
    exact = count_reference_mismatches(width=(1 << 17) if args.quick else (1 << 20))
    jvp = bench_jvp(args.device, repeats, "tiny", vocab=50257, block=64, batch=8)
    presets = ["micro"] if args.quick else ["micro", "tiny", "small"]
    steps = [bench_training_steps(args.device, repeats, p, vocab=1024, block=64, batch=8) for p in presets]
    randn = gen["randn_per_s"]
    ratios = {
        "generator_vs_randn": gen["generator_per_s"] / randn,
        "random_directions_vs_randn": gen["random_directions_per_s"] / randn,
        "project_vs_randn": pr["project_per_s"] / randn,
        "project_reconstruct_vs_randn": pr["project_reconstruct_per_s"] / randn,
        "entries_differing_from_reference": exact["differing"],
        "jvp_vs_forward_backward": jvp["jvp_s"] / jvp["forward_backward_s"],
    }
    targets = {
        "generator_vs_randn": (">=", 1.0),
        "project_vs_randn": (">=", 1.5),
        "project_reconstruct_vs_randn": (">=", 0.75),
        "entries_differing_from_reference": ("<=", 0),
        "jvp_vs_forward_backward": ("<=", 3.0),
    }
    result = {
        "machine": {
            "device": args.device,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(),
            "quick": args.quick,
        },
        "generation": gen,
        "project_reconstruct": pr,
        "reference": exact,
        "jvp": jvp,
        "training_steps": steps,
        "ratios": ratios,
        "targets_met": {k: (ratios[k] >= v if op == ">=" else ratios[k] <= v) for k, (op, v) in targets.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'measurement':44s} {'value':>14s}  {'target':>8s}")
    print(f"{'torch.randn (M values/s)':44s} {randn / 1e6:14.1f}")
    print(f"{'seeded generator (M values/s)':44s} {gen['generator_per_s'] / 1e6:14.1f}")
    print(f"{'random_directions (M values/s)':44s} {gen['random_directions_per_s'] / 1e6:14.1f}")
    print(f"{'project K=64 (M entries/s)':44s} {pr['project_per_s'] / 1e6:14.1f}")
    print(f"{'project+reconstruct K=64 (M entries/s)':44s} {pr['project_reconstruct_per_s'] / 1e6:14.1f}")
    for name, value in ratios.items():
        op, target = targets.get(name, ("", None))
        mark = "" if target is None else f"{op} {target:g}  {'ok' if result['targets_met'][name] else 'MISSED'}"
        print(f"{name:44s} {value:14.3f}  {mark}")
    print(
        f"JVP {jvp['jvp_s'] * 1e3:.1f} ms vs forward+backward {jvp['forward_backward_s'] * 1e3:.1f} ms "
        f"({jvp['preset']}, D={jvp['dim']:,}, batch {jvp['batch']}x{jvp['block']})"
    )
    print("one training step vs the forward+backward passes it needs (batch 8x64, vocabulary 1024):")
    for st in steps:
        cells = ", ".join(
            f"{name} {v['step_s'] * 1e3:.1f} ms = {v['ratio']:.2f}x" for name, v in st["strategies"].items()
        )
        print(f"  {st['preset']:6s} D={st['dim']:>10,}: {cells}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
