"""Proof-of-Gradient-Projection: proofs, their verification by recomputation, and its economics
(HoloGrad §4.4).

A proof is the scalar a = <g_B(theta_t), Dir(s)> that a worker claims for its (theta_t, B_t, s).
A verifier re-computes a sampled fraction p of proofs under the same inputs and accepts iff

    |a - a*| <= eps                                  (paper default eps = 1e-4, p = 0.05)

A worker that submits m proofs per step with a fraction q of them invalid is caught with

    P = 1 - (1 - p)^(q m)

and cheating does not pay when the slash S satisfies S >= (1 - P) / P * q m R for reward R.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from holograd.derivatives import directional_derivative
from holograd.directions import random_directions
from holograd.params import ParamSpace


def compute_proof(model: nn.Module, batch, seed: int, space: ParamSpace | None = None) -> Tensor:
    """a = <g_B, Dir(seed)> by forward-mode JVP: the worker's proof and the verifier's a*.

    Bit-identical when recomputed from the same (theta, batch, seed) on the same device.
    """
    space = space or ParamSpace(model)
    v = random_directions([seed], space.dim, device=space.device, dtype=space.dtype)[0]
    return directional_derivative(model, batch, v, space)[1]


@dataclass(frozen=True)
class Proof:
    """What a worker submits for one direction: who, when, which seed, and the scalar."""

    worker: int
    step: int
    index: int
    seed: int
    scalar: float


@dataclass
class VerifierStats:
    checked: int = 0
    accepted: int = 0
    rejected: int = 0
    slashed: set[int] = field(default_factory=set)


class PoGPVerifier:
    """Re-computes each proof with probability p and accepts it iff |a - a*| <= eps.

    Sampling is a deterministic function of (verifier seed, worker, step, index), so workers
    cannot predict it without the verifier's seed and a rerun checks the same proofs.
    A worker with a rejected proof is slashed.
    """

    def __init__(self, p: float = 0.05, eps: float = 1e-4, seed: int = 0):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"verification probability p must lie in [0, 1], got {p}")
        if eps < 0.0:
            raise ValueError(f"tolerance eps must be >= 0, got {eps}")
        self.p, self.eps, self.seed = float(p), float(eps), int(seed)
        self.stats = VerifierStats()

    def selects(self, proof: Proof) -> bool:
        """Whether this proof is among the sampled fraction p."""
        digest = hashlib.sha256(
            f"holograd.pogp|{self.seed}|{proof.worker}|{proof.step}|{proof.index}".encode()
        ).digest()
        return int.from_bytes(digest[:8], "little") < self.p * 2**64

    def check(self, proof: Proof, recompute: Callable[[Proof], float]) -> bool | None:
        """None if the proof is not sampled; otherwise whether it is accepted (stats updated)."""
        if not self.selects(proof):
            return None
        return self.verify(proof, float(recompute(proof)))

    def accepts(self, proof: Proof, recomputed: float) -> bool:
        """|a - a*| <= eps (no sampling, nothing counted)."""
        return abs(proof.scalar - recomputed) <= self.eps

    def verify(self, proof: Proof, recomputed: float) -> bool:
        """Accept iff |a - a*| <= eps, counting the outcome (no sampling)."""
        accepted = self.accepts(proof, recomputed)
        self.stats.checked += 1
        if accepted:
            self.stats.accepted += 1
        else:
            self.stats.rejected += 1
            self.stats.slashed.add(proof.worker)
        return accepted


def p_caught(p: float, q: float, m: int) -> float:
    """P = 1 - (1 - p)^(q m): a cheater with q m invalid proofs per step is caught at least once."""
    for name, value in (("p", p), ("q", q)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    return 1.0 - (1.0 - p) ** (q * m)


def min_slash(p: float, q: float, m: int, reward: float) -> float:
    """S_min = (1 - P) / P * q m R: the smallest slash that makes cheating unprofitable."""
    caught = p_caught(p, q, m)
    if caught == 0.0:
        return float("inf")
    return (1.0 - caught) / caught * q * m * reward
