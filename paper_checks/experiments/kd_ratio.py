"""E2, the K/D sweep, read for claim C1: does random projection need K/D >= 0.01?

Data, per K/D: the alignment cos(g_hat, g) on fixed gradients and its ratio to sqrt(K/D), and
the held-out loss decreases of HoloGrad-Random at its tuned rate (`random`), of HoloGrad-Random
at one fixed rate with ||g_hat|| clipped to 1 (`random_fixed`, when the config has fixed_lr) and
of SGD at its tuned rate, each per seed, with each random arm's per-seed ratio to SGD's.

C1 (a) is the alignment ratio averaged over the grid up to `max_kd`.  C1 (b) is an estimate of
the K/D at which random projection trains, read as reaching a fraction F of SGD's progress
(F = select.sgd_fraction, pre-registered per reading in claims.yaml).  Per seed s and grid K/D,
the paired fraction

    q_s(K/D) = decrease_s(arm) / decrease_s(SGD)

and the seed's crossing: the K/D from which on q_s stays at or above F, interpolated linearly
in log K/D between the last grid value below F and the next (crossing); a seed already at F at
the grid's smallest K/D, or not at F at its largest, lies beyond the grid and enters as a
stand-in a decade beyond it.  The verdict reads the crossings' median over seeds with its
order-statistic (sign test) interval, which a stand-in moves only beyond the grid.  The
reading's select.rate picks the arm (tuned -> random, fixed -> random_fixed).  The figure draws
the alignment, the decreases and each arm's fraction of SGD's with every reading's crossing.
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
    over_seeds,
    rate_at_edge,
    rerun_entry,
    rerun_flag,
    sweep_seeds,
)
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured, num
from paper_checks.intervals import mean_ci, median_ci
from paper_checks.plotting import VERDICT_COLOURS, dims, finish, t_interval
from paper_checks.regions import Region

RATE_ARMS = {"tuned": "random", "fixed": "random_fixed"}
"""select.rate -> the random arm C1 (b) reads."""

ARM_LABELS = {
    "random": "HoloGrad-Random, tuned lr",
    "random_fixed": "HoloGrad-Random, fixed lr, ||g_hat|| <= 1",
    "sgd": "full SGD, tuned lr",
}


ARM_COLOURS = {"random": "#1f77b4", "random_fixed": "#e07b00", "sgd": "#3a3a3a"}
"""Arm colours, none of them the acceptance band's green."""


def _value(x) -> float:
    """A per-seed value of the data file as a float (JSON null, a stopped run's, is NaN)."""
    return math.nan if x is None else float(x)


def _ratio(a, b) -> float:
    a, b = _value(a), _value(b)
    return a / b if math.isfinite(a) and math.isfinite(b) and b != 0 else math.nan


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per K/D setting: alignment and its ratio to sqrt(K/D); per arm, the loss decreases per
    seed, each random arm's per-seed ratio to SGD's, the curves and the runs that stopped."""
    out = {}
    for setting, rs in by_setting(runs).items():
        m = [r["metrics"] for r in rs]
        arms = list(m[0]["loss_decrease"])
        out[setting] = {
            **sweep_seeds(rs),
            **{key: m[0][key] for key in ("kd", "k", "dim", "sqrt_kd", "cos_theory", "lr")},
            "arms": arms,
            "cos_mean": over_seeds([x["cos_mean"] for x in m]),
            "cos_ratio": over_seeds([x["cos_mean"] / x["sqrt_kd"] for x in m]),
            "loss_decrease": {arm: over_seeds([x["loss_decrease"][arm] for x in m]) for arm in arms},
            "ratio_to_sgd": {
                arm: over_seeds([_ratio(x["loss_decrease"][arm], x["loss_decrease"]["sgd"]) for x in m])
                for arm in arms
                if arm != "sgd"
            },
            "fraction_of_sgd": over_seeds([x["fraction_of_sgd"] for x in m]),
            "max_update_norm": {
                arm: [x["max_update_norm"][arm] for x in m] for arm in arms if "max_update_norm" in m[0]
            },
            "curves": {arm: {str(r["seed"]): r["metrics"]["curves"][arm] for r in rs} for arm in m[0]["curves"]},
            "stopped": {
                arm: [f"seed {r['seed']}: {r['metrics']['stopped'][arm]}" for r in rs if arm in r["metrics"]["stopped"]]
                for arm in arms
            },
            "rate_at_edge": {arm: rate_at_edge(rs[0].get("tuned"), arm) for arm in arms},
            "rerun_at_lower_rate": {arm: _reruns(rs, arm) for arm in arms},
        }
    return {"settings": dict(sorted(out.items(), key=lambda item: item[1]["kd"]))}


def _reruns(rs: list[dict], arm: str) -> list[str]:
    """The seeds whose run of `arm` diverged at its tuned rate and was measured at the next
    lower one (holograd.experiments.arms.Bench.run_tuned)."""
    return [
        rerun_entry(r["seed"], d, r["metrics"]["lr"][arm])
        for r in rs
        if (d := r["metrics"].get("diverged_at", {}).get(arm))
    ]


def reading_of(select: dict) -> tuple[str, float]:
    """(the random arm, F) that C1 (b) reads under `select`: rate tuned/fixed, sgd_fraction F in (0, 1]."""
    rate = select.get("rate", "tuned")
    if rate not in RATE_ARMS:
        raise ValueError(f"C1 select.rate must be one of {sorted(RATE_ARMS)}, got {rate!r}")
    f = select.get("sgd_fraction", 0.5)
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
        raise ValueError(f"C1 select.sgd_fraction must be a number in (0, 1], got {f!r}")
    return RATE_ARMS[rate], float(f)


CENSOR = 10.0
"""A crossing beyond the grid enters as the grid's end divided (below) or multiplied (above)
by this: only its side of the grid matters to the median's interval."""


