"""E4, the Adaptive Direction Codebook's captured energy, read for claim C5 (HoloGrad §4).

Data, per warm start (random, svd, bootstrap, none) and arm (one per codebook rank, and
ADC-off: random directions with the same K, after the same SGD steps in the bootstrap
setting), per seed:

- the captured energy per step on the true gradient, gamma_t = ||P_U g_t||^2 / ||g_t||^2 (the
  paper's definition), and on the step's update, gamma_hat_t = ||P_U g_hat_t||^2 /
  ||g_hat_t||^2 (the authors' measurement: 1 for an ADC step by construction);
- the trend of each (mean over the last fifth of the steps minus the first fifth):
  `energy_trend`, `energy_estimate_trend`;
- the mean of each over the main-phase (post-warm-up) steps: `gamma_gradient_mean`,
  `gamma_estimate_mean`;
- the held-out loss decrease, and ADC-on minus ADC-off (`advantage_over_off`).

C5 (a) reads the trend of gamma on `select.energy_of` (gradient: gamma_t; estimate:
gamma_hat_t) at the selected rank and warm start, C5 (b) that arm's advantage over ADC-off.
The figure shows gamma_t and gamma_hat_t per warm start, and the held-out losses.
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
from paper_checks.formatting import measured
from paper_checks.intervals import mean_ci
from paper_checks.plotting import dims, finish
from paper_checks.regions import Region

TRENDS = {"gradient": "energy_trend", "estimate": "energy_estimate_trend"}
"""C5 (a)'s statistic for each `select.energy_of`: the trend of gamma on g or on g_hat."""

OPTIONAL = ("energy_estimate_trend", "gamma_gradient_mean", "gamma_estimate_mean")
"""Per-arm statistics that runs of E4 from before gamma_hat was recorded lack."""

WARM_START_TITLES = {
    "random": "random warm-up, Oja from its ĝ",
    "svd": "U from SVD of the random warm-up's ĝ",
    "bootstrap": "SGD bootstrap, U from SVD of g (ADC-off: same SGD)",
    "none": "no warm-up, random U",
}


def _difference(a: float | None, b: float | None) -> float:
    """a - b; NaN if either is missing (JSON null: e.g. the loss decrease of a diverged run)."""
    return a - b if a is not None and b is not None else math.nan


