"""E3 — Momentum-Centric against random directions and full SGD (claims C3, C4; HoloGrad §5).

Arms, all from the same initial weights on the same data (the union of the N workers'
batches for the single-batch arms), each with its tuned learning rate (arms.py):

| arm                     | strategy                                                   | scalars/step |
|-------------------------|------------------------------------------------------------|--------------|
| random_k64              | HoloGrad-Random, K = k_random                              | K            |
| random_k1               | HoloGrad-Random, K = 1                                     | 1            |
| momentum                | Momentum-Centric, N workers, Theorem 3 (g_hat = abar m_hat)| N            |
| momentum_alg3           | Momentum-Centric, Algorithm 3 (g_hat = abar sigma m_hat)   | N            |
| sgd                     | full SGD on the union batch                                | N x D        |

and, when the section has `warmups` (every config does; the readings of C3 and C4 in
claims.yaml read them):

| momentum_random_warmup  | Theorem 3 after T_r steps of HoloGrad-Random (K = warmups.random.k) on the union batch,  |
|                         | m <- beta m + (1 - beta) g_hat over those steps (WarmStarted / absorb): the authors'     |
|                         | coordinator; warm-up at random_k64's tuned rate                                          |
| momentum_sgd_warmup     | Theorem 3 after T_s true-gradient SGD steps that build m (not verifiable); warm-up at    |
|                         | sgd's tuned rate                                                                         |
| momentum_oracle         | Theorem 3 with m <- beta m + (1 - beta) g, g the true gradient (not verifiable; the     |
|                         | paper's "why momentum works")                                                            |
| momentum_authors_       | the authors' momentum benchmark: T_s SGD steps, then the oracle (m from true gradients   |
|   benchmark             | throughout; not verifiable); warm-up at sgd's tuned rate                                 |
| sgd_random_warmup       | SGD after the same random warm-up (C4's baseline for that reading): it leaves the        |
|                         | warm-up at momentum_random_warmup's weights bit for bit; main phase at sgd's rate        |
| random_k64_collapse     | control: random K = k_random whose K directions are the step's first (the authors'      |
|                         | 8-byte seed collapse), at random_k64's rate: |cos| ~ sqrt(2 / (pi D)) whatever K is      |

C3 compares alignments |cos(d_t, g_t)| of the projection direction d_t with the true
gradient g_t of the step's data, averaged over the main-phase steps (after the warm-up or the
cold start): the momentum direction m_hat_t against a random direction, whose alignment for
K = 1 is |cos(g_hat, g)| (g_hat is parallel to v), expected sqrt(2 / (pi D)) for a uniform v.
`alignment_with_warmup` averages over every step instead, a warm-up or cold-start step
counting |cos(update, g)| of its own update (1 for an SGD step): the authors' 0.0533 is such
a mean over 1000 steps of which 50 were SGD steps.  C4 compares loss decreases, over the
whole run and (analysis) over the steps after a warm-up.  Communication is counted per
main-phase step: scalars sent by all workers and bytes (4 per float32 scalar; SGD sends D
floats per worker).
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

WARMUP_DEFAULTS = {"random": {"steps": 10, "k": 64}, "sgd": {"steps": 10}}
"""warmups.random.{steps, k} and warmups.sgd.steps when the section leaves them out."""

WARM_RATE_OF = {"random": "random_k64", "sgd": "sgd"}
"""The arm whose tuned rate a warm-up of each kind takes (a warm-up step is that arm's step)."""

MIRRORS = {"sgd_random_warmup": "sgd", "random_k64_collapse": "random_k64"}
"""Arms that are not tuned: each takes the tuned rate of the arm it is the control or baseline of."""


def warmups(cfg: dict) -> dict[str, dict]:
    """The two warm-ups, {kind: {"steps", ...options}}, with WARMUP_DEFAULTS filled in."""
    given = cfg.get("warmups") or {}
    return {kind: {**defaults, **(given.get(kind) or {})} for kind, defaults in WARMUP_DEFAULTS.items()}


def has_readings(cfg: dict) -> bool:
    """Whether the section runs the reading arms (it has `warmups`, as every config does)."""
    return "warmups" in cfg


def check(cfg: dict) -> None:
    """A warm-up must end where the held-out loss is measured (C4 reads the decrease from
    there) and leave main-phase steps in the runs and in the tuning runs."""
    if not has_readings(cfg):
        return
    if warmups(cfg)["random"]["k"] != cfg["k_random"]:
        raise ValueError(
            f"e3_momentum_comparison: warmups.random.k = {warmups(cfg)['random']['k']} must equal k_random = "
            f"{cfg['k_random']} (the random warm-up runs at random_k64's tuned rate, a rate for that K)"
        )
    for kind, warm in warmups(cfg).items():
        t = warm["steps"]
        if t < 1 or t % cfg["eval_every"]:
            raise ValueError(
                f"e3_momentum_comparison: warmups.{kind}.steps = {t} must be a positive multiple of "
                f"eval_every = {cfg['eval_every']} (the held-out loss is measured at the warm-up's end)"
            )
        if t >= min(cfg["steps"], cfg["tune_steps"]):
            raise ValueError(
                f"e3_momentum_comparison: warmups.{kind}.steps = {t} must be below steps = {cfg['steps']} and "
                f"tune_steps = {cfg['tune_steps']} (a warmed arm needs steps after its warm-up)"
            )


def arms(cfg: dict, rates: dict[str, float] | None = None) -> dict[str, dict]:
    """The arms of the comparison, from the config; `rates` (tuned rate by arm name) gives a
    warm-up its rate (WARM_RATE_OF), without which the warm-ups carry none (work model)."""
    n, momentum = (
        cfg["n_workers"],
        {"kind": "momentum", "beta": cfg["beta"], "cold_start_steps": cfg["cold_start_steps"]},
    )
    out = {
        "random_k64": {"kind": "random", "k": cfg["k_random"]},
        "random_k1": {"kind": "random", "k": 1},
        "momentum": {**momentum, "n_workers": n, "variant": "theorem3"},
        "momentum_alg3": {**momentum, "n_workers": n, "variant": "algorithm3"},
        "sgd": {"kind": "sgd"},
    }
    if not has_readings(cfg):
        return out
    w = warmups(cfg)
    warm = {
        "random": {"kind": "random", "k": w["random"]["k"], "steps": w["random"]["steps"]},
        "sgd": {"kind": "sgd", "steps": w["sgd"]["steps"]},
    }
    if rates is not None:
        warm = {kind: {**arm, "lr": rates[WARM_RATE_OF[kind]]} for kind, arm in warm.items()}
    theorem3 = out["momentum"]
    out.update(
        {
            "momentum_random_warmup": {**theorem3, "warmup": warm["random"]},
            "momentum_sgd_warmup": {**theorem3, "warmup": warm["sgd"]},
            "momentum_oracle": {**theorem3, "momentum_from": "gradient"},
            "momentum_authors_benchmark": {**theorem3, "momentum_from": "gradient", "warmup": warm["sgd"]},
            "sgd_random_warmup": {"kind": "sgd", "warmup": warm["random"]},
            "random_k64_collapse": {"kind": "random", "k": cfg["k_random"], "collapse_seeds": True},
        }
    )
    return out


def tuning_arms(cfg: dict) -> dict[str, list[str]]:
    """The tuned arms, in the order a one-job tuning runs them, each with the arms whose tuned
    rates it needs: the five protocol arms (random_k64 and sgd among them) need none, the
    oracle none, a warmed arm the arm whose rate its warm-up runs at (WARM_RATE_OF); the
    controls and baselines of MIRRORS are not tuned (assemble_tuning gives them their rate)."""
    check(cfg)
    needs = {name: [] for name in arms({k: v for k, v in cfg.items() if k != "warmups"})}
    if not has_readings(cfg):
        return needs
    for name, arm in arms(cfg).items():
        if name not in needs and name not in MIRRORS:
            needs[name] = [WARM_RATE_OF[arm["warmup"]["kind"]]] if "warmup" in arm else []
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
    """One arm's learning rate from its own grid (cfg lr_grid, keyed by arm); a warmed arm's
    warm-up runs at the rate tuned for its kind of step (`tuned`: the records of the arms
    tuning_arms says it needs)."""
    check(cfg)
    arm = arms(cfg)[name]
    if "warmup" in arm:
        warm = arm["warmup"]
        arm = {**arm, "warmup": {**warm, "lr": tuned[WARM_RATE_OF[warm["kind"]]]["lr"]}}
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    out = bench.tune(arm, _grid(cfg, name), TUNE_SEED, cfg["tune_steps"])
    if "warmup" in arm:
        out["warmup_lr"] = arm["warmup"]["lr"]
    return out


def assemble_tuning(cfg: dict, tuned: dict[str, dict]) -> dict:
    """The setting's learning rates from every tuned arm's record (tuning_arms): those, and the
    controls and baselines of MIRRORS at their arm's rate, untuned (sgd_random_warmup's
    warm-up at random_k64's)."""
    out = dict(tuned)
    if not has_readings(cfg):
        return out
    rates = {name: t["lr"] for name, t in tuned.items()}
    for name, source in MIRRORS.items():
        out[name] = {"lr": rates[source], "mirrors": source}
    out["sgd_random_warmup"]["warmup_lr"] = rates[WARM_RATE_OF["random"]]
    return out


def source(tuned: dict, name: str) -> dict:
    """The tuning record behind an arm's rate: its own, or that of the arm it mirrors."""
    record = tuned[name]
    return tuned[record["mirrors"]] if "mirrors" in record else record


def tune(cfg: dict, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Every arm's learning rate in one job (tune_all: tuning_arms in order, assemble_tuning)."""
    return tune_all(sys.modules[__name__], cfg, cache, device, checkpoint=checkpoint)


def _grid(cfg: dict, name: str) -> list[float]:
    if name not in cfg["lr_grid"]:
        raise ValueError(f"e3_momentum_comparison: lr_grid has no grid for the tuned arm {name!r}")
    return cfg["lr_grid"][name]


def scalars_per_step(arm: dict, cfg: dict, dim: int) -> int:
    """Numbers sent to the coordinator per main-phase step, all workers together."""
    if arm["kind"] == "sgd":
        return cfg["n_workers"] * dim
    if arm["kind"] == "random":
        return arm["k"]
    return cfg["n_workers"]


def step_alignment(step: dict) -> float:
    """|cos(d, g)| of a step's projection direction d: m_hat (or a cold-start direction) for a
    Momentum-Centric step, otherwise the step's own update (g_hat, parallel to v for K = 1;
    g itself for SGD)."""
    value = step.get("direction_cosine")
    return abs(step["cosine"] if value is None else value)


def alignments(steps: list[dict]) -> tuple[float, float]:
    """(mean alignment over the main-phase steps, mean over all steps), non-finite values left out."""

    def mean(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan

    main = [step_alignment(s) for s in steps if s.get("phase", "main") == "main"]
    return mean(main), mean([step_alignment(s) for s in steps])


def loss_at(curve: list, step: int) -> float:
    """The held-out loss measured before step `step` (NaN if it was not measured)."""
    return next((loss for t, loss in curve if t == step and loss is not None), math.nan)


def run(
    cfg: dict, seed: int, cache: TokenCache, device: torch.device, tuned: dict, *, checkpoint: Checkpoint | None = None
) -> dict:
    """Train every arm; alignment, loss decrease and communication per arm."""
    check(cfg)
    bench = Bench(cfg, cache, device, workers=cfg["n_workers"], checkpoint=checkpoint)
    results, dim = {}, None
    rates = {name: t["lr"] for name, t in tuned.items()}
    named = arms(cfg, rates)
    # every arm trained together: the random-direction steps that coincide (random_k64 and the
    # random warm-ups: same K, seed and data) share their directions
    together = dict(
        zip(
            named, bench.run_tuned([(arm, tuned[name]["lr"], source(tuned, name)) for name, arm in named.items()], seed)
        )
    )
    for name, arm in named.items():
        out = together[name]
        dim = out["dim"]
        alignment, with_warmup = alignments(out["steps"])
        warm = arm.get("warmup")
        t_warm = warm["steps"] if warm else 0
        after = loss_at(out["curve"], t_warm) - out["curve"][-1][1] if out["stopped"] is None else math.nan
        scalars = scalars_per_step(arm, cfg, dim)
        results[name] = {
            "lr": out["lr"],
            "curve": out["curve"],
            "loss_decrease": out["loss_decrease"],
            "stopped": out["stopped"],
            "alignment": alignment,
            "alignment_with_warmup": with_warmup,
            "warmup_steps": t_warm,
            "warmup": warm,
            "loss_decrease_after_warmup": after,
            "scalars_per_step": scalars,
            "scalars_per_worker_per_step": scalars / cfg["n_workers"],  # K proofs spread over the N workers
            "bytes_per_step": 4 * scalars,
            "diverged_at": out.get("diverged_at"),
        }
        log.info(
            "%s: loss decrease %.4f, alignment %.4g (all steps %.4g), lr %g",
            name,
            out["loss_decrease"],
            alignment,
            with_warmup,
            out["lr"],
        )
    return {
        "arms": results,
        "dim": dim,
        "random_alignment_theory": math.sqrt(2 / (math.pi * dim)),
        "scale": scale(cfg, cache, dim, steps=cfg["steps"]),
        "environment": environment(device),
    }
