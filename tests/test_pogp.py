"""PoGP: proofs recomputed bit for bit, verification outcomes, sampling, and the economics."""

import math

import pytest
import torch

from holograd.params import ParamSpace
from holograd.pogp import PoGPVerifier, Proof, compute_proof, min_slash, p_caught


def test_recomputed_proof_is_bit_identical(make_model, make_batch):
    # Worker and verifier hold separate copies of theta_t (two model instances built from the
    # same seed) and the same batch: the scalar must be identical, not just close.
    worker, verifier, batch = make_model(seed=3), make_model(seed=3), make_batch(step=2)
    a = compute_proof(worker, batch, seed=12345)
    assert torch.equal(a, compute_proof(verifier, batch, seed=12345))
    assert torch.equal(a, compute_proof(worker, batch, seed=12345))


def test_verifier_accepts_honest_and_rejects_forged_proofs(make_model, make_batch):
    model, batch = make_model(), make_batch()
    space = ParamSpace(model)
    honest = compute_proof(model, batch, 77, space).item()
    other_seed = compute_proof(model, batch, 78, space).item()
    verifier = PoGPVerifier(p=1.0, eps=1e-4)
    recompute = lambda proof: compute_proof(model, batch, proof.seed, space).item()  # noqa: E731
    assert verifier.check(Proof(0, 0, 0, 77, honest), recompute) is True
    assert verifier.check(Proof(1, 0, 1, 77, honest + 2e-4), recompute) is False  # perturbed scalar
    assert verifier.check(Proof(2, 0, 2, 77, other_seed), recompute) is False  # scalar of another seed
    assert abs(honest - other_seed) > 1e-4
    assert (verifier.stats.checked, verifier.stats.accepted, verifier.stats.rejected) == (3, 1, 2)
    assert verifier.stats.slashed == {1, 2}


def test_sampling_rate_is_p():
    # Binomial(n, p): 5 sd bound.  A verifier that samples by index modulo, or ignores p, fails.
    n, p = 20_000, 0.05
    verifier = PoGPVerifier(p=p, seed=1)
    sampled = sum(verifier.selects(Proof(i % 10, i // 10, i % 3, 0, 0.0)) for i in range(n))
    assert abs(sampled - n * p) < 5 * math.sqrt(n * p * (1 - p))
    assert not any(PoGPVerifier(p=0.0).selects(Proof(0, t, 0, 0, 0.0)) for t in range(100))
    assert PoGPVerifier(p=0.3, seed=5).selects(Proof(1, 2, 3, 0, 0.0)) == PoGPVerifier(p=0.3, seed=5).selects(
        Proof(1, 2, 3, 9, 1.0)
    )


def test_catch_probability_and_minimum_slash():
    assert p_caught(0.05, 1.0, 1) == pytest.approx(0.05)
    assert p_caught(0.05, 0.5, 20) == pytest.approx(1 - 0.95**10)
    assert p_caught(0.0, 0.5, 20) == 0.0
    caught = p_caught(0.05, 0.2, 50)
    s = min_slash(0.05, 0.2, 50, reward=2.0)
    assert s * caught == pytest.approx((1 - caught) * 0.2 * 50 * 2.0)
    assert min_slash(0.0, 0.2, 50, 1.0) == math.inf


def test_bad_verifier_settings_are_rejected():
    with pytest.raises(ValueError, match="probability"):
        PoGPVerifier(p=1.5)
    with pytest.raises(ValueError, match="eps"):
        PoGPVerifier(eps=-1)
    with pytest.raises(ValueError, match="q must"):
        p_caught(0.1, 2.0, 3)
