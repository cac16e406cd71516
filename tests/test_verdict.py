"""The verdict rule, acceptance regions and confidence intervals (paper_checks.verdict,
paper_checks.regions, paper_checks.intervals)."""

import math

import pytest

from paper_checks.intervals import Estimate, mean_ci, wilson_ci
from paper_checks.regions import Region
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS, decide


def test_region_parsing_and_membership():
    r = Region.parse("[0.2, 0.3)")
    assert (r.low, r.high, r.low_closed, r.high_closed) == (0.2, 0.3, True, False)
    assert r.contains(0.2) and r.contains(0.29) and not r.contains(0.3)
    assert r.above(0.3) and not r.below(0.2) and r.below(0.19)
    assert Region.parse("(0, inf)").contains(1e300) and not Region.parse("(0, inf)").contains(0.0)
    assert Region.parse("[0, 1e-4]").contains(0.0)
    assert str(Region.parse(" [0.04 ,0.10] ")) == "[0.04, 0.1]"


@pytest.mark.parametrize("text", ["[0.3, 0.2]", "(0.1, 0.1]", "(1, 1)", "[inf, inf]"])
def test_empty_regions_are_rejected(text):
    with pytest.raises(ValueError, match="is empty"):
        Region.parse(text)


@pytest.mark.parametrize("text", ["0.04..0.10", "[0.04; 0.1]", "[a, b]", "", "[1]"])
def test_malformed_regions_are_rejected(text):
    with pytest.raises(ValueError, match="not an interval"):
        Region.parse(text)


def test_mean_ci_is_students_t():
    # mean 2, s = 1, n = 3: half-width t_{0.975, 2} / sqrt(3) = 4.302653 / 1.732051
    e = mean_ci([1.0, 2.0, 3.0])
    assert e.point == 2.0 and e.n == 3
    assert e.high - e.point == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert mean_ci([5.0]).low is None  # no interval from one seed
    assert mean_ci([1.0, float("nan")]).low is None
    with pytest.raises(ValueError):
        mean_ci([])


def test_wilson_interval_known_values():
    # 0 of 10: Wilson upper bound z^2 / (n + z^2) = 3.8415 / 13.8415
    e = wilson_ci(0, 10)
    assert e.low == 0.0 and e.high == pytest.approx(3.841459 / 13.841459, rel=1e-6)
    e = wilson_ci(50, 100)
    assert (e.low, e.high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_ci(3, 2)


def _t_interval_by_formula(xs: list[float]) -> tuple[float, float]:
    """mean +- t_{0.975, n-1} s / sqrt(n), written out (the pipeline's intervals before they
    came from scipy.stats.ttest_1samp)."""
    from scipy.stats import t

    n, point = len(xs), math.fsum(xs) / len(xs)
    half = float(t.ppf(0.975, n - 1)) * math.sqrt(math.fsum((x - point) ** 2 for x in xs) / (n - 1)) / math.sqrt(n)
    return point - half, point + half


def _wilson_by_formula(k: int, n: int) -> tuple[float, float]:
    """(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), clipped to [0, 1]."""
    from scipy.stats import norm

    z, p = float(norm.ppf(0.975)), k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def test_intervals_from_scipy_equal_the_formulas():
    """scipy's t and Wilson intervals equal the closed forms to 1e-12 (relative to the
    interval's scale) on 200 random samples of 2-10 seeds and every k of n = 1..40.  Catches a
    one-sided or 90 % interval, a z instead of t, a population instead of sample deviation, or
    Wilson's continuity-corrected variant."""
    import random

    rng = random.Random(0)
    for _ in range(200):
        xs = [rng.gauss(rng.uniform(-5, 5), rng.uniform(1e-3, 10)) for _ in range(rng.randint(2, 10))]
        e, (low, high) = mean_ci(xs), _t_interval_by_formula(xs)
        scale = max(1.0, abs(e.point), high - low)
        assert abs(e.low - low) <= 1e-12 * scale and abs(e.high - high) <= 1e-12 * scale
        assert e.point == math.fsum(xs) / len(xs)
    for n in range(1, 41):
        for k in range(n + 1):
            e, (low, high) = wilson_ci(k, n), _wilson_by_formula(k, n)
            assert abs(e.low - low) <= 1e-12 and abs(e.high - high) <= 1e-12, (k, n)
    assert mean_ci([0.3, 0.3, 0.3]) == Estimate(0.3, 0.3, 0.3, 3)  # no spread: the degenerate interval


REGION = Region.parse("[0.04, 0.10]")


@pytest.mark.parametrize(
    "estimate, region, expected, words",
    [
        (Estimate(0.07, 0.05, 0.09, 3), REGION, PASS, "lies in"),
        (Estimate(0.10, 0.00, 0.50, 3), REGION, PASS, "lies in"),  # the point decides PASS, however wide the CI
        (Estimate(0.30, 0.25, 0.35, 3), REGION, FAIL, "above"),
        (Estimate(0.01, 0.00, 0.02, 3), REGION, FAIL, "below"),
        (Estimate(0.12, 0.09, 0.15, 3), REGION, INCONCLUSIVE, "reaches into"),
        (Estimate(0.03, 0.01, 0.04, 3), REGION, INCONCLUSIVE, "reaches into"),  # closed end touched
        (Estimate(0.30, 0.30, 0.30, 3), Region.parse("[0.2, 0.3)"), FAIL, "above"),  # open end: 0.3 is outside
        (Estimate(0.50, None, None, 1), REGION, INCONCLUSIVE, "no confidence interval"),
        (Estimate(float("nan"), None, None, 3), REGION, INCONCLUSIVE, "not a number"),
        # C1(b) reports "no K/D significant" as the interval (max K/D, inf]: inf must not be
        # mistaken for a broken estimate (a decide() that rejected every non-finite would).
        (Estimate(float("inf"), 0.1, float("inf"), 3), Region.parse("[0.003, 0.03]"), FAIL, "above"),
    ],
)
def test_decide(estimate, region, expected, words):
    verdict, reason = decide(estimate, region)
    assert verdict == expected and words in reason


def test_untestable_is_always_inconclusive():
    verdict, reason = decide(Estimate(0.07, 0.06, 0.08, 3), REGION, untestable="the sweep misses 0.01")
    assert verdict == INCONCLUSIVE and "the sweep misses 0.01" in reason


def test_figures_draw_the_verdicts_interval():
    """The error bars of the experiment figures are the verdicts' Student-t intervals.
    Catches seaborn's default bootstrap ("ci", 95), which with three seeds can never reach
    beyond the smallest and largest value, while the t interval (t_0.975,2 = 4.30) does."""
    from paper_checks.plotting import t_interval

    values = [0.29, 0.32, 0.41]
    est = mean_ci(values)
    low, high = t_interval(values)
    assert (low, high) == (est.low, est.high)
    assert low < min(values) and high > max(values)
    assert t_interval([0.5]) == (0.5, 0.5)  # one seed: no interval, a bare point


def test_json_files_are_strict(tmp_path):
    """NaN or infinity would make a file that strict JSON readers reject: they become null,
    and null reads back as a non-finite value (no CI) rather than crashing the statistics."""
    import json

    from holograd.files import read_json, write_json

    write_json({"cos": math.nan, "x": [1.0, math.inf], "ok": 0.5}, tmp_path / "a.json")
    text = (tmp_path / "a.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard constant {c}"))
    data = read_json(tmp_path / "a.json")
    assert data == {"cos": None, "x": [1.0, None], "ok": 0.5}
    assert mean_ci([0.1, None, 0.2]).low is None
