"""E4, the Adaptive Direction Codebook's captured energy, read for claim C5.

Data, per warm start and arm (one per codebook rank, and ADC-off: random directions with the
same K): the captured energy gamma_t per step, its trend (last fifth minus first fifth), the
held-out loss decrease and ADC-on minus ADC-off, per seed.  C5 (a) reads the trend of the
selected rank, C5 (b) its advantage over ADC-off.  The figure shows gamma_t and the losses.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, stopped, sweep_seeds, training_arms
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured
from paper_checks.plotting import dims, finish, t_interval
from paper_checks.regions import Region


def _difference(a: float | None, b: float | None) -> float:
    """a - b; NaN if either is missing (JSON null: e.g. the loss decrease of a diverged run)."""
    return a - b if a is not None and b is not None else math.nan


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per warm start and arm: per-seed gamma trend, loss decrease, and ADC-on minus ADC-off."""
    out = {}
    for setting, rs in by_setting(runs).items():
        arms = training_arms(
            rs, ("loss_decrease", "energy_trend"), {"energy": "energy", "curves": "curve"}, ("warm_lr",)
        )
        for name, arm in arms.items():
            if name != "adc_off":
                per_seed = [r["metrics"]["arms"][name]["loss_decrease"] for r in rs]
                off = [r["metrics"]["arms"]["adc_off"]["loss_decrease"] for r in rs]
                arm["advantage_over_off"] = over_seeds([_difference(on, o) for on, o in zip(per_seed, off)])
        out[setting] = {
            **sweep_seeds(rs),
            "warm_start": rs[0]["metrics"]["warm_start"],
            "dim": rs[0]["metrics"]["dim"],
            "arms": arms,
        }
    return {"settings": out}


def c5_adc_learns(data: dict, select: dict, region: Region) -> list[Measurement]:
    """(a) trend of the captured energy gamma_t of the selected rank and warm start;
    (b) its held-out loss decrease minus ADC-off's (random directions, same K)."""
    name, setting = find_setting(data["experiment_data"], select)
    arm_name = f"adc_r{select['rank']}"
    if arm_name not in setting["arms"]:
        raise SelectionError(
            f"the run has no codebook of rank {select['rank']} "
            f"(it has {[a for a in setting['arms'] if a != 'adc_off']})"
        )
    arm = setting["arms"][arm_name]
    by_rank = {
        a: {"energy_trend": estimate_of(v["energy_trend"]), "advantage_over_off": estimate_of(v["advantage_over_off"])}
        for a, v in setting["arms"].items()
        if a != "adc_off"
    }
    untestable = stopped(setting["arms"], [arm_name, "adc_off"])
    common = {"setting": name, "rank": select["rank"], "warm_start": setting["warm_start"]}
    return [
        Measurement(
            values=arm["energy_trend"]["per_seed"], seeds=setting["seeds"],
            label=(
                f"gamma trend (last 20 % - first 20 % of steps), rank {select['rank']}, "
                f"warm start {setting['warm_start']}"
            ),
            details={**common, "by_rank": by_rank}, untestable=untestable,
        ),
        Measurement(
            values=arm["advantage_over_off"]["per_seed"], seeds=setting["seeds"],
            label=f"loss decrease ADC-on - ADC-off, rank {select['rank']}",
            details={
                "loss_decrease": {a: estimate_of(v["loss_decrease"]) for a, v in setting["arms"].items()},
                "lr": {a: v["lr"] for a, v in setting["arms"].items()},
                "warm_lr": {a: v.get("warm_lr") for a, v in setting["arms"].items()},
            },
            untestable=untestable,
        ),
    ]  # fmt: skip


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E4: captured energy gamma_t per rank and warm start; held-out loss ADC-on vs ADC-off."""
    exp, scale = data["experiment_data"], data["scale"]
    energy, curves = [], []
    for setting in exp["settings"].values():
        for arm, a in setting["arms"].items():
            for seed, values in a["energy"].items():
                energy += [
                    {
                        "warm start": setting["warm_start"],
                        "rank": arm.removeprefix("adc_r"),
                        "step": t,
                        "gamma": v,
                        "seed": seed,
                    }
                    for t, v in enumerate(values)
                ]
            for curve in a["curves"].values():
                curves += [
                    {"warm start": setting["warm_start"], "arm": arm, "step": t, "held-out loss": v}
                    for t, v in curve
                    if v is not None
                ]
    n = len(exp["settings"])
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 7), squeeze=False)
    for j, warm in enumerate(s["warm_start"] for s in exp["settings"].values()):
        e = pd.DataFrame([r for r in energy if r["warm start"] == warm])
        if not e.empty:  # mean over seeds only: a t band on a log axis reaches below 0 and hides the lines
            ranks = sorted(e["rank"].unique(), key=int)
            sns.lineplot(e, x="step", y="gamma", hue="rank", hue_order=ranks, errorbar=None, ax=axes[0, j])
        axes[0, j].set(yscale="log", ylabel="gamma (mean over seeds)", title=f"captured energy, warm start: {warm}")
        c = pd.DataFrame([r for r in curves if r["warm start"] == warm])
        arms = sorted(
            c["arm"].unique(), key=lambda a: (a == "adc_off", int(a.removeprefix("adc_r")) if a != "adc_off" else 0)
        )
        sns.lineplot(c, x="step", y="held-out loss", hue="arm", hue_order=arms, errorbar=t_interval, ax=axes[1, j])
        axes[1, j].set(title="held-out loss (ADC-off = random, same K)")
    finish(fig, f"E4 ADC captured energy — {dims(scale)}", path)


def _warm(d: dict, arm: str) -> str:
    """ ", warm-up lr x" for an ADC arm whose warm-up had a rate of its own."""
    warm = d.get("warm_lr", {}).get(arm)
    return f", warm-up lr {warm:.3g}" if warm is not None else ""


def describe_c5(d: dict) -> list[str]:
    return [
        f"- Rank by rank ({d['warm_start']} warm start; γ trend, loss decrease ADC-on − ADC-off): "
        + "; ".join(
            f"{arm.removeprefix('adc_r')}: {measured(v['energy_trend'])}, {measured(v['advantage_over_off'])}"
            for arm, v in d["by_rank"].items()
        )
        + ".",
        "- Held-out loss decrease per arm: "
        + "; ".join(
            f"{arm} {measured(v)} (lr {d['lr'][arm]:.3g}{_warm(d, arm)})" for arm, v in d["loss_decrease"].items()
        )
        + ".",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    from holograd.experiments.adc_energy import arms, warm_arm

    grid = cfg["lr_grid"]
    grids = [(arms(cfg)["adc_off"], len(grid["random"]))]
    if cfg["warm_start"] == "bootstrap":
        grids.append((warm_arm(cfg), len(grid["sgd"])))
    grids += [(arm, len(grid["adc"])) for arm in arms(cfg).values() if arm["kind"] == "adc"]
    job = model.u.startup() + sum(model.run(cfg, arm, cfg["steps"]) for arm in arms(cfg).values())
    return [("tuning", cfg["warm_start"], model.tuning(cfg, grids)), ("runs", cfg["warm_start"], job)]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C5": Claim(measure=c5_adc_learns, describe=describe_c5)}
)
