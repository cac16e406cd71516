"""Each claim's statistic, read from its experiment's aggregated data file.

A statistic function takes (data, select) — the data file's content and the claim's
`select` entry from claims.yaml — and returns a Measurement: the per-seed values the verdict
rule averages, what they are, details worth reporting, and a reason when the data cannot
test the claim (which makes the verdict INCONCLUSIVE).
"""

from __future__ import annotations

import math
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
    fixed: Estimate | None = None  # an estimate that is no reduction of per-seed values

    def estimate(self) -> Estimate:
        if self.fixed is not None:
            return self.fixed
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


def _estimate(stat: dict) -> dict:
    return {k: stat[k] for k in ("point", "low", "high", "n")}


def _stopped(arms: dict, names: list[str]) -> str | None:
    """Why the claim cannot be judged if a run of one of the arms it reads stopped early
    (diverged): "runs stopped early (arm: reason; ...)", else None.  Arms the claim does not
    read do not matter to it."""
    stopped = [f"{arm}: {why}" for arm in names for why in arms[arm]["stopped"]]
    return f"runs stopped early ({'; '.join(stopped)})" if stopped else None


def c3_momentum_alignment(data: dict, select: dict) -> Measurement:
    """Alignment ratio |cos(m_hat, g)| / |cos(v, g)| of the named Momentum-Centric variant."""
    from holograd.models import param_count

    name, setting = find_setting(data["experiment_data"], select)
    variant = select.get("variant", "momentum")
    arms = setting["arms"]
    momentum, random = arms[variant]["alignment"], arms["random_k1"]["alignment"]
    details = {
        "setting": name,
        "variant": variant,
        "D": setting["dim"],
        "alignment_momentum": _estimate(momentum),
        "alignment_random_k1": _estimate(random),
        "random_alignment_theory": setting["random_alignment_theory"],
    }
    paper = select.get("predict_for")
    if paper:  # the random alignment shrinks like 1/sqrt(D): the ratio the paper's D would give
        paper_dim = param_count(paper["model"], paper["vocab_size"], paper["block_size"])
        details["predicted_for_paper"] = {**paper, "D": paper_dim, "ratio": momentum["point"] / math.sqrt(2 / (math.pi * paper_dim))}
    ratio = setting["alignment_ratio"][variant]
    return Measurement(
        values=ratio["per_seed"], seeds=setting["seeds"], label=f"alignment ratio {variant} / random K=1 (D = {setting['dim']:,})",
        details=details, untestable=_stopped(arms, [variant, "random_k1"]),
    )  # fmt: skip


def c4_momentum_progress(data: dict, select: dict) -> Measurement:
    """Loss decrease of the named Momentum-Centric variant over full SGD's, same steps and data."""
    name, setting = find_setting(data["experiment_data"], select)
    variant = select.get("variant", "momentum")
    arms = setting["arms"]
    ratio = setting["decrease_ratio"][variant]
    details = {
        "setting": name,
        "variant": variant,
        "loss_decrease": {arm: _estimate(a["loss_decrease"]) for arm, a in arms.items()},
        "lr": {arm: a["lr"] for arm, a in arms.items()},
        "communication": {arm: {k: a[k] for k in ("scalars_per_step", "scalars_per_worker_per_step", "bytes_per_step", "loss_decrease_per_scalar")} for arm, a in arms.items()},
        "decrease_ratio_other_variant": {k: _estimate(v) for k, v in setting["decrease_ratio"].items() if k != variant},
    }
    return Measurement(values=ratio["per_seed"], seeds=setting["seeds"], label=f"loss decrease {variant} / full SGD", details=details, untestable=_stopped(arms, [variant, "sgd"]))


def c1_kd_threshold(data: dict, select: dict) -> list[Measurement]:
    """(a) cos(g_hat, g) / sqrt(K/D) over the K/D grid up to select["max_kd"], per seed;
    (b) the smallest K/D whose training loss decrease is significantly above zero.

    (b) is a property of the grid, not of one seed: its estimate is the smallest K/D whose
    95 % CI of the loss decrease lies above 0, with the interval (previous grid value, that
    K/D] in which the threshold lies.  If no K/D of the grid qualifies, the threshold lies
    above the largest one: (largest, inf)."""
    settings = list(data["experiment_data"]["settings"].values())
    seeds = settings[0]["seeds"]
    within = [s for s in settings if s["kd"] <= select.get("max_kd", 0.1)]
    part_a = Measurement(
        values=[sum(s["cos_ratio"]["per_seed"][i] for s in within) / len(within) for i in range(len(seeds))] if within else [math.nan],
        seeds=seeds,
        label=f"mean of cos / sqrt(K/D) over K/D in {{{', '.join(format(s['kd'], '.3g') for s in within)}}}",
        details={"cos_by_kd": {str(s["kd"]): {"k": s["k"], "cos": _estimate(s["cos_mean"]), "sqrt_kd": s["sqrt_kd"], "theory": s["cos_theory"]} for s in settings}},
        untestable=None if within else f"no K/D of the grid is <= {select.get('max_kd', 0.1)}",
    )
    significant = [s for s in settings if s["loss_decrease"]["random"]["low"] is not None and s["loss_decrease"]["random"]["low"] > 0]
    stopped = [why for s in settings for why in s["stopped"]]
    grid = [s["kd"] for s in settings]
    if significant:
        kd = significant[0]["kd"]
        below = [x for x in grid if x < kd]
        fixed = Estimate(kd, below[-1] if below else 0.0, kd, len(seeds))
    else:
        fixed = Estimate(math.inf, grid[-1], math.inf, len(seeds))
    part_b = Measurement(
        values=[],
        seeds=seeds,
        label="smallest K/D with a loss decrease significantly above 0 (interval: between it and the grid value below)",
        details={
            "training_by_kd": {
                str(s["kd"]): {"k": s["k"], "loss_decrease": _estimate(s["loss_decrease"]["random"]), "sgd": _estimate(s["loss_decrease"]["sgd"]), "fraction_of_sgd": _estimate(s["fraction_of_sgd"]), "lr": s["lr"]}
                for s in settings
            }
        },
        fixed=fixed,
        untestable=f"runs stopped early ({'; '.join(stopped)})" if stopped else None,
    )
    return [part_a, part_b]


