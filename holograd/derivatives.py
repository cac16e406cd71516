"""The minibatch loss L_B(theta), its gradient g_B, and directional derivatives <g_B, v>.

A worker's proof is the directional derivative a = <g_B, v> = d/de L_B(theta + e v) at e = 0,
computed in forward mode (`torch.func.jvp`): one forward pass carrying a tangent, no
backward pass and no gradient tensor.  `flat_grad` is the backprop gradient, used for the
baselines, for measurements against the true gradient, and to simulate many workers that
share a batch with one backward pass (a_j = <g_B, v_j> equals the JVP in exact arithmetic).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, jvp, vmap

from holograd.params import ParamSpace


def _tokens(batch) -> Tensor:
    tokens = getattr(batch, "tokens", batch)
    if not isinstance(tokens, Tensor) or tokens.dim() != 2 or tokens.size(1) < 2:
        raise ValueError("a batch is a (B, T+1) tensor of token ids or an object with such a .tokens")
    return tokens


def lm_loss(model: nn.Module, batch, params: Mapping[str, Tensor] | None = None) -> Tensor:
    """L_B = mean next-token cross-entropy: predict tokens[:, 1:] from tokens[:, :-1].

    With `params`, the model is evaluated functionally at those parameter values.
    """
    tokens = _tokens(batch)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]  # (B, T), (B, T)
    if params is None:
        logits = model(inputs).logits
    else:
        logits = functional_call(model, dict(params), (inputs,))
        logits = logits.logits
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))  # logits: (B, T, V)


def flat_grad(model: nn.Module, batch, space: ParamSpace | None = None) -> tuple[Tensor, Tensor]:
    """(L_B, g_B) with g_B = grad_theta L_B flattened to (D,), by backpropagation."""
    space = space or ParamSpace(model)
    loss = lm_loss(model, batch)
    grads = torch.autograd.grad(loss, space.params)
    return loss.detach(), space.flatten(grads)


def worker_gradients(model: nn.Module, batches, space: ParamSpace | None = None) -> tuple[Tensor, Tensor]:
    """(L, G) with L_i = L_{B_i}(theta) and row G_i = g_{B_i} (N x D), for N batches of one shape.

    The N per-batch gradients come from one vectorised computation, `torch.func.vmap` over
    the stacked batches of `grad_and_value(L_B)` at the shared theta, instead of N separate
    forward and backward passes: each G_i is still the gradient of batch i alone (equal to
    `flat_grad` of that batch up to float rounding), but the per-call overhead is paid once,
    which on small models is most of the cost.
    """
    tokens = [_tokens(b) for b in batches]
    if not tokens or len({t.shape for t in tokens}) != 1:
        raise ValueError(f"worker batches must all have one shape, got {[tuple(t.shape) for t in tokens]}")
    space = space or ParamSpace(model)
    params = {n: p.detach() for n, p in space.named}
    grads, losses = vmap(grad_and_value(lambda p, batch: lm_loss(model, batch, p)), in_dims=(None, 0))(
        params, torch.stack(tokens)
    )
    rows = torch.cat([grads[n].reshape(len(tokens), -1) for n in space.names], dim=1)
    return losses.detach(), rows.detach()


def directional_derivative(
    model: nn.Module, batch, tangent: Tensor | Mapping[str, Tensor], space: ParamSpace | None = None
) -> tuple[Tensor, Tensor]:
    """(L_B, a) with a = <g_B, v> = d/de L_B(theta + e v), in forward mode (torch.func.jvp).

    tangent: v as a flat (D,) vector or as per-parameter tensors.  No backward pass is run and
    no gradient is formed: this is the worker's reference computation of a proof.
    """
    space = space or ParamSpace(model)
    params = {n: p.detach() for n, p in space.named}
    tangents = space.unflatten(tangent) if isinstance(tangent, Tensor) else {n: tangent[n] for n in space.names}
    tangents = {n: t.to(dtype=params[n].dtype, device=params[n].device) for n, t in tangents.items()}
    loss, derivative = jvp(lambda p: lm_loss(model, batch, p), (params,), (tangents,))
    return loss, derivative
