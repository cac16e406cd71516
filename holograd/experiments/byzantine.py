"""E7 — Byzantine tolerance of trimmed-mean aggregation (claim C7; HoloGrad §4.3).

One setting per strategy: Momentum-Centric with N workers (all project onto one direction,
so the N scalars estimate one number and a robust mean applies) and HoloGrad-Random with
K = N proofs (the scalars are projections on different directions, so only the plain mean
is meaningful: holograd.strategies explains why a trimmed mean would bias g_hat there).

In each job every (attack, fraction f, aggregator) trains from the seed's initial weights on
the same batches with the same learning rate (tuned once on the clean run): a seeded
fraction f of the worker slots submit attacked scalars (random, sign-flip or extreme,
holograd.byzantine).  "Tolerated at f" = the run's held-out loss decrease is at least
`tolerance` (0.8) times that of the clean run (f = 0) with the same aggregator.
"""

from __future__ import annotations

import logging
import math

import torch

from holograd.aggregation import n_trimmed
from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache
from holograd.experiments.arms import Bench
from holograd.experiments.setup import environment, scale
from holograd.strategies import Byzantine

log = logging.getLogger(__name__)

TUNE_SEED = 10_000
"""The tuning runs' seed: their weights and batches are none of the measured seeds'."""


def aggregators(cfg: dict) -> dict[str, dict]:
    """Name -> strategy options of each aggregation compared (Momentum-Centric only)."""
    if cfg["strategy"] != "momentum":
        return {"mean": {}}
    out = {"mean": {"aggregator": "mean"}}
    out.update({f"trimmed_{tau:g}": {"aggregator": "trimmed_mean", "tau": tau} for tau in cfg["taus"]})
    return out


def effective(options: dict, n_workers: int) -> dict:
    """An aggregator's options as computed: a trimmed mean that drops floor(tau N) = 0 scalars
    at each end (tau = 0.05 with N = 10) is the plain mean, so it is run as the mean, and its
    rows repeat the mean's runs instead of training them a second time."""
    if options.get("aggregator") == "trimmed_mean" and n_trimmed(n_workers, options["tau"]) == 0:
        return {"aggregator": "mean"}
    return options


def base_arm(cfg: dict) -> dict:
    if cfg["strategy"] == "momentum":
        return {
            "kind": "momentum",
            "n_workers": cfg["n_workers"],
            "beta": cfg["beta"],
            "cold_start_steps": cfg["cold_start_steps"],
        }
    return {"kind": "random", "k": cfg["n_workers"]}


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    return {"clean": bench.tune(base_arm(cfg), cfg["lr_grid"][cfg["strategy"]], TUNE_SEED, cfg["tune_steps"])}


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    lr, rows, dim = tuned["clean"]["lr"], [], None
    trained: dict[str, dict] = {}  # runs by what they compute: an aggregator equal to another reuses its runs

    def train(arm: dict, byzantine: Byzantine | None) -> dict:
        key = repr((sorted(arm.items()), byzantine))
        if key not in trained:
            trained[key] = bench.run(arm, lr, seed, byzantine=byzantine)
        return trained[key]

    for agg, options in aggregators(cfg).items():
        arm = {**base_arm(cfg), **effective(options, cfg["n_workers"])}
        clean = train(arm, None)
        dim = clean["dim"]
        rows.append(
            {
                "aggregator": agg,
                "attack": "none",
                "fraction": 0.0,
                "loss_decrease": clean["loss_decrease"],
                "stopped": clean["stopped"],
            }
        )
        for attack in cfg["attacks"]:
            for f in cfg["fractions"]:
                if f == 0:
                    continue
                out = train(arm, Byzantine(fraction=f, attack=attack, seed=seed))
                rows.append(
                    {
                        "aggregator": agg,
                        "attack": attack,
                        "fraction": f,
                        "loss_decrease": out["loss_decrease"],
                        "stopped": out["stopped"],
                    }
                )
        log.info("%s %s: clean loss decrease %.4f", cfg["strategy"], agg, clean["loss_decrease"])
    for row in rows:
        clean = next(r["loss_decrease"] for r in rows if r["aggregator"] == row["aggregator"] and r["attack"] == "none")
        row["relative"] = row["loss_decrease"] / clean if clean and math.isfinite(clean) else math.nan
        row["tolerated"] = bool(math.isfinite(row["relative"]) and row["relative"] >= cfg["tolerance"])
    return {
        "strategy": cfg["strategy"],
        "lr": lr,
        "rows": rows,
        "largest_tolerated": {agg: largest_tolerated(rows, agg, cfg["attacks"]) for agg in aggregators(cfg)},
        "dim": dim,
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }


def largest_tolerated(rows: list[dict], aggregator: str, attacks: list[str]) -> float:
    """The largest f such that the aggregator tolerates every attack at every fraction <= f."""
    fractions = sorted({r["fraction"] for r in rows if r["aggregator"] == aggregator})
    best = 0.0
    for f in fractions:
        at = [
            r
            for r in rows
            if r["aggregator"] == aggregator and r["fraction"] == f and (f == 0 or r["attack"] in attacks)
        ]
        if not all(r["tolerated"] for r in at):
            break
        best = f
    return best
