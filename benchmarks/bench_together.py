"""The levers of issue 24, each measured back to back in one process: runs one after another
against the same runs trained together (holograd.training.train_together), and the start-up a
job of several seeds pays once instead of once per seed.

    python benchmarks/bench_together.py [--repeats 3] [--out benchmarks/out/together.json]

- tuning_grid: E2's HoloGrad-Random arm at K/D = 0.1 (micro, D = 22,880, K = 2,288), its three
  grid rates for the default's 10 tuning steps, one after another vs together (each step's
  directions generated once);
- e2_arms: E2's three arms at K/D = 0.1 (random, sgd, random_fixed) for the default's 30 steps,
  alone vs together (the two random arms share their directions);
- e3_tuning_grid: E3's random_k64 arm (tiny, the 8 workers' union batch), four grid rates for
  20 steps, alone vs together;
- job_startup: the seconds a fresh interpreter takes to import what a job imports and build a
  model: paid once per job, so once per seed when every seed was a job of its own.

Both sides of each lever compute the same numbers (tests/test_together.py checks them bit for
bit); the ratio is alone / together, medians of `--repeats`.  The token cache is the embedded
corpus's (built here in a temporary folder, about 10 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from holograd.data import load_token_cache, prepare_token_cache  # noqa: E402
from holograd.experiments.arms import Bench  # noqa: E402
from holograd.experiments.kd_ratio import FIXED_CLIP_NORM, directions_for  # noqa: E402

E2 = {"model": "micro", "block_size": 16, "batch_size": 8, "eval_every": 5, "eval_batches": 4, "steps": 30}
E3 = {"model": "tiny", "block_size": 32, "batch_size": 4, "eval_every": 10, "eval_batches": 4, "steps": 20}


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lever(bench: Bench, runs: list[tuple[dict, float]], steps: int, repeats: int) -> dict:
    """Seconds of the runs one after another and together, and their ratio."""
    alone = timed(lambda: [bench.run(arm, lr, seed=0, steps=steps) for arm, lr in runs], repeats)
    together = timed(lambda: bench.run_together(runs, seed=0, steps=steps), repeats)
    return {"runs": len(runs), "steps": steps, "alone_s": alone, "together_s": together, "ratio": alone / together}


def job_startup(repeats: int) -> float:
    """Median seconds of a fresh interpreter importing what a job imports and building a model."""
    statement = (
        "import time; t = time.perf_counter(); "
        "import paper_checks.runner, holograd.experiments.momentum_comparison, holograd.models; "
        "holograd.models.build_model('micro', 300, 16); print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", statement], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "together.json")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as a pipeline job (threads: 1)
    with tempfile.TemporaryDirectory() as tmp:
        prepare_token_cache("embedded", Path(tmp) / "tokens.pt", vocab_size=300)
        cache = load_token_cache(Path(tmp) / "tokens.pt")
    e2 = Bench(E2, cache, torch.device("cpu"))
    k = directions_for(0.1, 22_880)
    random = {"kind": "random", "k": k}
    grid = [rate * k / 22_880 for rate in (0.3, 1.0, 3.0)]
    e3 = Bench(E3, cache, torch.device("cpu"), workers=8)
    results = {
        "tuning_grid": lever(e2, [(random, lr) for lr in grid], 10, args.repeats),
        "e2_arms": lever(
            e2,
            [(random, grid[1]), ({"kind": "sgd"}, 1.0), ({**random, "clip_norm": FIXED_CLIP_NORM}, 0.1)],
            E2["steps"],
            args.repeats,
        ),
        "e3_tuning_grid": lever(
            e3, [({"kind": "random", "k": 64}, lr) for lr in (0.03, 0.1, 0.3, 1.0)], E3["steps"], args.repeats
        ),
        "job_startup_s": job_startup(args.repeats),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for name, r in results.items():
        if isinstance(r, dict):
            print(
                f"{name:16s} {r['runs']} runs x {r['steps']} steps: alone {r['alone_s']:.2f} s, "
                f"together {r['together_s']:.2f} s = {r['ratio']:.2f}x"
            )
    print(f"job start-up      {results['job_startup_s']:.2f} s (once per job, was once per seed)")


if __name__ == "__main__":
    main()
