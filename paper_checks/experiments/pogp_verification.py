"""E6, Proof-of-Gradient-Projection verification, read for claim C8: are proofs reproducible?

Data: per recomputation path (the verifier on the same device, with another thread count, by
backprop, in float64) the largest |a - a*| per seed; the median |a|; the recommended eps; per
cheating setting the pooled catch rate with its Wilson interval beside 1 - (1 - p)^(q m).  C8
reads the worst case of the verifier's difference.  The figure shows every path's ECDF.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import over_seeds
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.intervals import wilson_ci
from paper_checks.plotting import dims, finish
from paper_checks.regions import Region


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per-seed maxima of each difference with CIs; pooled catch rates with Wilson intervals."""
    rs = sorted(runs, key=lambda r: r["seed"])
    max_diff = {}
    for name in rs[0]["metrics"]["max_abs_diff"]:
        values = [r["metrics"]["max_abs_diff"][name] for r in rs]
        max_diff[name] = {"overall_max": max(values), **over_seeds(values)}
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
        "median_abs_a": over_seeds([r["metrics"]["median_abs_a"] for r in rs]),
        "recommended_eps": max(r["metrics"]["recommended_eps"] for r in rs),
        "cheaters": cheaters,
        "proofs": proofs,
    }


def c8_reproducible(data: dict, select: dict, region: Region) -> Measurement:
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
            "cheaters": [
                {k: c[k] for k in ("p", "q", "m", "invalid_per_step", "theory", "theory_in_ci", "false_rejections")}
                | {"rate": c["rate"]["point"]}
                for c in exp["cheaters"]
            ],
        },
    )


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E6: ECDF of |a - a*| per recomputation path (zeros shown at the floor); catch rates."""
    exp, scale = data["experiment_data"], data["scale"]
    floor = 1e-12
    rows = []
    for proofs in exp["proofs"].values():
        for name in ("verifier", "verifier_threads", "backprop", "float64"):
            zeros = sum(a == b for a, b in zip(proofs["worker"], proofs[name]))
            rows += [
                {"path": name, "diff": max(abs(a - b), floor), "zeros": zeros}
                for a, b in zip(proofs["worker"], proofs[name])
            ]
    df = pd.DataFrame(rows)
    labels = {
        name: f"{name} ({int((grp['diff'] <= floor).sum())}/{len(grp)} exactly 0)" for name, grp in df.groupby("path")
    }
    df["path"] = df["path"].map(labels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    sns.ecdfplot(df, x="diff", hue="path", log_scale=True, ax=axes[0], palette="colorblind", lw=1.6)
    sns.move_legend(axes[0], "upper left", bbox_to_anchor=(0.0, -0.2), fontsize=7, title_fontsize=7, frameon=False)
    axes[0].axvline(exp["eps"], c="k", ls="--", lw=1)
    axes[0].text(exp["eps"], 0.02, f" eps = {exp['eps']:g}", fontsize=7)
    axes[0].axvline(exp["median_abs_a"]["point"], c="grey", ls=":", lw=1)
    axes[0].text(exp["median_abs_a"]["point"], 0.5, " median |a|", fontsize=7)
    # the jump of a path whose every proof is exactly 0 sits at the floor: keep it off the axis' edge
    axes[0].set_xlim(floor / 10, 10 * max(exp["eps"], exp["median_abs_a"]["point"]))
    axes[0].set(xlabel=f"|a - a*| (values <= {floor:g} drawn at {floor:g})", ylabel="fraction of proofs")
    ch = pd.DataFrame(
        [
            {
                "p": c["p"],
                "q": c["q"],
                "theory": c["theory"],
                "rate": c["rate"]["point"],
                "low": c["rate"]["low"],
                "high": c["rate"]["high"],
            }
            for c in exp["cheaters"]
        ]
    )
    axes[1].errorbar(
        ch["theory"], ch["rate"], yerr=[ch["rate"] - ch["low"], ch["high"] - ch["rate"]], fmt="o", capsize=3
    )
    for _, c in ch.iterrows():
        axes[1].annotate(
            f"p={c.p:g}, q={c.q:g}", (c.theory, c.rate), fontsize=6, xytext=(4, -8), textcoords="offset points"
        )
    axes[1].plot([0, 1], [0, 1], c="k", ls="--", lw=1)
    axes[1].set(
        xlim=(0, 1), ylim=(0, 1), xlabel="theory 1 - (1 - p)^(q m)", ylabel="empirical catch rate (95% Wilson CI)"
    )
    finish(fig, f"E6 PoGP verification — {dims(scale)}", path)


def describe_c8(d: dict) -> list[str]:
    mx = d["max_abs_diff"]
    return [
        f"- Largest |a − a*| over all proofs: verifier (same device) {mx['verifier']:.3g}; "
        f"verifier with another thread count {mx['verifier_threads']:.3g}; "
        f"backprop dot product {mx['backprop']:.3g}; float64 model {mx['float64']:.3g}.",
        f"- Median |a| = {d['median_abs_a']:.3g}, so ε = {d['eps']:g} "
        f"is {d['eps'] / d['median_abs_a']:.3g}× a typical proof. "
        "Recommended ε (10× the largest honest cross-path difference, rounded up to a power of ten): "
        f"{d['recommended_eps']:.0e}.",
        "- Cheater catch rate vs 1 − (1 − p)^{n_bad}, n_bad = round(q m) invalid proofs of m per step: "
        + "; ".join(
            f"p = {c['p']:g}, q = {c['q']:g} (n_bad = {c['invalid_per_step']} of {c['m']}): "
            f"{c['rate']:.3f} vs {c['theory']:.3f} "
            f"({'within' if c['theory_in_ci'] else 'outside'} the 95% CI)"
            for c in d["cheaters"]
        )
        + f". Honest proofs rejected: {sum(c['false_rejections'] for c in d['cheaters'])}.",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    shape, dense = model.shape(cfg), model.dense_direction(cfg)
    proof = 3 * model.u.jvp(*shape) + model.u.jvp(*shape, float64=True) + model.u.forward_backward(*shape) + 4 * dense
    return [("runs", "base", model.u.startup() + cfg["n_proofs"] * proof)]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C8": Claim(measure=c8_reproducible, describe=describe_c8)}
)
