"""E3, Momentum-Centric against random directions, read for claims C3 and C4 (HoloGrad §5).

Data, per arm (SGD, random K = 1 and K = 64 with its seed-collapse control, the Momentum-
Centric variants and readings, SGD after the random warm-up): the tuned rate, the held-out
loss decrease over the whole run and over the steps after the arm's warm-up, the alignment
|cos(direction, g)| over the main-phase steps and over all steps (warm-up counted), per seed,
the loss curves and the communication per step.  Per seed:

    C3 ratio  = alignment(variant) / alignment(random K = 1)
    C4 ratio  = [L_v(T) - L_v(end)] / [L_b(T) - L_b(end)]

for every Momentum-Centric variant v and SGD baseline b, with T the variant's warm-up length
(0 without one) and L the held-out loss, so both arms are judged over the same steps; the
whole-run ratio (T = 0) is kept beside it.  C3 judges the momentum alignment itself (or the
ratio predicted at the paper's D); C4 judges the ratio of the mean decreases over seeds with
Fieller's interval, the per-seed ratios shown beside it.  The figure shows the loss curves (diverged arms up
to their stop, warm-up spans shaded) and each arm's alignment.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import (
    by_setting,
    estimate_of,
    find_setting,
    over_seeds,
    rerun_note,
    stopped,
    sweep_seeds,
    training_arms,
)
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured, num
from paper_checks.intervals import mean_ci, ratio_of_means_ci
from paper_checks.plotting import dims, finish
from paper_checks.regions import Region

AUTHORS_DIM = 16_704
"""D of the authors' "tiny" model behind the later revision's E3 table (1 layer, n_embd 32,
vocabulary 100, 32 positions): the D at which their random alignment 0.0063 was measured."""

AUTHORS_STEPS, AUTHORS_WARMUP = 1000, 50
"""The authors' momentum benchmark (the source of the later revision's 8x): 1000 steps, the
first 50 of them true-gradient SGD steps, its reported alignment a mean over all 1000 with
each SGD step counted at cos = 1."""


def authors_averaging(alignment: float) -> dict:
    """What the authors' benchmark would report for a momentum direction whose alignment after
    the warm-up is `alignment`: its mean over all their steps, the warm-up counted at cos = 1,

        A = (W + (S - W) alignment) / S,        W = 50, S = 1000,

    and A over their random "K = 64" alignment, which is one direction's (collapsed seeds):
    sqrt(2/(pi D)) at their D = 16,704.  Both are dominated by W / S = 0.05 whenever the
    alignment itself is far below it."""
    mean = (AUTHORS_WARMUP + (AUTHORS_STEPS - AUTHORS_WARMUP) * alignment) / AUTHORS_STEPS
    return {
        "alignment_after_warmup": alignment,
        "warmup_steps": AUTHORS_WARMUP,
        "steps": AUTHORS_STEPS,
        "alignment": mean,
        "ratio": mean / single_direction_alignment(AUTHORS_DIM),
    }


COMMUNICATION = ("scalars_per_step", "scalars_per_worker_per_step", "bytes_per_step")


def single_direction_alignment(dim: int) -> float:
    """E|cos(v, g)| ~ sqrt(2 / (pi D)) for a uniform random unit direction v in R^D."""
    return math.sqrt(2 / (math.pi * dim))


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b not in (None, 0) else math.nan


def _ratios(rs: list[dict], num: str, den: str, key: str) -> dict:
    """Per seed, arm `num`'s statistic `key` over arm `den`'s, with their mean and 95 % CI."""
    return over_seeds([_ratio(r["metrics"]["arms"][num][key], r["metrics"]["arms"][den][key]) for r in rs])


def _loss_at(curve: list, step: int) -> float:
    return next((loss for t, loss in curve if t == step and loss is not None), math.nan)


def decrease_from(arm: dict, start: int) -> float:
    """Held-out loss decrease L(start) - L(end) of one run of an arm (NaN if it stopped early,
    or if the loss was not measured at `start`); start = 0 is the run's loss_decrease."""
    if arm["stopped"]:
        return math.nan
    if start == 0:
        return math.nan if arm["loss_decrease"] is None else arm["loss_decrease"]
    last = arm["curve"][-1][1]
    return _loss_at(arm["curve"], start) - (math.nan if last is None else last)


