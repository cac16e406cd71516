"""E2, the K/D sweep, read for claim C1: does random projection need K/D >= 0.01?

Data, per K/D: the alignment cos(g_hat, g) on fixed gradients and its ratio to sqrt(K/D), and
the held-out loss decreases of HoloGrad-Random and SGD at tuned learning rates.  C1 (a) is the
ratio averaged over the grid up to `max_kd`; C1 (b) the smallest K/D whose loss decrease is
significantly above zero.  The figure draws both against K/D, with the theory and C1 (b)'s band.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, over_seeds, sweep_seeds
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.formatting import measured, num
from paper_checks.intervals import Estimate
from paper_checks.plotting import VERDICT_COLOURS, dims, finish, t_interval
from paper_checks.regions import Region


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per K/D setting: alignment and its ratio to sqrt(K/D), loss decreases, per seed."""
    out = {}
    for setting, rs in by_setting(runs).items():
        m = [r["metrics"] for r in rs]
        out[setting] = {
            **sweep_seeds(rs),
            **{key: m[0][key] for key in ("kd", "k", "dim", "sqrt_kd", "cos_theory", "lr")},
            "cos_mean": over_seeds([x["cos_mean"] for x in m]),
            "cos_ratio": over_seeds([x["cos_mean"] / x["sqrt_kd"] for x in m]),
            "loss_decrease": {arm: over_seeds([x["loss_decrease"][arm] for x in m]) for arm in m[0]["loss_decrease"]},
            "fraction_of_sgd": over_seeds([x["fraction_of_sgd"] for x in m]),
            "curves": {arm: {str(r["seed"]): r["metrics"]["curves"][arm] for r in rs} for arm in m[0]["curves"]},
            "stopped": [f"seed {r['seed']} {arm}: {why}" for r in rs for arm, why in r["metrics"]["stopped"].items()],
        }
    return {"settings": dict(sorted(out.items(), key=lambda item: item[1]["kd"]))}


def c1_kd_threshold(data: dict, select: dict, region: Region) -> list[Measurement]:
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
        values=[sum(s["cos_ratio"]["per_seed"][i] for s in within) / len(within) for i in range(len(seeds))]
        if within
        else [math.nan],
        seeds=seeds,
        label=f"mean of cos / sqrt(K/D) over K/D in {{{', '.join(format(s['kd'], '.3g') for s in within)}}}",
        details={
            "cos_by_kd": {
                str(s["kd"]): {
                    "k": s["k"],
                    "cos": estimate_of(s["cos_mean"]),
                    "sqrt_kd": s["sqrt_kd"],
                    "theory": s["cos_theory"],
                }
                for s in settings
            }
        },
        untestable=None if within else f"no K/D of the grid is <= {select.get('max_kd', 0.1)}",
    )
    significant = [
        s
        for s in settings
        if s["loss_decrease"]["random"]["low"] is not None and s["loss_decrease"]["random"]["low"] > 0
    ]
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
                str(s["kd"]): {
                    "k": s["k"],
                    "loss_decrease": estimate_of(s["loss_decrease"]["random"]),
                    "sgd": estimate_of(s["loss_decrease"]["sgd"]),
                    "fraction_of_sgd": estimate_of(s["fraction_of_sgd"]),
                    "lr": s["lr"],
                }
                for s in settings
            }
        },
        fixed=fixed,
        untestable=f"runs stopped early ({'; '.join(stopped)})" if stopped else None,
    )
    return [part_a, part_b]


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E2: cos(g_hat, g) against K/D with sqrt(K/D); loss decrease of Random-K against K/D."""
    exp, scale = data["experiment_data"], data["scale"]
    settings = list(exp["settings"].values())
    rows, train = [], []
    for s in settings:
        rows += [{"K/D": s["kd"], "cos(g_hat, g)": v} for v in s["cos_mean"]["per_seed"]]
        train += [
            {"K/D": s["kd"], "arm": "HoloGrad-Random", "held-out loss decrease": v}
            for v in s["loss_decrease"]["random"]["per_seed"]
            if v is not None
        ]
        train += [
            {"K/D": s["kd"], "arm": "full SGD", "held-out loss decrease": v}
            for v in s["loss_decrease"]["sgd"]["per_seed"]
            if v is not None
        ]
    kd = [s["kd"] for s in settings]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(
        pd.DataFrame(rows), x="K/D", y="cos(g_hat, g)", marker="o", errorbar=t_interval, ax=axes[0], label="measured"
    )
    axes[0].plot(kd, [s["sqrt_kd"] for s in settings], "k--", lw=1, label="sqrt(K/D)")
    axes[0].plot(kd, [s["cos_theory"] for s in settings], c="grey", ls=":", lw=1, label="sqrt(K/(K+D-1))")
    axes[0].set(xscale="log", yscale="log", title="alignment on fixed gradients")
    axes[0].legend(fontsize=7)
    sns.lineplot(
        pd.DataFrame(train), x="K/D", y="held-out loss decrease", hue="arm", marker="o", errorbar=t_interval, ax=axes[1]
    )
    axes[1].axhline(0, c="k", lw=0.8)
    if "C1" in claims:
        for part in [claims["C1"], *claims["C1"].get("also_requires", [])]:
            if part.get("part") == "b":
                region = Region.parse(part["acceptance"])
                axes[1].axvspan(
                    region.low,
                    region.high,
                    color=VERDICT_COLOURS["PASS"],
                    alpha=0.15,
                    label=f"C1 (b) acceptance {region}",
                )
    axes[1].set(xscale="log", title=f"training, {scale['steps']} steps, tuned learning rates")
    axes[1].legend(fontsize=7)
    finish(fig, f"E2 K/D sweep — {dims(scale)}", path)


def describe_c1(d: dict) -> list[str]:
    training = d["training_by_kd"]
    return [
        "- Alignment by K/D (K; mean cos; √(K/D); √(K/(K+D−1))): "
        + "; ".join(
            f"{float(kd):.3g}: K = {c['k']}, {num(c['cos']['point'])}, {c['sqrt_kd']:.4g}, {c['theory']:.4g}"
            for kd, c in d["cos_by_kd"].items()
        )
        + ".",
        "- Training by K/D (held-out loss decrease of HoloGrad-Random [95% CI]; of SGD; fraction of SGD's; tuned lr): "
        + "; ".join(
            f"{float(kd):.3g}: {measured(t['loss_decrease'])}; {num(t['sgd']['point'])}; "
            f"{num(t['fraction_of_sgd']['point'])}; lr {t['lr']['random']:.3g}"
            for kd, t in training.items()
        )
        + ".",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    k = int(cfg["k"]) if cfg.get("k") else max(1, round(cfg["kd"] * model.dim(cfg)))
    random, sgd = {"kind": "random", "k": k}, {"kind": "sgd"}
    tune = model.tuning(cfg, [(sgd, len(cfg["lr_grid"]["sgd"])), (random, len(cfg["lr_grid"]["random"]))])
    alignment = model.u.forward_backward(*model.shape(cfg)) + cfg["cos_draws"] * model.directions(cfg, k)
    job = model.u.startup() + alignment + model.run(cfg, random, cfg["steps"]) + model.run(cfg, sgd, cfg["steps"])
    return [("tuning", f"K={k}", tune), ("runs", f"K={k}", job)]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C1": Claim(measure=c1_kd_threshold, describe=describe_c1)}
)
