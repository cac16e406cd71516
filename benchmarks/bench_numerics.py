"""What pinning the CPU arithmetic to AVX2 costs (holograd/numerics.py): the steps that
dominate the CPU experiments, timed in fresh processes under the machine's default kernels and
under the pin, alternately.

    python benchmarks/bench_numerics.py [--repeats 3] [--out benchmarks/out/numerics.json]

Each process builds a model and times `--steps` steps of its two kinds of work: a gradient
(forward and backward, SGD and Momentum-Centric's workers) and a JVP along one direction
(HoloGrad's proofs), on `tiny` (E3, E7; 8 x 32 tokens) and `micro` (E2, E4; 8 x 16).  The
ratio is pinned / default seconds, medians of the repeats; above 1 the pin is slower.  On a
machine whose default kernels are AVX2 already the two sides are the same computation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from holograd.numerics import PINNED  # noqa: E402

CHILD = """
import json, sys, time, torch
from torch.func import functional_call, jvp
from holograd.models import build_model
torch.set_num_threads(1)
out = {"capability": torch.backends.cpu.get_cpu_capability()}
for preset, block in (("tiny", 32), ("micro", 16)):
    model = build_model(preset, 300, block)
    x = torch.randint(0, 300, (8, block), generator=torch.Generator().manual_seed(0))
    params = dict(model.named_parameters())
    tangent = {k: torch.randn_like(v) for k, v in params.items()}
    loss = lambda p: functional_call(model, p, (x,), {"labels": x}).loss
    for kind in ("gradient", "jvp"):
        for i in range(STEPS + 2):  # two warm-up steps
            if i == 2:
                start = time.perf_counter()
            if kind == "gradient":
                model.zero_grad()
                model(x, labels=x).loss.backward()
            else:
                jvp(loss, (params,), (tangent,))
        out[f"{preset}_{kind}"] = (time.perf_counter() - start) / STEPS
print(json.dumps(out))
"""


def measure(pinned: bool, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    env.update(PINNED if pinned else {})
    code = CHILD.replace("STEPS", str(steps))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "numerics.json"))
    args = parser.parse_args()
    runs = {"default": [], "pinned": []}
    for _ in range(args.repeats):  # alternately, so that drifts of the machine hit both sides
        for side in runs:
            runs[side].append(measure(side == "pinned", args.steps))
    keys = [k for k in runs["pinned"][0] if k != "capability"]
    result = {
        "capability": {side: runs[side][0]["capability"] for side in runs},
        "seconds_per_step": {side: {k: statistics.median(r[k] for r in runs[side]) for k in keys} for side in runs},
    }
    result["ratio_pinned_over_default"] = {
        k: result["seconds_per_step"]["pinned"][k] / result["seconds_per_step"]["default"][k] for k in keys
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'step':16} {'default ms':>11} {'pinned ms':>10} {'ratio':>6}")
    for k in keys:
        d, p = (1000 * result["seconds_per_step"][s][k] for s in ("default", "pinned"))
        print(f"{k:16} {d:11.2f} {p:10.2f} {p / d:6.2f}")


if __name__ == "__main__":
    main()
