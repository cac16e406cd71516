"""Byzantine workers: a fraction f of proofs replaced before aggregation (HoloGrad §8, E7).

Attacks on the honest scalar a of a Byzantine slot:
- "random":    a' ~ N(0, (scale * s)^2), s the spread (population std) of the honest scalars;
- "sign_flip": a' = -scale * a;
- "extreme":   a' = scale * a with a large scale;
- "uniform":   a' ~ U(-scale, scale), whatever a is (the authors' E7: scale 100).

Which slots are Byzantine is fixed by a seed (a worker stays Byzantine for the whole run);
the random attack's draws come from the portable direction generator, so an attack is the
same on every device (the uniform attack maps those draws through Phi in float64: the same to
within its rounding).
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import Tensor

from holograd.directions import derive_seed, gaussian_block, seed_keys

ATTACKS = ("random", "sign_flip", "extreme", "uniform")
DEFAULT_SCALE = {"random": 1.0, "sign_flip": 1.0, "extreme": 100.0, "uniform": 100.0}


def check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"Byzantine fraction must lie in [0, 1], got {fraction}")
    return float(fraction)


def byzantine_indices(n: int, fraction: float, seed: int) -> list[int]:
    """The floor(f n) Byzantine slots among n, a subset fixed by `seed` (sorted)."""
    count = math.floor(check_fraction(fraction) * n + 1e-9)
    order = sorted(range(n), key=lambda i: hashlib.sha256(f"holograd.byz|{seed}|{i}".encode()).digest())
    return sorted(order[:count])


def attack(scalars: Tensor, indices: list[int], kind: str, *, seed: int = 0, scale: float | None = None) -> Tensor:
    """A copy of `scalars` with the slots in `indices` replaced by the attack `kind`.

    seed: draws of the "random" attack (use a fresh one per step, e.g. from the step index).
    scale: the attack's amplification; defaults to DEFAULT_SCALE[kind].
    """
    if kind not in ATTACKS:
        raise ValueError(f"unknown attack {kind!r}; choose one of {list(ATTACKS)}")
    out = scalars.clone()
    if not indices:
        return out
    scale = DEFAULT_SCALE[kind] if scale is None else float(scale)
    idx = torch.tensor(indices, dtype=torch.long, device=scalars.device)
    if kind == "sign_flip":
        out[idx] = -scale * scalars[idx]
    elif kind == "extreme":
        out[idx] = scale * scalars[idx]
    elif kind == "uniform":
        keys = seed_keys([derive_seed("byzantine.uniform", seed)], scalars.device)
        u = torch.special.ndtr(gaussian_block(keys, 0, len(indices))[0].to(torch.float64))  # uniform in (0, 1)
        out[idx] = (scale * (2 * u - 1)).to(scalars.dtype)
    else:
        honest = torch.ones_like(scalars, dtype=torch.bool)
        honest[idx] = False
        ref = scalars[honest] if honest.sum() >= 2 else scalars
        spread = ref.to(torch.float64).std(unbiased=False).item() or ref.abs().mean().item()
        noise = gaussian_block(seed_keys([derive_seed("byzantine.random", seed)], scalars.device), 0, len(indices))[0]
        out[idx] = (scale * spread * noise).to(scalars.dtype)
    return out
