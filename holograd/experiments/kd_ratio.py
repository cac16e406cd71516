"""E2 — the ratio K/D of random directions to parameters (claim C1; HoloGrad §3, Corollary).

One setting per value of K/D; K = max(1, round(K/D * D)) for the model's D (or one setting
per K, when the config sweeps `k` itself; the K/D reached is recorded either way).

(a) Alignment on fixed gradients: the true gradient g of one fixed minibatch at the initial
    weights, and `cos_draws` independent estimates g_hat = (D/K) sum_j <g, v_j> v_j of it.
    The Corollary predicts E cos(g_hat, g) ~ sqrt(K/D) for K << D; the closer form for any K
    is sqrt(K / (K + D - 1)), reported beside it.
(b) Training: HoloGrad-Random with that K against full SGD, same initial weights, same
    batches, `steps` steps, each with its tuned learning rate; the held-out loss decrease of
    each and their ratio.  With `fixed_lr` in the config, a third arm, `random_fixed`: the
    same HoloGrad-Random (same K, same direction seeds) with g_hat clipped to norm
    FIXED_CLIP_NORM, theta <- theta - fixed_lr * g_hat / max(1, ||g_hat|| / FIXED_CLIP_NORM),
    at one rate for every K, not tuned (the authors' fixed-rate runs: rate 0.1, ||g_hat||
    clipped to 1).

Learning rates: SGD's grid is absolute; HoloGrad-Random's is in units of K/D (the rate is
grid value x K/D), because the estimator's update has norm ~ sqrt(D/K) ||g|| and the best
rate of a noisy descent direction scales like K/D times SGD's.  The fixed-rate arm is the
one arm whose rate is not tuned: it reads C1 the way the authors ran it.
"""

from __future__ import annotations

import logging
import math
import sys

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache, batch_ids
from holograd.derivatives import flat_grad
from holograd.directions import DEFAULT_CHUNK_ELEMENTS, derive_seeds
from holograd.estimators import cosine, estimate_gradient
from holograd.experiments.arms import Bench, tune_all
from holograd.experiments.setup import environment, scale
from holograd.params import ParamSpace

log = logging.getLogger(__name__)

TUNE_SEED = 10_000
"""The tuning runs' seed: their weights and batches are none of the measured seeds'."""

GRADIENT_STREAM = 9
"""Batch stream of the fixed minibatch whose gradient the alignment draws estimate."""

FIXED_CLIP_NORM = 1.0
"""||g_hat|| bound of the fixed-rate arm (the authors' clip of their fixed-rate runs)."""

TUNED_ARMS = ("random", "sgd")
"""The arms whose rate a tuning job chooses; `random_fixed` runs at the config's fixed_lr."""


def directions_for(kd: float, dim: int) -> int:
    """K for a ratio K/D: the nearest integer, at least 1."""
    return max(1, round(kd * dim))


def k_of(cfg: dict, dim: int) -> int:
    """K of a setting: `k` when the config gives K itself (the paper config's raw K list),
    else from the ratio `kd`."""
    return int(cfg["k"]) if cfg.get("k") else directions_for(cfg["kd"], dim)


def arms(cfg: dict, dim: int) -> dict[str, dict]:
    """The setting's arms: HoloGrad-Random with K directions and SGD (tuned rates), and, when
    the config has `fixed_lr`, the fixed-rate clipped HoloGrad-Random with the same K."""
    k = k_of(cfg, dim)
    out = {"random": {"kind": "random", "k": k}, "sgd": {"kind": "sgd"}}
    if cfg.get("fixed_lr") is not None:
        out["random_fixed"] = {"kind": "random", "k": k, "clip_norm": FIXED_CLIP_NORM}
    return out


def rate_of(cfg: dict, name: str, tuned: dict) -> float:
    """An arm's learning rate: the config's fixed_lr for `random_fixed`, else the tuned one."""
    if name == "random_fixed":
        return float(cfg["fixed_lr"])
    if name not in tuned:
        raise ValueError(f"arm {name!r} has no tuned learning rate (the tuning job gave {sorted(tuned)})")
    return tuned[name]["lr"]


def rate_grid(cfg: dict, name: str, dim: int) -> list[float]:
    """SGD's grid as given; HoloGrad-Random's in units of K/D."""
    if name == "random":
        k = k_of(cfg, dim)
        return [lr * k / dim for lr in cfg["lr_grid"]["random"]]
    return list(cfg["lr_grid"][name])


