"""E5 — the scale-corrected estimator is unbiased (claim C6, HoloGrad Theorem 1).

Fix theta and a minibatch, take the true gradient g by backprop, and average N independent
estimates g_hat_n = (D/K) sum_j a_j v_j (K fresh directions each).  For an unbiased estimator
with the variance of the Lemma, E||g_hat - g||^2 = (D - 1)||g||^2 / K, so

    r(N) = ||mean_N(g_hat) - g||^2 / ((D - 1) ||g||^2 / (N K))

has expectation 1 at every N.  A bias b adds ||b||^2 to the numerator, so r grows like
N K ||b||^2 / ((D - 1)||g||^2).  Also reported:

- the plan's literal metric ||mean_N(g_hat) - g|| / ||g|| (expected sqrt((D - 1)/(N K)));
- the bias along g, beta(N) = <mean_N(g_hat) - g, g> / ||g||^2 (expected 0, standard
  deviation about sqrt(2 / (N K)));
- a negative control: the same draws with a wrong scale c D (c = control_scale), i.e.
  c * mean_N(g_hat), whose r tends to c^2 + (c - 1)^2 N K / (D - 1) and must be rejected.
"""

from __future__ import annotations

import logging
import time
from itertools import pairwise

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache, batch_ids
from holograd.derivatives import flat_grad
from holograd.directions import derive_seeds
from holograd.estimators import estimate_gradient
from holograd.experiments.setup import environment, scale, train_samples
from holograd.models import build_model

log = logging.getLogger(__name__)


def check_draws(draws: list[int]) -> list[int]:
    """The draw counts N at which the running mean is measured: positive and increasing."""
    if not draws or any(n < 1 for n in draws) or any(b <= a for a, b in pairwise(draws)):
        raise ValueError(f"draws must be a strictly increasing list of positive counts, got {draws}")
    return list(draws)


def errors(mean_hat: torch.Tensor, g: torch.Tensor, n_directions: int, control_scale: float) -> dict:
    """r, relative error and bias along g of a running mean of N K directions, and the control's."""
    g64, m64 = g.to(torch.float64), mean_hat.to(torch.float64)
    dim, g2 = g.numel(), float(g64 @ g64)
    theory = (dim - 1) * g2 / n_directions  # E||mean - g||^2 for an unbiased estimator
    out = {}
    for name, c in (("estimator", 1.0), ("control", control_scale)):
        err = c * m64 - g64
        err2 = float(err @ err)
        out[name] = {"r": err2 / theory, "relative_error": (err2 / g2) ** 0.5, "bias_along_g": float(err @ g64) / g2}
    out["theory_relative_error"] = (theory / g2) ** 0.5
    return out


def run(cfg: dict, seed: int, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Running means of N = draws[-1] estimates of K directions; the errors at each N in draws.

    `checkpoint`, the job's saved progress (holograd.checkpoint), is part of every
    experiment's interface; this measurement saves nothing in it and starts over when killed."""
    draws, k = check_draws(cfg["draws"]), cfg["k"]
    samples = train_samples(cache, cfg["block_size"])
    model = build_model(cfg["model"], cache.vocab_size, cfg["block_size"], seed=seed, device=device)
    batch = samples.batch(batch_ids(seed, 0, cfg["batch_size"], samples.n_samples), device)
    _, g = flat_grad(model, batch)
    dim = g.numel()
    seeds = derive_seeds(f"e5/k{k}", seed, draws[-1] * k)  # draw n uses seeds[n K : (n + 1) K]
    total = torch.zeros(dim, dtype=torch.float64, device=device)  # sum over draws of g_hat_n
    points, done, start = [], 0, time.perf_counter()
    for n in draws:
        block = seeds[done * k : n * k]
        # sum of the (n - done) estimates (D/K) sum_j a_j v_j = (D (n - done) / (K (n - done))) sum a v,
        # every direction generated once for its proof and its share of the synthesis
        _, block_sum = estimate_gradient(g, block, scale=dim * (n - done), chunk_elements=cfg["chunk_elements"])
        total += block_sum.to(torch.float64)
        done = n
        point = {"draws": n, "directions": n * k, **errors(total / n, g, n * k, cfg["control_scale"])}
        points.append(point)
        eta = (time.perf_counter() - start) / n * (draws[-1] - n)  # cost grows linearly in N
        log.info(
            "N = %d (%d directions): r = %.4f, control r = %.4f, eta %.0fs",
            n,
            n * k,
            point["estimator"]["r"],
            point["control"]["r"],
            eta,
        )
    return {
        "grad_norm": float(g.norm()),
        "points": points,
        "scale": scale(cfg, cache, dim),
        "environment": environment(device),
    }
