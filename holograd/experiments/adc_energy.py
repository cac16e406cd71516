"""E4 — does the Adaptive Direction Codebook learn the gradient subspace? (claim C5; HoloGrad §4)

One setting per warm start:

- random:    warm_steps HoloGrad-Random steps (K proofs, full space) whose g_hat train U by
             Oja's rule (§4: Oja takes "the aggregated gradient estimate");
- svd:       the same random warm-up, its g_hat's buffered and U started from their SVD (the
             authors' code);
- bootstrap: warm_steps true-gradient SGD steps, U from the SVD of their gradients (§4's
             bootstrap; not verifiable);
- none:      ADC from step 0 with a random U.

In each job, for every codebook rank r of the config, HoloGrad-ADC trains with K proofs per
step from the seed's initial weights, and every step records the captured energy on the true
gradient (the paper's definition) and on the step's own update (the authors' measurement)

    gamma_t     = ||P_U g_t||^2     / ||g_t||^2        (`energy`; g_t the step's true gradient)
    gamma_hat_t = ||P_U g_hat_t||^2 / ||g_hat_t||^2    (`energy_estimate`; 1 for an ADC step,
                                                         whose g_hat lies in span(U_t))

P_U the projector onto span(U_t), warm-up included (a bootstrap step's update is g itself, so
its gamma_hat is its gamma).  ADC-off is HoloGrad-Random with the same K on the same batches;
in the bootstrap setting it first takes the same warm_steps SGD steps at the same rate
(holograd.strategies.WarmStarted), so that ADC-on and ADC-off leave the warm-up at the same
weights, bit for bit, and differ only in what follows.  Each arm's learning rate is tuned
(arms.py); an ADC arm has two, one for its warm-up steps (the rate tuned for that kind of
full-space step) and one for its steps in span(U), since an ADC step captures only gamma of
the gradient.

Per arm and seed: the trends of gamma and gamma_hat over the ADC steps after the warm-up
(mean over their last 20 % minus the mean over their first 20 %), their means over them,
the held-out curve and loss decrease.  C5 reads (a) a trend and (b) ADC-on's loss decrease
minus ADC-off's.
"""

from __future__ import annotations

import logging
import math
import sys

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache
from holograd.experiments.arms import Bench, tune_all
from holograd.experiments.setup import environment, scale

log = logging.getLogger(__name__)

TUNE_SEED = 10_000
"""The tuning runs' seed: their weights and batches are none of the measured seeds'."""

WARM_STARTS = ("random", "svd", "bootstrap", "none")


def _check(cfg: dict) -> None:
    if cfg["warm_start"] not in WARM_STARTS:
        raise ValueError(f"unknown warm_start {cfg['warm_start']!r}; choose one of {list(WARM_STARTS)}")


def off_warmup(cfg: dict) -> bool:
    """Whether ADC-off takes a warm-up of its own: the bootstrap's SGD steps (a random or svd
    warm-up is ADC-off's own kind of step at ADC-off's own rate, so it needs none)."""
    _check(cfg)
    return cfg["warm_start"] == "bootstrap" and cfg["warm_steps"] > 0


def adc_off(cfg: dict, warm_lr: float | None = None) -> dict:
    """ADC-off: HoloGrad-Random with the same K; in the bootstrap setting after the same
    warm_steps SGD steps at rate warm_lr (the SGD rate tuned for them)."""
    arm = {"kind": "random", "k": cfg["k"]}
    if not off_warmup(cfg):
        return arm
    if warm_lr is None:
        raise ValueError("ADC-off's bootstrap warm-up needs the SGD rate tuned for it (warm_lr)")
    return {**arm, "warmup": {"kind": "sgd", "steps": cfg["warm_steps"], "lr": warm_lr}}


