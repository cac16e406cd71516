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

The seed-collapse control (HOLOGRAD.md; the authors' generator reads only the first 8 bytes of
a seed string, so `step{t}_k{k}` names one direction for every k once t >= 10).  With the K
directions of an estimate collapsed onto its first, v_n, the estimate is

    g_hat_n = (D/K) sum_k <g, v_n> v_n = D <g, v_n> v_n,

still unbiased but with the variance of ONE direction: E||mean_N - g||^2 = (D - 1)||g||^2 / N,
so r -> K and ||mean_N - g|| / ||g|| ~ sqrt((D - 1)/N), and |cos(g_hat_n, g)| = |<g, v_n>| /
||g||, whose mean is Gamma(D/2) / (sqrt(pi) Gamma((D+1)/2)) ~ sqrt(2/(pi D)) whatever K is.
It is measured (1) beside the estimator at every N of this run, and (2) at the authors'
settings with no model: the statistics depend on g only through its norm for rotation-
invariant directions, so a fixed unit g drawn from the generator stands in for theirs --
(a) D = 1000, K = 64, N = 100: relative bias ||mean_N - g|| / ||g|| (published 2.98) and
cos(mean_N, g) (published 0.28), collapsed and not; (b) D = 16,704, K = 64: the mean of
|cos(g_hat, g)| over many estimates (published 0.0063), collapsed and not.
"""

from __future__ import annotations

import logging
import math
import time
from itertools import pairwise

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache, batch_ids
from holograd.derivatives import flat_grad
from holograd.directions import derive_seed, derive_seeds, project, random_directions
from holograd.estimators import cosine, estimate_gradient, expected_cosine
from holograd.experiments.setup import environment, scale, train_samples
from holograd.models import build_model

log = logging.getLogger(__name__)


def check_draws(draws: list[int]) -> list[int]:
    """The draw counts N at which the running mean is measured: positive and increasing."""
    if not draws or any(n < 1 for n in draws) or any(b <= a for a, b in pairwise(draws)):
        raise ValueError(f"draws must be a strictly increasing list of positive counts, got {draws}")
    return list(draws)


def error_stats(mean_hat: torch.Tensor, g: torch.Tensor, n_directions: int, c: float = 1.0) -> dict:
    """r, relative error and bias along g of c * mean_hat, for N K = n_directions directions:
    r = ||c m - g||^2 / ((D - 1)||g||^2 / (N K)), ||c m - g|| / ||g||, <c m - g, g> / ||g||^2."""
    g64, m64 = g.to(torch.float64), mean_hat.to(torch.float64)
    g2 = float(g64 @ g64)
    theory = (g.numel() - 1) * g2 / n_directions  # E||mean - g||^2 for an unbiased estimator
    err = c * m64 - g64
    err2 = float(err @ err)
    return {"r": err2 / theory, "relative_error": (err2 / g2) ** 0.5, "bias_along_g": float(err @ g64) / g2}


def errors(mean_hat: torch.Tensor, g: torch.Tensor, n_directions: int, control_scale: float) -> dict:
    """r, relative error and bias along g of a running mean of N K directions, and the control's."""
    scales = (("estimator", 1.0), ("control", control_scale))
    out = {name: error_stats(mean_hat, g, n_directions, c) for name, c in scales}
    out["theory_relative_error"] = ((g.numel() - 1) / n_directions) ** 0.5
    return out


def collapsed_seeds(seeds: list[int], k: int) -> list[int]:
    """Each estimate's K seeds (consecutive blocks of k) replaced by K copies of its first, as
    HoloGradRandom(collapse_seeds=True) plans a step."""
    if k < 1 or len(seeds) % k:
        raise ValueError(f"{len(seeds)} seeds do not split into estimates of K = {k} directions")
    return [seeds[n] for n in range(0, len(seeds), k) for _ in range(k)]


def collapsed_sum(g: torch.Tensor, seeds: list[int], k: int, chunk_elements: int) -> torch.Tensor:
    """The sum over the estimates (consecutive blocks of k seeds) of the collapsed estimate
    (D/K) sum_k <g, v_n> v_n = D <g, v_n> v_n, v_n = Dir(the block's first seed).

    The K identical directions of an estimate are generated once ((D/K) K = D): the same
    vector as estimate_gradient on collapsed_seeds(seeds, k), up to float32 rounding."""
    firsts = collapsed_seeds(seeds, k)[::k]
    _, total = estimate_gradient(g, firsts, scale=g.numel() * len(firsts), chunk_elements=chunk_elements)
    return total


def mean_abs_normal_projection(dim: int) -> float:
    """E|<u, v>| for a unit u and v uniform on the unit sphere of R^D:
    Gamma(D/2) / (sqrt(pi) Gamma((D+1)/2)), ~ sqrt(2/(pi D)) for large D."""
    return math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)


def unit_gradient(label: str, seed: int, dim: int) -> torch.Tensor:
    """A fixed unit vector of R^D drawn from the generator: the gradient of a model-free setting."""
    return random_directions([derive_seed(f"e5/{label}/g", seed)], dim)[0]


def authors_bias(seed: int, dim: int, k: int, draws: int, chunk_elements: int) -> dict:
    """Setting (a): N = draws estimates of K directions of a fixed unit g in R^D; the relative
    bias ||mean_N - g|| / ||g|| and cos(mean_N, g), with each estimate's directions collapsed
    and not (the same seeds)."""
    g = unit_gradient("authors-bias", seed, dim)
    seeds = derive_seeds("e5/authors-bias", seed, draws * k)
    _, total = estimate_gradient(g, seeds, scale=dim * draws, chunk_elements=chunk_elements)
    means = {"uncollapsed": total / draws, "collapsed": collapsed_sum(g, seeds, k, chunk_elements) / draws}
    out = {"dim": dim, "k": k, "draws": draws}
    for name, mean in means.items():
        suffix = "" if name == "collapsed" else "_uncollapsed"
        out["relative_bias" + suffix] = error_stats(mean, g, draws * k)["relative_error"]
        out["cosine" + suffix] = cosine(mean, g)
    return out