def _decrease_ratio(rs: list[dict], variant: str, baseline: str) -> dict:
    """C4 per seed over the steps after the variant's warm-up, with both arms' decreases."""
    start = rs[0]["metrics"]["arms"][variant].get("warmup_steps", 0)
    v = [decrease_from(r["metrics"]["arms"][variant], start) for r in rs]
    b = [decrease_from(r["metrics"]["arms"][baseline], start) for r in rs]
    return {
        **over_seeds([_ratio(x, y) for x, y in zip(v, b)]),
        "from_step": start,
        "variant_decrease": over_seeds(v),
        "baseline_decrease": over_seeds(b),
        # what C4 judges: the ratio of the mean decreases, with Fieller's interval
        "ratio_of_means": ratio_of_means_ci(v, b).as_dict(),
    }


def variants_of(arms: dict) -> list[str]:
    """The Momentum-Centric arms (the variants C3 and C4 read)."""
    return [name for name in arms if name.startswith("momentum")]


def baselines_of(arms: dict) -> list[str]:
    """The SGD arms (C4's baselines)."""
    return [name for name in arms if name.startswith("sgd")]


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per arm: per-seed loss decreases and alignments; per seed, the C3 and C4 ratios."""
    out = {}
    for setting, rs in by_setting(runs).items():
        arms = training_arms(rs, ("loss_decrease", "alignment"), {"curves": "curve"}, COMMUNICATION)
        for name, arm in arms.items():
            per = [r["metrics"]["arms"][name] for r in rs]
            arm["warmup_steps"] = per[0].get("warmup_steps", 0)
            arm["warmup"] = per[0].get("warmup")
            if all("alignment_with_warmup" in p for p in per):
                arm["alignment_with_warmup"] = over_seeds([p["alignment_with_warmup"] for p in per])
            arm["loss_decrease_after_warmup"] = over_seeds([decrease_from(p, arm["warmup_steps"]) for p in per])
            scalars = arm["scalars_per_step"]
            arm["loss_decrease_per_scalar"] = arm["loss_decrease"]["point"] / scalars if scalars else None
        variants, baselines = variants_of(arms), baselines_of(arms)
        out[setting] = {
            **sweep_seeds(rs),
            "dim": rs[0]["metrics"]["dim"],
            "random_alignment_theory": rs[0]["metrics"]["random_alignment_theory"],
            "arms": arms,
            "alignment_ratio": {m: _ratios(rs, m, "random_k1", "alignment") for m in variants if "random_k1" in arms},
            "decrease_ratio": {m: {b: _decrease_ratio(rs, m, b) for b in baselines} for m in variants},
            "decrease_ratio_whole_run": {
                m: {b: _ratios(rs, m, b, "loss_decrease") for b in baselines} for m in variants
            },
        }
    return {"settings": out}


def _arm(arms: dict, name: str, role: str) -> dict:
    if name not in arms:
        raise SelectionError(f"the run has no arm {name!r} (the {role} this reading selects; it has {sorted(arms)})")
    return arms[name]


def c3_momentum_alignment(data: dict, select: dict, region: Region) -> Measurement:
    """Alignment ratio |cos(m_hat, g)| / |cos(v, g)| of select.variant over random K = 1, per
    seed, both averaged over their main-phase steps (after the warm-up or cold start)."""
    from holograd.models import param_count

    name, setting = find_setting(data["experiment_data"], select)
    variant = select.get("variant", "momentum")
    arms = setting["arms"]
    momentum, random = _arm(arms, variant, "variant")["alignment"], _arm(arms, "random_k1", "baseline")["alignment"]
    details = {
        "setting": name,
        "variant": variant,
        "target": select.get("target"),
        "D": setting["dim"],
        "warmup_steps": arms[variant].get("warmup_steps", 0),
        "alignment_momentum": estimate_of(momentum),
        "alignment_variants": {m: estimate_of(arms[m]["alignment"]) for m in variants_of(arms)},
        "alignment_random_k1": estimate_of(random),
        **{
            f"alignment_{arm}": estimate_of(arms[arm]["alignment"])
            for arm in ("random_k64", "random_k64_collapse")
            if arm in arms
        },
        "random_alignment_theory": setting["random_alignment_theory"],
        "random_alignment_theory_authors": {"D": AUTHORS_DIM, "value": single_direction_alignment(AUTHORS_DIM)},
    }
    if "alignment_with_warmup" in arms[variant]:
        details["alignment_with_warmup"] = estimate_of(arms[variant]["alignment_with_warmup"])
    if math.isfinite(momentum["point"]):  # our alignment put through the authors' averaging
        details["authors_averaging"] = authors_averaging(momentum["point"])
    paper = select.get("predict_for")
    paper_dim = None
    if paper:  # the random alignment shrinks like 1/sqrt(D): the ratio the paper's D would give
        paper_dim = paper.get("D") or param_count(paper["model"], paper["vocab_size"], paper["block_size"])
        details["predicted_for_paper"] = {
            **paper,
            "D": paper_dim,
            "ratio": momentum["point"] / single_direction_alignment(paper_dim),
        }
    ratio = setting["alignment_ratio"][variant]
    details["ratio_at_our_D"] = estimate_of(ratio)
    quantity = select.get("quantity", "ratio")
    untestable = stopped(arms, [variant, "random_k1"])
    if quantity == "alignment":  # the paper's 0.18 itself: no D in it but the model's
        values = momentum["per_seed"]
        label = f"|cos(m_hat, g)| of {variant}, mean over its main-phase steps (D = {setting['dim']:,})"
    elif quantity == "ratio_at_paper":
        if paper_dim is None:
            raise SelectionError("select.quantity ratio_at_paper needs select.predict_for, the paper's model or D")
        # our alignment over one random direction's at the paper's D: the per-seed ratio the
        # paper's model would show, a constant multiple of the alignment (its interval carries)
        random_there = single_direction_alignment(paper_dim)
        values = [None if a is None else a / random_there for a in momentum["per_seed"]]
        label = (
            f"alignment ratio {variant} / random K=1 predicted at the paper's D = {paper_dim:,}: our |cos(m_hat, g)| "
            f"(D = {setting['dim']:,}) over sqrt(2/(pi D)) = {random_there:.3g}"
        )
        untestable = stopped(arms, [variant])
    else:
        values = ratio["per_seed"]
        label = f"alignment ratio {variant} / random K=1 at our D = {setting['dim']:,}"
    label += rerun_note(arms, [variant, "random_k1"])
    return Measurement(values=values, seeds=setting["seeds"], label=label, details=details, untestable=untestable)


def c4_momentum_progress(data: dict, select: dict, region: Region) -> Measurement:
    """Mean held-out loss decrease of select.variant over select.baseline's, paired per seed,
    both over the steps after the variant's warm-up (the whole run without one), same weights
    and data: a ratio of means with Fieller's interval (intervals.ratio_of_means_ci), not a
    mean of per-seed ratios, which explode when one seed's SGD decrease is small."""
    name, setting = find_setting(data["experiment_data"], select)
    variant, baseline = select.get("variant", "momentum"), select.get("baseline", "sgd")
    arms = setting["arms"]
    _arm(arms, variant, "variant")
    _arm(arms, baseline, "baseline")
    ratio = setting["decrease_ratio"][variant][baseline]
    details = {
        "setting": name,
        "variant": variant,
        "baseline": baseline,
        "from_step": ratio["from_step"],
        "steps": max(t for curve in arms[variant]["curves"].values() for t, _ in curve),
        "decrease_after_warmup": {
            variant: estimate_of(ratio["variant_decrease"]),
            baseline: estimate_of(ratio["baseline_decrease"]),
        },
        "decrease_ratio_whole_run": estimate_of(setting["decrease_ratio_whole_run"][variant][baseline]),
        "loss_decrease": {arm: estimate_of(a["loss_decrease"]) for arm, a in arms.items()},
        "lr": {arm: a["lr"] for arm, a in arms.items()},
        "warmup": {arm: arms[arm].get("warmup") for arm in (variant, baseline)},
        "communication": {
            arm: {k: a[k] for k in (*COMMUNICATION, "loss_decrease_per_scalar")} for arm, a in arms.items()
        },
    }
    details["mean_of_per_seed_ratios"] = estimate_of(ratio)  # the statistic before issue 25, reported
    return Measurement(
        values=ratio["per_seed"],
        seeds=setting["seeds"],
        label=f"mean loss decrease of {variant} over {baseline}'s (paired; dots: per-seed ratios)"
        + (f" after step {ratio['from_step']}" if ratio["from_step"] else "")
        + rerun_note(arms, [variant, baseline]),
        details=details,
        untestable=stopped(arms, [variant, baseline]),
        reduce="ratio",
        pairs=(ratio["variant_decrease"]["per_seed"], ratio["baseline_decrease"]["per_seed"]),
    )


# --- figure ---------------------------------------------------------------------------------


def _curves(arm: dict) -> pd.DataFrame:
    """One arm's held-out losses, one row per (seed, step), finite values only."""
    rows = [
        {"seed": seed, "step": step, "loss": loss}
        for seed, curve in arm["curves"].items()
        for step, loss in curve
        if loss is not None and math.isfinite(loss)
    ]
    return pd.DataFrame(rows, columns=["seed", "step", "loss"])


def _mean_band(frame: pd.DataFrame, until: float) -> pd.DataFrame:
    """Per step up to `until`: mean over seeds and the 95 % t interval, clipped at 0."""
    rows = []
    for step, group in frame[frame["step"] <= until].groupby("step"):
        est = mean_ci(list(group["loss"]))
        low, high = (est.point, est.point) if est.low is None else (est.low, est.high)
        rows.append({"step": step, "mean": est.point, "low": max(low, 0.0), "high": high})
    return pd.DataFrame(rows, columns=["step", "mean", "low", "high"])


ARM_LABELS = {
    "momentum": "Momentum-Centric (protocol)",
    "momentum_alg3": "Algorithm 3 with sigma-hat",
    "momentum_authors_benchmark": "authors' benchmark (m from g)†",
    "momentum_oracle": "oracle (m from g)†",
    "momentum_random_warmup": "after a random warm-up",
    "momentum_sgd_warmup": "after an SGD warm-up†",
    "random_k1": "random, K = 1",
    "random_k64": "random, K = 64",
    "random_k64_collapse": "random K = 64, seeds collapsed (authors' generator)",
    "sgd": "SGD",
    "sgd_random_warmup": "SGD after the random warm-up",
}
"""The arms as the figure names them (the readings' words; † needs true gradients); an arm
not listed keeps its code name."""