def _rerun_note(settings: list[dict], arms: list[str]) -> str:
    """The verdict's flag of runs measured at the next lower rate after diverging, by K/D."""
    return rerun_flag(
        [
            f"{arm} at K/D {s['kd']:g}, {why}"
            for s in settings
            for arm in arms
            for why in s.get("rerun_at_lower_rate", {}).get(arm, [])
        ]
    )


def _learns(setting: dict) -> bool:
    """SGD's loss decrease at this K/D is significantly above 0 (its 95 % CI above 0)."""
    est = mean_ci([_value(x) for x in setting["loss_decrease"]["sgd"]["per_seed"]])
    return est.low is not None and est.low > 0


def fractions(setting: dict, arm: str) -> list[float]:
    """The per-seed fraction of SGD's decrease that the arm reaches at one K/D, paired per seed
    (NaN where either run stopped or SGD made no progress)."""
    return [
        _ratio(a, b)
        for a, b in zip(setting["loss_decrease"][arm]["per_seed"], setting["loss_decrease"]["sgd"]["per_seed"])
    ]


def crossing(kds: list[float], qs: list[float], f: float) -> tuple[float, str]:
    """One seed's crossing of the fraction f along the grid (kds ascending, qs its fractions,
    NaN counted as below f): the K/D from which on q >= f at every larger grid value,
    interpolated linearly in log10 K/D between the last value below f and the next.
    (value, where): where "" when the grid brackets it, "below" (q >= f everywhere: the
    smallest K/D / CENSOR) or "above" (q < f at the largest: the largest K/D x CENSOR)."""
    below = [i for i, q in enumerate(qs) if not q >= f]
    if not below:
        return kds[0] / CENSOR, "below"
    j = below[-1]
    if j == len(kds) - 1:
        return kds[-1] * CENSOR, "above"
    q0 = qs[j] if math.isfinite(qs[j]) else 0.0
    share = (f - q0) / (qs[j + 1] - q0)
    return 10 ** (math.log10(kds[j]) + share * (math.log10(kds[j + 1]) - math.log10(kds[j]))), ""