def arms(cfg: dict, warm_lr: float | None = None) -> dict[str, dict]:
    """ADC at every rank with the setting's warm start (warm-up at rate warm_lr, if given),
    and ADC-off (adc_off)."""
    _check(cfg)
    adc = {
        "kind": "adc",
        "k": cfg["k"],
        "warm_start": cfg["warm_start"],
        "warm_steps": cfg["warm_steps"],
        "alpha": cfg["alpha"],
        "qr_every": cfg["qr_every"],
    }
    if warm_lr is not None:
        adc["warm_lr"] = warm_lr
    return {**{f"adc_r{r}": {**adc, "rank": r} for r in cfg["ranks"]}, "adc_off": adc_off(cfg, warm_lr)}


def warm_arm(cfg: dict) -> dict | None:
    """The full-space arm whose steps the warm-up takes: HoloGrad-Random with the same K
    (random and svd warm-ups), SGD (bootstrap), or none."""
    _check(cfg)
    random = {"kind": "random", "k": cfg["k"]}
    return {"random": random, "svd": random, "bootstrap": {"kind": "sgd"}}.get(cfg["warm_start"])


WARM_LR_FROM = {"bootstrap": "warm_sgd", "random": "adc_off", "svd": "adc_off"}
"""The tuned arm whose rate an ADC arm's warm-up takes, by warm start (none: no warm-up)."""


def tuning_arms(cfg: dict) -> dict[str, list[str]]:
    """The tuned arms in the order a one-job tuning runs them, each with the arms whose rates
    it needs: SGD first for a bootstrap warm start (`warm_sgd`), then ADC-off (after that SGD
    warm-up, in the bootstrap setting), then every ADC rank, whose warm-up takes the rate tuned
    for its own kind of step (WARM_LR_FROM)."""
    _check(cfg)
    needs: dict[str, list[str]] = {"warm_sgd": []} if cfg["warm_start"] == "bootstrap" else {}
    needs["adc_off"] = ["warm_sgd"] if off_warmup(cfg) else []
    warm = [WARM_LR_FROM[cfg["warm_start"]]] if cfg["warm_start"] in WARM_LR_FROM else []
    needs.update({name: warm for name, arm in arms(cfg, warm_lr=1.0).items() if arm["kind"] == "adc"})
    return needs


def tune_arm(
    cfg: dict,
    cache: TokenCache,
    device: torch.device,
    name: str,
    tuned: dict[str, dict],
    *,
    checkpoint: Checkpoint | None = None,
) -> dict:
    """One arm's rates (`tuned`: the records of the arms tuning_arms says it needs).  warm_sgd:
    SGD's rate from lr_grid.sgd; ADC-off: its rate from lr_grid.random, after the bootstrap's
    SGD warm-up at warm_sgd's rate in that setting; an ADC arm: its warm-up (`warm_lr`) at the
    rate tuned for its own kind of step (SGD's for a bootstrap, ADC-off's for a random or svd
    warm-up), and its own rate, for the steps in span(U), tuned from lr_grid.adc."""
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    steps, grid = cfg["tune_steps"], cfg["lr_grid"]
    if name == "warm_sgd":
        return bench.tune(warm_arm(cfg), grid["sgd"], TUNE_SEED, steps)
    if name == "adc_off":
        off_lr = tuned["warm_sgd"]["lr"] if off_warmup(cfg) else None
        return {**bench.tune(adc_off(cfg, off_lr), grid["random"], TUNE_SEED, steps), "warm_lr": off_lr}
    source = WARM_LR_FROM.get(cfg["warm_start"])
    warm_lr = tuned[source]["lr"] if source else None
    arm = arms(cfg, warm_lr)[name]
    if arm["kind"] != "adc":
        raise ValueError(f"e4_adc_energy: {name!r} is not a tuned arm; the tuned arms are {list(tuning_arms(cfg))}")
    return {**bench.tune(arm, grid["adc"], TUNE_SEED, steps), "warm_lr": warm_lr}


def assemble_tuning(cfg: dict, tuned: dict[str, dict]) -> dict:
    """The setting's rates: every tuned arm's record, as tuned."""
    return dict(tuned)


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Every arm's rates in one job (tune_all: tuning_arms in order, assemble_tuning)."""
    return tune_all(sys.modules[__name__], cfg, cache, device, checkpoint=checkpoint)


def trend(values: list[float], fraction: float = 0.2) -> float:
    """Mean of the last `fraction` of the values minus the mean of the first `fraction`."""
    n = max(1, int(len(values) * fraction))
    return sum(values[-n:]) / n - sum(values[:n]) / n


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def energies(steps: list[dict]) -> dict:
    """gamma_t (on g) and gamma_hat_t (on g_hat) of an arm's step records (every step, for the
    figure), and their trends and means over the main-phase steps, the ADC steps after the
    warm-up (NaN where the arm has none: ADC-off).

    The trend is taken after the warm-up: "gamma grows during training" is about the codebook
    learning while ADC runs.  Over every step, a warm start that replaces U at the end of the
    warm-up (svd, bootstrap) would count that one jump from the random U's r/D as growth, and
    gamma on g_hat (1 on every ADC step by construction) would show a trend of about 1 - r/D
    for the same reason.  A bootstrap step's update is the true gradient g, so its gamma_hat is
    its gamma."""
    gamma = [s["energy"] for s in steps if _finite(s.get("energy"))]
    on_update = [
        (s.get("energy_estimate", s["energy"] if s.get("phase") == "bootstrap" else None), s.get("phase"))
        for s in steps
    ]
    gamma_hat = [v for v, _ in on_update if _finite(v)]
    main = [s["energy"] for s in steps if s.get("phase") == "main" and _finite(s.get("energy"))]
    main_hat = [v for v, phase in on_update if phase == "main" and _finite(v)]
    return {
        "energy": gamma,
        "energy_estimate": gamma_hat,
        "energy_trend": trend(main) if main else math.nan,
        "energy_estimate_trend": trend(main_hat) if main_hat else math.nan,
        "gamma_gradient_mean": _mean(main),
        "gamma_estimate_mean": _mean(main_hat),
    }


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    """One job (setting, seed): every arm of `arms` at its tuned rates (ADC-off after the
    bootstrap's SGD warm-up in that setting), from the seed's initial weights on the seed's
    batches; per arm its rates, warm-up length, held-out curve, loss decrease and `energies`."""
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    results, dim = {}, None
    named = {
        name: {**arm, "warm_lr": tuned[name].get("warm_lr")} if arm["kind"] == "adc" else arm
        for name, arm in arms(cfg, tuned["adc_off"].get("warm_lr")).items()
    }
    # every arm trained together: random-direction warm-ups that coincide share their directions
    together = dict(
        zip(named, bench.run_tuned([(arm, tuned[name]["lr"], tuned[name]) for name, arm in named.items()], seed))
    )
    for name, arm in named.items():
        warm_lr = tuned[name].get("warm_lr")
        if arm["kind"] == "adc":
            warm_steps = 0 if cfg["warm_start"] == "none" else cfg["warm_steps"]
        else:  # ADC-off: the bootstrap's SGD steps, or no warm-up
            warm_steps = arm["warmup"]["steps"] if "warmup" in arm else 0
        out = together[name]
        dim = out["dim"]
        results[name] = {
            "lr": out["lr"],
            "warm_lr": warm_lr,
            "warm_steps": warm_steps,
            "curve": out["curve"],
            "loss_decrease": out["loss_decrease"],
            "stopped": out["stopped"],
            "diverged_at": out.get("diverged_at"),
            **energies(out["steps"]),
        }
        log.info(
            "%s: loss decrease %.4f, gamma trend %.4g on g, %.4g on g_hat",
            name,
            out["loss_decrease"],
            results[name]["energy_trend"],
            results[name]["energy_estimate_trend"],
        )
    return {
        "warm_start": cfg["warm_start"],
        "arms": results,
        "dim": dim,
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }
