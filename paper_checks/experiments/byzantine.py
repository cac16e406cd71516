"""E7, Byzantine tolerance, read for claim C7: does a trimmed mean tolerate 20 % attackers?

Data, per strategy: the table (aggregator, attack, fraction) of held-out loss decreases
relative to the clean run, and per aggregator the largest fraction tolerated under every
attack, per seed.  C7 reads that fraction for the selected aggregator, and is untestable when
the clean run does not learn.  The figure is one heatmap per (strategy, aggregator).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, sweep_seeds
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured, num
from paper_checks.plotting import dims, finish
from paper_checks.regions import Region


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per strategy: the (aggregator, attack, fraction) table of relative loss decreases over
    seeds, and per aggregator the per-seed largest tolerated fraction."""
    out = {}
    for setting, rs in by_setting(runs).items():
        table = []
        for i, row in enumerate(rs[0]["metrics"]["rows"]):
            per = [r["metrics"]["rows"][i] for r in rs]
            table.append(
                {
                    **{k: row[k] for k in ("aggregator", "attack", "fraction")},
                    "relative": over_seeds([p["relative"] for p in per]),
                    "loss_decrease": over_seeds([p["loss_decrease"] for p in per]),
                    "tolerated": [p["tolerated"] for p in per],
                    "stopped": [p["stopped"] for p in per if p["stopped"]],
                }
            )
        aggs = list(rs[0]["metrics"]["largest_tolerated"])
        out[setting] = {
            **sweep_seeds(rs),
            "strategy": rs[0]["metrics"]["strategy"],
            "lr": rs[0]["metrics"]["lr"],
            "table": table,
            "largest_tolerated": {
                agg: over_seeds([r["metrics"]["largest_tolerated"][agg] for r in rs]) for agg in aggs
            },
        }
    return {"tolerance": cfg["tolerance"], "settings": out}


def _tolerance_summary(setting: dict) -> dict:
    """A setting the verdict does not read (E7 on HoloGrad-Random, say): its clean decrease
    and largest tolerated fraction per aggregator, reported beside the verdict."""
    clean = {r["aggregator"]: estimate_of(r["loss_decrease"]) for r in setting["table"] if r["attack"] == "none"}
    return {
        "strategy": setting["strategy"],
        "clean_loss_decrease": clean,
        "largest_tolerated": {agg: estimate_of(v) for agg, v in setting["largest_tolerated"].items()},
    }


