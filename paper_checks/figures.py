"""The pipeline's figures (seaborn): one per experiment, and one verdict figure per claim.

Figures read the data files only, so restyling a figure never reruns a measurement.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from paper_checks.stats import mean_ci  # noqa: E402
from paper_checks.files import atomic_write  # noqa: E402
from paper_checks.regions import Region  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
VERDICT_COLOURS = {"PASS": "#2a9d55", "FAIL": "#c0392b", "INCONCLUSIVE": "#d68910", "NOT RUN": "#7f8c8d"}


def t_interval(values) -> tuple[float, float]:
    """The verdicts' 95 % Student-t interval across seeds, as a seaborn `errorbar`.

    seaborn's own ("ci", 95) bootstraps, which with three seeds draws intervals far
    narrower than the ones the verdicts use; the figures must show the same intervals.
    """
    est = mean_ci(list(values))
    return (est.point, est.point) if est.low is None else (est.low, est.high)


def save_figure(fig, path: str | Path) -> None:
    """fig.savefig atomically (PNG, 150 dpi, no timestamp in the metadata)."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None}))


def _dims(scale: dict) -> str:
    """"model, D = ..." for a title; a sweep over models lists each."""
    dims = scale["D"] if isinstance(scale["D"], list) else [scale["D"]]
    models = scale["model"] if isinstance(scale["model"], list) else [scale["model"]]
    return f"{' / '.join(models)}, D = {' / '.join(f'{d:,}' for d in dims)}"


def _finish(fig, title: str, path: str | Path) -> None:
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


# --- experiments ----------------------------------------------------------------------