def c1_kd_threshold(data: dict, select: dict, region: Region) -> list[Measurement]:
    """(a) cos(g_hat, g) / sqrt(K/D) over the K/D grid up to select["max_kd"], per seed;
    (b) per seed, the K/D at which the reading's random arm reaches the fraction f of SGD's
    loss decrease (crossing), judged on its median over seeds (module docstring).

    A stopped run of the tuned random arm (its rate was chosen not to diverge) or of SGD makes
    (b) untestable, as does a tuned rate at an end of its grid or an SGD that does not learn at
    some K/D (a fraction of nothing is no yardstick); a diverged run of the fixed-rate arm is a
    measured failure to train at that K/D (its fraction counts as below f)."""
    arm, f = reading_of(select)
    settings = list(data["experiment_data"]["settings"].values())
    if missing := [s["kd"] for s in settings if arm not in s["loss_decrease"]]:
        raise SelectionError(
            f"the run has no {arm} arm ({ARM_LABELS[arm]}) at K/D {', '.join(f'{kd:.3g}' for kd in missing)}"
            + ("; the config sets no fixed_lr" if arm == "random_fixed" else "")
        )
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
    kds = [s["kd"] for s in settings]
    per_seed_q = [fractions(s, arm) for s in settings]  # [K/D][seed]
    crossings = [crossing(kds, [q[i] for q in per_seed_q], f) for i in range(len(seeds))]
    by_kd = {
        str(s["kd"]): {
            "k": s["k"],
            "loss_decrease": {a: estimate_of(s["loss_decrease"][a]) for a in s["loss_decrease"]},
            "fraction_of_sgd": {"per_seed": q, **mean_ci(q).as_dict()},
            "diverged": s["stopped"].get(arm, []),
            "lr": s["lr"],
        }
        for s, q in zip(settings, per_seed_q)
    }
    # a tuned rate is chosen not to diverge: a stopped run of the tuned arm, or of SGD (the
    # yardstick), leaves a fraction that is no measurement; a stopped fixed-rate run is one
    # that did not train at that K/D (its fraction counts as below F)
    read = ["sgd", *([arm] if arm == "random" else [])]
    stopped = [f"{a} at K/D {s['kd']:g}, {why}" for s in settings for a in read for why in s["stopped"].get(a, [])]
    reasons = [f"runs stopped early ({'; '.join(stopped)})"] if stopped else []
    edge = sorted({f"{a} at K/D {s['kd']:g}" for s in settings for a in read if s.get("rate_at_edge", {}).get(a)})
    if edge:
        reasons.append(f"the tuned rate of {', '.join(edge)} lies at an end of the rates its tuning tried")
    idle = [s["kd"] for s in settings if not _learns(s)]
    if idle and not stopped:
        kds_text = ", ".join(f"{kd:.3g}" for kd in idle)
        reasons.append(f"SGD's loss decrease is not significantly above 0 at K/D {kds_text}: no yardstick")
    part_b = Measurement(
        values=[value for value, _ in crossings],
        seeds=seeds,
        reduce="median",
        label=(
            f"median over seeds of the K/D at which {ARM_LABELS[arm]} reaches {f:g} of SGD's loss decrease "
            f"(per seed, paired, interpolated on log K/D; a crossing beyond the grid {kds[0]:g}-{kds[-1]:g} "
            f"enters a decade beyond it)"
        )
        + _rerun_note(settings, read),
        details={
            "c1b_reading": {"arm": arm, "sgd_fraction": f},
            "crossings": [
                {"seed": seed, "kd": value, "beyond_grid": where} for seed, (value, where) in zip(seeds, crossings)
            ],
            "training_by_kd": by_kd,
        },
        untestable="; ".join(reasons) or None,
    )
    return [part_a, part_b]


def _readings(claim: dict) -> list[tuple[str, dict]]:
    """(id, merged select) of each of the claim's readings (the claim's own select if none)."""
    base = claim.get("select", {})
    return [(r["id"], {**base, **r.get("select", {})}) for r in claim.get("readings", [])] or [("as stated", base)]


