"""The verdict rule, acceptance regions and confidence intervals (paper_checks.verdict,
paper_checks.regions, paper_checks.intervals)."""

import math

import numpy as np
import pytest
from scipy import stats

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
    assert mean_ci([0.3, 0.3, 0.3]) == Estimate(0.3, 0.3, 0.3, 3, se=0.0, df=2)  # no spread: degenerate, named


REGION = Region.parse("[0.04, 0.10]")


def _t(point: float, se: float, n: int = 10) -> Estimate:
    """A mean across n seeds with standard error se (its 95 % interval beside it)."""
    from scipy.stats import t

    half = float(t.ppf(0.975, n - 1)) * se
    return Estimate(point, point - half, point + half, n, se=se, df=n - 1)


@pytest.mark.parametrize(
    "estimate, region, expected, words",
    [
        (_t(0.07, 0.005), REGION, PASS, "lies inside"),
        # inside on its point, but the 90 % interval reaches out: no evidence, no PASS
        (_t(0.07, 0.02), REGION, INCONCLUSIVE, "reaches across"),
        (_t(0.30, 0.01), REGION, FAIL, "wholly above"),
        (_t(0.01, 0.005), REGION, FAIL, "wholly below"),
        (_t(0.12, 0.02), REGION, INCONCLUSIVE, "reaches across"),
        (Estimate(0.50, None, None, 1), REGION, INCONCLUSIVE, "no confidence interval"),
        (Estimate(float("nan"), None, None, 3), REGION, INCONCLUSIVE, "not a number"),
        # the worst case of C8 and a grid bracket of C1 (b): their one interval decides
        (Estimate(0.0, 0.0, 0.0, 3), Region.parse("[0, 1e-4]"), PASS, "lies inside"),
        (Estimate(2e-4, 2e-4, 2e-4, 3), Region.parse("[0, 1e-4]"), FAIL, "wholly above"),
        # C1(b) reports "no K/D qualifies" as the interval (max K/D, inf]: inf must not be
        # mistaken for a broken estimate (a decide() that rejected every non-finite would).
        (Estimate(float("inf"), 0.1, float("inf"), 3), Region.parse("[0.003, 0.03]"), FAIL, "wholly above"),
        (Estimate(0.01, 0.003, 0.01, 3), Region.parse("[0.003, 0.03]"), PASS, "lies inside"),
        (Estimate(0.01, 0.001, 0.01, 3), Region.parse("[0.003, 0.03]"), INCONCLUSIVE, "reaches across"),
    ],
)
def test_decide(estimate, region, expected, words):
    verdict, reason = decide(estimate, region)
    assert verdict == expected and words in reason


def test_the_papers_examples_under_the_new_rule():
    """The verdicts issue 25 names, which the old rule passed on their points alone: C3's oracle
    at 92.0 with 95 % CI [77.6, 106.4] against [90, 360] (three seeds) and C6's K = 1 at 1.03
    [0.68, 1.39] against [0.8, 1.25] are INCONCLUSIVE; a flat quantity against a one-sided
    region with a minimum effect FAILs instead of passing on the sign of its mean."""
    from scipy.stats import t

    def from_95(point: float, high: float, n: int) -> Estimate:
        se = (high - point) / float(t.ppf(0.975, n - 1))
        return Estimate(point, 2 * point - high, high, n, se=se, df=n - 1)

    assert decide(from_95(92.0, 106.4, 3), Region.parse("[90, 360]"))[0] == INCONCLUSIVE
    assert decide(from_95(1.03, 1.39, 3), Region.parse("[0.8, 1.25]"))[0] == INCONCLUSIVE
    rng = np.random.default_rng(0)
    flat = mean_ci(list(rng.normal(0.0, 0.005, size=10)))  # no trend, ten seeds
    assert decide(flat, Region.parse("[0.01, inf)"))[0] == FAIL
    assert decide(flat, Region.parse("(0, inf)"))[0] == INCONCLUSIVE  # what a region without δ gives


def test_no_spread_decides_nothing_unless_structural():
    """Identical per-seed values (a fraction on a grid that every seed hits alike) give a
    zero-width t interval: INCONCLUSIVE, never a FAIL or PASS on it.  A quantity equal to its
    value by an identity is decided by the value, and the reason gives the identity.  Catches
    the old rule, under which three seeds at 0.1 FAILed C7 with CI [0.1, 0.1]."""
    grid = mean_ci([0.1] * 10)
    assert grid.no_spread and grid.bounds(0.9) == (0.1, 0.1)
    verdict, reason = decide(grid, Region.parse("[0.2, 0.3)"))
    assert verdict == INCONCLUSIVE and "zero width" in reason
    verdict, reason = decide(mean_ci([0.0] * 10), Region.parse("[0.01, inf)"), structural="g_hat lies in span U")
    assert verdict == FAIL and reason.startswith("structural: g_hat lies in span U") and "below" in reason
    # a structural part that does vary is decided by its interval, with the identity beside it
    verdict, reason = decide(_t(0.07, 0.005), REGION, structural="an identity")
    assert verdict == PASS and reason.startswith("structural: an identity; measured, its 90% CI")