def gradient_variability(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E1: distribution of pairwise cosines per checkpoint; the three statistics with CIs."""
    exp, scale = data["experiment_data"], data["scale"]
    pairs, stats = [], []
    for setting, s in exp["settings"].items():
        for c in s["checkpoints"]:
            for seed, values in c["pairwise_cosines"].items():
                pairs += [{"setting": setting, "step": c["step"], "seed": seed, "cosine": v} for v in values]
            for key, label in (("mean_pairwise_cosine", "mean pairwise cosine"), ("variance_ratio", "variance ratio"), ("loo_reconstruction_cosine", "leave-one-out cosine")):
                stats += [{"setting": setting, "step": c["step"], "statistic": label, "value": v} for v in c[key]["per_seed"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.boxplot(pd.DataFrame(pairs), x="step", y="cosine", hue="setting", ax=axes[0], fliersize=1)
    if "C2" in claims:
        axes[0].axhline(claims["C2"]["expected"], ls="--", c="k", lw=1, label=f"C2 expects {claims['C2']['expected']:g}")
    axes[0].set(xlabel="SGD steps before the measurement", ylabel="cos(g_i, g_j), i < j", title="pairwise cosines of minibatch gradients")
    axes[0].legend(fontsize=7)
    sns.pointplot(pd.DataFrame(stats), x="step", y="value", hue="statistic", errorbar=t_interval, dodge=0.3, ax=axes[1], linestyle="none")
    axes[1].set(xlabel="SGD steps before the measurement", ylabel="value (mean over seeds, 95% CI)", title="summary statistics")
    _finish(fig, f"E1 gradient variability — {_dims(scale)}, {scale['corpus']}", path)


def unbiased_estimator(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E5: ||mean_N(g_hat) - g|| / ||g|| against N (log-log) with theory; r against N."""
    exp, scale = data["experiment_data"], data["scale"]
    rows, theory = [], []
    for s in exp["settings"].values():
        for p in s["points"]:
            for arm, name in (("estimator", f"K = {s['k']}: scale D"), ("control", f"K = {s['k']}: scale {exp['control_scale']} D (control)")):
                rows += [{"N": p["draws"], "estimator": name, "relative error": e, "r": r} for e, r in zip(p[arm]["relative_error"]["per_seed"], p[arm]["r"]["per_seed"])]
            theory.append({"N": p["draws"], "K": s["k"], "theory": p["theory_relative_error"]})
    df, th = pd.DataFrame(rows), pd.DataFrame(theory)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(df, x="N", y="relative error", hue="estimator", marker="o", errorbar=t_interval, ax=axes[0])
    for k, grp in th.groupby("K"):
        axes[0].plot(grp["N"], grp["theory"], ls="--", c="k", lw=1, label=f"theory sqrt((D-1)/(N K)), K = {k}")
    axes[0].axhline(0.01, ls=":", c="grey", lw=1, label="plan's threshold 0.01")
    axes[0].set(xscale="log", yscale="log", xlabel="N (independent estimates averaged)", ylabel="||mean(g_hat) - g|| / ||g||")
    axes[0].legend(fontsize=6)
    sns.lineplot(df, x="N", y="r", hue="estimator", marker="o", errorbar=t_interval, ax=axes[1], legend=False)
    if "C6" in claims:
        region = Region.parse(claims["C6"]["acceptance"])
        axes[1].axhspan(region.low, region.high, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"C6 acceptance {region}")
    axes[1].axhline(1.0, ls="--", c="k", lw=1)
    axes[1].set(xscale="log", yscale="log", xlabel="N", ylabel="r = ||mean - g||^2 / ((D-1)||g||^2 / NK)")
    _finish(fig, f"E5 unbiased estimator — {_dims(scale)}", path)


def pogp_verification(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E6: ECDF of |a - a*| per recomputation path (zeros shown at the floor); catch rates."""
    exp, scale = data["experiment_data"], data["scale"]
    floor = 1e-12
    rows = []
    for proofs in exp["proofs"].values():
        for name in ("verifier", "verifier_threads", "backprop", "float64"):
            zeros = sum(a == b for a, b in zip(proofs["worker"], proofs[name]))
            rows += [{"path": name, "diff": max(abs(a - b), floor), "zeros": zeros} for a, b in zip(proofs["worker"], proofs[name])]
    df = pd.DataFrame(rows)
    labels = {name: f"{name} ({int((grp['diff'] <= floor).sum())}/{len(grp)} exactly 0)" for name, grp in df.groupby("path")}
    df["path"] = df["path"].map(labels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.ecdfplot(df, x="diff", hue="path", log_scale=True, ax=axes[0])
    axes[0].axvline(exp["eps"], c="k", ls="--", lw=1)
    axes[0].text(exp["eps"], 0.02, f" eps = {exp['eps']:g}", fontsize=7)
    axes[0].axvline(exp["median_abs_a"]["point"], c="grey", ls=":", lw=1)
    axes[0].text(exp["median_abs_a"]["point"], 0.5, " median |a|", fontsize=7)
    axes[0].set(xlabel=f"|a - a*| (values <= {floor:g} drawn at {floor:g})", ylabel="fraction of proofs")
    ch = pd.DataFrame([{"p": c["p"], "q": c["q"], "theory": c["theory"], "rate": c["rate"]["point"], "low": c["rate"]["low"], "high": c["rate"]["high"]} for c in exp["cheaters"]])
    axes[1].errorbar(ch["theory"], ch["rate"], yerr=[ch["rate"] - ch["low"], ch["high"] - ch["rate"]], fmt="o", capsize=3)
    for _, c in ch.iterrows():
        axes[1].annotate(f"p={c.p:g}, q={c.q:g}", (c.theory, c.rate), fontsize=6, xytext=(4, -8), textcoords="offset points")
    axes[1].plot([0, 1], [0, 1], c="k", ls="--", lw=1)
    axes[1].set(xlim=(0, 1), ylim=(0, 1), xlabel="theory 1 - (1 - p)^(q m)", ylabel="empirical catch rate (95% Wilson CI)")
    _finish(fig, f"E6 PoGP verification — {_dims(scale)}", path)


FIGURES = {
    "e1_gradient_variability": gradient_variability,
    "e5_unbiased_estimator": unbiased_estimator,
    "e6_pogp_verification": pogp_verification,
}


# --- claims ---------------------------------------------------------------------------


def plot_verdict(record: dict, region_text: str, path: str | Path) -> None:
    """Per-seed values, the mean with its 95% CI, the acceptance region and the expected value."""
    region = Region.parse(region_text)
    m = record["measured"]
    rows = [(m["label"], m["per_seed"], m)]
    control = record["details"].get("negative_control")
    if control:
        rows.append((f"negative control (scale {control['scale']} D)", control["r"]["per_seed"], control["r"]))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.8 * len(rows)))
    finite = [v for _, vals, est in rows for v in [*vals, est.get("low"), est.get("high")] if v is not None and math.isfinite(v)]
    finite.append(record["expected"])
    finite += [x for x in (region.low, region.high) if math.isfinite(x)]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1e-6
    band_lo = region.low if math.isfinite(region.low) else lo - pad
    band_hi = region.high if math.isfinite(region.high) else hi + pad
    ax.axvspan(band_lo, band_hi, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"acceptance {region}")
    ax.axvline(record["expected"], c="k", ls="--", lw=1, label=f"expected {record['expected']:g}")
    for y, (label, values, est) in enumerate(rows):
        ax.plot(values, [y] * len(values), "o", c="grey", alpha=0.6, ms=4)
        if est.get("low") is not None:
            ax.errorbar([est["point"]], [y], xerr=[[est["point"] - est["low"]], [est["high"] - est["point"]]], fmt="D", c="k", capsize=4)
        elif math.isfinite(est["point"]):
            ax.plot([est["point"]], [y], "D", c="k")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(lo - pad, hi + pad)
    ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("per-seed values (dots), mean with 95% CI (diamond)")
    verdict = record["verdict"]
    ax.set_title(f"{record['claim']}: {verdict}", color=VERDICT_COLOURS.get(verdict, "k"), fontweight="bold")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_experiment(experiment: str, data: dict, claims: list[dict], path: str | Path) -> None:
    """The experiment's figure; `claims` are its claims' entries of claims.yaml (expected
    values and acceptance regions are drawn from them, never written here)."""
    FIGURES[experiment](data, {c["id"]: c for c in claims}, path)
