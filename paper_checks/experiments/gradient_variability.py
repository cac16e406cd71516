"""E1, gradient variability, read for claim C2: are minibatch gradients nearly orthogonal?

Data, per setting and SGD checkpoint: the mean pairwise cosine between the gradients of
independent minibatches, the variance ratio ||E g_B - g_B||^2 / ||g_B||^2 and the
leave-one-out reconstruction cosine, each per seed with its mean and 95 % CI.  C2 reads the
mean pairwise cosine at the selected checkpoint; the figure shows every cosine's distribution.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, pick
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.formatting import measured
from paper_checks.plotting import dims, finish, t_interval
from paper_checks.regions import Region


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per setting and checkpoint: per-seed values and mean with 95 % CI of each statistic."""
    out = {}
    for setting, rs in by_setting(runs).items():
        steps = [c["step"] for c in rs[0]["metrics"]["checkpoints"]]
        per_checkpoint = []
        for k, step in enumerate(steps):
            entry = {"step": step, "seeds": [r["seed"] for r in rs]}
            for key in ("mean_pairwise_cosine", "variance_ratio", "loo_reconstruction_cosine", "grad_norm_mean"):
                entry[key] = over_seeds([r["metrics"]["checkpoints"][k][key] for r in rs])
            entry["pairwise_cosines"] = {str(r["seed"]): r["metrics"]["checkpoints"][k]["pairwise_cosines"] for r in rs}
            per_checkpoint.append(entry)
        out[setting] = {"sweep": rs[0]["sweep"], "checkpoints": per_checkpoint}
    return {"settings": out}


def c2_pairwise_cosine(data: dict, select: dict, region: Region) -> Measurement:
    name, setting = find_setting(data["experiment_data"], select)
    checkpoint = pick(setting["checkpoints"], "step", select.get("checkpoint", "last"), "checkpoint at step")
    stat = checkpoint["mean_pairwise_cosine"]
    return Measurement(
        values=stat["per_seed"],
        seeds=checkpoint["seeds"],
        label=f"mean pairwise cosine at step {checkpoint['step']} ({name})",
        details={
            "setting": name,
            "checkpoint_step": checkpoint["step"],
            "variance_ratio": estimate_of(checkpoint["variance_ratio"]),
            "loo_reconstruction_cosine": estimate_of(checkpoint["loo_reconstruction_cosine"]),
            "all_checkpoints": {c["step"]: c["mean_pairwise_cosine"]["point"] for c in setting["checkpoints"]},
        },
    )


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E1: distribution of pairwise cosines per checkpoint; the three statistics with CIs."""
    exp, scale = data["experiment_data"], data["scale"]
    pairs, stats = [], []
    for setting, s in exp["settings"].items():
        for c in s["checkpoints"]:
            for seed, values in c["pairwise_cosines"].items():
                pairs += [{"setting": setting, "step": c["step"], "seed": seed, "cosine": v} for v in values]
            for key, label in (
                ("mean_pairwise_cosine", "mean pairwise cosine"),
                ("variance_ratio", "variance ratio"),
                ("loo_reconstruction_cosine", "leave-one-out cosine"),
            ):
                stats += [
                    {"setting": setting, "step": c["step"], "statistic": label, "value": v} for v in c[key]["per_seed"]
                ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.boxplot(pd.DataFrame(pairs), x="step", y="cosine", hue="setting", ax=axes[0], fliersize=1)
    if "C2" in claims:
        axes[0].axhline(
            claims["C2"]["expected"], ls="--", c="k", lw=1, label=f"C2 expects {claims['C2']['expected']:g}"
        )
    axes[0].set(
        xlabel="SGD steps before the measurement",
        ylabel="cos(g_i, g_j), i < j",
        title="pairwise cosines of minibatch gradients",
    )
    axes[0].legend(fontsize=7)
    sns.pointplot(
        pd.DataFrame(stats),
        x="step",
        y="value",
        hue="statistic",
        errorbar=t_interval,
        dodge=0.3,
        ax=axes[1],
        linestyle="none",
    )
    axes[1].set(
        xlabel="SGD steps before the measurement", ylabel="value (mean over seeds, 95% CI)", title="summary statistics"
    )
    finish(fig, f"E1 gradient variability — {dims(scale)}, {scale['corpus']}", path)


def describe_c2(d: dict) -> list[str]:
    return [
        "- Mean pairwise cosine by checkpoint (step: value): "
        f"{', '.join(f'{k}: {x:.4f}' for k, x in d['all_checkpoints'].items())}.",
        f"- Variance ratio ||E g_B − g_B||²/||g_B||² (plan: ≈ 0.93): {measured(d['variance_ratio'])}.",
        "- Leave-one-out reconstruction cosine (projection on the span of the other gradients): "
        f"{measured(d['loo_reconstruction_cosine'])}.",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    fb = model.u.forward_backward(*model.shape(cfg))
    job = model.u.startup() + (max(cfg["checkpoints"]) + len(set(cfg["checkpoints"])) * cfg["n_batches"]) * fb
    return [("runs", f"batch {cfg['batch_size']}", job)]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C2": Claim(measure=c2_pairwise_cosine, describe=describe_c2)}
)