def arm_label(name: str) -> str:
    return ARM_LABELS.get(name, name)


def arm_styles(names) -> dict[str, tuple]:
    """(colour, line style) per arm: seaborn's colour-blind palette, solid for the first ten
    arms and dashed after (no two arms share both)."""
    palette = sns.color_palette("colorblind", 10)
    return {n: (palette[i % 10], "-" if i < 10 else "--") for i, n in enumerate(names)}


def _loss_panel(ax, arms: dict) -> None:
    """Mean held-out loss per arm with its band; a diverged arm up to its earliest stop,
    marked with an x; the y-axis fitted to the arms that ran; warm-up spans shaded."""
    styles = arm_styles(arms)
    shown, limits = {}, []
    for name, arm in arms.items():
        frame = _curves(arm)
        if frame.empty:
            continue
        diverged = bool(arm["stopped"])
        ends = [max(t for t, _ in curve) for curve in arm["curves"].values() if curve]
        band = _mean_band(frame, min(ends) if diverged else math.inf)
        if band.empty:
            continue
        shown[name] = (band, diverged)
        if not diverged:
            limits += [band["low"].min(), band["high"].max()]
    if not limits:  # every arm diverged: fit the axis to all of them
        limits = [v for band, _ in shown.values() for v in (band["low"].min(), band["high"].max())]
    lo, hi = min(limits), max(limits)
    pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 0.1
    lo, hi = max(lo - pad, 0.0), hi + pad
    for span in sorted({a.get("warmup_steps", 0) for a in arms.values()} - {0}):
        names = [arm_label(n) for n, a in arms.items() if a.get("warmup_steps", 0) == span]
        ax.axvspan(0, span, color="grey", alpha=0.12, lw=0, label=f"warm-up, steps 0-{span}:\n" + ",\n".join(names))
    for name, (band, diverged) in shown.items():
        c, ls = styles[name]
        label = arm_label(name) + (" (diverged: x)" if diverged else "")
        ax.plot(band["step"], band["mean"], c=c, ls=ls, lw=1.2, label=label)
        if diverged:  # no band: the seeds' losses after a blow-up would cover the axis
            last = band.iloc[-1]
            ax.plot([last["step"]], [min(max(last["mean"], lo), hi)], "x", c=c, ms=8, mew=2)
        else:
            ax.fill_between(band["step"], band["low"], band["high"], color=c, alpha=0.15, lw=0)
    ax.set(ylim=(lo, hi), xlabel="step", ylabel="held-out loss", title="held-out loss (tuned rate per arm)")
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)


