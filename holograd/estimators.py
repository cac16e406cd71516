"""The scale-corrected gradient estimator and what theory says about it (HoloGrad §3-4).

With v_j = Dir(s_j) uniform on the unit sphere of R^D, E[v v^T] = I / D (sigma^2 = 1/D), so

    g_hat = (1/K) sum_j (1/sigma^2) <g, v_j> v_j = (D/K) sum_j <g, v_j> v_j

satisfies:
- Theorem 1 (unbiased):      E[g_hat] = g;
- Lemma (variance):          E||g_hat - g||^2 = (D - 1) ||g||^2 / K;
- Corollary (alignment):     E[cos(g_hat, g)] ~ sqrt(K / (K + D - 1)), ~ sqrt(K/D) for K << D.

The alignment form follows from E[<g_hat, g>] = K ||g||^2 / D and
E||sum_j a_j v_j||^2 = K ||g||^2 / D + K (K - 1) ||g||^2 / D^2 (cross terms of independent
directions); the ratio concentrates for large D.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from holograd.directions import DEFAULT_CHUNK_ELEMENTS, project_reconstruct


def estimate_gradient(
    grad: Tensor,
    seeds: Sequence[int] | Tensor,
    *,
    scale: float | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Tensor, Tensor]:
    """(a, g_hat): the K proofs a_j = <grad, v_j> and g_hat = (scale/K) sum_j a_j v_j.

    scale defaults to D (the scale-corrected estimator).  Every direction is generated once
    and used for both halves (`project_reconstruct`), holding at most `chunk_elements`
    entries of the K x D direction matrix at a time.
    """
    return project_reconstruct(grad, seeds, scale=scale, chunk_elements=chunk_elements)


def cosine(a: Tensor, b: Tensor) -> float:
    """cos(a, b) = <a, b> / (||a|| ||b||), computed in float64; 0 if either is zero."""
    a, b = a.reshape(-1).to(torch.float64), b.reshape(-1).to(torch.float64)
    denom = (a.norm() * b.norm()).item()
    return (a @ b).item() / denom if denom > 0 else 0.0


def expected_cosine(k: int, d: int) -> float:
    """sqrt(K / (K + D - 1)): E[cos(g_hat_K, g)] for K i.i.d. uniform directions in R^D."""
    return math.sqrt(k / (k + d - 1))


def expected_relative_mse(k: int, d: int) -> float:
    """(D - 1) / K: E||g_hat - g||^2 / ||g||^2 of the scale-corrected estimator (Lemma)."""
    return (d - 1) / k


def variance_correction(k: int, effective_dim: int) -> float:
    """sqrt(K / effective_dim), the paper's optional damping of the synthesised update
    (effective_dim = D for random directions, r for ADC)."""
    return math.sqrt(k / effective_dim)
