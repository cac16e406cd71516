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


def _curves(arms: dict) -> pd.DataFrame:
    """Held-out loss curves of every arm and seed, one row per (arm, seed, step)."""
    return pd.DataFrame(
        [{"arm": arm, "seed": seed, "step": step, "held-out loss": loss} for arm, a in arms.items() for seed, curve in a["curves"].items() for step, loss in curve if loss is not None]
    )


def momentum_comparison(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E3: held-out loss per arm (mean over seeds, 95% CI); alignment |cos(d, g)| per arm."""
    exp, scale = data["experiment_data"], data["scale"]
    setting = next(iter(exp["settings"].values()))
    arms = setting["arms"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(_curves(arms), x="step", y="held-out loss", hue="arm", errorbar=t_interval, ax=axes[0])
    axes[0].set(title="held-out loss (tuned learning rate per arm)")
    rows = [{"arm": arm, "alignment": v} for arm, a in arms.items() if arm != "sgd" for v in a["alignment"]["per_seed"] if v is not None]
    sns.pointplot(pd.DataFrame(rows), x="arm", y="alignment", errorbar=t_interval, linestyle="none", ax=axes[1])
    axes[1].axhline(setting["random_alignment_theory"], c="grey", ls=":", lw=1, label=f"sqrt(2/(pi D)) = {setting['random_alignment_theory']:.2g}")
    axes[1].set(yscale="log", ylabel="|cos(direction, g)| (mean over steps)", title="alignment of the projection direction")
    ratio = setting["alignment_ratio"]["momentum"]["point"]
    axes[1].legend(fontsize=7, title=f"momentum / random K=1 = {ratio:.3g}", title_fontsize=7)
    axes[1].tick_params(axis="x", labelsize=7)
    _finish(fig, f"E3 momentum vs random — {_dims(scale)}", path)


def kd_ratio(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E2: cos(g_hat, g) against K/D with sqrt(K/D); loss decrease of Random-K against K/D."""
    exp, scale = data["experiment_data"], data["scale"]
    settings = list(exp["settings"].values())
    rows, train = [], []
    for s in settings:
        rows += [{"K/D": s["kd"], "cos(g_hat, g)": v} for v in s["cos_mean"]["per_seed"]]
        train += [{"K/D": s["kd"], "arm": "HoloGrad-Random", "held-out loss decrease": v} for v in s["loss_decrease"]["random"]["per_seed"] if v is not None]
        train += [{"K/D": s["kd"], "arm": "full SGD", "held-out loss decrease": v} for v in s["loss_decrease"]["sgd"]["per_seed"] if v is not None]
    kd = [s["kd"] for s in settings]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(pd.DataFrame(rows), x="K/D", y="cos(g_hat, g)", marker="o", errorbar=t_interval, ax=axes[0], label="measured")
    axes[0].plot(kd, [s["sqrt_kd"] for s in settings], "k--", lw=1, label="sqrt(K/D)")
    axes[0].plot(kd, [s["cos_theory"] for s in settings], c="grey", ls=":", lw=1, label="sqrt(K/(K+D-1))")
    axes[0].set(xscale="log", yscale="log", title="alignment on fixed gradients")
    axes[0].legend(fontsize=7)
    sns.lineplot(pd.DataFrame(train), x="K/D", y="held-out loss decrease", hue="arm", marker="o", errorbar=t_interval, ax=axes[1])
    axes[1].axhline(0, c="k", lw=0.8)
    if "C1" in claims:
        for part in [claims["C1"], *claims["C1"].get("also_requires", [])]:
            if part.get("part") == "b":
                region = Region.parse(part["acceptance"])
                axes[1].axvspan(region.low, region.high, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"C1 (b) acceptance {region}")
    axes[1].set(xscale="log", title=f"training, {scale['steps']} steps, tuned learning rates")
    axes[1].legend(fontsize=7)
    _finish(fig, f"E2 K/D sweep — {_dims(scale)}", path)


def adc_energy(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E4: captured energy gamma_t per rank and warm start; held-out loss ADC-on vs ADC-off."""
    exp, scale = data["experiment_data"], data["scale"]
    energy, curves = [], []
    for setting in exp["settings"].values():
        for arm, a in setting["arms"].items():
            for seed, values in a["energy"].items():
                energy += [{"warm start": setting["warm_start"], "rank": arm.removeprefix("adc_r"), "step": t, "gamma": v, "seed": seed} for t, v in enumerate(values)]
            for seed, curve in a["curves"].items():
                curves += [{"warm start": setting["warm_start"], "arm": arm, "step": t, "held-out loss": v} for t, v in curve if v is not None]
    n = len(exp["settings"])
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 7), squeeze=False)
    for j, warm in enumerate(s["warm_start"] for s in exp["settings"].values()):
        e = pd.DataFrame([r for r in energy if r["warm start"] == warm])
        if not e.empty:  # mean over seeds only: a t band on a log axis reaches below 0 and hides the lines
            ranks = sorted(e["rank"].unique(), key=int)
            sns.lineplot(e, x="step", y="gamma", hue="rank", hue_order=ranks, errorbar=None, ax=axes[0, j])
        axes[0, j].set(yscale="log", ylabel="gamma (mean over seeds)", title=f"captured energy, warm start: {warm}")
        c = pd.DataFrame([r for r in curves if r["warm start"] == warm])
        arms = sorted(c["arm"].unique(), key=lambda a: (a == "adc_off", int(a.removeprefix("adc_r")) if a != "adc_off" else 0))
        sns.lineplot(c, x="step", y="held-out loss", hue="arm", hue_order=arms, errorbar=t_interval, ax=axes[1, j])
        axes[1, j].set(title="held-out loss (ADC-off = random, same K)")
    _finish(fig, f"E4 ADC captured energy — {_dims(scale)}", path)


def byzantine(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E7: heatmap of loss decrease relative to the clean run, attack x fraction, per aggregator.

    A cell whose runs stopped on a non-finite loss reads "diverged"; a panel whose clean run
    did not learn (its CI reaches 0) says so, since its ratios then divide by noise."""
    exp, scale = data["experiment_data"], data["scale"]
    panels = [(s["strategy"], agg) for s in exp["settings"].values() for agg in s["largest_tolerated"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6), squeeze=False)
    for ax, (strategy, agg) in zip(axes[0], panels):
        setting = next(s for s in exp["settings"].values() if s["strategy"] == strategy)
        table = [r for r in setting["table"] if r["aggregator"] == agg]
        rows = [
            {"attack": r["attack"], "fraction": r["fraction"], "relative": r["relative"]["point"], "label": "diverged" if r["stopped"] else f"{r['relative']['point']:.2f}"}
            for r in table
            if r["attack"] != "none"
        ]
        frame = pd.DataFrame(rows)
        grid = frame.pivot(index="attack", columns="fraction", values="relative").astype(float)
        labels = frame.pivot(index="attack", columns="fraction", values="label")
        sns.heatmap(grid, annot=labels, fmt="", vmin=0, vmax=1.2, cmap="RdYlGn", cbar=False, ax=ax, annot_kws={"fontsize": 7})
        ax.set_facecolor("0.8")  # cells without a value (diverged runs) show grey; seaborn leaves them unlabelled
        for i, attack in enumerate(grid.index):
            for j, fraction in enumerate(grid.columns):
                if math.isnan(grid.loc[attack, fraction]):
                    ax.text(j + 0.5, i + 0.5, labels.loc[attack, fraction], ha="center", va="center", fontsize=7)
        clean = next(r["loss_decrease"] for r in table if r["attack"] == "none")
        learns = clean["low"] is not None and clean["low"] > 0
        note = f"clean decrease {clean['point']:.3g}" + ("" if learns else " (not > 0: ratios are noise)")
        tolerated = setting["largest_tolerated"][agg]["point"]
        ax.set_title(f"{strategy}, {agg}\n{note}\nlargest tolerated f: {tolerated:.2g}", fontsize=8)
    fig.text(0.5, -0.02, f"cells: held-out loss decrease / clean run's (mean over seeds); tolerated: >= {exp['tolerance']:g}", ha="center", fontsize=8)
    _finish(fig, f"E7 Byzantine tolerance — {_dims(scale)}", path)


FIGURES = {
    "e1_gradient_variability": gradient_variability,
    "e5_unbiased_estimator": unbiased_estimator,
    "e6_pogp_verification": pogp_verification,
    "e3_momentum_comparison": momentum_comparison,
    "e2_kd_ratio": kd_ratio,
    "e4_adc_energy": adc_energy,
    "e7_byzantine": byzantine,
}


# --- claims ---------------------------------------------------------------------------


def distributed_protocol(data: dict, path: str | Path) -> None:
    """E8: training and held-out loss of the run across processes; bytes per worker and step
    against a full-gradient all-reduce (log scale); proofs kept and workers active per step."""
    run, comm = data["config"], data["communication"]
    steps = pd.DataFrame(data["records"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    sns.lineplot(steps, x="step", y="loss", ax=axes[0], label="training (coordinator)")
    held_out = steps.dropna(subset=["eval_loss"]) if "eval_loss" in steps else steps.iloc[0:0]
    if data.get("final_eval_loss") is not None:  # after the last step
        held_out = pd.concat([held_out, pd.DataFrame([{"step": run["steps"], "eval_loss": data["final_eval_loss"]}])])
    if len(held_out):
        sns.scatterplot(held_out, x="step", y="eval_loss", ax=axes[0], color="C1", label="held-out")
    axes[0].set(ylabel="loss", title="loss")
    bars = pd.DataFrame(
        [
            {"message": "proofs (index + scalar)", "bytes": comm["proof_bytes_per_worker_per_step"]},
            {"message": "verdict (verifier)", "bytes": comm["verdict_bytes_per_step"]},
            {"message": "all-reduce 4·D", "bytes": comm["allreduce_bytes_per_worker_per_step"]},
        ]
    )
    sns.barplot(bars, x="message", y="bytes", ax=axes[1], color="C0")
    axes[1].set(yscale="log", xlabel="", title=f"bytes per worker per step ({_num_text(comm['reduction'])}× fewer)")
    axes[1].tick_params(axis="x", labelsize=7)
    axes[2].step(steps["step"], steps["kept"], where="post", label="proofs kept")
    axes[2].step(steps["step"], steps["active_workers"], where="post", label="workers not slashed")
    ledger = data["verifier"]
    axes[2].set(xlabel="step", title=f"verifier: {ledger['checked']} checked, {ledger['rejected']} rejected, slashed {ledger['slashed'] or 'none'}")
    axes[2].set_ylim(bottom=0)
    axes[2].legend(fontsize=7)
    byz = ", ".join(map(str, run["byzantine"]["ranks"])) or "none"
    _finish(fig, f"E8 distributed protocol — {run['workers']} processes ({data['backend']}), {run['strategy']}, {run['model']} D = {data['D']:,}, Byzantine ranks {byz}", path)


def _num_text(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _verdict_axis(ax, part: dict, rows: list[tuple[str, list, dict]]) -> None:
    """One part of a claim: per-seed values, estimate with CI, acceptance region, expected value."""
    region = Region.parse(part["acceptance"])
    finite = [v for _, vals, est in rows for v in [*vals, est.get("point"), est.get("low"), est.get("high")] if v is not None and math.isfinite(v)]
    finite += [part["expected"], *(x for x in (region.low, region.high) if math.isfinite(x))]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1e-6
    band_lo = region.low if math.isfinite(region.low) else lo - pad
    band_hi = region.high if math.isfinite(region.high) else hi + pad
    ax.axvspan(band_lo, band_hi, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"acceptance {region}")
    ax.axvline(part["expected"], c="k", ls="--", lw=1, label=f"expected {part['expected']:g}")
    for y, (_, values, est) in enumerate(rows):
        ax.plot([v for v in values if v is not None], [y] * len([v for v in values if v is not None]), "o", c="grey", alpha=0.6, ms=4)
        point, low, high = est.get("point"), est.get("low"), est.get("high")
        if low is not None and high is not None and math.isfinite(high):
            ax.errorbar([point], [y], xerr=[[point - low], [high - point]], fmt="D", c="k", capsize=4)
        elif point is not None and math.isfinite(point):
            ax.plot([point], [y], "D", c="k")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(lo - pad, hi + pad)
    ax.legend(fontsize=7, loc="best")
    verdict = part["verdict"]
    title = f"part {part['part']}: {verdict}" if part["part"] else verdict
    ax.set_title(title, fontsize=8, color=VERDICT_COLOURS.get(verdict, "k"))


def plot_verdict(record: dict, path: str | Path) -> None:
    """Per part of the claim: per-seed values (dots), the estimate with its 95% CI (diamond),
    the acceptance region and the expected value; a negative control in its own row."""
    parts = record["parts"]
    all_rows = []
    for part in parts:
        m = part["measured"]
        rows = [(m["label"], m["per_seed"], m)]
        control = part["details"].get("negative_control")
        if control:
            rows.append((f"negative control (scale {control['scale']} D)", control["r"]["per_seed"], control["r"]))
        all_rows.append(rows)
    heights = [0.6 + 0.8 * len(rows) for rows in all_rows]
    fig, axes = plt.subplots(len(parts), 1, figsize=(8, 0.6 + sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, part, rows in zip(axes[:, 0], parts, all_rows):
        _verdict_axis(ax, part, rows)
    axes[-1, 0].set_xlabel("per-seed values (dots), estimate with 95% CI (diamond)")
    verdict = record["verdict"]
    fig.suptitle(f"{record['claim']}: {verdict}", color=VERDICT_COLOURS.get(verdict, "k"), fontweight="bold")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_experiment(experiment: str, data: dict, claims: list[dict], path: str | Path) -> None:
    """The experiment's figure; `claims` are its claims' entries of claims.yaml (expected
    values and acceptance regions are drawn from them, never written here)."""
    FIGURES[experiment](data, {c["id"]: c for c in claims}, path)
