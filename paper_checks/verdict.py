"""The verdict rule, the same for every claim: PASS only on evidence.

Given the per-seed values of a claim's statistic, the point estimate is their mean and its
uncertainty Student's t distribution across seeds (paper_checks.intervals.mean_ci); for a
claim that must hold for every value, the estimate is the worst case
(paper_checks.intervals.worst_case).  At significance level alpha the decision interval is
the two-sided interval at level 1 - 2 alpha (90 % at alpha = 0.05), whose two ends are the
one-sided 1 - alpha bounds.  Then

    PASS          if the decision interval lies inside the acceptance region: an equivalence
                  test, two one-sided tests at alpha (TOST), each rejecting "the true value
                  lies beyond this end of the region";
    FAIL          if it lies wholly outside the region (all below or all above): a one-sided
                  test at alpha rejects "the true value lies in the region";
    INCONCLUSIVE  otherwise: the interval straddles an end of the region, it is undefined
                  (fewer than two seeds, a non-finite value), it has zero width because every
                  seed gave the same value (a t interval of identical values says nothing
                  about noise: the values may be discrete), or the run cannot test the claim
                  (a sweep that misses the claimed range, a diverged run, a negative control
                  that was not rejected).

A quantity that equals its value by an identity rather than by chance (paper_checks/claims.yaml:
`structural`, with its one-line argument) is judged by its value even with zero spread, and
its reason says so.  Every verdict carries a one-sentence reason computed from the numbers.

The primary readings of the eight claims form the confirmatory family: their decisions use
alpha / m (Bonferroni, m the family's number of parts; paper_checks.catalog.family_size), so
that the chance that any of them is wrong is at most alpha.  The other readings, sensitivity
analyses, use alpha.
"""

from __future__ import annotations

import math

from paper_checks.intervals import Estimate
from paper_checks.regions import Region

PASS, FAIL, INCONCLUSIVE, NOT_RUN = "PASS", "FAIL", "INCONCLUSIVE", "NOT RUN"

ALPHA = 0.05
"""The significance level of each one-sided test (of a sensitivity reading; a primary
reading's is ALPHA divided by the family's size)."""


def decision_level(alpha: float = ALPHA) -> float:
    """The level of the two-sided interval whose ends are the one-sided 1 - alpha bounds."""
    return 1 - 2 * alpha


def _pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def _interval(low: float, high: float) -> str:
    return f"[{low:.4g}, {high:.4g}]"


def decide(
    estimate: Estimate,
    region: Region,
    untestable: str | None = None,
    alpha: float = ALPHA,
    structural: str | None = None,
) -> tuple[str, str]:
    """(verdict, reason) for an estimate against an acceptance region at level alpha (module
    docstring).  structural: the argument why the quantity takes its value by an identity,
    which lets a zero-width interval decide."""
    if untestable:
        return INCONCLUSIVE, f"the run cannot test the claim: {untestable}"
    if math.isnan(estimate.point):
        return INCONCLUSIVE, f"the point estimate is not a number ({estimate.point})"
    if estimate.low is None or estimate.high is None:
        where = "inside" if region.contains(estimate.point) else "outside"
        return (
            INCONCLUSIVE,
            f"the point estimate {estimate.point:.4g} lies {where} {region} but has no confidence interval "
            f"(n = {estimate.n}; it needs at least two seeds)",
        )
    if math.isinf(estimate.low) and math.isinf(estimate.high):
        return (
            INCONCLUSIVE,
            f"the point estimate {estimate.point:.4g} has no bounded interval at this level from {estimate.n} seeds",
        )
    if estimate.no_spread:
        if not structural:
            return (
                INCONCLUSIVE,
                f"every one of the {estimate.n} seeds gives {estimate.point:.4g}: an interval of zero width "
                "says nothing about the noise, so it cannot decide",
            )
        verdict = PASS if region.contains(estimate.point) else FAIL
        where = "inside" if verdict == PASS else ("above" if region.above(estimate.point) else "below")
        return verdict, f"structural: {structural}; every seed gives {estimate.point:.4g}, {where} {region}"
    level = decision_level(alpha)
    low, high = estimate.bounds(level)
    shown = f"its {_pct(level)} CI {_interval(low, high)} (alpha = {alpha:.3g} per side, n = {estimate.n})"
    if estimate.se is None:  # not a t interval: a median's or a worst case's, or a grid bracket
        shown = f"its interval {_interval(low, high)} (n = {estimate.n})"
    shown = f"structural: {structural}; measured, {shown}" if structural else shown
    if region.contains(low) and region.contains(high):
        return PASS, f"{shown} lies inside the acceptance region {region}"
    if region.above(low):
        return FAIL, f"{shown} lies wholly above the acceptance region {region}"
    if region.below(high):
        return FAIL, f"{shown} lies wholly below the acceptance region {region}"
    return (
        INCONCLUSIVE,
        f"{shown} reaches across an end of the acceptance region {region} (point {estimate.point:.4g})",
    )


def combine(verdicts: list[str]) -> str:
    """A claim with several parts passes only if every part passes, fails if any part fails."""
    if FAIL in verdicts:
        return FAIL
    return PASS if all(v == PASS for v in verdicts) else INCONCLUSIVE
