"""Stage 3's statistics per experiment: all (setting, seed) runs -> the experiment's data.

Each function takes the run records of one experiment (their provenance already checked by
paper_checks.aggregation) and its config section, and returns per setting the per-seed
values of every statistic with their mean and 95 % CI across seeds (paper_checks.stats).
They live here, not beside each experiment's run(), so that the measurement jobs do not
depend on this code: changing how seeds are summarised reruns aggregation, not measurements.
"""

from __future__ import annotations

import math
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


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b not in (None, 0) else math.nan


def _difference(a: float | None, b: float | None) -> float:
    """a - b; NaN if either is missing (JSON null: e.g. the loss decrease of a diverged run)."""
    return a - b if a is not None and b is not None else math.nan


def _arm(rs: list[dict], name: str, statistics: tuple[str, ...], series: dict[str, str], same: tuple[str, ...] = ()) -> dict:
    """One arm of a training comparison across the seeds' runs: its tuned rate(s), each of
    `statistics` per seed with mean and 95 % CI, each of `series` (output key: run key) per
    seed, the values in `same` (equal for every seed), and the runs that stopped early."""
    per = [r["metrics"]["arms"][name] for r in rs]
    return {
        "lr": per[0]["lr"],
        **{key: per[0][key] for key in same},
        **{key: _seeds([p[key] for p in per]) for key in statistics},
        **{out: {str(r["seed"]): p[key] for r, p in zip(rs, per)} for out, key in series.items()},
        "stopped": [p["stopped"] for p in per if p["stopped"]],
    }


def momentum_comparison(runs: list[dict], cfg: dict) -> dict:
    """Per arm: per-seed loss decrease and alignment; per seed, the C3 and C4 ratios."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        arm_names = list(rs[0]["metrics"]["arms"])
        arms = {}
        for name in arm_names:
            arm = _arm(rs, name, ("loss_decrease", "alignment"), {"curves": "curve"}, same=("scalars_per_step", "scalars_per_worker_per_step", "bytes_per_step"))
            arm["loss_decrease_per_scalar"] = arm["loss_decrease"]["point"] / arm["scalars_per_step"] if arm["scalars_per_step"] else None
            arms[name] = arm

        def ratios(num: str, den: str, key: str) -> dict:
            return _seeds([_ratio(r["metrics"]["arms"][num][key], r["metrics"]["arms"][den][key]) for r in rs])

        out[setting] = {
            "sweep": rs[0]["sweep"],
            "seeds": [r["seed"] for r in rs],
            "dim": rs[0]["metrics"]["dim"],
            "random_alignment_theory": rs[0]["metrics"]["random_alignment_theory"],
            "arms": arms,
            "alignment_ratio": {m: ratios(m, "random_k1", "alignment") for m in ("momentum", "momentum_alg3")},
            "decrease_ratio": {m: ratios(m, "sgd", "loss_decrease") for m in ("momentum", "momentum_alg3")},
        }
    return {"settings": out}


def kd_ratio(runs: list[dict], cfg: dict) -> dict:
    """Per K/D setting: alignment and its ratio to sqrt(K/D), loss decreases, per seed."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        m = [r["metrics"] for r in rs]
        out[setting] = {
            "sweep": rs[0]["sweep"],
            "seeds": [r["seed"] for r in rs],
            **{key: m[0][key] for key in ("kd", "k", "dim", "sqrt_kd", "cos_theory", "lr")},
            "cos_mean": _seeds([x["cos_mean"] for x in m]),
            "cos_ratio": _seeds([x["cos_mean"] / x["sqrt_kd"] for x in m]),
            "loss_decrease": {arm: _seeds([x["loss_decrease"][arm] for x in m]) for arm in m[0]["loss_decrease"]},
            "fraction_of_sgd": _seeds([x["fraction_of_sgd"] for x in m]),
            "curves": {arm: {str(r["seed"]): r["metrics"]["curves"][arm] for r in rs} for arm in m[0]["curves"]},
            "stopped": [f"seed {r['seed']} {arm}: {why}" for r in rs for arm, why in r["metrics"]["stopped"].items()],
        }
    return {"settings": dict(sorted(out.items(), key=lambda item: item[1]["kd"]))}


def adc_energy(runs: list[dict], cfg: dict) -> dict:
    """Per warm start and arm: per-seed gamma trend, loss decrease, and ADC-on minus ADC-off."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        names = list(rs[0]["metrics"]["arms"])
        arms = {}
        for name in names:
            arms[name] = _arm(rs, name, ("loss_decrease", "energy_trend"), {"energy": "energy", "curves": "curve"}, same=("warm_lr",))
            if name != "adc_off":
                arms[name]["advantage_over_off"] = _seeds([_difference(r["metrics"]["arms"][name]["loss_decrease"], r["metrics"]["arms"]["adc_off"]["loss_decrease"]) for r in rs])
        out[setting] = {"sweep": rs[0]["sweep"], "seeds": [r["seed"] for r in rs], "warm_start": rs[0]["metrics"]["warm_start"], "dim": rs[0]["metrics"]["dim"], "arms": arms}
    return {"settings": out}


def byzantine(runs: list[dict], cfg: dict) -> dict:
    """Per strategy: the (aggregator, attack, fraction) table of relative loss decreases over
    seeds, and per aggregator the per-seed largest tolerated fraction."""
    out = {}
    for setting, rs in _by_setting(runs).items():
        table = []
        for i, row in enumerate(rs[0]["metrics"]["rows"]):
            per = [r["metrics"]["rows"][i] for r in rs]
            table.append(
                {
                    **{k: row[k] for k in ("aggregator", "attack", "fraction")},
                    "relative": _seeds([p["relative"] for p in per]),
                    "loss_decrease": _seeds([p["loss_decrease"] for p in per]),
                    "tolerated": [p["tolerated"] for p in per],
                    "stopped": [p["stopped"] for p in per if p["stopped"]],
                }
            )
        aggs = list(rs[0]["metrics"]["largest_tolerated"])
        out[setting] = {
            "sweep": rs[0]["sweep"],
            "seeds": [r["seed"] for r in rs],
            "strategy": rs[0]["metrics"]["strategy"],
            "lr": rs[0]["metrics"]["lr"],
            "table": table,
            "largest_tolerated": {agg: _seeds([r["metrics"]["largest_tolerated"][agg] for r in rs]) for agg in aggs},
        }
    return {"tolerance": cfg["tolerance"], "settings": out}


AGGREGATES: dict[str, Callable[[list[dict], dict], dict]] = {
    "e1_gradient_variability": gradient_variability,
    "e5_unbiased_estimator": unbiased_estimator,
    "e6_pogp_verification": pogp_verification,
    "e3_momentum_comparison": momentum_comparison,
    "e2_kd_ratio": kd_ratio,
    "e4_adc_energy": adc_energy,
    "e7_byzantine": byzantine,
}
"""Experiment key (paper_checks/experiments.yaml) -> its aggregation."""
