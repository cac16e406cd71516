"""E1 — gradient variability (claim C2: minibatch gradients are nearly orthogonal, HoloGrad §6.1).

At a checkpoint theta, take the full gradients g_1 .. g_n of n independent minibatches
(n = 50 in the plan) and measure, from their Gram matrix G_ij = <g_i, g_j> alone:

- mean pairwise cosine   c = mean_{i<j} G_ij / sqrt(G_ii G_jj)                 (C2: ~ 0.07)
- variance ratio         rho = 1 - mean_{i!=j} G_ij / mean_i G_ii
                         an estimate of E||g_B - E g_B||^2 / E||g_B||^2, since
                         E<g_i, g_j> = ||E g_B||^2 for independent batches (plan: ~ 0.93)
- leave-one-out reconstruction cosine
                         cos(g_i, P_{-i} g_i) = sqrt(b^T A^+ b) / ||g_i||,
                         P_{-i} the projection on the span of the other n - 1 gradients
                         (the SVD reconstruction with all their singular vectors),
                         A = G without row/column i, b = G_{-i, i}.

Checkpoints are the model at initialisation (step 0) and after N steps of plain SGD on
training batches; the n measurement batches are the same at every checkpoint and are drawn
from a batch stream the training never uses.
"""

from __future__ import annotations

import logging
import math
import time

import torch
from torch import Tensor

from holograd.checkpoint import Checkpoint
from holograd.data import TokenCache, batch_ids
from holograd.derivatives import flat_grad
from holograd.experiments.setup import environment, scale, train_samples
from holograd.models import build_model
from holograd.params import ParamSpace

log = logging.getLogger(__name__)

MEASUREMENT_STREAM = 7
"""Batch stream of the measurement minibatches (training uses stream 0)."""

GRAM_CHUNK = 1 << 20
"""Columns of the n x D gradient matrix converted to float64 at a time for the Gram matrix
(n x 2^20 x 8 bytes: 420 MB for n = 50)."""


def gradient_matrix(model: torch.nn.Module, batches: list, space: ParamSpace) -> Tensor:
    """The (n, D) matrix whose row i is g_{B_i}, allocated once and filled row by row.

    Its peak memory is n x D floats plus one gradient in flight: stacking a list of the n
    gradients would hold every one of them twice (for gpt2like with the GPT-2 vocabulary,
    n = 50: 8.9 GB instead of 17.9 GB, which with activations does not fit a 24 GB GPU)."""
    grads = torch.empty(len(batches), space.dim, dtype=space.dtype, device=space.device)
    for i, batch in enumerate(batches):
        grads[i] = flat_grad(model, batch, space)[1]
    return grads


def gram_matrix(grads: Tensor) -> Tensor:
    """G = grads grads^T in float64, accumulated over column chunks of the (n, D) matrix."""
    n, dim = grads.shape
    gram = torch.zeros(n, n, dtype=torch.float64, device=grads.device)
    for c0 in range(0, dim, GRAM_CHUNK):
        block = grads[:, c0 : c0 + GRAM_CHUNK].to(torch.float64)
        gram += block @ block.T
    return gram.cpu()


def pairwise_cosines(gram: Tensor) -> Tensor:
    """cos(g_i, g_j) for all i < j, from the Gram matrix."""
    norms = gram.diagonal().clamp_min(0).sqrt()
    cos = gram / (norms[:, None] * norms[None, :])
    i, j = torch.triu_indices(len(gram), len(gram), offset=1)
    return cos[i, j]


def variance_ratio(gram: Tensor) -> float:
    """rho = 1 - mean_{i != j} G_ij / mean_i G_ii  (estimates E||g_B - E g_B||^2 / E||g_B||^2)."""
    n = len(gram)
    off = (gram.sum() - gram.diagonal().sum()) / (n * (n - 1))
    return float(1.0 - off / gram.diagonal().mean())


def leave_one_out_cosines(gram: Tensor, rcond: float = 1e-10) -> Tensor:
    """cos(g_i, P_{-i} g_i) = sqrt(b^T A^+ b) / ||g_i|| for each i (projection on the others' span)."""
    n = len(gram)
    out = torch.empty(n, dtype=torch.float64)
    for i in range(n):
        keep = [j for j in range(n) if j != i]
        a, b = gram[keep][:, keep], gram[keep, i]
        captured = b @ torch.linalg.pinv(a, rtol=rcond, hermitian=True) @ b
        out[i] = math.sqrt(max(0.0, min(1.0, float(captured / gram[i, i]))))
    return out


def measure(grads: Tensor) -> dict:
    """All three statistics of an (n, D) matrix of minibatch gradients."""
    gram = gram_matrix(grads)
    pairs = pairwise_cosines(gram)
    loo = leave_one_out_cosines(gram)
    return {
        "mean_pairwise_cosine": float(pairs.mean()),
        "pairwise_cosines": [round(float(c), 6) for c in pairs],
        "variance_ratio": variance_ratio(gram),
        "loo_reconstruction_cosine": float(loo.mean()),
        "grad_norm_mean": float(gram.diagonal().sqrt().mean()),
    }


def run(cfg: dict, seed: int, cache: TokenCache, device: torch.device, *, checkpoint: Checkpoint | None = None) -> dict:
    """Train with SGD through the checkpoints and measure the gradients at each of them.

    `checkpoint`, the job's saved progress (holograd.checkpoint), is part of every
    experiment's interface; this measurement saves nothing in it and starts over when killed."""
    samples = train_samples(cache, cfg["block_size"])
    model = build_model(cfg["model"], cache.vocab_size, cfg["block_size"], seed=seed, device=device)
    space = ParamSpace(model)
    size, n = cfg["batch_size"], samples.n_samples
    measured = [
        samples.batch(batch_ids(seed, i, size, n, stream=MEASUREMENT_STREAM), device) for i in range(cfg["n_batches"])
    ]
    checkpoints = sorted(set(cfg["checkpoints"]))
    results, t, start = [], 0, time.perf_counter()
    for at in checkpoints:  # the training steps at which the gradients are measured
        while t < at:  # plain SGD on training batches: theta <- theta - lr g_B
            loss, g = flat_grad(model, samples.batch(batch_ids(seed, t, size, n, stream=0), device), space)
            space.add_(g, alpha=-cfg["sgd_lr"])
            t += 1
            if t % max(1, checkpoints[-1] // 10) == 0:
                eta = (time.perf_counter() - start) / t * (checkpoints[-1] - t)
                log.info("SGD step %d/%d loss %.4f eta %.0fs", t, checkpoints[-1], loss.item(), eta)
        grads = gradient_matrix(model, measured, space)  # (n, D)
        stats = measure(grads)
        stats.update(step=at, train_loss=float(loss) if at else None)
        log.info(
            "checkpoint %d: mean pairwise cosine %.4f, variance ratio %.4f",
            at,
            stats["mean_pairwise_cosine"],
            stats["variance_ratio"],
        )
        results.append(stats)
        del grads
    return {
        "checkpoints": results,
        "scale": scale(cfg, cache, space.dim, steps=checkpoints[-1]),
        "environment": environment(device),
    }
