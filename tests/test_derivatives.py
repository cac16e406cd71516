"""The flat parameter space, backprop gradients and forward-mode directional derivatives."""

import torch

from holograd.derivatives import directional_derivative, flat_grad
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