def _alignment_panel(ax, setting: dict, claims: dict[str, dict]) -> None:
    """Alignment per non-SGD arm (main-phase steps; all steps for warmed arms, hollow) on a
    log axis, with the single-direction theory sqrt(2/(pi D)) and the paper's value (C3's)."""
    arms = {n: a for n, a in setting["arms"].items() if n not in baselines_of(setting["arms"])}
    for x, arm in enumerate(arms.values()):
        if arm["stopped"]:  # its alignment is over the steps before it diverged: say so where it is drawn
            ax.annotate("diverged", (x, 1.0), xycoords=("data", "axes fraction"), ha="center", va="top",
                        fontsize=6, color="tab:red")  # fmt: skip
        values = [v for v in arm["alignment"]["per_seed"] if v is not None and v > 0]
        ax.plot([x] * len(values), values, "o", c="grey", alpha=0.5, ms=3)
        est = arm["alignment"]
        if est["point"] is not None and est["point"] > 0:
            if est["low"] is not None and est["low"] > 0:
                ax.errorbar([x], [est["point"]], yerr=[[est["point"] - est["low"]], [est["high"] - est["point"]]],
                            fmt="D", c="k", ms=4, capsize=3)  # fmt: skip
            else:
                ax.plot([x], [est["point"]], "D", c="k", ms=4)
        warm = arm.get("alignment_with_warmup")
        if arm.get("warmup_steps") and warm and warm["point"]:
            ax.plot([x + 0.2], [warm["point"]], "D", mfc="none", c="tab:red", ms=5)
    ax.plot([], [], "D", c="k", ms=4, label="after warm-up / cold start (mean, 95% CI)")
    ax.plot([], [], "D", mfc="none", c="tab:red", ms=5, label="all steps, warm-up counted")
    theory = setting["random_alignment_theory"]
    ax.axhline(theory, c="grey", ls=":", lw=1, label=f"sqrt(2/(pi D)) = {theory:.2g} (D = {setting['dim']:,})")
    if "C3" in claims:  # the paper's alignment, the quantity C3's primary reading judges
        ax.axhline(claims["C3"]["expected"], c="k", ls="--", lw=1, label=f"the paper's {claims['C3']['expected']:g}")
    ax.set_xticks(range(len(arms)), [arm_label(n) for n in arms], rotation=35, ha="right", fontsize=6)
    ax.set(yscale="log", ylabel="|cos(direction, g)| (mean over steps)", title="alignment of the projection direction")
    ratio = setting["alignment_ratio"].get("momentum", {}).get("point")
    ax.legend(fontsize=6, title=f"momentum / random K=1 = {num(ratio)}", title_fontsize=6)


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E3: held-out loss per arm (mean over seeds, 95% CI); alignment |cos(d, g)| per arm."""
    exp, scale = data["experiment_data"], data["scale"]
    setting = next(iter(exp["settings"].values()))
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    _loss_panel(axes[0], setting["arms"])
    _alignment_panel(axes[1], setting, claims)
    fig.text(0.5, -0.02, "† the arm needs true gradients, which the protocol never sends", ha="center", fontsize=7)
    finish(fig, f"E3 momentum vs random — {dims(scale)}", path)


# --- summary lines --------------------------------------------------------------------------


def describe_c3(d: dict) -> list[str]:
    others = "; ".join(
        f"{label} {measured(d[key])}"
        for key, label in (
            ("alignment_random_k1", "random K = 1"),
            ("alignment_random_k64", "random K = 64"),
            ("alignment_random_k64_collapse", "random K = 64 with collapsed seeds"),
        )
        if key in d
    )
    authors = d.get("random_alignment_theory_authors")
    lines = [
        f"- Alignment |cos(direction, g)| after the warm-up/cold start: {d['variant']} "
        f"{measured(d['alignment_momentum'])}; {others}. Theory for one uniform direction √(2/(πD)) = "
        f"{d['random_alignment_theory']:.3g} at D = {d['D']:,}"
        + (f", {authors['value']:.3g} at the authors' D = {authors['D']:,}." if authors else ".")
    ]
    if d.get("warmup_steps") and "alignment_with_warmup" in d:
        lines.append(
            f"- Averaged over the steps after the {d['warmup_steps']}-step warm-up it is "
            f"{num(d['alignment_momentum']['point'])}; with the warm-up steps counted it is "
            f"{measured(d['alignment_with_warmup'])}."
        )
    if "authors_averaging" in d and d.get("warmup_steps"):
        av = d["authors_averaging"]
        lines.append(
            f"- Put through the authors' averaging ({av['warmup_steps']} SGD steps at cos = 1 among "
            f"{av['steps']}), this alignment reads {av['alignment']:.3g}, and over one random direction at "
            f"their D {av['ratio']:.3g}x: the warm-up steps, not the momentum, make that ratio."
        )
    if "ratio_at_our_D" in d:
        lines.append(f"- The ratio over random K = 1 at our D = {d['D']:,}: {measured(d['ratio_at_our_D'])}.")
    if "predicted_for_paper" in d:
        pp = d["predicted_for_paper"]
        model = f"the paper's `{pp['model']}` model" if "model" in pp else "the authors' model"
        lines.append(
            f"- With this alignment, {model} (D = {pp['D']:,}) "
            f"would give a ratio of {pp['ratio']:.3g}: the ratio measures D as much as momentum."
        )
    return lines


def describe_c4(d: dict) -> list[str]:
    v, b = d["variant"], d["baseline"]
    after, comm = d["decrease_after_warmup"], d["communication"]
    span = f"steps {d['from_step']}-{d['steps']}" if d.get("from_step") else "the whole run"
    return [
        f"- Held-out loss decrease over {span}: {v} {measured(after[v])} (lr {d['lr'][v]:g}); "
        f"{b} {measured(after[b])} (lr {d['lr'][b]:g}). Whole-run ratio {measured(d['decrease_ratio_whole_run'])}.",
        f"- Communication per step: {v} {comm[v]['scalars_per_step']:,} scalars ({comm[v]['bytes_per_step']:,} B); "
        f"{b} {comm[b]['scalars_per_step']:,} scalars ({comm[b]['bytes_per_step']:,} B).",
    ]


# --- work model -----------------------------------------------------------------------------


def _run_seconds(model, cfg: dict, arm: dict, steps: int, union: int) -> float:
    """One training run of an arm, its warm-up steps priced as the warm-up's kind of step."""
    warm = arm.get("warmup")
    if not warm:
        return model.run(cfg, arm, steps, union)
    t = min(steps, warm["steps"])
    main = {k: v for k, v in arm.items() if k != "warmup"}
    warm_arm = {k: v for k, v in warm.items() if k not in ("steps", "lr")}
    return t * model.step(cfg, warm_arm, union) + (steps - t) * model.step(cfg, main, union) + model.evals(cfg, steps)


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]; the tuning job
    tunes every arm but the controls that mirror another arm's rate."""
    from holograd.experiments.momentum_comparison import MIRRORS, arms

    n, every = cfg["n_workers"], arms(cfg)
    tuning = model.u.startup() + sum(
        len(cfg["lr_grid"][name]) * _run_seconds(model, cfg, arm, cfg["tune_steps"], n)
        for name, arm in every.items()
        if name not in MIRRORS
    )
    job = model.u.startup() + sum(_run_seconds(model, cfg, arm, cfg["steps"], n) for arm in every.values())
    return [("tuning", "base", tuning), ("runs", "base", job)]


EXPERIMENT = Experiment(
    aggregate=aggregate,
    plot=plot,
    work=work,
    claims={
        "C3": Claim(measure=c3_momentum_alignment, describe=describe_c3),
        "C4": Claim(measure=c4_momentum_progress, describe=describe_c4),
    },
)