def _part_b(claim: dict) -> dict | None:
    return next((p for p in [claim, *claim.get("also_requires", [])] if p.get("part") == "b"), None)


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E2: (1) cos(g_hat, g) against K/D with sqrt(K/D); (2) the loss decrease of each arm
    against K/D with F x SGD's for each reading's F and C1 (b)'s band; (3) each random arm's
    paired fraction of SGD's decrease with its 95 % CI, and each reading's median crossing of
    its F with the median's 95 % interval.  A K/D where an arm diverged is left out of that
    arm's line and marked x."""
    exp, scale = data["experiment_data"], data["scale"]
    settings = list(exp["settings"].values())
    kd = [s["kd"] for s in settings]
    claim = claims.get("C1", {})
    readings = _readings(claim) if claim else [("tuned-half-sgd", {"rate": "tuned", "sgd_fraction": 0.5})]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))

    rows = [{"K/D": s["kd"], "cos(g_hat, g)": v} for s in settings for v in s["cos_mean"]["per_seed"]]
    sns.lineplot(
        pd.DataFrame(rows), x="K/D", y="cos(g_hat, g)", marker="o", errorbar=t_interval, ax=axes[0], label="measured"
    )
    axes[0].plot(kd, [s["sqrt_kd"] for s in settings], "k--", lw=1, label="sqrt(K/D)")
    axes[0].plot(kd, [s["cos_theory"] for s in settings], c="grey", ls=":", lw=1, label="sqrt(K/(K+D-1))")
    axes[0].set(yscale="log", title="C1 (a): alignment on fixed gradients")
    axes[0].legend(fontsize=7)

    arms = [a for a in ARM_LABELS if all(a in s["loss_decrease"] for s in settings)]
    palette = {a: ARM_COLOURS[a] for a in arms}
    train, crosses = [], []
    for s in settings:
        for arm in arms:
            if s["stopped"].get(arm):
                crosses.append((arm, s["kd"]))
                continue
            train += [
                {"K/D": s["kd"], "arm": ARM_LABELS[arm], "held-out loss decrease": v}
                for v in s["loss_decrease"][arm]["per_seed"]
                if v is not None
            ]
    if train:
        sns.lineplot(
            pd.DataFrame(train),
            x="K/D",
            y="held-out loss decrease",
            hue="arm",
            palette={ARM_LABELS[a]: c for a, c in palette.items()},
            marker="o",
            errorbar=t_interval,
            ax=axes[1],
        )
    for arm in arms:
        at = [x for a, x in crosses if a == arm]
        if at:
            axes[1].scatter(
                at, [0] * len(at), marker="x", s=60, c=[palette[arm]], label=f"{ARM_LABELS[arm]} (diverged)"
            )
    sgd = [s["loss_decrease"]["sgd"]["point"] for s in settings]
    shares = sorted({reading_of(sel)[1] for _, sel in readings})
    for f, ls in zip(shares, ("--", ":", "-.", (0, (1, 3)))):
        axes[1].plot(
            kd, [f * (y if y is not None else math.nan) for y in sgd], c="grey", ls=ls, lw=1, label=f"{f:g} x SGD's"
        )
    axes[1].axhline(0, c="k", lw=0.8)
    if part := _part_b(claim):
        band = Region.parse(part["acceptance"])
        axes[1].axvspan(
            band.low, band.high, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"C1 (b) acceptance {band}"
        )
    axes[1].set(title=f"C1 (b): training, {scale['steps']} steps")
    axes[1].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)

    # (3) each arm's paired fraction of SGD's decrease, every reading's F and its crossing
    shares_of = [
        {"K/D": s["kd"], "arm": ARM_LABELS[arm], "fraction of SGD's decrease": q}
        for arm in arms
        if arm != "sgd"
        for s in settings
        for q in fractions(s, arm)
        if math.isfinite(q)
    ]
    if shares_of:
        sns.lineplot(
            pd.DataFrame(shares_of),
            x="K/D",
            y="fraction of SGD's decrease",
            hue="arm",
            palette={ARM_LABELS[a]: c for a, c in palette.items()},
            marker="o",
            errorbar=t_interval,
            ax=axes[2],
        )
    for rid, sel in readings:
        arm, f = reading_of(sel)
        if arm not in arms:
            continue
        per = [fractions(s, arm) for s in settings]
        values = [crossing(kd, [q[i] for q in per], f)[0] for i in range(len(settings[0]["seeds"]))]
        est = median_ci(values)
        axes[2].axhline(f, c="grey", ls=":", lw=0.8)
        if est.low is not None and math.isfinite(est.low) and math.isfinite(est.high):
            axes[2].errorbar(
                [est.point], [f], xerr=[[est.point - est.low], [est.high - est.point]], fmt="D", ms=5, capsize=3,
                c=palette[arm], label=f"{rid}: median crossing of {f:g} (95% interval)",
            )  # fmt: skip
        else:
            axes[2].plot([est.point], [f], "D", ms=5, c=palette[arm], label=f"{rid}: median crossing of {f:g}")
    if part:
        axes[2].axvspan(band.low, band.high, color=VERDICT_COLOURS["PASS"], alpha=0.15)
    axes[2].set(
        title="C1 (b): fraction of SGD's decrease (paired per seed); crossings beyond the grid drawn a decade out",
        xlim=(kd[0] / CENSOR / 1.5, kd[-1] * CENSOR * 1.5),
    )
    if axes[2].get_legend_handles_labels()[0]:  # below the panel: inside it, it covered the curves
        axes[2].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    for ax in axes:
        ax.set(xscale="log", xlabel="K/D")
    finish(fig, f"E2 K/D sweep — {dims(scale)}", path)


