"""E1, gradient variability, read for claim C2: are minibatch gradients nearly orthogonal?

Data, per setting and SGD checkpoint: the mean pairwise cosine between the gradients of
independent minibatches, the variance ratio ||E g_B - g_B||^2 / ||g_B||^2 and the
leave-one-out reconstruction cosine, each per seed with its mean and 95 % CI.  C2 reads the
mean pairwise cosine of the setting its select.where names (a batch size) at the selected
checkpoint (init or last); the figure shows each batch size's cosines over the checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, pick
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.formatting import measured
from paper_checks.plotting import VERDICT_COLOURS, dims, finish, t_interval
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
    """The mean pairwise cosine c = mean_{i<j} cos(g_i, g_j) of the setting that select["where"]
    names (its batch size, say), at select["checkpoint"] ("init": step 0, "last", or a step),
    per seed (HoloGrad §6.1).  A setting or checkpoint the run lacks is a SelectionError."""
    name, setting = find_setting(data["experiment_data"], select)
    checkpoint = pick(setting["checkpoints"], "step", select.get("checkpoint", "last"), "checkpoint at step")
    stat = checkpoint["mean_pairwise_cosine"]
    return Measurement(
        values=stat["per_seed"],
        seeds=checkpoint["seeds"],
        label=(
            f"mean pairwise cosine at step {checkpoint['step']} ({name}: batches of "
            f"{setting['config'].get('batch_size')} x {setting['config'].get('block_size')} tokens)"
        ),
        details={
            "setting": name,
            **{key: setting["config"].get(key) for key in ("batch_size", "block_size", "model", "n_batches")},
            "checkpoint_step": checkpoint["step"],
            "variance_ratio": estimate_of(checkpoint["variance_ratio"]),
            "loo_reconstruction_cosine": estimate_of(checkpoint["loo_reconstruction_cosine"]),
            "all_checkpoints": {c["step"]: c["mean_pairwise_cosine"]["point"] for c in setting["checkpoints"]},
        },
    )


def _label(name: str, setting: dict) -> str:
    """A setting as the figure names it: its batch size and block size."""
    cfg = setting.get("config", {})
    return f"batch {cfg['batch_size']} x {cfg['block_size']} tokens" if "batch_size" in cfg else name


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E1: the distribution of pairwise cosines per checkpoint; the mean pairwise cosine over
    the checkpoints, one curve per batch size, with C2's expectation and acceptance band; the
    variance ratio and leave-one-out cosine, per batch size."""
    exp, scale = data["experiment_data"], data["scale"]
    pairs, means, others = [], [], []
    settings = sorted(exp["settings"].items(), key=lambda item: item[1].get("config", {}).get("batch_size", 0))
    for name, s in settings:
        label = _label(name, s)
        for c in s["checkpoints"]:
            for seed, values in c["pairwise_cosines"].items():
                pairs += [{"setting": label, "step": c["step"], "seed": seed, "cosine": v} for v in values]
            means += [{"setting": label, "step": c["step"], "value": v} for v in c["mean_pairwise_cosine"]["per_seed"]]
            for key, stat in (("variance_ratio", "variance ratio"), ("loo_reconstruction_cosine", "leave-one-out cos")):
                others += [
                    {"setting": label, "step": c["step"], "statistic": stat, "value": v} for v in c[key]["per_seed"]
                ]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    sns.boxplot(pd.DataFrame(pairs), x="step", y="cosine", hue="setting", ax=axes[0], fliersize=1)
    axes[0].set(
        xlabel="SGD steps before the measurement",
        ylabel="cos(g_i, g_j), i < j",
        title="pairwise cosines of minibatch gradients",
    )
    axes[0].legend(fontsize=7)
    sns.lineplot(pd.DataFrame(means), x="step", y="value", hue="setting", marker="o", errorbar=t_interval, ax=axes[1])
    if "C2" in claims:
        claim = claims["C2"]
        axes[1].axhline(claim["expected"], ls="--", c="k", lw=1, label=f"C2 expects {claim['expected']:g}")
        band = Region.parse(claim["acceptance"])
        axes[1].axhspan(band.low, band.high, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"C2 acceptance {band}")
    axes[1].set(
        xlabel="SGD steps before the measurement",
        ylabel="mean pairwise cosine (mean over seeds, 95% CI)",
        title="C2: mean pairwise cosine by batch size",
    )
    axes[1].legend(fontsize=7)
    sns.lineplot(
        pd.DataFrame(others),
        x="step",
        y="value",
        hue="setting",
        style="statistic",
        marker="o",
        errorbar=t_interval,
        ax=axes[2],
    )
    axes[2].set(
        xlabel="SGD steps before the measurement",
        ylabel="value (mean over seeds, 95% CI)",
        title="variance ratio and leave-one-out cosine",
    )
    axes[2].legend(fontsize=7)
    finish(fig, f"E1 gradient variability — {dims(scale)}, {scale['corpus']}", path)


def describe_c2(d: dict) -> list[str]:
    return [
        f"- Setting: {d['setting']} ({d.get('model')}, batches of {d.get('batch_size')} sequences of "
        f"{d.get('block_size')} tokens, {d.get('n_batches')} minibatch gradients), step {d['checkpoint_step']}.",
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
