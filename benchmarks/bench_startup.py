"""Start-up of a pipeline job and the per-call time of the micro GPT-2, in one run.

    python benchmarks/bench_startup.py [--repeats 5] [--calls 200] [--out benchmarks/out/startup.json]

| measurement             | what is timed (in a fresh interpreter, interpreter start excluded)          |
|-------------------------|------------------------------------------------------------------------------|
| models_module           | `import holograd.models` (torch; transformers is imported when a model is built) |
| job_chain               | the modules a job imports before its experiment builds a model               |
| job_chain_and_model     | the same, then build_model("micro", 300, 16): transformers' GPT2LMHeadModel   |
| transformers_after_torch| `from transformers import GPT2LMHeadModel` once torch is imported             |
| transformers_after_dynamo| the same once torch._dynamo is imported (a job's first torch.func.vmap imports it) |
| forward_micro           | model(x), micro preset, batch 8 x 16 tokens, no_grad, one thread             |
| jvp_micro               | torch.func.jvp of the loss of that forward (a worker's proof)                |

Imports: median over `--repeats` fresh interpreters of the wall time and of the process CPU time
(the CPU time is less disturbed by other processes on a shared machine).  Calls: median over
`--calls` calls after 20 warm-up calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

JOB_CHAIN = (
    "import paper_checks.joblog, paper_checks.runner, holograd.checkpoint, holograd.data, "
    "holograd.experiments.setup, holograd.experiments.momentum_comparison"
)
IMPORTS: dict[str, tuple[str, str]] = {  # name: (set-up not timed, statement timed)
    "models_module": ("", "import holograd.models"),
    "job_chain": ("", JOB_CHAIN),
    "job_chain_and_model": ("", f"{JOB_CHAIN}; holograd.models.build_model('micro', 300, 16)"),
    "transformers_after_torch": ("import torch", "from transformers import GPT2LMHeadModel"),
    "transformers_after_dynamo": ("import torch, torch._dynamo", "from transformers import GPT2LMHeadModel"),
}


def time_import(setup: str, statement: str, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of `statement` over `repeats` fresh interpreters."""
    code = (
        "import time\n"
        f"{setup}\n"
        "w, c = time.perf_counter(), time.process_time()\n"
        f"{statement}\n"
        "print(time.perf_counter() - w, time.process_time() - c)"
    )
    walls, cpus = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        wall, cpu = (float(v) for v in out.stdout.split()[-2:])
        walls.append(wall)
        cpus.append(cpu)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "repeats": repeats}


def time_calls(calls: int) -> dict[str, float]:
    """Median seconds of one micro forward (no_grad) and of one JVP of its loss."""
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, jvp

    from holograd.models import build_model

    torch.set_num_threads(1)
    model = build_model("micro", 300, 16, seed=0)
    tokens = torch.randint(0, 300, (8, 17), generator=torch.Generator().manual_seed(0))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    params = {n: p.detach() for n, p in model.named_parameters()}
    tangents = {n: torch.randn_like(p) for n, p in params.items()}

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = functional_call(model, p, (inputs,)).logits
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))

    def median_call(fn) -> float:
        for _ in range(20):
            fn()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with torch.no_grad():
        forward = median_call(lambda: model(inputs).logits)
    return {
        "forward_micro_s": forward,
        "jvp_micro_s": median_call(lambda: jvp(loss, (params,), (tangents,))),
        "calls": calls,
    }


def main() -> None:
    """Time the imports and the calls; print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    results: dict[str, dict[str, float]] = {}
    for name, (setup, statement) in IMPORTS.items():
        results[name] = time_import(setup, statement, args.repeats)
        print(f"{name:28s} wall {results[name]['wall_s']:7.3f} s   cpu {results[name]['cpu_s']:7.3f} s", flush=True)
    results["calls"] = time_calls(args.calls)
    print(f"{'forward_micro':28s} {results['calls']['forward_micro_s'] * 1e3:7.3f} ms")
    print(f"{'jvp_micro':28s} {results['calls']['jvp_micro_s'] * 1e3:7.3f} ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