def describe_c1(d: dict) -> list[str]:
    training = d["training_by_kd"]
    reading = d.get("c1b_reading", {"arm": "random", "sgd_fraction": 0.5})

    def arm_text(t: dict, arm: str) -> str:
        if arm not in t["loss_decrease"]:
            return "—"
        return measured(t["loss_decrease"][arm])

    fixed = next((t["lr"].get("random_fixed") for t in training.values() if "random_fixed" in t["lr"]), None)
    crossings = d.get("crossings", [])
    beyond = {side: sum(c["beyond_grid"] == side for c in crossings) for side in ("below", "above")}
    return [
        "- Alignment by K/D (K; mean cos; √(K/D); √(K/(K+D−1))): "
        + "; ".join(
            f"{float(kd):.3g}: K = {c['k']}, {num(c['cos']['point'])}, {c['sqrt_kd']:.4g}, {c['theory']:.4g}"
            for kd, c in d["cos_by_kd"].items()
        )
        + ".",
        "- Training by K/D (held-out loss decrease [95% CI] of HoloGrad-Random at its tuned lr; at the fixed lr "
        f"{num(fixed)} with ‖ĝ‖ ≤ 1; of SGD; tuned lr of Random): "
        + "; ".join(
            f"{float(kd):.3g}: {arm_text(t, 'random')}; {arm_text(t, 'random_fixed')}; "
            f"{num(t['loss_decrease']['sgd']['point'])}; lr {t['lr']['random']:.3g}"
            for kd, t in training.items()
        )
        + ".",
        f"- C1 (b): {ARM_LABELS[reading['arm']]}'s fraction of SGD's decrease (paired per seed, mean [95% CI]) "
        "by K/D: "
        + "; ".join(
            f"{float(kd):.3g}: "
            + (f"diverged ({len(t['diverged'])} run(s))" if t.get("diverged") else measured(t["fraction_of_sgd"]))
            for kd, t in training.items()
        )
        + f". Per-seed crossings of {reading['sgd_fraction']:g}: "
        + ", ".join(num(c["kd"]) for c in crossings)
        + (
            f" ({beyond['below']} below the grid, {beyond['above']} above it, each entered a decade beyond)"
            if beyond["below"] or beyond["above"]
            else ""
        )
        + ".",
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)].  The fixed-rate
    arm (with fixed_lr) is one more measured run and no tuning."""
    k = int(cfg["k"]) if cfg.get("k") else max(1, round(cfg["kd"] * model.dim(cfg)))
    random, sgd = {"kind": "random", "k": k}, {"kind": "sgd"}
    tune = model.tuning(cfg, [(sgd, len(cfg["lr_grid"]["sgd"])), (random, len(cfg["lr_grid"]["random"]))])
    alignment = model.u.forward_backward(*model.shape(cfg)) + cfg["cos_draws"] * model.directions(cfg, k)
    job = model.u.startup() + alignment + model.run(cfg, random, cfg["steps"]) + model.run(cfg, sgd, cfg["steps"])
    if cfg.get("fixed_lr") is not None:  # trained together with the random arm: their shared directions once
        job += model.run(cfg, {**random, "clip_norm": 1.0}, cfg["steps"]) - model.shared(cfg, random, cfg["steps"], 2)
    return [("tuning", f"K={k}", tune), ("runs", f"K={k}", job)]


def beyond_grid(details: dict) -> list[tuple[str, list, dict]]:
    """A row of C1's figure under part (b) saying how many seeds' crossings lie beyond the K/D
    grid, where they are drawn a decade out (a side, not a measured K/D); none for part (a)."""
    crossings = details.get("crossings") or []
    rows = []
    for side in ("below", "above"):
        n = sum(1 for c in crossings if c.get("beyond_grid") == side)
        if n:
            rows.append((f"{n} of {len(crossings)} seeds cross {side} the grid: drawn a decade {side}", [], {}))
    return rows


EXPERIMENT = Experiment(
    aggregate=aggregate,
    plot=plot,
    work=work,
    claims={"C1": Claim(measure=c1_kd_threshold, describe=describe_c1, controls=beyond_grid)},
)
