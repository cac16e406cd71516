"""E6 — PoGP scalars are reproducible (claim C8, HoloGrad §4.4).

For n proofs (theta, B_i, s_i) on a real model, compute the worker's proof a_i by forward-mode
JVP and four re-computations of the same quantity:

| name            | how                                                            | expected        |
|-----------------|----------------------------------------------------------------|-----------------|
| verifier        | JVP by a separate model instance holding the same theta        | |a - a*| = 0    |
| verifier_threads| the same, with a different number of intra-op threads         | ~ float32 noise |
| backprop        | <g_B, v> from the backprop gradient (float64 dot product)      | ~ float32 noise |
| float64         | JVP of a float64 copy of the model along the same direction    | ~ float32 noise |

C8 takes max_i |a_i - a*_i| of the verifier.  The other paths give the scale of
honest numerical noise between implementations, from which a tolerance is recommended:
eps_rec = the smallest power of ten >= 10 x the largest cross-path difference.  |a| itself
scales like ||g|| / sqrt(D), so the typical |a| is reported beside eps.

Cheaters: a worker submits m proofs per step, a fraction q of them offset by `offset` (> eps);
the verifier (holograd.pogp.PoGPVerifier) re-checks each with probability p against the real
recomputed a*.  The empirical rate of steps in which the cheater is caught is compared with
P = 1 - (1 - p)^(q m) through its Wilson interval.
"""

from __future__ import annotations

import copy
import logging
import math
import time

import torch

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache, batch_ids
from holograd.derivatives import directional_derivative, flat_grad
from holograd.directions import derive_seed, random_directions
from holograd.experiments.setup import environment, scale, train_samples
from holograd.models import build_model
from holograd.params import ParamSpace
from holograd.pogp import PoGPVerifier, Proof, compute_proof, p_caught

log = logging.getLogger(__name__)

RECOMPUTATIONS = ("verifier", "verifier_threads", "backprop", "float64")


def recommended_eps(cross_path_max: float) -> float:
    """The smallest power of ten >= 10 x the largest honest cross-implementation difference."""
    return 10.0 ** math.ceil(math.log10(10.0 * cross_path_max)) if cross_path_max > 0 else 0.0


def proofs(cfg: dict, seed: int, cache: TokenCache, device: torch.device) -> tuple[dict, int]:
    """The worker's proofs and their four re-computations, as lists of floats; and D."""
    samples = train_samples(cache, cfg["block_size"])
    worker = build_model(cfg["model"], cache.vocab_size, cfg["block_size"], seed=seed, device=device)
    verifier = build_model(cfg["model"], cache.vocab_size, cfg["block_size"], seed=seed + 1, device=device)
    verifier.load_state_dict(worker.state_dict())  # the verifier receives theta_t
    wide = copy.deepcopy(worker).to(torch.float64)
    space, space64 = ParamSpace(worker), ParamSpace(wide)
    threads = torch.get_num_threads()
    other_threads = threads // 2 if threads > 1 else 2
    out = {"worker": [], **{name: [] for name in RECOMPUTATIONS}}
    start = time.perf_counter()
    for i in range(cfg["n_proofs"]):
        batch = samples.batch(batch_ids(seed, i, cfg["batch_size"], samples.n_samples), device)
        s = derive_seed("e6/proof", seed, i)
        out["worker"].append(compute_proof(worker, batch, s, space).item())
        out["verifier"].append(compute_proof(verifier, batch, s).item())
        torch.set_num_threads(other_threads)
        out["verifier_threads"].append(compute_proof(verifier, batch, s).item())
        torch.set_num_threads(threads)
        v = random_directions([s], space.dim, device=device)[0]
        g = flat_grad(worker, batch, space)[1]
        out["backprop"].append(float(g.to(torch.float64) @ v.to(torch.float64)))
        out["float64"].append(directional_derivative(wide, batch, v.to(torch.float64), space64)[1].item())
        if (i + 1) % max(1, cfg["n_proofs"] // 10) == 0:
            eta = (time.perf_counter() - start) / (i + 1) * (cfg["n_proofs"] - i - 1)
            log.info(
                "proof %d/%d: a = %.3e, |a - a*| = %.1e, eta %.0fs",
                i + 1,
                cfg["n_proofs"],
                out["worker"][-1],
                abs(out["worker"][-1] - out["verifier"][-1]),
                eta,
            )
    return out, space.dim


def simulate_cheaters(a: list[float], a_star: list[float], cheating: dict, eps: float, seed: int) -> list[dict]:
    """Empirical catch rate of a cheater for every (p, q) against P = 1 - (1 - p)^(q m)."""
    m, trials, offset = cheating["m"], cheating["trials"], cheating["offset"]
    rows = []
    for p in cheating["p"]:
        for q in cheating["q"]:
            verifier = PoGPVerifier(p=p, eps=eps, seed=derive_seed("e6/verifier", seed, 0))
            n_bad, caught, false_rejections = round(q * m), 0, 0
            for step in range(trials):
                rejected = False
                for j in range(m):
                    i = (step * m + j) % len(a)
                    cheat = j < n_bad
                    proof = Proof(worker=0, step=step, index=j, seed=i, scalar=a[i] + (offset if cheat else 0.0))
                    accepted = verifier.check(proof, lambda _, i=i: a_star[i])
                    if accepted is False:
                        rejected = True
                        false_rejections += not cheat
                caught += rejected
            rows.append(
                {
                    "p": p,
                    "q": q,
                    "m": m,
                    "invalid_per_step": n_bad,
                    "trials": trials,
                    "caught": caught,
                    "theory": p_caught(p, n_bad / m, m),
                    "false_rejections": false_rejections,
                }
            )
    return rows


def run(cfg: dict, seed: int, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Proofs, their re-computations and differences; the cheater simulation.

    `checkpoint`, the job's saved progress (holograd.checkpoint), is part of every
    experiment's interface; this measurement saves nothing in it and starts over when killed."""
    values, dim = proofs(cfg, seed, cache, device)
    a = values["worker"]
    diffs = {name: [abs(x - y) for x, y in zip(a, values[name])] for name in RECOMPUTATIONS}
    cross = max(max(diffs[name]) for name in ("verifier_threads", "backprop", "float64"))
    abs_a = sorted(abs(x) for x in a)
    return {
        "proofs": values,
        "max_abs_diff": {name: max(d) for name, d in diffs.items()},
        "median_abs_a": abs_a[len(abs_a) // 2],
        "recommended_eps": recommended_eps(cross),
        "cheaters": simulate_cheaters(a, values["verifier"], cfg["cheating"], cfg["eps"], seed),
        "scale": scale(cfg, cache, dim),
        "environment": environment(device),
    }