def c5_adc_learns(data: dict, select: dict) -> list[Measurement]:
    """(a) trend of the captured energy gamma_t of the selected rank and warm start;
    (b) its held-out loss decrease minus ADC-off's (random directions, same K)."""
    name, setting = find_setting(data["experiment_data"], select)
    arm_name = f"adc_r{select['rank']}"
    if arm_name not in setting["arms"]:
        raise SelectionError(f"the run has no codebook of rank {select['rank']} (it has {[a for a in setting['arms'] if a != 'adc_off']})")
    arm = setting["arms"][arm_name]
    by_rank = {a: {"energy_trend": _estimate(v["energy_trend"]), "advantage_over_off": _estimate(v["advantage_over_off"])} for a, v in setting["arms"].items() if a != "adc_off"}
    untestable = _stopped(setting["arms"], [arm_name, "adc_off"])
    common = {"setting": name, "rank": select["rank"], "warm_start": setting["warm_start"]}
    return [
        Measurement(
            values=arm["energy_trend"]["per_seed"], seeds=setting["seeds"],
            label=f"gamma trend (last 20 % - first 20 % of steps), rank {select['rank']}, warm start {setting['warm_start']}",
            details={**common, "by_rank": by_rank}, untestable=untestable,
        ),
        Measurement(
            values=arm["advantage_over_off"]["per_seed"], seeds=setting["seeds"],
            label=f"loss decrease ADC-on - ADC-off, rank {select['rank']}",
            details={"loss_decrease": {a: _estimate(v["loss_decrease"]) for a, v in setting["arms"].items()}, "lr": {a: v["lr"] for a, v in setting["arms"].items()}, "warm_lr": {a: v.get("warm_lr") for a, v in setting["arms"].items()}},
            untestable=untestable,
        ),
    ]  # fmt: skip


def _tolerance_summary(setting: dict) -> dict:
    """A setting the verdict does not read (E7 on HoloGrad-Random, say): its clean decrease
    and largest tolerated fraction per aggregator, reported beside the verdict."""
    clean = {r["aggregator"]: _estimate(r["loss_decrease"]) for r in setting["table"] if r["attack"] == "none"}
    return {
        "strategy": setting["strategy"],
        "clean_loss_decrease": clean,
        "largest_tolerated": {agg: _estimate(v) for agg, v in setting["largest_tolerated"].items()},
    }


def c7_byzantine(data: dict, select: dict) -> Measurement:
    """Largest Byzantine fraction tolerated under every attack by the selected aggregator."""
    exp = data["experiment_data"]
    name, setting = find_setting(exp, select)
    aggregator = select.get("aggregator", "trimmed_0.1")
    if aggregator not in setting["largest_tolerated"]:
        raise SelectionError(f"the run has no aggregator {aggregator} (it has {list(setting['largest_tolerated'])})")
    values = setting["largest_tolerated"][aggregator]
    # An attacked run that diverged was not tolerated (its loss decrease is NaN, so it fails
    # the 80 % test): that is a measurement, not a gap.  A clean run that diverged leaves
    # nothing to compare with.
    stopped = [f"{r['aggregator']} {r['attack']} f={r['fraction']}: {s}" for r in setting["table"] for s in r["stopped"]]
    clean_row = next(r for r in setting["table"] if r["aggregator"] == aggregator and r["attack"] == "none")
    clean = clean_row["loss_decrease"]
    untestable = None
    if clean_row["stopped"]:
        untestable = f"runs stopped early (the clean run: {'; '.join(clean_row['stopped'])})"
    elif clean["low"] is None or not clean["low"] > 0:  # "80 % of no progress" would be noise
        low = "undefined" if clean["low"] is None else f"{clean['low']:.3g}"
        untestable = f"the clean run's loss decrease {clean['point']:.3g} (95% CI low {low}) is not significantly above 0, so tolerance cannot be judged"
    return Measurement(
        values=values["per_seed"],
        seeds=setting["seeds"],
        label=f"largest tolerated fraction, {aggregator}, {setting['strategy']} (tolerated: loss decrease >= {exp['tolerance']:g} x clean)",
        details={
            "setting": name,
            "aggregator": aggregator,
            "largest_tolerated": {agg: _estimate(v) for agg, v in setting["largest_tolerated"].items()},
            "table": [{k: r[k] for k in ("aggregator", "attack", "fraction")} | {"relative": r["relative"]["point"]} for r in setting["table"]],
            "stopped_runs": stopped,
            "clean_loss_decrease": _estimate(clean),
            "other_settings": {other: _tolerance_summary(st) for other, st in exp["settings"].items() if other != name},
        },
        untestable=untestable,
    )


STATISTICS: dict[str, Callable[..., Measurement]] = {
    "C1": c1_kd_threshold,
    "C2": c2_pairwise_cosine,
    "C3": c3_momentum_alignment,
    "C4": c4_momentum_progress,
    "C5": c5_adc_learns,
    "C6": c6_unbiased,
    "C7": c7_byzantine,
    "C8": c8_reproducible,
}
"""Claim id -> its statistic.  Functions that also take the acceptance region (to judge a
negative control by the same rule) declare a third parameter `region`."""
