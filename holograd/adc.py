"""Adaptive Direction Codebook (HoloGrad §5).

A codebook U in R^{D x r} (orthonormal after each QR, r << D) spans a subspace where the
gradients are expected to live.  A seed s gives the subspace direction

    v = U z / ||z||,   z ~ N(0, I_r) from Dir(s) in R^r,

so E[v v^T] = U U^T / r and g_hat = (r/K) sum_j <g, v_j> v_j is unbiased for U U^T g.
The codebook follows the gradients with a streaming Oja step

    U~ = U + alpha_t g_hat (g_hat^T U),

then QR re-orthonormalisation every T_qr steps and column normalisation otherwise
(paper defaults r = 32, alpha = 1e-3 or alpha_0 / sqrt(t), T_qr = 100).  How well it does is
the captured energy gamma = ||P_U g||^2 / ||g||^2 in [0, 1], P_U the orthogonal projector
onto span(U); descent is proportional to gamma ||g||^2.

Cold start: a random U captures about r/D of the energy.  The two warm starts of the paper
are (i) full-space random directions for T_warm steps while U learns from their g_hat, and
(ii) a bootstrap from the top-r singular vectors of a history of true gradients
(`DirectionCodebook.from_gradients`).

With unnormalised Oja steps (the paper's form) and large ||g_hat||, the columns can collapse
towards g_hat between QR steps; `normalize_update=True` makes the step size scale-free.

Note that once the subspace directions are in use, g_hat lies in span(U), and an Oja step
with such a g_hat keeps span(U) unchanged: the codebook can only learn new directions from
the warm start (or from g_hat's that leave span(U)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from holograd.directions import check_dim, derive_seeds, random_directions

ALPHA_SCHEDULES = ("constant", "inv_sqrt")


def _orthonormalise(u: Tensor) -> Tensor:
    """Q of the reduced QR of u, columns signed so that diag(R) >= 0 (unique, continuous)."""
    q, r = torch.linalg.qr(u)
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1
    return q * signs


class DirectionCodebook:
    """The codebook U (D x r) with its seeded subspace directions and Oja-QR updates."""

    def __init__(
        self,
        dim: int,
        rank: int,
        *,
        alpha: float = 1e-3,
        alpha_schedule: str = "constant",
        qr_every: int = 100,
        normalize_update: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        basis: Tensor | None = None,
    ):
        """A random orthonormal codebook from `seed` (portable generator), or `basis` if given.

        normalize_update: use g_hat / ||g_hat|| in the Oja step (scale-free step size).
        """
        dim = check_dim(dim)
        if not 1 <= rank <= dim:
            raise ValueError(f"codebook rank must lie in [1, D={dim}], got {rank}")
        if alpha <= 0 or alpha_schedule not in ALPHA_SCHEDULES:
            raise ValueError(
                f"alpha must be > 0 and alpha_schedule one of {list(ALPHA_SCHEDULES)}, got {alpha}, {alpha_schedule!r}"
            )
        if qr_every < 1:
            raise ValueError(f"qr_every must be >= 1, got {qr_every}")
        self.dim, self.rank = dim, rank
        self.alpha, self.alpha_schedule, self.qr_every = float(alpha), alpha_schedule, int(qr_every)
        self.normalize_update = normalize_update
        self.updates = 0
        if basis is None:
            basis = random_directions(derive_seeds("adc.init", seed, rank), dim, device=device, dtype=dtype).T  # (D, r)
        if basis.shape != (dim, rank):
            raise ValueError(f"codebook basis must have shape ({dim}, {rank}), got {tuple(basis.shape)}")
        self.U = _orthonormalise(basis.to(device=device, dtype=dtype))

    @classmethod
    def from_gradients(
        cls, grads: Tensor | Sequence[Tensor], rank: int, *, seed: int = 0, **kwargs
    ) -> DirectionCodebook:
        """Bootstrap warm start: U = top-r right singular vectors of the (T, D) gradient history.

        With fewer than r gradients, the remaining columns are random directions orthogonalised
        against them.
        """
        g = grads if isinstance(grads, Tensor) else torch.stack(list(grads))
        if g.dim() != 2 or g.size(0) < 1:
            raise ValueError(f"gradient history must be a non-empty (T, D) matrix, got shape {tuple(g.shape)}")
        dim = g.size(1)
        _, _, vh = torch.linalg.svd(g.to(torch.float64), full_matrices=False)
        top = vh[: min(rank, vh.size(0))].T.to(g.dtype)  # (D, min(r, T))
        if top.size(1) < rank:
            fill = random_directions(
                derive_seeds("adc.fill", seed, rank - top.size(1)), dim, device=g.device, dtype=g.dtype
            )
            top = torch.cat([top, fill.T], dim=1)
        return cls(dim, rank, seed=seed, device=g.device, dtype=g.dtype, basis=top, **kwargs)

    # --- directions, proofs and synthesis ---------------------------------------------

    def coefficients(self, seeds: Sequence[int] | Tensor) -> Tensor:
        """Unit z_j / ||z_j|| in R^r for each seed: (K, r)."""
        return random_directions(seeds, self.rank, device=self.U.device, dtype=self.U.dtype)

    def directions(self, seeds: Sequence[int] | Tensor) -> Tensor:
        """Subspace directions v_j = U z_j / ||z_j|| as rows: (K, D)."""
        return self.coefficients(seeds) @ self.U.T

    def project(self, grad: Tensor, seeds: Sequence[int] | Tensor) -> Tensor:
        """a_j = <grad, v_j> = <U^T grad, z_j / ||z_j||>, without forming any v_j."""
        return self.coefficients(seeds) @ (self.U.T @ grad)

    def reconstruct(self, scalars: Tensor, seeds: Sequence[int] | Tensor, *, scale: float | None = None) -> Tensor:
        """g_hat = (scale/K) sum_j a_j v_j = U ((scale/K) sum_j a_j z_j / ||z_j||), scale = r by default."""
        coeff = self.coefficients(seeds)
        if scalars.shape != (coeff.size(0),):
            raise ValueError(
                f"reconstruct needs one scalar per seed: got {tuple(scalars.shape)} for {coeff.size(0)} seeds"
            )
        scale = float(self.rank) if scale is None else float(scale)
        return self.U @ ((scale / coeff.size(0)) * (scalars @ coeff))

    # --- learning ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """What the next update depends on: U and the number of updates so far."""
        return {"U": self.U.clone(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        if state["U"].shape != self.U.shape:
            raise ValueError(
                f"codebook state of shape {tuple(state['U'].shape)} does not fit a ({self.dim}, {self.rank}) codebook"
            )
        self.U, self.updates = state["U"].to(device=self.U.device, dtype=self.U.dtype), int(state["updates"])

    def step_size(self) -> float:
        """alpha_t: constant, or alpha_0 / sqrt(t + 1)."""
        return self.alpha if self.alpha_schedule == "constant" else self.alpha / math.sqrt(self.updates + 1)

    @torch.no_grad()
    def update(self, g_hat: Tensor) -> None:
        """Oja step U <- U + alpha_t g_hat (g_hat^T U); QR every qr_every updates, else unit columns."""
        direction = g_hat.to(self.U.dtype)
        if self.normalize_update:
            norm = direction.norm()
            if norm == 0:
                return
            direction = direction / norm
        u = self.U + self.step_size() * torch.outer(direction, direction @ self.U)
        self.updates += 1
        if self.updates % self.qr_every == 0:
            self.U = _orthonormalise(u)
        else:
            self.U = u / u.norm(dim=0, keepdim=True).clamp_min(torch.finfo(u.dtype).tiny)

    @torch.no_grad()
    def captured_energy(self, grad: Tensor) -> float:
        """gamma = ||P_U g||^2 / ||g||^2, P_U = U (U^T U)^+ U^T the orthogonal projector onto span(U).

        U need not be orthonormal: between QR steps its columns are only normalised and can
        become nearly parallel, so the pseudo-inverse drops directions of U^T U below float32
        resolution (span(U) has numerically lower rank then).  Costs O(D r^2), no D x r copy.
        """
        g = grad.to(self.U.dtype)
        b = (self.U.T @ g).to(torch.float64)  # (r,)
        gram = (self.U.T @ self.U).to(torch.float64)  # (r, r)
        total = g.to(torch.float64).square().sum().item()
        if total == 0:
            return 0.0
        gamma = (b @ torch.linalg.pinv(gram, hermitian=True, rtol=1e-5) @ b).item() / total
        return float(min(max(gamma, 0.0), 1.0))
