"""Scalar aggregation: mean, trimmed mean, median."""

import pytest
import torch

from holograd.aggregation import aggregate, median, n_trimmed, trimmed_mean


def test_trimmed_mean_drops_floor_tau_n_from_each_end():
    a = torch.arange(10.0)  # 0..9
    assert trimmed_mean(a, 0.1).item() == pytest.approx(torch.arange(1.0, 9.0).mean().item())
    assert trimmed_mean(a, 0.15).item() == trimmed_mean(a, 0.1).item()  # floor(1.5) = 1
    assert trimmed_mean(a, 0.2).item() == pytest.approx(torch.arange(2.0, 8.0).mean().item())
    assert trimmed_mean(a, 0.0).item() == pytest.approx(4.5)
    assert [n_trimmed(10, t) for t in (0.1, 0.29, 0.3, 0.49)] == [1, 2, 3, 4]  # no float slips


def test_trimmed_mean_ignores_outliers_below_the_trim_fraction_but_not_above():
    # 20 honest scalars near 1; replace 2 (10 %) or 3 (15 %) with huge values.  tau = 0.1 trims
    # 2 per end, so 2 attackers at one end are removed entirely and 3 are not.  A trimmed mean
    # that trims only one end, or trims by rank among the honest only, fails one of the two.
    honest = 1.0 + 0.01 * torch.randn(20, generator=torch.Generator().manual_seed(0))
    two, three = honest.clone(), honest.clone()
    two[:2], three[:3] = 1e9, 1e9
    assert abs(trimmed_mean(two, 0.1).item() - 1.0) < 0.05
    assert trimmed_mean(three, 0.1).item() > 1e6
    low_and_high = honest.clone()
    low_and_high[0], low_and_high[1] = -1e9, 1e9
    assert abs(trimmed_mean(low_and_high, 0.1).item() - 1.0) < 0.05
    assert abs(aggregate(two, "mean").item()) > 1e7


def test_median_and_mean():
    assert median(torch.tensor([3.0, 1.0, 2.0, 10.0])).item() == 2.5
    assert median(torch.tensor([5.0, -1.0, 7.0])).item() == 5.0
    assert aggregate(torch.tensor([1.0, 2.0, 6.0]), "mean").item() == 3.0
    assert aggregate(torch.tensor([1.0, 2.0, 600.0]), "median").item() == 2.0


@pytest.mark.parametrize("tau", [0.5, 0.7, -0.1])
def test_bad_trim_fraction_is_rejected(tau):
    with pytest.raises(ValueError, match="tau"):
        trimmed_mean(torch.ones(4), tau)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="aggregator"):
        aggregate(torch.ones(3), "mode")
    with pytest.raises(ValueError, match="non-empty"):
        aggregate(torch.ones(0), "mean")
