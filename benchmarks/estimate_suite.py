"""Estimate a config's tuning and measurement job time on this device: a work model times unit costs.

    python benchmarks/estimate_suite.py [--config config/paper.yaml] [--device cuda|cpu] [--out PATH]

The work model counts, from the config alone, what every tuning and measurement job computes
(each experiment's `work`, in its analysis module paper_checks/experiments/<name>.py, follows
its measurement holograd/experiments/<name>.py with the units of WorkModel below):
forward+backward passes per (preset, batch), held-out forward passes, forward-mode JVPs,
direction entries generated (projection and synthesis, once per entry when a whole row fits
the config's `chunk_elements`, else twice), and steps of Momentum-Centric and ADC, whose cost
is measured whole.  The unit costs are measured here, on `--device`, at the config's own sizes
(GPT-2's 50,257-token vocabulary for WikiText-2), plus the start-up of a job process (importing
torch and transformers).

Validation: run on config/config.yaml on the CPU that ran the default pipeline, the estimate
is compared with the benchmark files of that run (`--measured results`).  Tuning grids are
counted as given: a grid the tuner extends costs more (each extension one more run), so the
estimate is a lower bound there.  Run on a GPU with config/paper.yaml, the total is the paper
suite's GPU-hours (every tuning and measurement job holds one GPU).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from holograd.data import Batch  # noqa: E402
from holograd.derivatives import directional_derivative, flat_grad, lm_loss  # noqa: E402
from holograd.directions import DEFAULT_CHUNK_ELEMENTS, derive_seeds, project_reconstruct  # noqa: E402
from holograd.models import build_model, param_count  # noqa: E402
from holograd.params import ParamSpace  # noqa: E402
from holograd.strategies import make_strategy  # noqa: E402

GPT2_VOCAB = 50257


def timed(fn, device: str, repeats: int = 3) -> float:
    """Median seconds of fn() after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class UnitCosts:
    """Seconds of the operations the work model counts, measured once per shape on one device."""

    def __init__(self, device: str):
        self.device = device

    def _batches(self, vocab: int, block: int, batch: int, n: int = 1) -> list[Batch]:
        gen = torch.Generator().manual_seed(0)
        return [
            Batch(
                tuple(range(i * batch, (i + 1) * batch)),
                torch.randint(0, vocab, (batch, block + 1), generator=gen).to(self.device),
            )
            for i in range(n)
        ]

    def _model(self, preset: str, vocab: int, block: int, dtype=torch.float32):
        return build_model(preset, vocab, block, seed=0, device=self.device, dtype=dtype)

    @functools.cache
    def dim(self, preset: str, vocab: int, block: int) -> int:
        return param_count(preset, vocab, block)

    @functools.cache
    def forward_backward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        model, (b,) = self._model(preset, vocab, block), self._batches(vocab, block, batch)
        space = ParamSpace(model)
        return timed(lambda: flat_grad(model, b, space), self.device)

    @functools.cache
    def forward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        model, (b,) = self._model(preset, vocab, block), self._batches(vocab, block, batch)

        def evaluate():
            with torch.no_grad():
                lm_loss(model, b)

        return timed(evaluate, self.device)

    @functools.cache
    def jvp(self, preset: str, vocab: int, block: int, batch: int, float64: bool = False) -> float:
        dtype = torch.float64 if float64 else torch.float32
        model, (b,) = self._model(preset, vocab, block, dtype), self._batches(vocab, block, batch)
        space = ParamSpace(model)
        v = torch.randn(space.dim, device=self.device, dtype=dtype)
        return timed(lambda: directional_derivative(model, b, v / v.norm(), space), self.device)

    @functools.cache
    def entry(self, dim: int, chunk: int) -> float:
        """Seconds per direction entry of project_reconstruct at this D and chunk (each entry
        generated once when a row fits the chunk; the model counts the second pass otherwise)."""
        rows = max(1, min(chunk // dim, 64))
        k = 2 * rows if dim <= chunk else 2
        grad = torch.randn(dim, device=self.device)
        seeds = derive_seeds("estimate", 0, k)
        passes = 1 if dim <= chunk else 2
        return timed(lambda: project_reconstruct(grad, seeds, chunk_elements=chunk), self.device, repeats=2) / (
            passes * k * dim
        )

    @functools.cache
    def strategy_step(self, preset: str, vocab: int, block: int, batch: int, name: str, options: tuple) -> float:
        """One step of a strategy whose cost is not a sum of the units above (Momentum-Centric, ADC)."""
        strategy = make_strategy(name, self._model(preset, vocab, block), lr=1e-6, **dict(options))
        batches = self._batches(vocab, block, batch, strategy.batches_per_step)
        t = iter(range(10**9))
        return timed(lambda: strategy.step(batches, next(t)), self.device)

    @functools.cache
    def startup(self) -> float:
        """A job process's start: Python, torch and transformers imported (what every job pays)."""
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, transformers.models.gpt2.modeling_gpt2"], check=True)
        return time.perf_counter() - start


class EntryCount(UnitCosts):
    """Unit costs that make the work model count direction entries instead of seconds: one
    per entry generated, nothing for anything else (device-independent work)."""

    def __init__(self):
        super().__init__("cpu")

    def entry(self, dim: int, chunk: int) -> float:
        return 1.0

    def forward_backward(self, *shape) -> float:
        return 0.0

    def forward(self, *shape) -> float:
        return 0.0

    def jvp(self, *shape, float64: bool = False) -> float:
        return 0.0

    def strategy_step(self, *args) -> float:
        return 0.0

    def startup(self) -> float:
        return 0.0


def settings(section: dict) -> list[dict]:
    """Every setting of an experiment section, resolved (as paper_checks.sweeps does)."""
    from paper_checks.sweeps import resolve, setting_names

    return [resolve(section, name) for name in setting_names(section)]


class WorkModel:
    """Seconds of every tuning and measurement job of a config, from the unit costs."""

    def __init__(self, config: dict, units: UnitCosts):
        self.config, self.u = config, units
        self.wikitext = config["data"]["corpus"] == "wikitext2"

    def vocab(self, cfg: dict) -> int:
        return GPT2_VOCAB if self.wikitext else cfg.get("vocab_size", self.config["data"]["vocab_size"])

    def shape(self, cfg: dict, batch: int | None = None) -> tuple:
        return (cfg["model"], self.vocab(cfg), cfg["block_size"], batch or cfg["batch_size"])

    def dim(self, cfg: dict) -> int:
        return self.u.dim(cfg["model"], self.vocab(cfg), cfg["block_size"])

    def directions(self, cfg: dict, k: int) -> float:
        """Generating and using K directions once for projection and synthesis."""
        d, chunk = self.dim(cfg), cfg.get("chunk_elements", DEFAULT_CHUNK_ELEMENTS)
        return (1 if d <= chunk else 2) * k * d * self.u.entry(d, chunk)

    def dense_direction(self, cfg: dict) -> float:
        """Generating one whole direction at once (as PoGP's recomputation paths do)."""
        d = self.dim(cfg)
        return d * self.u.entry(d, max(d, DEFAULT_CHUNK_ELEMENTS))

    def evals(self, cfg: dict, steps: int) -> float:
        """Held-out loss at t = 0, every eval_every steps and after the last step."""
        count = (math.ceil(steps / cfg["eval_every"]) + 1) * cfg["eval_batches"]
        return count * self.u.forward(*self.shape(cfg))

    def step(self, cfg: dict, arm: dict, union: int) -> float:
        """One step of an arm; single-batch arms see the union of `union` workers' batches."""
        shape = self.shape(cfg, union * cfg["batch_size"])
        kind = arm["kind"]
        if kind == "sgd":
            return self.u.forward_backward(*shape)
        if kind == "random":
            return self.u.forward_backward(*shape) + self.directions(cfg, arm["k"])
        if kind == "momentum":
            options = tuple(sorted((k, v) for k, v in arm.items() if k in ("n_workers", "variant")))
            return self.u.strategy_step(*self.shape(cfg), "momentum", options)
        options = (("k", arm["k"]), ("rank", arm["rank"]), ("warm_start", "none"))
        return self.u.strategy_step(*shape, "adc", options)

    def run(self, cfg: dict, arm: dict, steps: int, union: int = 1) -> float:
        """A training run: its steps plus its held-out evaluations."""
        if arm["kind"] == "adc" and arm.get("warm_start", "none") != "none":
            warm = min(steps, arm["warm_steps"])
            warm_arm = {"kind": "random", "k": arm["k"]} if arm["warm_start"] == "random" else {"kind": "sgd"}
            return (
                warm * self.step(cfg, warm_arm, union)
                + (steps - warm) * self.step(cfg, arm, union)
                + self.evals(cfg, steps)
            )
        return steps * self.step(cfg, arm, union) + self.evals(cfg, steps)

    def tuning(self, cfg: dict, grids: list[tuple[dict, int]], union: int = 1) -> float:
        """A tuning job: every rate of every (arm, grid size) for tune_steps steps."""
        return self.u.startup() + sum(size * self.run(cfg, arm, cfg["tune_steps"], union) for arm, size in grids)

    # each experiment's jobs are counted by the `work` of its analysis (paper_checks/experiments/)

    def jobs(self) -> list[dict]:
        """Every tuning and measurement job: experiment, stage, setting, count, seconds each."""
        from paper_checks.catalog import load_experiments
        from paper_checks.experiment import load_analysis

        catalog, rows = load_experiments(), []
        for experiment, section in self.config["experiments"].items():
            work = load_analysis(catalog[experiment]["analysis"]).work
            for cfg in settings(section):
                for stage, label, seconds in work(self, cfg):
                    count = 1 if stage == "tuning" else len(section["seeds"])
                    rows.append(
                        {
                            "experiment": experiment,
                            "stage": stage,
                            "setting": label,
                            "jobs": count,
                            "seconds_each": seconds,
                            "seconds": count * seconds,
                        }
                    )
        return rows


def load_config(path: Path) -> dict:
    """The config with the schema's defaults filled in, as the pipeline sees it."""
    from snakemake.utils import validate

    config = yaml.safe_load(path.read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "paper.yaml")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--measured", type=Path, default=None, help="a results/ folder of a run of this config, to compare with"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the config's resources.default.threads, as its jobs run)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = load_config(args.config)
    torch.set_num_threads(args.threads or config.get("resources", {}).get("default", {}).get("threads", 1))
    rows = WorkModel(config, UnitCosts(args.device)).jobs()
    for row, counted in zip(rows, WorkModel(config, EntryCount()).jobs(), strict=True):
        row["direction_entries"] = counted["seconds"]

    import pandas as pd

    table = pd.DataFrame(rows)
    by = (
        table.groupby(["experiment", "stage"])
        .agg(jobs=("jobs", "sum"), seconds=("seconds", "sum"), direction_entries=("direction_entries", "sum"))
        .reset_index()
    )
    if args.measured is not None:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from job_times import job_table

        measured = job_table(args.measured).groupby(["experiment", "stage"])["seconds"].sum().rename("measured_seconds")
        by = by.join(measured, on=["experiment", "stage"])
    total = float(table["seconds"].sum())
    result = {
        "config": str(args.config),
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "jobs": rows,
        "by_experiment": by.to_dict("records"),
        "total_seconds": total,
        "total_hours": total / 3600,
    }
    if args.measured is not None:
        result["measured_total_seconds"] = float(by["measured_seconds"].sum())
    out = args.out or ROOT / "benchmarks" / "out" / f"estimate-{args.config.stem}-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.config} on {result['device_name']} ({torch.get_num_threads()} threads)")
    print(by.to_string(index=False, float_format=lambda x: f"{x:.0f}"))
    print(table.nlargest(8, "seconds").to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    line = f"estimated tuning + measurement job time: {total:.0f} s = {total / 3600:.2f} job-hours"
    if args.measured is not None:
        line += f" (measured: {result['measured_total_seconds']:.0f} s)"
    print(line)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
