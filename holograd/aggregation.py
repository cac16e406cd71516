"""Robust aggregation of proof scalars (HoloGrad §8).

When every worker projects onto the same direction (Momentum-Centric), their scalars
estimate one number and a robust location estimate bounds what Byzantine workers can do:

    mean(a)            = (1/n) sum_i a_i
    trimmed_mean(a, t) = mean of a after sorting and dropping floor(t n) values at each end
    median(a)

K proofs on K different directions (HoloGrad-Random, ADC) are not estimates of one number,
so these aggregators do not apply to them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

AGGREGATORS = ("mean", "trimmed_mean", "median")


def _check(scalars: Tensor) -> None:
    if scalars.dim() != 1 or scalars.numel() == 0:
        raise ValueError(f"aggregation needs a non-empty 1-D tensor of scalars, got shape {tuple(scalars.shape)}")


def check_trim(tau: float) -> float:
    """tau must lie in [0, 0.5): trimming half from each end would leave nothing."""
    if not 0.0 <= tau < 0.5:
        raise ValueError(f"trim fraction tau must lie in [0, 0.5), got {tau}")
    return float(tau)


def n_trimmed(n: int, tau: float) -> int:
    """floor(tau n), the number of scalars dropped at each end."""
    return math.floor(check_trim(tau) * n + 1e-9)


def mean(scalars: Tensor) -> Tensor:
    _check(scalars)
    return scalars.mean()


def trimmed_mean(scalars: Tensor, tau: float) -> Tensor:
    """Mean after dropping the floor(tau n) smallest and floor(tau n) largest scalars."""
    _check(scalars)
    drop = n_trimmed(scalars.numel(), tau)
    kept = torch.sort(scalars).values[drop : scalars.numel() - drop]
    return kept.mean()


def median(scalars: Tensor) -> Tensor:
    """The median (mean of the two middle values for even n)."""
    _check(scalars)
    return torch.quantile(scalars.to(torch.float64), 0.5).to(scalars.dtype)


def aggregate(scalars: Tensor, method: str = "mean", tau: float = 0.1) -> Tensor:
    """Aggregate scalars with "mean", "trimmed_mean" (rate tau) or "median"."""
    if method == "mean":
        return mean(scalars)
    if method == "trimmed_mean":
        return trimmed_mean(scalars, tau)
    if method == "median":
        return median(scalars)
    raise ValueError(f"unknown aggregator {method!r}; choose one of {list(AGGREGATORS)}")
