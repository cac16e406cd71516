"""Byzantine injection: which slots, and what each attack does to them."""

import pytest
import torch

from holograd.byzantine import attack, byzantine_indices


def test_indices_are_floor_f_n_fixed_by_seed():
    idx = byzantine_indices(10, 0.2, seed=4)
    assert len(idx) == 2 and idx == byzantine_indices(10, 0.2, seed=4)
    assert len(byzantine_indices(10, 0.29, seed=0)) == 2
    assert len(byzantine_indices(10, 0.3, seed=0)) == 3
    assert byzantine_indices(10, 0.0, seed=0) == []
    assert byzantine_indices(7, 1.0, seed=0) == list(range(7))
    assert {tuple(byzantine_indices(50, 0.2, seed=s)) for s in range(5)}.__len__() > 1


def test_sign_flip_and_extreme_are_exact_and_touch_only_their_slots():
    a = torch.arange(1.0, 7.0)
    flipped = attack(a, [1, 4], "sign_flip")
    assert flipped.tolist() == [1.0, -2.0, 3.0, 4.0, -5.0, 6.0]
    assert attack(a, [0], "sign_flip", scale=3.0)[0].item() == -3.0
    assert attack(a, [2], "extreme")[2].item() == 300.0
    assert a.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # input untouched


def test_random_attack_matches_the_honest_spread_and_is_deterministic():
    # Replaced values ~ N(0, s^2) with s the honest population sd; with 5000 draws the sample
    # sd is within 5 * s / sqrt(2 n) of s.  A draw from the global RNG would break determinism.
    honest = 2.0 + 3.0 * torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    idx = list(range(0, 10_000, 2))
    out = attack(honest, idx, "random", seed=11)
    assert torch.equal(out, attack(honest, idx, "random", seed=11))
    assert not torch.equal(out, attack(honest, idx, "random", seed=12))
    spread = honest[1::2].std(unbiased=False).item()
    replaced = out[idx]
    assert abs(replaced.std().item() - spread) < 5 * spread / (2 * len(idx)) ** 0.5
    assert abs(replaced.mean().item()) < 5 * spread / len(idx) ** 0.5


def test_bad_attack_settings_are_rejected():
    with pytest.raises(ValueError, match="attack"):
        attack(torch.ones(3), [0], "nonsense")
    with pytest.raises(ValueError, match="fraction"):
        byzantine_indices(10, 1.5, seed=0)