def c7_byzantine(data: dict, select: dict, region: Region) -> Measurement:
    """Largest Byzantine fraction tolerated under every attack by the selected aggregator."""
    exp = data["experiment_data"]
    name, setting = find_setting(exp, select)
    aggregator = select.get("aggregator", "trimmed_0.1")
    if aggregator not in setting["largest_tolerated"]:
        raise SelectionError(f"the run has no aggregator {aggregator} (it has {list(setting['largest_tolerated'])})")
    values = setting["largest_tolerated"][aggregator]
    # An attacked run that diverged was not tolerated (its loss decrease is NaN, so it fails
    # the 80 % test): that is a measurement, not a gap.  A clean run that diverged leaves
    # nothing to compare with.
    stopped = [
        f"{r['aggregator']} {r['attack']} f={r['fraction']}: {s}" for r in setting["table"] for s in r["stopped"]
    ]
    clean_row = next(r for r in setting["table"] if r["aggregator"] == aggregator and r["attack"] == "none")
    clean = clean_row["loss_decrease"]
    untestable = None
    if clean_row["stopped"]:
        untestable = f"runs stopped early (the clean run: {'; '.join(clean_row['stopped'])})"
    elif clean["low"] is None or not clean["low"] > 0:  # "80 % of no progress" would be noise
        low = "undefined" if clean["low"] is None else f"{clean['low']:.3g}"
        untestable = (
            f"the clean run's loss decrease {clean['point']:.3g} (95% CI low {low}) is not significantly above 0, "
            "so tolerance cannot be judged"
        )
    return Measurement(
        values=values["per_seed"],
        seeds=setting["seeds"],
        label=(
            f"largest tolerated fraction, {aggregator}, {setting['strategy']} "
            f"(tolerated: loss decrease >= {exp['tolerance']:g} x clean)"
        ),
        details={
            "setting": name,
            "aggregator": aggregator,
            "largest_tolerated": {agg: estimate_of(v) for agg, v in setting["largest_tolerated"].items()},
            "table": [
                {k: r[k] for k in ("aggregator", "attack", "fraction")} | {"relative": r["relative"]["point"]}
                for r in setting["table"]
            ],
            "stopped_runs": stopped,
            "clean_loss_decrease": estimate_of(clean),
            "other_settings": {other: _tolerance_summary(st) for other, st in exp["settings"].items() if other != name},
        },
        untestable=untestable,
    )


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
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
            {
                "attack": r["attack"],
                "fraction": r["fraction"],
                "relative": r["relative"]["point"],
                "label": "diverged" if r["stopped"] else f"{r['relative']['point']:.2f}",
            }
            for r in table
            if r["attack"] != "none"
        ]
        frame = pd.DataFrame(rows)
        grid = frame.pivot(index="attack", columns="fraction", values="relative").astype(float)
        labels = frame.pivot(index="attack", columns="fraction", values="label")
        sns.heatmap(
            grid, annot=labels, fmt="", vmin=0, vmax=1.2, cmap="RdYlGn", cbar=False, ax=ax, annot_kws={"fontsize": 7}
        )
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
    fig.text(
        0.5,
        -0.02,
        f"cells: held-out loss decrease / clean run's (mean over seeds); tolerated: >= {exp['tolerance']:g}",
        ha="center",
        fontsize=8,
    )
    finish(fig, f"E7 Byzantine tolerance — {dims(scale)}", path)


def describe_c7(d: dict) -> list[str]:
    table = {}
    for r in d["table"]:
        table.setdefault(r["aggregator"], []).append(f"{r['attack']} f={r['fraction']:g}: {num(r['relative'])}")
    return [
        f"- Clean run's held-out loss decrease ({d['aggregator']}): {measured(d['clean_loss_decrease'])}.",
        "- Largest tolerated fraction per aggregator: "
        + "; ".join(f"{agg} {measured(v)}" for agg, v in d["largest_tolerated"].items())
        + ".",
        *[f"- {agg}, loss decrease relative to the clean run: " + "; ".join(rows) + "." for agg, rows in table.items()],
        *[
            f"- Setting {name} ({o['strategy']}, not read by the verdict): clean loss decrease "
            + "; ".join(f"{agg} {measured(v)}" for agg, v in o["clean_loss_decrease"].items())
            + "; largest tolerated fraction "
            + "; ".join(f"{agg} {measured(v)}" for agg, v in o["largest_tolerated"].items())
            + "."
            for name, o in d.get("other_settings", {}).items()
        ],
    ]


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)]."""
    from holograd.experiments.byzantine import aggregators, base_arm, effective

    arm, n = base_arm(cfg), cfg["n_workers"]
    union = 1 if arm["kind"] == "momentum" else n
    distinct = {repr(sorted(effective(o, n).items())) for o in aggregators(cfg).values()}
    runs = len(distinct) * (1 + len(cfg["attacks"]) * sum(1 for f in cfg["fractions"] if f > 0))
    tune = model.tuning(cfg, [(arm, len(cfg["lr_grid"][cfg["strategy"]]))], union)
    return [
        ("tuning", cfg["strategy"], tune),
        ("runs", cfg["strategy"], model.u.startup() + runs * model.run(cfg, arm, cfg["steps"], union)),
    ]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C7": Claim(measure=c7_byzantine, describe=describe_c7)}
)
