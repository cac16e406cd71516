"""Stage 3's statistics per experiment: all (setting, seed) runs -> the experiment's data.

Each function takes the run records of one experiment (their provenance already checked by
paper_checks.aggregation) and its config section, and returns per setting the per-seed
values of every statistic with their mean and 95 % CI across seeds (paper_checks.stats).
They live here, not beside each experiment's run(), so that the measurement jobs do not
depend on this code: changing how seeds are summarised reruns aggregation, not measurements.
"""

from __future__ import annotations

from collections.abc import Callable

from paper_checks.stats import mean_ci, wilson_ci


def _by_setting(runs: list[dict]) -> dict[str, list[dict]]:
    """Runs grouped by setting, each group sorted by seed."""
    settings: dict[str, list[dict]] = {}
    for r in runs:
        settings.setdefault(r["setting"], []).append(r)
    return {name: sorted(rs, key=lambda r: r["seed"]) for name, rs in settings.items()}


def _seeds(values: list[float]) -> dict:
    """{"per_seed": values, point, low, high, n}: the values and their mean with 95 % CI."""
    return {"per_seed": values, **mean_ci(values).as_dict()}


def gradient_variability(runs: list[dict], cfg: dict) -> dict:
    """Per setting and checkpoint: per-seed values and mean with 95 % CI of each statistic."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        steps = [c["step"] for c in rs[0]["metrics"]["checkpoints"]]
        per_checkpoint = []
        for k, step in enumerate(steps):
            entry = {"step": step, "seeds": [r["seed"] for r in rs]}
            for key in ("mean_pairwise_cosine", "variance_ratio", "loo_reconstruction_cosine", "grad_norm_mean"):
                entry[key] = _seeds([r["metrics"]["checkpoints"][k][key] for r in rs])
            entry["pairwise_cosines"] = {str(r["seed"]): r["metrics"]["checkpoints"][k]["pairwise_cosines"] for r in rs}
            per_checkpoint.append(entry)
        out[setting] = {"sweep": rs[0]["sweep"], "checkpoints": per_checkpoint}
    return {"settings": out}


def unbiased_estimator(runs: list[dict], cfg: dict) -> dict:
    """Per setting (K) and draw count N: per-seed r, relative error and bias, with 95 % CIs."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        points = []
        for i, p in enumerate(rs[0]["metrics"]["points"]):
            entry = {"draws": p["draws"], "directions": p["directions"], "theory_relative_error": p["theory_relative_error"]}
            for arm in ("estimator", "control"):
                entry[arm] = {}
                for key in ("r", "relative_error", "bias_along_g"):
                    entry[arm][key] = _seeds([r["metrics"]["points"][i][arm][key] for r in rs])
            points.append(entry)
        out[setting] = {"sweep": rs[0]["sweep"], "k": rs[0]["config"]["experiment"]["k"], "seeds": [r["seed"] for r in rs], "points": points}
    return {"control_scale": cfg["control_scale"], "settings": out}


def pogp_verification(runs: list[dict], cfg: dict) -> dict:
    """Per-seed maxima of each difference with CIs; pooled catch rates with Wilson intervals."""
    rs = sorted(runs, key=lambda r: r["seed"])
    max_diff = {}
    for name in rs[0]["metrics"]["max_abs_diff"]:
        values = [r["metrics"]["max_abs_diff"][name] for r in rs]
        max_diff[name] = {"overall_max": max(values), **_seeds(values)}
    proofs = {str(r["seed"]): r["metrics"]["proofs"] for r in rs}
    cheaters = []
    for i, row in enumerate(rs[0]["metrics"]["cheaters"]):
        caught = sum(r["metrics"]["cheaters"][i]["caught"] for r in rs)
        trials = sum(r["metrics"]["cheaters"][i]["trials"] for r in rs)
        rate = wilson_ci(caught, trials)
        cheaters.append(
            {
                **{k: row[k] for k in ("p", "q", "m", "invalid_per_step", "theory")},
                "caught": caught,
                "trials": trials,
                "rate": rate.as_dict(),
                "theory_in_ci": rate.low <= row["theory"] <= rate.high,
                "false_rejections": sum(r["metrics"]["cheaters"][i]["false_rejections"] for r in rs),
            }
        )
    return {
        "eps": cfg["eps"],
        "n_proofs_per_seed": cfg["n_proofs"],
        "seeds": [r["seed"] for r in rs],
        "max_abs_diff": max_diff,
        "median_abs_a": _seeds([r["metrics"]["median_abs_a"] for r in rs]),
        "recommended_eps": max(r["metrics"]["recommended_eps"] for r in rs),
        "cheaters": cheaters,
        "proofs": proofs,
    }


AGGREGATES: dict[str, Callable[[list[dict], dict], dict]] = {
    "e1_gradient_variability": gradient_variability,
    "e5_unbiased_estimator": unbiased_estimator,
    "e6_pogp_verification": pogp_verification,
}
"""Experiment key (paper_checks/experiments.yaml) -> its aggregation."""
