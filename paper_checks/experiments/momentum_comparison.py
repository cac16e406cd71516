"""E3, Momentum-Centric against random directions, read for claims C3 and C4.

Data, per arm (SGD, random K = 1 and K = 64, the Momentum-Centric variants): the tuned rate,
held-out loss decrease and alignment |cos(direction, g)| per seed, the loss curves and the
communication per step; per seed the ratios C3 (alignment over random K = 1's) and C4 (loss
decrease over SGD's).  The figure shows the loss curves and each arm's alignment.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, stopped, sweep_seeds, training_arms
from paper_checks.experiment import Claim, Experiment, Measurement
from paper_checks.formatting import measured, num
from paper_checks.plotting import dims, finish, t_interval
from paper_checks.regions import Region


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b not in (None, 0) else math.nan


def _ratios(rs: list[dict], num: str, den: str, key: str) -> dict:
    """Per seed, arm `num`'s statistic `key` over arm `den`'s, with their mean and 95 % CI."""
    return over_seeds([_ratio(r["metrics"]["arms"][num][key], r["metrics"]["arms"][den][key]) for r in rs])


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per arm: per-seed loss decrease and alignment; per seed, the C3 and C4 ratios."""
    communication = ("scalars_per_step", "scalars_per_worker_per_step", "bytes_per_step")
    out = {}
    for setting, rs in by_setting(runs).items():
        arms = training_arms(rs, ("loss_decrease", "alignment"), {"curves": "curve"}, communication)
        for arm in arms.values():
            scalars = arm["scalars_per_step"]
            arm["loss_decrease_per_scalar"] = arm["loss_decrease"]["point"] / scalars if scalars else None
        out[setting] = {
            **sweep_seeds(rs),
            "dim": rs[0]["metrics"]["dim"],
            "random_alignment_theory": rs[0]["metrics"]["random_alignment_theory"],
            "arms": arms,
            "alignment_ratio": {m: _ratios(rs, m, "random_k1", "alignment") for m in ("momentum", "momentum_alg3")},
            "decrease_ratio": {m: _ratios(rs, m, "sgd", "loss_decrease") for m in ("momentum", "momentum_alg3")},
        }
    return {"settings": out}


def c3_momentum_alignment(data: dict, select: dict, region: Region) -> Measurement:
    """Alignment ratio |cos(m_hat, g)| / |cos(v, g)| of the named Momentum-Centric variant."""
    from holograd.models import param_count

    name, setting = find_setting(data["experiment_data"], select)
    variant = select.get("variant", "momentum")
    arms = setting["arms"]
    momentum, random = arms[variant]["alignment"], arms["random_k1"]["alignment"]
    details = {
        "setting": name,
        "variant": variant,
        "D": setting["dim"],
        "alignment_momentum": estimate_of(momentum),
        "alignment_random_k1": estimate_of(random),
        "random_alignment_theory": setting["random_alignment_theory"],
    }
    paper = select.get("predict_for")
    if paper:  # the random alignment shrinks like 1/sqrt(D): the ratio the paper's D would give
        paper_dim = param_count(paper["model"], paper["vocab_size"], paper["block_size"])
        details["predicted_for_paper"] = {
            **paper,
            "D": paper_dim,
            "ratio": momentum["point"] / math.sqrt(2 / (math.pi * paper_dim)),
        }
    ratio = setting["alignment_ratio"][variant]
    return Measurement(
        values=ratio["per_seed"], seeds=setting["seeds"],
        label=f"alignment ratio {variant} / random K=1 (D = {setting['dim']:,})",
        details=details, untestable=stopped(arms, [variant, "random_k1"]),
    )  # fmt: skip


def c4_momentum_progress(data: dict, select: dict, region: Region) -> Measurement:
    """Loss decrease of the named Momentum-Centric variant over full SGD's, same steps and data."""
    name, setting = find_setting(data["experiment_data"], select)
    variant = select.get("variant", "momentum")
    arms = setting["arms"]
    ratio = setting["decrease_ratio"][variant]
    details = {
        "setting": name,
        "variant": variant,
        "loss_decrease": {arm: estimate_of(a["loss_decrease"]) for arm, a in arms.items()},
        "lr": {arm: a["lr"] for arm, a in arms.items()},
        "communication": {
            arm: {
                k: a[k]
                for k in (
                    "scalars_per_step",
                    "scalars_per_worker_per_step",
                    "bytes_per_step",
                    "loss_decrease_per_scalar",
                )
            }
            for arm, a in arms.items()
        },
        "decrease_ratio_other_variant": {
            k: estimate_of(v) for k, v in setting["decrease_ratio"].items() if k != variant
        },
    }
    return Measurement(
        values=ratio["per_seed"],
        seeds=setting["seeds"],
        label=f"loss decrease {variant} / full SGD",
        details=details,
        untestable=stopped(arms, [variant, "sgd"]),
    )