def authors_alignment(
    seed: int, dim: int, k: int, estimates: int, chunk_elements: int, uncollapsed_estimates: int = 50
) -> dict:
    """Setting (b): the mean over `estimates` estimates of K directions of |cos(g_hat, g)| with
    each estimate's directions collapsed (|cos(D a v, g)| = |<g, v>| / ||g||, v unit, from the
    estimate's first seed), and over the first `uncollapsed_estimates` of them not collapsed
    (K D entries each: the expensive half, and the less variable one)."""
    g = unit_gradient("authors-alignment", seed, dim)
    seeds = derive_seeds("e5/authors-alignment", seed, estimates * k)
    uncollapsed, block = [], max(1, chunk_elements // (k * dim))  # estimates whose directions are held at once
    drawn = min(estimates, uncollapsed_estimates)
    for n0 in range(0, drawn, block):
        n1 = min(n0 + block, drawn)
        v = random_directions(seeds[n0 * k : n1 * k], dim).view(n1 - n0, k, dim)
        a = v @ g  # (estimates, K) proofs
        g_hat = (dim / k) * torch.einsum("nk,nkd->nd", a, v)
        uncollapsed += [abs(cosine(row, g)) for row in g_hat]
    a = project(g, seeds[::k], chunk_elements=chunk_elements).to(torch.float64)
    collapsed = (a.abs() / g.to(torch.float64).norm()).tolist()
    return {
        "dim": dim,
        "k": k,
        "estimates": estimates,
        "alignment": sum(collapsed) / estimates,
        "alignment_uncollapsed": sum(uncollapsed) / drawn,
        "uncollapsed_estimates": drawn,
    }


def authors_theory(bias: dict, alignment: dict) -> dict:
    """What theory gives at the authors' settings, collapsed (one direction per estimate) and not."""
    d, k, n = bias["dim"], bias["k"], bias["draws"]
    return {
        "relative_bias": math.sqrt((d - 1) / n),
        "relative_bias_uncollapsed": math.sqrt((d - 1) / (n * k)),
        "cosine": expected_cosine(n, d),
        "cosine_uncollapsed": expected_cosine(n * k, d),
        "alignment": mean_abs_normal_projection(alignment["dim"]),
        "alignment_uncollapsed": expected_cosine(alignment["k"], alignment["dim"]),
    }


def seed_collapse_at_authors_settings(cfg: dict, seed: int, chunk_elements: int) -> dict:
    """The control at the authors' settings (cfg: the section's `seed_collapse`), per seed."""
    b, a = cfg["relative_bias"], cfg["alignment"]
    start = time.perf_counter()
    bias = authors_bias(seed, b["dim"], b["k"], b["draws"], chunk_elements)
    alignment = authors_alignment(
        seed, a["dim"], a["k"], a["estimates"], chunk_elements, a.get("uncollapsed_estimates", 50)
    )
    out = {"relative_bias": bias, "alignment": alignment, "theory": authors_theory(bias, alignment)}
    log.info(
        "seed collapse at the authors' settings (%.0fs): relative bias %.4g (uncollapsed %.4g), "
        "alignment %.4g (uncollapsed %.4g)",
        time.perf_counter() - start,
        bias["relative_bias"],
        bias["relative_bias_uncollapsed"],
        alignment["alignment"],
        alignment["alignment_uncollapsed"],
    )
    return out


def run(cfg: dict, seed: int, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Running means of N = draws[-1] estimates of K directions; the errors at each N in draws,
    of the estimator, the wrong-scale control and the seed-collapse control; and the
    seed-collapse control at the authors' settings (cfg["seed_collapse"], when given).

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
    collapsed = torch.zeros(dim, dtype=torch.float64, device=device)  # the same, K directions collapsed
    points, done, start = [], 0, time.perf_counter()
    for n in draws:
        block = seeds[done * k : n * k]
        # sum of the (n - done) estimates (D/K) sum_j a_j v_j = (D (n - done) / (K (n - done))) sum a v,
        # every direction generated once for its proof and its share of the synthesis
        _, block_sum = estimate_gradient(g, block, scale=dim * (n - done), chunk_elements=cfg["chunk_elements"])
        total += block_sum.to(torch.float64)
        collapsed += collapsed_sum(g, block, k, cfg["chunk_elements"]).to(torch.float64)
        done = n
        point = {
            "draws": n,
            "directions": n * k,
            **errors(total / n, g, n * k, cfg["control_scale"]),
            "collapsed": error_stats(collapsed / n, g, n * k),
            "theory_relative_error_collapsed": ((dim - 1) / n) ** 0.5,
        }
        points.append(point)
        eta = (time.perf_counter() - start) / n * (draws[-1] - n)  # cost grows linearly in N
        log.info(
            "N = %d (%d directions): r = %.4f, control r = %.4f, collapsed r = %.4f, eta %.0fs",
            n,
            n * k,
            point["estimator"]["r"],
            point["control"]["r"],
            point["collapsed"]["r"],
            eta,
        )
    out = {"grad_norm": float(g.norm()), "points": points}
    if "seed_collapse" in cfg:
        out["seed_collapse"] = seed_collapse_at_authors_settings(cfg["seed_collapse"], seed, cfg["chunk_elements"])
    else:
        log.info("no seed_collapse section: the control at the authors' settings is not run")
    return {
        **out,
        "scale": scale(cfg, cache, dim),
        "environment": environment(device),
    }
