"""The flat parameter space, backprop gradients and forward-mode directional derivatives."""

import pytest
import torch

from holograd.derivatives import directional_derivative, flat_grad, worker_gradients
from holograd.directions import random_directions
from holograd.params import ParamSpace


def test_flat_space_counts_tied_weights_once(make_model):
    model = make_model()
    space = ParamSpace(model)
    assert model.lm_head.weight is model.transformer.wte.weight
    distinct = {id(p): p.numel() for p in model.parameters()}
    assert space.dim == sum(distinct.values())
    assert "lm_head.weight" not in space.names


def test_flatten_unflatten_roundtrip_and_updates(make_model):
    model = make_model()
    space = ParamSpace(model)
    theta = space.get_flat()
    assert torch.equal(space.flatten(space.unflatten(theta)), theta)
    step = torch.linspace(-1, 1, space.dim)
    space.add_(step, alpha=-0.5)
    assert torch.allclose(space.get_flat(), theta - 0.5 * step)
    space.set_flat(theta)
    assert torch.equal(space.get_flat(), theta)


def test_jvp_equals_backprop(make_model, make_batch):
    # Forward-mode <g, v> against the backprop gradient's dot product taken in float64, to 1e-5
    # relative, along random directions, along g itself and along a mix of both.  (Against a
    # float32 dot product of D ~ 1e5 terms the comparison would measure that sum's own rounding,
    # about 1e-7 sqrt(D) ||g|| ||v||, instead.)  A tangent unflattened in the wrong order, or a
    # tied weight counted twice, is off by far more.
    model, batch = make_model(), make_batch()
    space = ParamSpace(model)
    loss_bp, g = flat_grad(model, batch, space)
    unit_g = g / g.norm()
    for seed in (1, 2, 3):
        v = random_directions([seed], space.dim)[0]
        for tangent in (v, unit_g, (unit_g + v) / 2**0.5):
            loss_jvp, a = directional_derivative(model, batch, tangent, space)
            want = (g.double() @ tangent.double()).item()
            assert abs(a.item() - want) <= 1e-5 * abs(want)
            assert loss_jvp.item() == loss_bp.item()


def test_jvp_runs_no_backward_pass(make_model, make_batch):
    model, batch = make_model(), make_batch()
    v = random_directions([9], ParamSpace(model).dim)[0]
    loss, a = directional_derivative(model, batch, v)
    assert not loss.requires_grad and not a.requires_grad
    assert all(p.grad is None for p in model.parameters())


def test_jvp_accepts_per_parameter_tangents(make_model, make_batch):
    model, batch = make_model(), make_batch()
    space = ParamSpace(model)
    v = random_directions([4], space.dim)[0]
    _, flat = directional_derivative(model, batch, v, space)
    _, named = directional_derivative(model, batch, space.unflatten(v), space)
    assert torch.equal(flat, named)


def test_worker_gradients_are_each_batch_s_own_gradient(make_model, make_batch):
    # The vectorised per-worker gradients against one flat_grad per batch, row by row, to
    # float32 rounding (2e-6 of the largest entry).  Rows that mixed the workers' data (a
    # gradient of the union batch in every row, vmap over the wrong axis), a tied weight
    # counted twice or rows in another parameter order are off by far more.
    model = make_model()
    space = ParamSpace(model)
    batches = [make_batch(step=0, stream=w) for w in range(3)]
    losses, rows = worker_gradients(model, batches, space)
    assert rows.shape == (3, space.dim) and losses.shape == (3,)
    for i, batch in enumerate(batches):
        loss, g = flat_grad(model, batch, space)
        torch.testing.assert_close(losses[i], loss, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(rows[i], g, rtol=0, atol=2e-6 * g.abs().max().item())
    assert not torch.allclose(rows[0], rows[1], rtol=0.1, atol=0)  # distinct data, distinct gradients


def test_worker_gradients_need_batches_of_one_shape(make_model, make_batch):
    with pytest.raises(ValueError, match="one shape"):
        worker_gradients(make_model(), [make_batch(size=4), make_batch(size=2)])
