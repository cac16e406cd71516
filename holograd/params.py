"""The model's parameters as one flat vector theta in R^D.

HoloGrad works in the flat space: directions, proofs and updates are D-vectors.  D is the
number of distinct trainable scalars; weights tied between modules (GPT-2's token embedding
and output head) are one parameter and are counted once.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn


class ParamSpace:
    """Bijection between a flat D-vector and a model's named trainable parameters.

    The order is the model's registration order (`named_parameters`, which lists a tied
    tensor once), so the layout is the same in every process that builds the same model.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not self.named:
            raise ValueError("the model has no trainable parameters")
        self.names = [n for n, _ in self.named]
        self.shapes = [p.shape for _, p in self.named]
        self.numels = [p.numel() for _, p in self.named]
        self.dim = sum(self.numels)

    @property
    def params(self) -> list[Tensor]:
        return [p for _, p in self.named]

    @property
    def device(self) -> torch.device:
        return self.named[0][1].device

    @property
    def dtype(self) -> torch.dtype:
        return self.named[0][1].dtype

    def flatten(self, tensors: Mapping[str, Tensor] | list[Tensor] | tuple[Tensor, ...]) -> Tensor:
        """Concatenate per-parameter tensors (by name or in order) into a (D,) vector."""
        if isinstance(tensors, Mapping):
            tensors = [tensors[n] for n in self.names]
        if len(tensors) != len(self.named):
            raise ValueError(f"expected {len(self.named)} tensors, got {len(tensors)}")
        return torch.cat([t.reshape(-1) for t in tensors])

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Views of a (D,) vector shaped like the parameters, keyed by name."""
        if flat.shape != (self.dim,):
            raise ValueError(f"expected a flat vector of shape ({self.dim},), got {tuple(flat.shape)}")
        parts = torch.split(flat, self.numels)
        return {n: part.view(shape) for n, part, shape in zip(self.names, parts, self.shapes)}

    def get_flat(self) -> Tensor:
        """theta as a new (D,) tensor."""
        return self.flatten([p.detach() for p in self.params])

    @torch.no_grad()
    def set_flat(self, flat: Tensor) -> None:
        """theta <- flat."""
        for p, part in zip(self.params, self.unflatten(flat).values()):
            p.copy_(part)

    @torch.no_grad()
    def add_(self, flat: Tensor, alpha: float = 1.0) -> None:
        """theta <- theta + alpha * flat (the update step theta - eta g_hat uses alpha = -eta)."""
        for p, part in zip(self.params, self.unflatten(flat).values()):
            p.add_(part, alpha=alpha)
