"""E5, the scale-corrected estimator, read for claim C6: is E[g_hat] = g?

Data, per K and number N of averaged estimates: r = ||mean_N(g_hat) - g||^2 over its unbiased
expectation (D - 1)||g||^2 / (N K), the relative error and the bias along g, for the
estimator and for a negative control scaled wrongly, per seed.  C6 reads r at the largest N
and is untestable unless the control fails.  The figure shows both against N with the theory.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, pick
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.formatting import measured
from paper_checks.intervals import mean_ci
from paper_checks.plotting import VERDICT_COLOURS, dims, finish, t_interval
from paper_checks.regions import Region
from paper_checks.verdict import FAIL, decide


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per setting (K) and draw count N: per-seed r, relative error and bias, with 95 % CIs."""
    out = {}
    for setting, rs in by_setting(runs).items():
        points = []
        for i, p in enumerate(rs[0]["metrics"]["points"]):
            entry = {
                "draws": p["draws"],
                "directions": p["directions"],
                "theory_relative_error": p["theory_relative_error"],
            }
            for arm in ("estimator", "control"):
                entry[arm] = {}
                for key in ("r", "relative_error", "bias_along_g"):
                    entry[arm][key] = over_seeds([r["metrics"]["points"][i][arm][key] for r in rs])
            points.append(entry)
        out[setting] = {
            "sweep": rs[0]["sweep"],
            "k": rs[0]["config"]["experiment"]["k"],
            "seeds": [r["seed"] for r in rs],
            "points": points,
        }
    return {"control_scale": cfg["control_scale"], "settings": out}


def c6_unbiased(data: dict, select: dict, region: Region) -> Measurement:
    exp = data["experiment_data"]
    name, setting = find_setting(exp, select)
    point = pick(setting["points"], "draws", select.get("draws", "largest"), "draw count")
    control = point["control"]["r"]
    control_verdict, control_reason = decide(mean_ci(control["per_seed"]), region)
    untestable = None
    if control_verdict != FAIL:
        untestable = (
            f"the negative control (scale {exp['control_scale']} D) came out {control_verdict}, "
            "so the experiment cannot tell a biased estimator from an unbiased one"
        )
    return Measurement(
        values=point["estimator"]["r"]["per_seed"],
        seeds=setting["seeds"],
        label=f"r at N = {point['draws']} draws of K = {setting['k']} ({point['directions']} directions)",
        details={
            "setting": name,
            "draws": point["draws"],
            "k": setting["k"],
            "relative_error": estimate_of(point["estimator"]["relative_error"]),
            "theory_relative_error": point["theory_relative_error"],
            "plan_metric_below_0.01": point["estimator"]["relative_error"]["point"] < 0.01,
            "bias_along_g": estimate_of(point["estimator"]["bias_along_g"]),
            "negative_control": {
                "scale": exp["control_scale"],
                "r": {k: control[k] for k in ("per_seed", "point", "low", "high", "n")},
                "verdict": control_verdict,
                "reason": control_reason,
            },
        },
        untestable=untestable,
    )


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E5: ||mean_N(g_hat) - g|| / ||g|| against N (log-log) with theory; r against N."""
    exp, scale = data["experiment_data"], data["scale"]
    rows, theory = [], []
    for s in exp["settings"].values():
        for p in s["points"]:
            for arm, name in (
                ("estimator", f"K = {s['k']}: scale D"),
                ("control", f"K = {s['k']}: scale {exp['control_scale']} D (control)"),
            ):
                rows += [
                    {"N": p["draws"], "estimator": name, "relative error": e, "r": r}
                    for e, r in zip(p[arm]["relative_error"]["per_seed"], p[arm]["r"]["per_seed"])
                ]
            theory.append({"N": p["draws"], "K": s["k"], "theory": p["theory_relative_error"]})
    df, th = pd.DataFrame(rows), pd.DataFrame(theory)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(df, x="N", y="relative error", hue="estimator", marker="o", errorbar=t_interval, ax=axes[0])
    for k, grp in th.groupby("K"):
        axes[0].plot(grp["N"], grp["theory"], ls="--", c="k", lw=1, label=f"theory sqrt((D-1)/(N K)), K = {k}")
    axes[0].axhline(0.01, ls=":", c="grey", lw=1, label="plan's threshold 0.01")
    axes[0].set(
        xscale="log", yscale="log", xlabel="N (independent estimates averaged)", ylabel="||mean(g_hat) - g|| / ||g||"
    )
    axes[0].legend(fontsize=6)
    sns.lineplot(df, x="N", y="r", hue="estimator", marker="o", errorbar=t_interval, ax=axes[1], legend=False)
    if "C6" in claims:
        region = Region.parse(claims["C6"]["acceptance"])
        axes[1].axhspan(
            region.low, region.high, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"C6 acceptance {region}"
        )
    axes[1].axhline(1.0, ls="--", c="k", lw=1)
    axes[1].set(xscale="log", yscale="log", xlabel="N", ylabel="r = ||mean - g||^2 / ((D-1)||g||^2 / NK)")
    finish(fig, f"E5 unbiased estimator — {dims(scale)}", path)


def describe_c6(d: dict) -> list[str]:
    nc = d["negative_control"]
    return [
        f"- Relative error ||mean(ĝ) − g||/||g|| at N = {d['draws']}, K = {d['k']}: {measured(d['relative_error'])}; "
        f"theory √((D−1)/(NK)) = {d['theory_relative_error']:.4g}. "
        f"The plan's literal criterion (< 0.01) {'holds' if d['plan_metric_below_0.01'] else 'does not hold'}: "
        "for an unbiased estimator it needs N K ≥ 10⁴ (D − 1) directions.",
        f"- Bias along g, ⟨mean(ĝ) − g, g⟩/||g||²: {measured(d['bias_along_g'])}.",
        f"- Negative control (scale {nc['scale']} D): r = {measured(nc['r'])} → **{nc['verdict']}** ({nc['reason']}).",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    job = (
        model.u.startup()
        + model.u.forward_backward(*model.shape(cfg))
        + max(cfg["draws"]) * model.directions(cfg, cfg["k"])
    )
    return [("runs", f"K={cfg['k']}", job)]


def controls_c6(details: dict) -> list[tuple[str, list, dict]]:
    """The negative control's r in C6's figure, below the estimator's (none if nothing was measured)."""
    control = details.get("negative_control")
    return (
        [(f"negative control (scale {control['scale']} D)", control["r"]["per_seed"], control["r"])] if control else []
    )


EXPERIMENT = Experiment(
    aggregate=aggregate,
    plot=plot,
    work=work,
    claims={"C6": Claim(measure=c6_unbiased, describe=describe_c6, controls=controls_c6)},
)
