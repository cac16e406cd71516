"""Adaptive Direction Codebook: subspace directions, their estimator, Oja-QR learning, warm starts."""

import math

import pytest
import torch

from holograd.adc import DirectionCodebook
from holograd.directions import derive_seeds


def _eye(r):
    return torch.eye(r)


def test_initial_codebook_is_orthonormal_and_captures_about_r_over_d():
    # A random r-dimensional subspace captures E[gamma] = r/D of a fixed vector's energy, with
    # sd about sqrt(2 r) / D for r << D.
    dim, rank = 4000, 16
    cb = DirectionCodebook(dim, rank, seed=3)
    assert torch.allclose(cb.U.T @ cb.U, _eye(rank), atol=1e-5)
    g = torch.randn(dim, generator=torch.Generator().manual_seed(0))
    assert abs(cb.captured_energy(g) - rank / dim) < 5 * math.sqrt(2 * rank) / dim


def test_subspace_directions_are_unit_and_inside_the_codebook():
    cb = DirectionCodebook(300, 8, seed=1)
    v = cb.directions(derive_seeds("adc", 0, 5))
    assert torch.allclose(v.norm(dim=1), torch.ones(5), atol=1e-5)
    inside = v @ cb.U @ cb.U.T
    assert torch.allclose(inside, v, atol=1e-5)
    g = torch.randn(300)
    seeds = derive_seeds("adc", 1, 7)
    assert torch.allclose(cb.project(g, seeds), cb.directions(seeds) @ g, atol=1e-5)


def test_scale_r_estimator_is_unbiased_for_the_projected_gradient():
    # E[(r/K) sum a_j v_j] = U U^T g.  Along P g the coefficient has sd sqrt((2r - 2)/((r + 2) N))
    # (the sphere moments of R^r).  Catches the full-space scale D in place of r (c = D/r) and
    # a missing normalisation of z (c ~ r).
    dim, rank, n = 500, 16, 20_000
    cb = DirectionCodebook(dim, rank, seed=2)
    g = torch.randn(dim, generator=torch.Generator().manual_seed(1))
    pg = cb.U @ (cb.U.T @ g)
    seeds = derive_seeds("adc-unbiased", 0, n)
    g_hat = cb.reconstruct(cb.project(g, seeds), seeds)
    c = (g_hat @ pg).item() / (pg @ pg).item()
    assert abs(c - 1) < 5 * math.sqrt((2 * rank - 2) / ((rank + 2) * n))
    outside = g_hat - cb.U @ (cb.U.T @ g_hat)
    assert outside.norm() < 1e-4 * g_hat.norm()


def _low_rank_stream(dim, true_rank, steps, seed=0):
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(dim, true_rank, generator=gen))
    return basis, [basis @ torch.randn(true_rank, generator=gen) for _ in range(steps)]


def test_oja_learns_a_fixed_low_rank_gradient_subspace():
    # Gradients drawn from a fixed 4-dimensional subspace of R^1000: Oja's rule must rotate an
    # 8-column codebook onto it, so gamma climbs from about r/D = 0.008 to nearly 1.  Catches a
    # sign error in the step (U moves away: gamma stays ~0), a missing normalisation or QR (U
    # collapses or blows up), and the transposed product g^T U vs U^T g (shape error).
    dim, rank = 1000, 8
    basis, grads = _low_rank_stream(dim, 4, 300)
    cb = DirectionCodebook(dim, rank, alpha=0.3, normalize_update=True, qr_every=10, seed=0)
    probe = basis @ torch.ones(4)
    before = cb.captured_energy(probe)
    energies = []
    for g in grads:
        cb.update(g)
        energies.append(cb.captured_energy(probe))
    assert before < 0.05
    assert energies[-1] > 0.99
    assert energies[-1] > energies[len(energies) // 10]
    assert torch.allclose(cb.U.T @ cb.U, _eye(rank), atol=1e-4)  # 300 steps: last one was a QR


def test_columns_are_unit_between_qr_steps_and_orthonormal_after():
    cb = DirectionCodebook(200, 4, alpha=0.5, qr_every=3, seed=0)
    for i, g in enumerate(_low_rank_stream(200, 2, 6)[1], start=1):
        cb.update(g)
        assert torch.allclose(cb.U.norm(dim=0), torch.ones(4), atol=1e-5)
        if i % 3 == 0:
            assert torch.allclose(cb.U.T @ cb.U, _eye(4), atol=1e-5)


def test_inv_sqrt_schedule():
    cb = DirectionCodebook(50, 2, alpha=0.2, alpha_schedule="inv_sqrt")
    assert cb.step_size() == pytest.approx(0.2)
    cb.update(torch.ones(50))
    cb.update(torch.ones(50))
    assert cb.step_size() == pytest.approx(0.2 / math.sqrt(3))


def test_bootstrap_from_gradient_history_captures_its_span():
    basis, grads = _low_rank_stream(600, 3, 12)
    cb = DirectionCodebook.from_gradients(grads, 5, seed=0)
    assert torch.allclose(cb.U.T @ cb.U, _eye(5), atol=1e-5)
    assert cb.captured_energy(basis @ torch.tensor([1.0, -2.0, 0.5])) > 0.9999
    # Fewer gradients than columns: the rest is random and orthogonal.
    short = DirectionCodebook.from_gradients(grads[:2], 5, seed=0)
    assert torch.allclose(short.U.T @ short.U, _eye(5), atol=1e-5)


def test_captured_energy_bounds():
    cb = DirectionCodebook(100, 5, seed=0)
    inside = cb.U @ torch.arange(1.0, 6.0)
    outside = torch.randn(100)
    outside -= cb.U @ (cb.U.T @ outside)
    assert cb.captured_energy(inside) == pytest.approx(1.0, abs=1e-5)
    assert cb.captured_energy(outside) == pytest.approx(0.0, abs=1e-5)
    assert cb.captured_energy(torch.zeros(100)) == 0.0


def test_captured_energy_of_a_collapsed_codebook():
    # Unnormalised Oja steps with a large g_hat can make the columns nearly parallel between QR
    # steps; gamma must then measure the (numerically lower-rank) span instead of failing.
    cb = DirectionCodebook(500, 4, alpha=1e-3, qr_every=1000, seed=0)
    spike = torch.randn(500, generator=torch.Generator().manual_seed(0)) * 1e3
    for _ in range(20):
        cb.update(spike)
    gram = cb.U.T @ cb.U
    assert torch.linalg.cond(gram.double()) > 1e6
    assert cb.captured_energy(spike) == pytest.approx(1.0, abs=1e-4)
    assert 0.0 <= cb.captured_energy(torch.randn(500)) <= 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dim=10, rank=11), "rank"),
        (dict(dim=10, rank=0), "rank"),
        (dict(dim=10, rank=2, qr_every=0), "qr_every"),
        (dict(dim=10, rank=2, alpha=0), "alpha"),
    ],
)
def test_bad_codebook_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DirectionCodebook(**kwargs)
