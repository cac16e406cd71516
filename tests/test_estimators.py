"""The scale-corrected estimator against its theory: Theorem 1, the variance lemma, the alignment law.

Tolerances are 5 standard deviations of the statistic under the theory, so a correct
implementation fails with probability below 1e-6 (and the seeds are fixed anyway).
"""

import math

import pytest
import torch

from holograd.directions import derive_seeds
from holograd.estimators import cosine, estimate_gradient, expected_cosine, expected_relative_mse


def _gradient(dim: int) -> torch.Tensor:
    g = torch.randn(dim, generator=torch.Generator().manual_seed(dim))
    g[: dim // 10] *= 5.0  # an anisotropic gradient: isotropy must come from the directions
    return g


def test_theorem1_unbiased_along_and_across_the_gradient():
    # g_hat over N directions is the mean of N single-direction estimates D a v.  Along g, the
    # coefficient c = <g_hat, g>/||g||^2 has mean 1 and variance (2D - 2) / ((D + 2) N) (from
    # E[cos^4] = 3 / (D (D + 2)) on the sphere); across g the squared error has mean
    # D (D - 1) / ((D + 2) N) ||g||^2 with relative sd sqrt(2 / (D - 1)).
    # Catches a scale of D - 1 or D + 2 instead of D (|c - 1| = 1/D = 0.005 is below the bound,
    # but 2 % errors are not: e.g. a sigma^2 of 1/(D+2) for z/||z|| mixed up with 1/D for z),
    # a missing normalisation of z (c ~ D), and directions that are not isotropic (the
    # across-g error grows).
    dim, n = 200, 200_000
    g = _gradient(dim)
    _, g_hat = estimate_gradient(g, derive_seeds("thm1", 0, n))
    c = (g_hat @ g).item() / (g @ g).item()
    sd_c = math.sqrt((2 * dim - 2) / ((dim + 2) * n))
    assert abs(c - 1) < 5 * sd_c
    across = (g_hat - c * g).square().sum().item() / (g @ g).item()
    expected = dim * (dim - 1) / ((dim + 2) * n)
    assert abs(across / expected - 1) < 5 * math.sqrt(2 / (dim - 1))


def test_relative_mse_is_d_minus_1_over_k():
    # Lemma: E||g_hat - g||^2 / ||g||^2 = (D - 1) / K.  Over R trials of K = 10 the per-trial
    # error has relative sd about sqrt(2/K) (a scaled chi-square with K degrees of freedom), so
    # the mean's relative sd is sqrt(2 / (K R)).  Catches a wrong scale (D/K vs 1/K vs sqrt(D)),
    # unnormalised directions, and reused directions across proofs (error ~ (D-1), not /K).
    dim, k, trials = 500, 10, 200
    g = _gradient(dim)
    errors = [
        (estimate_gradient(g, derive_seeds("mse", r, k))[1] - g).square().sum().item() / (g @ g).item()
        for r in range(trials)
    ]
    mean = sum(errors) / trials
    assert abs(mean / expected_relative_mse(k, dim) - 1) < 5 * math.sqrt(2 / (k * trials))


@pytest.mark.parametrize("k", [10, 100, 1000])
def test_alignment_follows_sqrt_k_over_k_plus_d(k):
    # E[cos(g_hat_K, g)] = sqrt(K / (K + D - 1)).  Writing cos = sqrt(X / (X + D - 1)) with
    # X ~ chi-square_K, the delta method gives sd(cos) = cos (D - 1) / (sqrt(2K) (K + D - 1)).
    # It ignores the cross terms <v_j, v_l>, which add about 15 % to the sd at K = D/2
    # (measured); the 5 sd bound leaves room for that.
    # Catches reconstruction from other directions than the projection (cos ~ 0), a sign
    # error (cos < 0), and seeds that share a stream (cos stuck near 1/sqrt(D)).
    dim, trials = 2000, 20
    g = _gradient(dim)
    cosines = [cosine(estimate_gradient(g, derive_seeds(f"cos{k}", r, k))[1], g) for r in range(trials)]
    want = expected_cosine(k, dim)
    sd = want * (dim - 1) / (math.sqrt(2 * k) * (k + dim - 1))
    assert abs(sum(cosines) / trials - want) < 5 * sd / math.sqrt(trials)


def test_streaming_and_dense_paths_agree():
    # The fused estimator generates directions once when they fit in the chunk and streams
    # otherwise; both must give the same numbers.
    dim, seeds = 3000, derive_seeds("paths", 0, 50)
    g = _gradient(dim)
    a_dense, g_dense = estimate_gradient(g, seeds, chunk_elements=dim * 50)
    a_stream, g_stream = estimate_gradient(g, seeds, chunk_elements=4096)
    assert torch.allclose(a_dense, a_stream, atol=1e-5 * g.norm().item())
    assert torch.allclose(g_dense, g_stream, atol=1e-5 * g_dense.norm().item())


def test_theory_formulas():
    assert expected_cosine(1, 1) == 1.0
    assert expected_cosine(100, 10_000) == pytest.approx(math.sqrt(100 / 10_099))
    assert expected_relative_mse(4, 101) == 25.0
    assert cosine(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])) == 0.0
