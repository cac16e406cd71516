"""Confidence intervals for what the experiments report (computed by scipy.stats).

- Across seeds: each seed gives one value of a statistic; the point estimate is their mean
  and the 95 % interval is Student's t interval

      mean +- t_{0.975, n-1} * s / sqrt(n)          (s the sample standard deviation)

  which is exact for normally distributed per-seed values and needs n >= 2.  The estimate
  keeps its standard error s / sqrt(n) and degrees of freedom, so that the verdict rule can
  ask for the interval at the level it decides at (Estimate.bounds: 90 % for a two one-sided
  tests' decision at alpha = 0.05, wider for a family of decisions).
- A ratio of two paired means (ratio_of_means_ci): Fieller's interval.
- A statistic with few possible values (median_ci): the median across seeds with the
  distribution-free interval of order statistics.
- Proportions (e.g. how often a cheater is caught in T trials): the Wilson score interval

      (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)

  which, unlike p +- z sqrt(p(1-p)/n), stays inside [0, 1] and covers near 0 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import median as _median

from scipy import stats as _scipy_stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval and the number of values behind it.

    low/high are None when the interval is undefined (fewer than two values, or a
    non-finite value among them).  A mean across seeds (mean_ci) also carries its standard
    error `se` and degrees of freedom `df`, from which bounds() gives the interval at any
    level; other estimates (a worst case, a proportion, a grid bracket) have one interval.
    """

    point: float
    low: float | None
    high: float | None
    n: int
    se: float | None = None
    df: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def no_spread(self) -> bool:
        """A mean of identical per-seed values: its t interval has zero width and says nothing
        about the noise (the values may be discrete, or equal by construction)."""
        return self.se == 0.0

    def bounds(self, level: float = LEVEL) -> tuple[float | None, float | None]:
        """The two-sided interval at `level`: point +- t_{(1+level)/2, df} se for a mean across
        seeds; (low, high) as they are for an estimate without a standard error."""
        if self.se is None or self.df is None or self.low is None:
            return self.low, self.high
        if self.se == 0.0:
            return self.point, self.point
        half = float(_scipy_stats.t.ppf((1 + level) / 2, self.df)) * self.se
        return self.point - half, self.point + half


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """Mean of the per-seed values and Student's t interval at `level`, from
    scipy.stats.ttest_1samp (None, i.e. JSON null, counts as a non-finite value).

    The point is the exactly rounded mean (math.fsum); identical values give the degenerate
    interval [point, point] with se = 0 (scipy warns of precision loss there and may be an ulp
    off), which Estimate.no_spread names so that no verdict is decided on it."""
    xs = [math.nan if v is None else float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    point = math.fsum(xs) / n
    if n < 2 or not all(math.isfinite(x) for x in xs):
        return Estimate(point, None, None, n)
    if all(x == xs[0] for x in xs):
        return Estimate(point, point, point, n, se=0.0, df=n - 1)
    se = math.sqrt(math.fsum((x - point) ** 2 for x in xs) / (n - 1) / n)
    interval = _scipy_stats.ttest_1samp(xs, 0.0).confidence_interval(level)
    return Estimate(point, float(interval.low), float(interval.high), n, se=se, df=n - 1)


def median_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """Median of the per-seed values and its distribution-free interval at `level`: the order
    statistics x_(k), x_(n-k+1) whose coverage the binomial Bin(n, 1/2) gives (the sign
    test's interval, scipy.stats.quantile_test(...).confidence_interval).  For a statistic
    that takes few values (a fraction on a grid), where a t interval of identical values has
    zero width and says nothing: ten seeds that all give 0.1 put the median at 0.1 with
    probability 1 - 2^-10 of covering it.  Too few seeds for `level` give (-inf, inf)."""
    xs = [math.nan if v is None else float(v) for v in values]
    if not xs:
        raise ValueError("median_ci needs at least one value")
    if len(xs) < 2 or not all(math.isfinite(x) for x in xs):
        return Estimate(math.nan if not all(math.isfinite(x) for x in xs) else xs[0], None, None, len(xs))
    point = float(_median(xs))
    interval = _scipy_stats.quantile_test(xs, q=point, p=0.5).confidence_interval(level)
    low = -math.inf if math.isnan(interval.low) else float(interval.low)
    high = math.inf if math.isnan(interval.high) else float(interval.high)
    return Estimate(point, low, high, len(xs))


def ratio_of_means_ci(numerators: Sequence[float], denominators: Sequence[float], level: float = LEVEL) -> Estimate:
    """The ratio of the means R = mean(x) / mean(y) of paired per-seed values and Fieller's
    interval at `level`: the R for which the paired t test of mean(x - R y) = 0 does not reject,

        (ybar^2 - t^2 s_yy / n) R^2 - 2 (xbar ybar - t^2 s_xy / n) R + (xbar^2 - t^2 s_xx / n) <= 0,

    t = t_{(1+level)/2, n-1}, s the sample (co)variances.  Unlike a mean of per-seed ratios it
    does not explode when one seed's denominator is small.  The interval is bounded only when
    mean(y) is itself significantly away from 0 at `level` (the quadratic's leading coefficient
    positive); otherwise (-inf, inf), which decides nothing."""
    xs = [math.nan if v is None else float(v) for v in numerators]
    ys = [math.nan if v is None else float(v) for v in denominators]
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"ratio_of_means_ci needs paired values, got {len(xs)} and {len(ys)}")
    n = len(xs)
    if not all(math.isfinite(v) for v in xs + ys):
        return Estimate(math.nan, None, None, n)
    xbar, ybar = math.fsum(xs) / n, math.fsum(ys) / n
    point = xbar / ybar if ybar != 0 else math.nan
    if n < 2:
        return Estimate(point, None, None, n)
    sxx = math.fsum((x - xbar) ** 2 for x in xs) / (n - 1)
    syy = math.fsum((y - ybar) ** 2 for y in ys) / (n - 1)
    sxy = math.fsum((x - xbar) * (y - ybar) for x, y in zip(xs, ys)) / (n - 1)
    t2 = float(_scipy_stats.t.ppf((1 + level) / 2, n - 1)) ** 2
    a, b, c = ybar**2 - t2 * syy / n, xbar * ybar - t2 * sxy / n, xbar**2 - t2 * sxx / n
    disc = b * b - a * c
    if a <= 0 or disc < 0:
        return Estimate(point, -math.inf, math.inf, n)
    root = math.sqrt(disc)
    return Estimate(point, (b - root) / a, (b + root) / a, n)


def worst_case(values: Sequence[float]) -> Estimate:
    """The largest value, as a degenerate interval [max, max]: for claims that must hold for
    every value (e.g. every recomputed proof), where one exceedance is a counterexample and
    averaging over seeds would hide it.  Undefined interval below two values, as mean_ci."""
    xs = [math.nan if v is None else float(v) for v in values]
    if not xs:
        raise ValueError("worst_case needs at least one value")
    top = max(xs) if all(math.isfinite(x) for x in xs) else math.nan
    if len(xs) < 2 or not math.isfinite(top):
        return Estimate(top, None, None, len(xs))
    return Estimate(top, top, top, len(xs))


def wilson_ci(successes: int, trials: int, level: float = LEVEL) -> Estimate:
    """Observed proportion successes/trials and its Wilson score interval at `level`, from
    scipy.stats.binomtest(...).proportion_ci(method="wilson")."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    interval = _scipy_stats.binomtest(successes, trials).proportion_ci(level, method="wilson")
    return Estimate(successes / trials, float(interval.low), float(interval.high), trials)
