"""Each claim's statistic, read from its experiment's aggregated data file.

A statistic function takes (data, select) — the data file's content and the claim's
`select` entry from claims.yaml — and returns a Measurement: the per-seed values the verdict
rule averages, what they are, details worth reporting, and a reason when the data cannot
test the claim (which makes the verdict INCONCLUSIVE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paper_checks.stats import Estimate, mean_ci, worst_case
from paper_checks.regions import Region
from paper_checks.verdict import FAIL, decide


@dataclass
class Measurement:
    values: list[float]
    seeds: list[int]
    label: str
    details: dict = field(default_factory=dict)
    untestable: str | None = None
    reduce: str = "mean"  # "mean": mean with Student-t CI; "worst": worst case (stats.worst_case)

    def estimate(self) -> Estimate:
        return worst_case(self.values) if self.reduce == "worst" else mean_ci(self.values)


class SelectionError(LookupError):
    """The claim selects a setting or checkpoint that the run does not have."""


def find_setting(data: dict, select: dict) -> tuple[str, dict]:
    """The one setting whose configuration has every value of select["where"].

    No match, or more than one (a `where` too loose for the sweep), cannot be tested."""
    settings, where = data["settings"], select.get("where", {})
    matches = [(name, s) for name, s in settings.items() if all(s["config"].get(k) == v for k, v in where.items())]
    if len(matches) == 1:
        return matches[0]
    wanted = ", ".join(f"{k} = {v}" for k, v in where.items()) or "no condition"
    if not matches:
        have = {k: [s["config"].get(k) for s in settings.values()] for k in where}
        raise SelectionError(f"the run has no setting with {wanted} (it has {have})")
    raise SelectionError(f"{len(matches)} settings match {wanted} ({', '.join(n for n, _ in matches)}); name one in claims.yaml's select.where")


def _pick(items: list[dict], key: str, wanted, what: str) -> dict:
    """items[-1] for "last"/"largest", the one with key == 0 for "init", else key == wanted."""
    if wanted in ("last", "largest"):
        return items[-1]
    target = 0 if wanted == "init" else wanted
    for item in items:
        if item[key] == target:
            return item
    raise SelectionError(f"the run has no {what} {target} (it has {[i[key] for i in items]})")


def c2_pairwise_cosine(data: dict, select: dict) -> Measurement:
    name, setting = find_setting(data["experiment_data"], select)
    checkpoint = _pick(setting["checkpoints"], "step", select.get("checkpoint", "last"), "checkpoint at step")
    stat = checkpoint["mean_pairwise_cosine"]
    return Measurement(
        values=stat["per_seed"],
        seeds=checkpoint["seeds"],
        label=f"mean pairwise cosine at step {checkpoint['step']} ({name})",
        details={
            "setting": name,
            "checkpoint_step": checkpoint["step"],
            "variance_ratio": {k: checkpoint["variance_ratio"][k] for k in ("point", "low", "high", "n")},
            "loo_reconstruction_cosine": {k: checkpoint["loo_reconstruction_cosine"][k] for k in ("point", "low", "high", "n")},
            "all_checkpoints": {c["step"]: c["mean_pairwise_cosine"]["point"] for c in setting["checkpoints"]},
        },
    )


def c6_unbiased(data: dict, select: dict, region: Region) -> Measurement:
    exp = data["experiment_data"]
    name, setting = find_setting(exp, select)
    point = _pick(setting["points"], "draws", select.get("draws", "largest"), "draw count")
    control = point["control"]["r"]
    control_verdict, control_reason = decide(mean_ci(control["per_seed"]), region)
    untestable = None
    if control_verdict != FAIL:
        untestable = f"the negative control (scale {exp['control_scale']} D) came out {control_verdict}, so the experiment cannot tell a biased estimator from an unbiased one"
    return Measurement(
        values=point["estimator"]["r"]["per_seed"],
        seeds=setting["seeds"],
        label=f"r at N = {point['draws']} draws of K = {setting['k']} ({point['directions']} directions)",
        details={
            "setting": name,
            "draws": point["draws"],
            "k": setting["k"],
            "relative_error": {k: point["estimator"]["relative_error"][k] for k in ("point", "low", "high", "n")},
            "theory_relative_error": point["theory_relative_error"],
            "plan_metric_below_0.01": point["estimator"]["relative_error"]["point"] < 0.01,
            "bias_along_g": {k: point["estimator"]["bias_along_g"][k] for k in ("point", "low", "high", "n")},
            "negative_control": {"scale": exp["control_scale"], "r": {k: control[k] for k in ("per_seed", "point", "low", "high", "n")}, "verdict": control_verdict, "reason": control_reason},
        },
        untestable=untestable,
    )


def c8_reproducible(data: dict, select: dict) -> Measurement:
    exp = data["experiment_data"]
    diffs = exp["max_abs_diff"]
    return Measurement(
        values=diffs["verifier"]["per_seed"],
        seeds=exp["seeds"],
        label=f"max |a - a*| over all {exp['n_proofs_per_seed']} x {len(exp['seeds'])} proofs (same device)",
        reduce="worst",
        details={
            "max_abs_diff": {name: d["overall_max"] for name, d in diffs.items()},
            "median_abs_a": exp["median_abs_a"]["point"],
            "eps": exp["eps"],
            "recommended_eps": exp["recommended_eps"],
            "cheaters": [{k: c[k] for k in ("p", "q", "m", "invalid_per_step", "theory", "theory_in_ci", "false_rejections")} | {"rate": c["rate"]["point"]} for c in exp["cheaters"]],
        },
    )


STATISTICS: dict[str, Callable[..., Measurement]] = {
    "C2": c2_pairwise_cosine,
    "C6": c6_unbiased,
    "C8": c8_reproducible,
}
"""Claim id -> its statistic.  Functions that also take the acceptance region (to judge a
negative control by the same rule) declare a third parameter `region`."""