def test_the_median_interval_is_the_sign_tests():
    """median_ci's interval is the order statistics [x_(k), x_(n-k+1)] with k the largest such
    that P(Bin(n, 1/2) <= k - 1) <= (1 - level) / 2, written out here for every n up to 15 and
    three levels on random grid-valued data; too few seeds for the level give (-inf, inf), which
    decides nothing.  Catches a normal approximation, an off-by-one order statistic, or a
    one-sided level."""
    from scipy.stats import binom

    from paper_checks.intervals import median_ci

    rng = np.random.default_rng(3)
    for n in range(2, 16):
        for level in (0.90, 0.95, 0.99):
            xs = sorted(rng.choice([0.0, 0.1, 0.2, 0.3], size=n).tolist())
            k = max((k for k in range(1, n + 1) if binom.cdf(k - 1, n, 0.5) <= (1 - level) / 2), default=None)
            e = median_ci(xs, level)
            assert e.point == float(np.median(xs)) and e.se is None
            assert (e.low, e.high) == ((xs[k - 1], xs[n - k]) if k else (-math.inf, math.inf)), (n, level, xs)
    verdict, reason = decide(median_ci([0.2] * 3, 0.99), Region.parse("[0.2, 0.3)"))
    assert verdict == INCONCLUSIVE and "no bounded interval" in reason


def test_bounds_at_any_level_are_scipys_t_intervals():
    """Estimate.bounds(level) equals scipy's t interval at that level (to 1e-12 of its scale)
    for 100 random samples: catches a z quantile, a one-sided quantile at the two-sided level,
    or a population standard deviation."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        xs = rng.normal(rng.uniform(-5, 5), rng.uniform(1e-3, 10), size=rng.integers(2, 12))
        e = mean_ci(list(xs))
        for level in (0.90, 0.95, 0.99):
            ci = stats.ttest_1samp(xs, 0.0).confidence_interval(level)
            low, high = e.bounds(level)
            scale = max(1.0, abs(e.point), ci.high - ci.low)
            assert abs(low - ci.low) <= 1e-12 * scale and abs(high - ci.high) <= 1e-12 * scale


def test_the_rule_is_statsmodels_two_one_sided_tests():
    """On 400 planted samples (2-12 seeds) against random regions, bounded and one-sided:
    PASS exactly when statsmodels' TOST (DescrStatsW.ttost_mean) rejects at alpha, FAIL
    exactly when its one-sided t test rejects "the mean lies at or beyond the region's near
    end" at alpha, at alpha = 0.05 and at the family's 0.005.  Catches a rule that decides on
    the point, on the 95 % interval (alpha/2 per side), or FAILs on a two-sided test."""
    from statsmodels.stats.weightstats import DescrStatsW

    rng = np.random.default_rng(2)
    decided = {PASS: 0, FAIL: 0, INCONCLUSIVE: 0}
    for i in range(400):
        xs = rng.normal(rng.uniform(-1, 1), rng.uniform(0.05, 1.0), size=rng.integers(2, 13))
        low, high = sorted(rng.uniform(-1.5, 1.5, size=2))
        low, high = (low, np.inf) if i % 4 == 0 else (low, high)
        region = Region(float(low), float(high))
        stats_ = DescrStatsW(xs)
        for alpha in (0.05, 0.005):
            verdict, _ = decide(mean_ci(list(xs)), region, alpha=alpha)
            tost = stats_.ttost_mean(low, high)[0] < alpha
            below = stats_.ttest_mean(low, alternative="smaller")[1] < alpha
            above = np.isfinite(high) and stats_.ttest_mean(high, alternative="larger")[1] < alpha
            assert (verdict == PASS) == tost, (xs, region, alpha)
            assert (verdict == FAIL) == (below or above), (xs, region, alpha)
            decided[verdict] += 1
    assert min(decided.values()) > 50  # every outcome planted many times


def test_untestable_is_always_inconclusive():
    verdict, reason = decide(_t(0.07, 0.001), REGION, untestable="the sweep misses 0.01")
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


def test_fiellers_interval_is_the_set_the_paired_t_test_does_not_reject():
    """ratio_of_means_ci's bounds are where the paired t test of mean(x - R y) = 0 turns from
    not rejecting to rejecting at the level: scanned on a fine grid of R for 50 planted pairs
    (scipy.stats.ttest_1samp on x - R y), they agree to the grid's step.  An unbounded
    interval when mean(y) is not itself significant.  Catches the delta method (symmetric,
    never unbounded), a mean of per-seed ratios, or an unpaired covariance."""
    from paper_checks.intervals import ratio_of_means_ci

    rng = np.random.default_rng(6)
    for _ in range(50):
        n = int(rng.integers(3, 12))
        y = rng.normal(1.0, 0.2, size=n)
        x = 0.35 * y + rng.normal(0.0, 0.05, size=n)
        e = ratio_of_means_ci(list(x), list(y), 0.90)
        assert e.point == pytest.approx(x.mean() / y.mean())
        grid = np.linspace(e.low - 0.05, e.high + 0.05, 2001)
        pvalues = stats.ttest_1samp(x[None, :] - grid[:, None] * y[None, :], 0.0, axis=1).pvalue
        kept = grid[pvalues >= 0.10]
        step = grid[1] - grid[0]
        assert abs(min(kept) - e.low) <= step and abs(max(kept) - e.high) <= step
    flat = ratio_of_means_ci([0.1, 0.2, 0.15], [0.01, -0.02, 0.015], 0.90)  # SGD's decrease indistinct from 0
    assert (flat.low, flat.high) == (-math.inf, math.inf)


@pytest.mark.parametrize(
    "verdict, low, high, expected",
    [
        ("FAIL", 0.5, 0.6, "too high"),
        ("FAIL", 0.001, 0.002, "too low"),
        ("PASS", 0.05, 0.06, ""),  # a direction only for a FAIL
        ("INCONCLUSIVE", 0.09, 0.2, ""),
        ("FAIL", None, None, ""),  # no interval: nothing to place
    ],
)
def test_a_fail_says_whether_it_is_too_low_or_too_high(verdict, low, high, expected):
    """The verdict table's direction, against [0.04, 0.10].  Catches a direction read from the
    point rather than the interval, or given to verdicts that are not FAIL."""
    from paper_checks.verdict_table import direction

    assert direction(verdict, "[0.04, 0.10]", low, high) == expected
