"""E4 — does the Adaptive Direction Codebook learn the gradient subspace? (claim C5; HoloGrad §4)

One setting per warm start (random-direction warm-up, bootstrap from true-gradient SVD, none).
In each job, for every codebook rank r of the config, HoloGrad-ADC trains with K proofs per
step from the seed's initial weights, and the captured energy

    gamma_t = ||U_t U_t^T g_t||^2 / ||g_t||^2        (g_t the true gradient of step t's batch)

is recorded at every step, warm-up included.  ADC-off is HoloGrad-Random with the same K on
the same batches.  Each arm's learning rate is tuned (arms.py); an ADC arm has two, one for
its warm-up steps (the rate tuned for that kind of full-space step) and one for its steps in
span(U), since an ADC step captures only gamma of the gradient.

C5 reads (a) the trend of gamma_t, mean over the last 20 % of the steps minus the mean over
the first 20 %, and (b) the held-out loss decrease of ADC-on minus that of ADC-off.
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
    """ADC at every rank with the setting's warm start, and ADC-off (random, same K)."""
    adc = {
        "kind": "adc",
        "k": cfg["k"],
        "warm_start": cfg["warm_start"],
        "warm_steps": cfg["warm_steps"],
        "alpha": cfg["alpha"],
        "qr_every": cfg["qr_every"],
    }
    return {**{f"adc_r{r}": {**adc, "rank": r} for r in cfg["ranks"]}, "adc_off": {"kind": "random", "k": cfg["k"]}}


def warm_arm(cfg: dict) -> dict | None:
    """The full-space arm whose steps the warm-up takes: HoloGrad-Random with the same K
    (random warm-up), SGD (bootstrap), or none."""
    return {"random": {"kind": "random", "k": cfg["k"]}, "bootstrap": {"kind": "sgd"}}.get(cfg["warm_start"])


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Rates in two phases.  ADC-off first, and SGD for a bootstrap warm start; the warm-up
    of every ADC arm then takes the rate tuned for its own kind of step (`warm_lr`), and
    each ADC arm's own rate, for the steps in span(U), is tuned from lr_grid.adc."""
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    steps = cfg["tune_steps"]
    tuned = {"adc_off": bench.tune(arms(cfg)["adc_off"], cfg["lr_grid"]["random"], TUNE_SEED, steps)}
    warm_lr = None
    if cfg["warm_start"] == "bootstrap":
        tuned["warm_sgd"] = bench.tune(warm_arm(cfg), cfg["lr_grid"]["sgd"], TUNE_SEED, steps)
        warm_lr = tuned["warm_sgd"]["lr"]
    elif cfg["warm_start"] == "random":
        warm_lr = tuned["adc_off"]["lr"]
    for name, arm in arms(cfg).items():
        if arm["kind"] == "adc":
            tuned[name] = {
                **bench.tune({**arm, "warm_lr": warm_lr}, cfg["lr_grid"]["adc"], TUNE_SEED, steps),
                "warm_lr": warm_lr,
            }
    return tuned


def trend(values: list[float], fraction: float = 0.2) -> float:
    """Mean of the last `fraction` of the values minus the mean of the first `fraction`."""
    n = max(1, int(len(values) * fraction))
    return sum(values[-n:]) / n - sum(values[:n]) / n


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    results, dim = {}, None
    for name, arm in arms(cfg).items():
        if arm["kind"] == "adc":
            arm = {**arm, "warm_lr": tuned[name]["warm_lr"]}
        out = bench.run(arm, tuned[name]["lr"], seed)
        dim = out["dim"]
        energy = [s["energy"] for s in out["steps"] if s.get("energy") is not None and math.isfinite(s["energy"])]
        results[name] = {
            "lr": out["lr"],
            "warm_lr": arm.get("warm_lr"),
            "curve": out["curve"],
            "loss_decrease": out["loss_decrease"],
            "stopped": out["stopped"],
            "energy": energy,
            "energy_trend": trend(energy) if energy else math.nan,
        }
        log.info("%s: loss decrease %.4f, gamma trend %.4g", name, out["loss_decrease"], results[name]["energy_trend"])
    return {
        "warm_start": cfg["warm_start"],
        "arms": results,
        "dim": dim,
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }
