"""E3 — Momentum-Centric against random directions and full SGD (claims C3, C4; HoloGrad §5).

Arms, all from the same initial weights on the same data (the union of the N workers'
batches for the single-batch arms), each with its tuned learning rate (arms.py):

| arm             | strategy                                   | scalars per step |
|-----------------|--------------------------------------------|------------------|
| random_k64      | HoloGrad-Random, K = 64                    | 64               |
| random_k1       | HoloGrad-Random, K = 1                     | 1                |
| momentum        | Momentum-Centric, N workers, Theorem 3     | N (one each)     |
| momentum_alg3   | Momentum-Centric, N workers, Algorithm 3   | N (one each)     |
| sgd             | full SGD on the union batch                | N x D            |

C3 compares alignments |cos(d_t, g_t)| of the projection direction d_t with the true
gradient g_t of the step's data: the momentum direction m_hat_t (after the cold start)
against a random direction, whose alignment for K = 1 is |cos(g_hat, g)| (g_hat is parallel
to v) and is expected to be sqrt(2 / (pi D)) for a uniform v.  C4 compares loss decreases.
Communication is counted per step: scalars sent by each worker and bytes (4 per float32
scalar; SGD sends D floats per worker).
"""

from __future__ import annotations

import logging
import math

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache
from holograd.experiments.arms import Bench
from holograd.experiments.setup import environment, scale

log = logging.getLogger(__name__)

TUNE_SEED = 10_000
"""The tuning runs' seed: their weights and batches are none of the measured seeds'."""


def arms(cfg: dict) -> dict[str, dict]:
    """The five arms of the comparison, from the config."""
    n, momentum = (
        cfg["n_workers"],
        {"kind": "momentum", "beta": cfg["beta"], "cold_start_steps": cfg["cold_start_steps"]},
    )
    return {
        "random_k64": {"kind": "random", "k": cfg["k_random"]},
        "random_k1": {"kind": "random", "k": 1},
        "momentum": {**momentum, "n_workers": n, "variant": "theorem3"},
        "momentum_alg3": {**momentum, "n_workers": n, "variant": "algorithm3"},
        "sgd": {"kind": "sgd"},
    }


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Each arm's learning rate from its own grid (cfg lr_grid, keyed by arm)."""
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    return {
        name: bench.tune(arm, cfg["lr_grid"][name], TUNE_SEED, cfg["tune_steps"]) for name, arm in arms(cfg).items()
    }


def scalars_per_step(name: str, cfg: dict, dim: int) -> int:
    """Numbers sent to the coordinator per step, all workers together."""
    if name == "sgd":
        return cfg["n_workers"] * dim
    if name.startswith("random"):
        return 1 if name == "random_k1" else cfg["k_random"]
    return cfg["n_workers"]


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    """Train every arm; alignment, loss decrease and communication per arm."""
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    results, dim = {}, None
    for name, arm in arms(cfg).items():
        out = bench.run(arm, tuned[name]["lr"], seed)
        dim = out["dim"]
        main = [s for s in out["steps"] if s.get("phase", "main") == "main"]
        if name.startswith("momentum"):
            alignment = [abs(s["direction_cosine"]) for s in main if s.get("direction_cosine") is not None]
        else:
            alignment = [abs(s["cosine"]) for s in main]
        alignment = [a for a in alignment if math.isfinite(a)]
        scalars = scalars_per_step(name, cfg, dim)
        results[name] = {
            "lr": out["lr"],
            "curve": out["curve"],
            "loss_decrease": out["loss_decrease"],
            "stopped": out["stopped"],
            "alignment": sum(alignment) / len(alignment) if alignment else math.nan,
            "scalars_per_step": scalars,
            "scalars_per_worker_per_step": scalars / cfg["n_workers"],  # K proofs spread over the N workers
            "bytes_per_step": 4 * scalars,
        }
        log.info(
            "%s: loss decrease %.4f, alignment %.4g, lr %g",
            name,
            out["loss_decrease"],
            results[name]["alignment"],
            out["lr"],
        )
    return {
        "arms": results,
        "dim": dim,
        "random_alignment_theory": math.sqrt(2 / (math.pi * dim)),
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }
