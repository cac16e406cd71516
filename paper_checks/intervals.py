"""Confidence intervals for what the experiments report (computed by scipy.stats).

- Across seeds: each seed gives one value of a statistic; the point estimate is their mean
  and the 95 % interval is Student's t interval

      mean +- t_{0.975, n-1} * s / sqrt(n)          (s the sample standard deviation)

  which is exact for normally distributed per-seed values and needs n >= 2.
- Proportions (e.g. how often a cheater is caught in T trials): the Wilson score interval

      (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)

  which, unlike p +- z sqrt(p(1-p)/n), stays inside [0, 1] and covers near 0 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats as _scipy_stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % confidence interval and the number of values behind it.

    low/high are None when the interval is undefined (fewer than two values, or a
    non-finite value among them).
    """

    point: float
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """Mean of the per-seed values and Student's t interval at `level`, from
    scipy.stats.ttest_1samp (None, i.e. JSON null, counts as a non-finite value).

    The point is the exactly rounded mean (math.fsum); identical values give the degenerate
    interval [point, point] (scipy warns of precision loss there and may be an ulp off)."""
    xs = [math.nan if v is None else float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    point = math.fsum(xs) / n
    if n < 2 or not all(math.isfinite(x) for x in xs):
        return Estimate(point, None, None, n)
    if all(x == xs[0] for x in xs):
        return Estimate(point, point, point, n)
    interval = _scipy_stats.ttest_1samp(xs, 0.0).confidence_interval(level)
    return Estimate(point, float(interval.low), float(interval.high), n)


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