def largest_update(steps: list[dict]) -> float:
    """max_t ||g_hat_t|| over a run's finite step records (NaN if none): the fixed-rate arm's
    clip is visible as a maximum of FIXED_CLIP_NORM."""
    norms = [r["update_norm"] for r in steps if math.isfinite(r["update_norm"])]
    return max(norms) if norms else math.nan


def tuning_arms(cfg: dict) -> dict[str, list[str]]:
    """The tuned arms (TUNED_ARMS), each tuned on its own: none needs another's rate."""
    return {name: [] for name in TUNED_ARMS}


def tune_arm(
    cfg: dict,
    cache: TokenCache,
    device: torch.device,
    name: str,
    tuned: dict[str, dict],
    *,
    checkpoint: Checkpoint | None = None,
) -> dict:
    """One tuned arm's rate from its grid (rate_grid: HoloGrad-Random's in units of K/D)."""
    if name not in TUNED_ARMS:
        raise ValueError(f"e2_kd_ratio: {name!r} is not tuned; the tuned arms are {list(TUNED_ARMS)}")
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    dim = ParamSpace(bench.model(TUNE_SEED)).dim
    return bench.tune(arms(cfg, dim)[name], rate_grid(cfg, name, dim), TUNE_SEED, cfg["tune_steps"])


def assemble_tuning(cfg: dict, tuned: dict[str, dict]) -> dict:
    """The setting's rates: every tuned arm's record, as tuned."""
    return dict(tuned)


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Every tuned arm's rate in one job (tune_all: tuning_arms in order, assemble_tuning)."""
    return tune_all(sys.modules[__name__], cfg, cache, device, checkpoint=checkpoint)


def alignment(
    model: torch.nn.Module, batch, k: int, draws: int, seed: int, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> list[float]:
    """cos(g_hat_K, g) of `draws` independent estimates of the gradient g of `batch`."""
    space = ParamSpace(model)
    _, g = flat_grad(model, batch, space)
    out = []
    for d in range(draws):
        seeds = derive_seeds(f"e2.alignment.{d}", seed, k)
        out.append(cosine(estimate_gradient(g, seeds, chunk_elements=chunk_elements)[1], g))
    return out


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    bench = Bench(cfg, cache, device, checkpoint=checkpoint)
    model = bench.model(seed)
    dim = ParamSpace(model).dim
    k = k_of(cfg, dim)
    batch = bench.samples.batch(
        batch_ids(seed, 0, cfg["batch_size"], bench.samples.n_samples, stream=GRADIENT_STREAM), device
    )
    cosines = alignment(model, batch, k, cfg["cos_draws"], seed, cfg.get("chunk_elements", DEFAULT_CHUNK_ELEMENTS))
    log.info(
        "K/D = %g (K = %d of D = %d): mean cos %.4f, sqrt(K/D) %.4f",
        k / dim,
        k,
        dim,
        sum(cosines) / len(cosines),
        math.sqrt(k / dim),
    )
    # every arm trained together: the two HoloGrad-Random arms (same K, seed and data) share each
    # step's directions, generated once
    named = arms(cfg, dim)
    together = bench.run_tuned([(arm, rate_of(cfg, name, tuned), tuned.get(name)) for name, arm in named.items()], seed)
    trained = dict(zip(named, together))
    decrease = {name: t["loss_decrease"] for name, t in trained.items()}
    return {
        "kd": k / dim,  # the ratio reached (K is an integer)
        "k": k,
        "dim": dim,
        "cosines": cosines,
        "cos_mean": sum(cosines) / len(cosines),
        "sqrt_kd": math.sqrt(k / dim),
        "cos_theory": math.sqrt(k / (k + dim - 1)),
        "loss_decrease": decrease,
        "fraction_of_sgd": decrease["random"] / decrease["sgd"] if decrease["sgd"] else math.nan,
        "curves": {name: t["curve"] for name, t in trained.items()},
        "lr": {name: t["lr"] for name, t in trained.items()},
        "stopped": {name: t["stopped"] for name, t in trained.items() if t["stopped"]},
        "diverged_at": {name: t["diverged_at"] for name, t in trained.items() if "diverged_at" in t},
        "max_update_norm": {name: largest_update(t["steps"]) for name, t in trained.items()},
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }
