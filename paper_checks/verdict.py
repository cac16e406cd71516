"""The verdict rule, the same for every claim.

Given the per-seed values of a claim's statistic, the point estimate is their mean and the
95 % confidence interval is Student's t interval (paper_checks.intervals.mean_ci); for a claim
that must hold for every value, the estimate is the worst case (paper_checks.intervals.worst_case).
Then

    PASS          if the point estimate lies in the acceptance region (and has a CI; a part
                  marked `strict` in claims.yaml needs its whole CI inside the region);
    FAIL          if the whole 95 % CI lies outside the region (all below or all above it);
    INCONCLUSIVE  otherwise: the point lies outside but the CI reaches into the region, the
                  CI is undefined (fewer than two seeds, a non-finite value), or the run
                  cannot test the claim at all (e.g. a sweep that misses the claimed range,
                  a diverged run, a negative control that was not rejected).

Every verdict carries a one-sentence reason computed from the numbers.
"""

from __future__ import annotations

import math

from paper_checks.intervals import Estimate
from paper_checks.regions import Region

PASS, FAIL, INCONCLUSIVE, NOT_RUN = "PASS", "FAIL", "INCONCLUSIVE", "NOT RUN"


def _ci(e: Estimate) -> str:
    return f"[{e.low:.4g}, {e.high:.4g}]"


def decide(estimate: Estimate, region: Region, untestable: str | None = None, strict: bool = False) -> tuple[str, str]:
    """(verdict, reason) for a point estimate with its CI against an acceptance region.

    strict: PASS needs the whole CI inside the region (a claim that something is
    significantly positive, say), not only the point estimate."""
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
    if (
        strict
        and region.contains(estimate.point)
        and not (region.contains(estimate.low) and region.contains(estimate.high))
    ):
        return (
            INCONCLUSIVE,
            f"the point estimate {estimate.point:.4g} lies in {region} but its 95% CI {_ci(estimate)} "
            "does not lie wholly inside it (this part needs the whole CI inside)",
        )
    if region.contains(estimate.point):
        return (
            PASS,
            f"the point estimate {estimate.point:.4g} (n = {estimate.n}) lies in the acceptance region {region}",
        )
    if region.above(estimate.low):
        return FAIL, f"the whole 95% CI {_ci(estimate)} lies above the acceptance region {region}"
    if region.below(estimate.high):
        return FAIL, f"the whole 95% CI {_ci(estimate)} lies below the acceptance region {region}"
    return (
        INCONCLUSIVE,
        f"the point estimate {estimate.point:.4g} lies outside {region} but its 95% CI {_ci(estimate)} reaches into it",
    )