def _in_every_arm(rs: list[dict], keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys that every arm of every run records."""
    return tuple(k for k in keys if all(k in arm for r in rs for arm in r["metrics"]["arms"].values()))


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per warm start and arm: per-seed trends and main-phase means of gamma (on g and on
    g_hat), loss decrease, and ADC-on minus ADC-off; the gamma series and held-out curves."""
    out = {}
    for setting, rs in by_setting(runs).items():
        series = {"energy": "energy", "curves": "curve"}
        if _in_every_arm(rs, ("energy_estimate",)):
            series["energy_estimate"] = "energy_estimate"
        arms = training_arms(
            rs,
            ("loss_decrease", "energy_trend", *_in_every_arm(rs, OPTIONAL)),
            series,
            _in_every_arm(rs, ("warm_lr", "warm_steps")),
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


def _estimate(arm: dict, key: str) -> dict | None:
    """The arm's estimate {point, low, high, n} of `key`; None where the data lacks it."""
    return estimate_of(arm[key]) if key in arm else None


def _rank_of(arm: str) -> int:
    """The codebook rank of an arm "adc_r<r>" (0 for ADC-off)."""
    return int(arm.removeprefix("adc_r")) if arm.startswith("adc_r") else 0


def c5_adc_learns(data: dict, select: dict, region: Region) -> list[Measurement]:
    """(a) trend of the captured energy of the selected rank and warm start, on the true
    gradient (select.energy_of = gradient, the default: the paper's gamma_t) or on g_hat
    (estimate: the authors' measurement); (b) its held-out loss decrease minus ADC-off's
    (random directions, same K, same warm-up steps in the bootstrap setting).

    Both parts report, for every reading, gamma's trend and main-phase mean on g and on g_hat."""
    energy_of = select.get("energy_of", "gradient")
    if energy_of not in TRENDS:
        raise ValueError(f"C5's select.energy_of must be one of {list(TRENDS)}, got {energy_of!r}")
    name, setting = find_setting(data["experiment_data"], select)
    arm_name = f"adc_r{select['rank']}"
    if arm_name not in setting["arms"]:
        raise SelectionError(
            f"the run has no codebook of rank {select['rank']} "
            f"(it has {[a for a in setting['arms'] if a != 'adc_off']})"
        )
    arm = setting["arms"][arm_name]
    key = TRENDS[energy_of]
    if key not in arm:
        raise SelectionError(f"the run of setting {name} recorded no gamma on g_hat ({key}): rerun E4")
    by_rank = {
        a: {
            "energy_trend": estimate_of(v["energy_trend"]),
            "energy_estimate_trend": _estimate(v, "energy_estimate_trend"),
            "gamma_gradient_mean": _estimate(v, "gamma_gradient_mean"),
            "gamma_estimate_mean": _estimate(v, "gamma_estimate_mean"),
            "advantage_over_off": estimate_of(v["advantage_over_off"]),
        }
        for a, v in sorted(setting["arms"].items(), key=lambda item: _rank_of(item[0]))
        if a != "adc_off"
    }
    untestable = stopped(setting["arms"], [arm_name, "adc_off"])
    common = {"setting": name, "rank": select["rank"], "warm_start": setting["warm_start"], "energy_of": energy_of}
    on = {"gradient": "g (true gradient)", "estimate": "g_hat (the step's estimate)"}[energy_of]
    return [
        Measurement(
            values=arm[key]["per_seed"], seeds=setting["seeds"],
            label=(
                f"gamma trend on {on} (last 20 % - first 20 % of the ADC steps after the warm-up), "
                f"rank {select['rank']}, warm start {setting['warm_start']}"
            ),
            details={
                **common,
                **{k: by_rank[arm_name][k] for k in ("energy_trend", "energy_estimate_trend")},
                **{k: by_rank[arm_name][k] for k in ("gamma_gradient_mean", "gamma_estimate_mean")},
                "by_rank": by_rank,
            },
            untestable=untestable,
        ),
        Measurement(
            values=arm["advantage_over_off"]["per_seed"], seeds=setting["seeds"],
            label=f"loss decrease ADC-on - ADC-off, rank {select['rank']}"
            + rerun_note(setting["arms"], [arm_name, "adc_off"]),
            details={
                "loss_decrease": {a: estimate_of(v["loss_decrease"]) for a, v in setting["arms"].items()},
                "lr": {a: v["lr"] for a, v in setting["arms"].items()},
                "warm_lr": {a: v.get("warm_lr") for a, v in setting["arms"].items()},
                "warm_steps": {a: v.get("warm_steps") for a, v in setting["arms"].items()},
            },
            untestable=untestable,
        ),
    ]  # fmt: skip


# --- figure -----------------------------------------------------------------------------------


def _mean_curve(per_seed: dict[str, list[tuple[int, float]]], stop: int | None) -> pd.DataFrame:
    """Mean over seeds per step, with the verdicts' t interval (low, high), up to step `stop`
    (None: every step)."""
    rows = [
        {"step": t, "value": v}
        for points in per_seed.values()
        for t, v in points
        if v is not None and math.isfinite(v) and (stop is None or t <= stop)
    ]
    if not rows:
        return pd.DataFrame(columns=["step", "mean", "low", "high"])
    out = []
    for t, group in pd.DataFrame(rows).groupby("step"):
        est = mean_ci(list(group["value"]))
        low, high = (est.point, est.point) if est.low is None else (est.low, est.high)
        out.append({"step": t, "mean": est.point, "low": low, "high": high})
    return pd.DataFrame(out)


def _stop_step(per_seed: dict[str, list[tuple[int, float]]], steps: int) -> int | None:
    """The last step an arm's mean is drawn to: the earliest last point of a seed whose
    series ends before `steps` (a run that stopped early); None if every seed ran through."""
    ends = [points[-1][0] for points in per_seed.values() if points and points[-1][0] < steps]
    return min(ends) if ends else None


def _limits(values: list[float], log: bool = False) -> tuple[float, float] | None:
    """Axis limits around `values` (the arms that ran), with a margin; None without values."""
    values = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not values:
        return None
    low, high = min(values), max(values)
    if log:
        return low / 1.5, high * 1.5
    pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
    return max(0.0, low - pad) if low >= 0 else low - pad, high + pad


def _draw(ax, frame: pd.DataFrame, label: str, colour, *, style="-", width=1.5, band=False, diverged=False) -> None:
    """One arm's mean curve (and t band clipped at 0); a diverged arm's label says so (its x
    is drawn by _mark_stops once the axis limits are set)."""
    if frame.empty:
        return
    label = f"{label} (diverged)" if diverged else label
    ax.plot(frame["step"], frame["mean"], style, color=colour, lw=width, label=label)
    if band:
        ax.fill_between(frame["step"], frame["low"].clip(lower=0), frame["high"].clip(lower=0), color=colour, alpha=0.2)


def _mark_stops(ax) -> None:
    """An x at the last point of every diverged arm's curve, held inside the axis limits (a
    spike above the arms that ran is marked at the top edge)."""
    low, high = ax.get_ylim()
    for line in list(ax.get_lines()):
        if line.get_label().endswith("(diverged)") and len(line.get_xdata()):
            y = min(max(float(line.get_ydata()[-1]), low), high)
            ax.plot(line.get_xdata()[-1], y, "x", color=line.get_color(), ms=9, mew=2, clip_on=False)


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E4: captured energy per rank and warm start, on g (solid) and on g_hat (dashed), the
    claim's rank drawn thicker (where the claims passed carry their select); held-out loss of
    ADC-on and ADC-off with the verdicts' t band (clipped at 0).  A diverged arm is drawn up
    to its stop, ends in an x and says so in its label; the axes are scaled to the arms that
    ran."""
    exp, scale = data["experiment_data"], data["scale"]
    rank = claims.get("C5", {}).get("select", {}).get("rank")  # the figure rule may pass no select
    chosen = f"adc_r{rank}" if rank is not None else None
    order = list(WARM_START_TITLES)
    settings = sorted(
        exp["settings"].values(), key=lambda s: order.index(s["warm_start"]) if s["warm_start"] in order else len(order)
    )
    n = len(settings)
    fig, axes = plt.subplots(2, n, figsize=(4.8 * n, 10), squeeze=False)
    for j, setting in enumerate(settings):
        arms = setting["arms"]
        ranks = sorted((a for a in arms if a != "adc_off"), key=lambda a: int(a.removeprefix("adc_r")))
        colours = dict(zip([*ranks, "adc_off"], sns.color_palette("colorblind", len(ranks) + 1)))
        steps = setting.get("config", {}).get("steps") or max(
            (p[-1][0] for a in arms.values() for p in a["curves"].values() if p), default=0
        )
        top, bottom = axes[0, j], axes[1, j]
        gamma_ran, loss_ran = [], []
        for name in ranks:
            arm, diverged = arms[name], bool(arms[name]["stopped"])
            for key, on, style in (("energy", "g", "-"), ("energy_estimate", "ĝ", "--")):
                if key not in arm:
                    continue
                per_seed = {s: list(enumerate(v)) for s, v in arm[key].items()}
                frame = _mean_curve(per_seed, _stop_step(per_seed, steps) if diverged else None)
                label = f"r = {name.removeprefix('adc_r')}, γ on {on}"
                width = 2.5 if name == chosen else 1.2
                _draw(top, frame, label, colours[name], style=style, width=width, diverged=diverged)
                if not diverged:
                    gamma_ran += list(frame["mean"])
        warm = max((a.get("warm_steps") or 0 for a in arms.values()), default=0)
        if warm:
            top.axvline(warm, color="grey", ls=":", lw=1, label=f"end of warm-up ({warm} steps)")
        top.set(yscale="log", xlabel="step", ylabel="captured energy γ (mean over seeds)")
        if (lim := _limits(gamma_ran, log=True)) is not None:
            top.set_ylim(*lim)
        top.set_title(f"{setting['warm_start']}: {WARM_START_TITLES.get(setting['warm_start'], '')}", fontsize=9)
        _mark_stops(top)
        if any("energy_estimate" in arms[name] for name in ranks):  # the dashed lines lie on each other at 1
            top.annotate("γ on ĝ: 1 at every rank (ĝ lies in span U)", (0.98, 0.9), xycoords="axes fraction",
                         ha="right", va="top", fontsize=6)  # fmt: skip
        top.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        for name in [*ranks, "adc_off"]:
            arm, diverged = arms[name], bool(arms[name]["stopped"])
            per_seed = {s: [(t, v) for t, v in c] for s, c in arm["curves"].items()}
            frame = _mean_curve(per_seed, _stop_step(per_seed, steps) if diverged else None)
            label = "ADC-off (random, same K)" if name == "adc_off" else f"ADC r = {name.removeprefix('adc_r')}"
            _draw(bottom, frame, label, colours[name], band=True, diverged=diverged)
            if not diverged:
                loss_ran += list(frame["low"].clip(lower=0)) + list(frame["high"])
        if warm:
            bottom.axvline(warm, color="grey", ls=":", lw=1)
        if (lim := _limits(loss_ran)) is not None:
            bottom.set_ylim(*lim)
        bottom.set(xlabel="step", ylabel="held-out loss (mean, 95 % t band)", title="held-out loss")
        _mark_stops(bottom)
        bottom.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    finish(fig, f"E4 ADC captured energy — {dims(scale)}", path)


# --- summary ----------------------------------------------------------------------------------


def _warm(d: dict, arm: str) -> str:
    """ ", warm-up lr x" for an arm whose warm-up had a rate of its own."""
    warm = d.get("warm_lr", {}).get(arm)
    return f", warm-up lr {warm:.3g}" if warm is not None else ""


def _m(estimate: dict | None) -> str:
    return measured(estimate) if estimate is not None else "not recorded"


def describe_c5(d: dict) -> list[str]:
    return [
        f"- γ of rank {d['rank']} ({d['warm_start']} warm start), mean over the post-warm-up steps: on the true "
        f"gradient g {_m(d.get('gamma_gradient_mean'))}; on the estimate ĝ {_m(d.get('gamma_estimate_mean'))}.  "
        f"Trend on g {_m(d.get('energy_trend'))}; on ĝ {_m(d.get('energy_estimate_trend'))} "
        f"(part a reads the trend on {'ĝ' if d.get('energy_of') == 'estimate' else 'g'}).",
        f"- Rank by rank ({d['warm_start']} warm start): "
        + "; ".join(
            f"r = {arm.removeprefix('adc_r')}: γ trend on g {_m(v['energy_trend'])}, on ĝ "
            f"{_m(v.get('energy_estimate_trend'))}; mean γ on g {_m(v.get('gamma_gradient_mean'))}, on ĝ "
            f"{_m(v.get('gamma_estimate_mean'))}; loss decrease ADC-on − ADC-off {_m(v['advantage_over_off'])}"
            for arm, v in d["by_rank"].items()
        )
        + ".",
        "- Held-out loss decrease per arm: "
        + "; ".join(
            f"{arm} {measured(v)} (lr {d['lr'][arm]:.3g}{_warm(d, arm)})" for arm, v in d["loss_decrease"].items()
        )
        + ".",
    ]


# --- work model -------------------------------------------------------------------------------


def _run_seconds(model, cfg: dict, arm: dict, steps: int) -> float:
    """One training run of `arm` for `steps` steps: its warm-up steps by the warm-up's kind of
    step (an ADC arm's random or SGD warm-up, ADC-off's SGD warm-up), the rest by its own,
    plus its held-out evaluations."""
    from holograd.experiments.adc_energy import warm_arm

    main = {k: v for k, v in arm.items() if k != "warmup"}
    if "warmup" in arm:
        warm, kind = min(steps, arm["warmup"]["steps"]), {"kind": arm["warmup"]["kind"]}
    elif arm["kind"] == "adc" and warm_arm(cfg) is not None:
        warm, kind = min(steps, cfg["warm_steps"]), warm_arm(cfg)
    else:
        return model.run(cfg, main, steps)
    if kind["kind"] == "random":
        kind = {**kind, "k": cfg["k"]}
    adc_only = {**main, "warm_start": "none"} if main["kind"] == "adc" else main
    return warm * model.step(cfg, kind, 1) + (steps - warm) * model.step(cfg, adc_only, 1) + model.evals(cfg, steps)


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)].  Tuning: SGD's
    grid (bootstrap), ADC-off's (after its SGD warm-up, bootstrap) and every rank's; the job:
    every arm, warm-ups counted by their own kind of step."""
    from holograd.experiments.adc_energy import arms, warm_arm

    grid, label = cfg["lr_grid"], cfg["warm_start"]
    plan = arms(cfg, warm_lr=1.0)  # the rates do not change the cost
    tuning = model.u.startup()
    if cfg["warm_start"] == "bootstrap":
        tuning += len(grid["sgd"]) * model.run(cfg, warm_arm(cfg), cfg["tune_steps"])
    for name, arm in plan.items():
        size = len(grid["random"] if name == "adc_off" else grid["adc"])
        tuning += size * _run_seconds(model, cfg, arm, cfg["tune_steps"])
    job = model.u.startup() + sum(_run_seconds(model, cfg, arm, cfg["steps"]) for arm in plan.values())
    return [("tuning", label, tuning), ("runs", label, job)]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C5": Claim(measure=c5_adc_learns, describe=describe_c5)}
)