def _curves(arms: dict) -> pd.DataFrame:
    """Held-out loss curves of every arm and seed, one row per (arm, seed, step)."""
    return pd.DataFrame(
        [
            {"arm": arm, "seed": seed, "step": step, "held-out loss": loss}
            for arm, a in arms.items()
            for seed, curve in a["curves"].items()
            for step, loss in curve
            if loss is not None
        ]
    )


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E3: held-out loss per arm (mean over seeds, 95% CI); alignment |cos(d, g)| per arm."""
    exp, scale = data["experiment_data"], data["scale"]
    setting = next(iter(exp["settings"].values()))
    arms = setting["arms"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(_curves(arms), x="step", y="held-out loss", hue="arm", errorbar=t_interval, ax=axes[0])
    axes[0].set(title="held-out loss (tuned learning rate per arm)")
    rows = [
        {"arm": arm, "alignment": v}
        for arm, a in arms.items()
        if arm != "sgd"
        for v in a["alignment"]["per_seed"]
        if v is not None
    ]
    sns.pointplot(pd.DataFrame(rows), x="arm", y="alignment", errorbar=t_interval, linestyle="none", ax=axes[1])
    axes[1].axhline(
        setting["random_alignment_theory"],
        c="grey",
        ls=":",
        lw=1,
        label=f"sqrt(2/(pi D)) = {setting['random_alignment_theory']:.2g}",
    )
    axes[1].set(
        yscale="log", ylabel="|cos(direction, g)| (mean over steps)", title="alignment of the projection direction"
    )
    ratio = setting["alignment_ratio"]["momentum"]["point"]
    axes[1].legend(fontsize=7, title=f"momentum / random K=1 = {ratio:.3g}", title_fontsize=7)
    axes[1].tick_params(axis="x", labelsize=7)
    finish(fig, f"E3 momentum vs random — {dims(scale)}", path)


def describe_c3(d: dict) -> list[str]:
    lines = [
        f"- Alignment |cos(direction, g)|: {d['variant']} {measured(d['alignment_momentum'])}; "
        f"random K = 1 {measured(d['alignment_random_k1'])} "
        f"(theory for a uniform direction √(2/(πD)) = {d['random_alignment_theory']:.3g}, D = {d['D']:,})."
    ]
    if "predicted_for_paper" in d:
        pp = d["predicted_for_paper"]
        lines.append(
            f"- With this momentum alignment, the paper's `{pp['model']}` model (D = {pp['D']:,}) "
            f"would give a ratio of {pp['ratio']:.3g}: the ratio measures D as much as momentum."
        )
    return lines


def describe_c4(d: dict) -> list[str]:
    ld, comm = d["loss_decrease"], d["communication"]
    return [
        "- Held-out loss decrease per arm (tuned learning rate): "
        + "; ".join(f"{arm} {measured(ld[arm])} (lr {d['lr'][arm]:g})" for arm in ld)
        + ".",
        "- Communication per step (scalars; bytes; loss decrease per scalar): "
        + "; ".join(
            f"{arm} {c['scalars_per_step']:,}; {c['bytes_per_step']:,} B; {num(c['loss_decrease_per_scalar'])}"
            for arm, c in comm.items()
        )
        + ".",
        "- Other reconstruction: "
        + "; ".join(f"{k}: {measured(v)}" for k, v in d["decrease_ratio_other_variant"].items())
        + ".",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    from holograd.experiments.momentum_comparison import arms

    n = cfg["n_workers"]
    grids = [(arm, len(cfg["lr_grid"][name])) for name, arm in arms(cfg).items()]
    job = model.u.startup() + sum(model.run(cfg, arm, cfg["steps"], n) for arm in arms(cfg).values())
    return [("tuning", "base", model.tuning(cfg, grids, n)), ("runs", "base", job)]


EXPERIMENT = Experiment(
    aggregate=aggregate,
    plot=plot,
    work=work,
    claims={
        "C3": Claim(measure=c3_momentum_alignment, describe=describe_c3),
        "C4": Claim(measure=c4_momentum_progress, describe=describe_c4),
    },
)
