"""E7, Byzantine tolerance, read for claim C7: does a trimmed mean tolerate 20 % attackers?

Data, per training setting (strategy: momentum, momentum_random_warmup, momentum_oracle,
random): the table (aggregator, attack set, attack, fraction) of held-out loss decreases
relative to the clean run, and per (attack set, aggregator) the largest fraction tolerated
under every attack of the set, per seed.  Per static setting (the authors' measurement, no
model): per (attack set, attack, fraction, aggregator) the authors' metric ||g_hat - g||/||g||
and ours |Agg_f - Agg_0|/|Agg_0| over seeds, and the largest tolerated fraction by ours.

C7's select: `static: true` reads the static setting, else `where` names the training
setting; `aggregator` (default trimmed_0.1) and `attacks` (paper | authors, default paper)
pick the largest-tolerated value.  A training setting is untestable when its clean run
diverged or does not learn.  The figure: relative decrease vs f per attack, one panel per
(strategy, aggregator), and a row of static panels.

Detail keys meant for dotted paths (published.yaml) hold no dots: a fraction f is written
"0_2", an aggregator "trimmed_0_15" (key()), e.g.
details.static.authors_metric.uniform_100.0_2.trimmed_0_15.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, rate_at_edge, sweep_seeds
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured, num
from paper_checks.plotting import dims, finish
from paper_checks.regions import Region

ATTACK_SETS = ("paper", "authors")
LINESTYLE = {"paper": "-", "authors": "--"}  # of an attack set's lines in the training panels


def key(value) -> str:
    """A fraction or aggregator name as a key without dots (dotted paths split on them):
    0.2 -> "0_2", "trimmed_0.15" -> "trimmed_0_15"."""
    text = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    return text.replace(".", "_")


def unkey(text: str) -> str:
    """key()'s inverse for the summary: "0_2" -> "0.2", "trimmed_0_15" -> "trimmed_0.15"."""
    return re.sub(r"(\d)_(\d)", r"\1.\2", text)


# --- aggregation ----------------------------------------------------------------------------


ROW = ("aggregator", "attack_set", "attack", "fraction")
"""What names a row of a run's table (the same rows, in the same order, in every seed's run)."""


def _table(rs: list[dict], statistics: tuple[str, ...]) -> list[dict]:
    """Each row of the seeds' tables: its name, each of `statistics` over seeds (mean, 95 %
    CI), whether each seed tolerated it, and the seeds' runs that stopped early (training)."""
    table = []
    for i, row in enumerate(rs[0]["metrics"]["rows"]):
        per = [r["metrics"]["rows"][i] for r in rs]
        cell = {
            **{k: row[k] for k in ROW},
            **{stat: over_seeds([p[stat] for p in per]) for stat in statistics},
            "tolerated": [p["tolerated"] for p in per],
        }
        if "stopped" in row:
            cell["stopped"] = [p["stopped"] for p in per if p["stopped"]]
        table.append(cell)
    return table


def _aggregate_training(rs: list[dict]) -> dict:
    m = rs[0]["metrics"]
    return {"table": _table(rs, ("relative", "loss_decrease")), "lr": m["lr"], "warmup_lr": m.get("warmup_lr")}


def _aggregate_static(rs: list[dict]) -> dict:
    m = rs[0]["metrics"]
    table = _table(rs, ("authors_metric", "relative_error"))
    return {"table": table, "dim": m["dim"], "workers": m["workers"], "steps": m["steps"]}


def aggregate(runs: list[dict], cfg: dict) -> dict:
    """Per setting: its table over seeds (training: relative loss decreases; static: the two
    error metrics) and per (attack set, aggregator) the per-seed largest tolerated fraction."""
    out = {}
    for setting, rs in by_setting(runs).items():
        strategy = rs[0]["metrics"]["strategy"]
        body = _aggregate_static(rs) if strategy == "static" else _aggregate_training(rs)
        sets = rs[0]["metrics"]["largest_tolerated"]
        tuned = rs[0].get("tuned") or {}
        out[setting] = {
            **sweep_seeds(rs),
            "strategy": strategy,
            **body,
            # the tuned rates (clean run, warm-up) that lie at an end of the rates tried
            "rates_at_edge": sorted(f"{arm} ({t['lr']:g})" for arm, t in tuned.items() if rate_at_edge(tuned, arm)),
            "largest_tolerated": {
                s: {agg: over_seeds([r["metrics"]["largest_tolerated"][s][agg] for r in rs]) for agg in aggs}
                for s, aggs in sets.items()
            },
        }
    static = cfg.get("static") or {}
    return {"tolerance": cfg["tolerance"], "static_tolerance": static.get("tolerance"), "settings": out}


# --- claim C7 ---------------------------------------------------------------------------------


def _largest(setting: dict, attack_set: str) -> dict:
    if attack_set not in setting["largest_tolerated"]:
        raise SelectionError(
            f"setting {setting['strategy']} has no attack set {attack_set!r} "
            f"(it has {list(setting['largest_tolerated'])})"
        )
    return setting["largest_tolerated"][attack_set]


def largest_at(setting: dict, attack_set: str, aggregator: str, tolerance: float) -> list[float]:
    """Per seed, the largest tolerated fraction recomputed at another threshold from the
    seeds' rows (holograd.experiments.byzantine.largest_tolerated): a training row is tolerated
    if its relative loss decrease is >= tolerance, a static one if its relative error is
    <= tolerance.  The sensitivity readings of the stated thresholds (0.8, 0.2) use it."""
    from holograd.experiments.byzantine import largest_tolerated

    static = setting["strategy"] == "static"
    key = "relative_error" if static else "relative"
    rows = [r for r in setting["table"] if r["aggregator"] == aggregator and r["attack_set"] in (attack_set, "none")]
    attacks = sorted({r["attack"] for r in rows if r["attack_set"] == attack_set})
    out = []
    for i in range(len(setting["seeds"])):
        seed_rows = []
        for r in rows:
            v = r[key]["per_seed"][i]
            ok = v is not None and math.isfinite(v) and (v <= tolerance if static else v >= tolerance)
            seed_rows.append({**{k: r[k] for k in ROW}, "tolerated": ok or (not static and r["fraction"] == 0)})
        out.append(largest_tolerated(seed_rows, aggregator, attacks))
    return out


def _largest_estimates(setting: dict) -> dict:
    return {s: {agg: estimate_of(v) for agg, v in aggs.items()} for s, aggs in setting["largest_tolerated"].items()}


def _selected(select: dict) -> tuple[str, str]:
    attack_set = select.get("attacks", "paper")
    if attack_set not in ATTACK_SETS:
        raise SelectionError(f"unknown attack set {attack_set!r} in select.attacks; choose one of {list(ATTACK_SETS)}")
    return select.get("aggregator", "trimmed_0.1"), attack_set


def _static_tables(setting: dict) -> dict:
    """{metric: {attack: {f: {aggregator: estimate}}}} with dot-free keys (key())."""
    out = {"authors_metric": {}, "relative_error": {}}
    for r in setting["table"]:
        for metric in out:
            cell = out[metric].setdefault(r["attack"], {}).setdefault(key(r["fraction"]), {})
            cell[key(r["aggregator"])] = estimate_of(r[metric])
    return out


def _static_measure(exp: dict, aggregator: str, attack_set: str, tolerance: float | None = None) -> Measurement:
    name, setting = find_setting(exp, {"where": {"strategy": "static"}})
    largest = _largest(setting, attack_set)
    if aggregator not in largest:
        raise SelectionError(f"the static setting has no aggregator {aggregator} (it has {list(largest)})")
    attacks = sorted({r["attack"] for r in setting["table"] if r["attack_set"] == attack_set})
    tolerance = exp["static_tolerance"] if tolerance is None else tolerance
    values = (
        largest[aggregator]["per_seed"]
        if tolerance == exp["static_tolerance"]
        else largest_at(setting, attack_set, aggregator, tolerance)
    )
    return Measurement(
        values=values,
        seeds=setting["seeds"],
        reduce="median",  # a fraction of the grid: identical seeds would give a t interval of zero width
        label=(
            f"median over seeds of the largest tolerated fraction, {aggregator}, static "
            f"(no model: D = {setting['dim']}, {setting['workers']} workers, {setting['steps']} steps; "
            f"tolerated: |Agg_f - Agg_0|/|Agg_0| <= {tolerance:g}), {attack_set} attacks"
        ),
        details={
            "setting": name,
            "aggregator": aggregator,
            "attacks": attack_set,
            "attack_names": attacks,
            "static": {
                **_static_tables(setting),
                "largest_tolerated": _largest_estimates(setting),
                "tolerance": exp["static_tolerance"],
                "dim": setting["dim"],
                "workers": setting["workers"],
                "steps": setting["steps"],
            },
        },
    )


def _relative_tables(setting: dict) -> dict:
    """{attack set: {aggregator: {attack: {f: estimate}}}} of the relative loss decrease,
    dot-free keys (key()); the clean row is every aggregator's f = 0 of every set."""
    out: dict = {}
    for r in setting["table"]:
        if r["attack"] == "none":
            continue
        cell = out.setdefault(r["attack_set"], {}).setdefault(key(r["aggregator"]), {}).setdefault(r["attack"], {})
        cell[key(r["fraction"])] = estimate_of(r["relative"])
    return out


def _tolerance_summary(setting: dict) -> dict:
    """A setting the verdict does not read: its clean decrease per aggregator (training) and
    its largest tolerated fraction per (attack set, aggregator), reported beside the verdict."""
    out = {"strategy": setting["strategy"], "largest_tolerated": _largest_estimates(setting)}
    if setting["strategy"] != "static":
        out["clean_loss_decrease"] = {
            r["aggregator"]: estimate_of(r["loss_decrease"]) for r in setting["table"] if r["attack"] == "none"
        }
    return out


def c7_byzantine(data: dict, select: dict, region: Region) -> Measurement:
    """Largest Byzantine fraction tolerated under every attack of the selected set by the
    selected aggregator, per seed, reduced to its median across seeds with the order-statistic
    interval (intervals.median_ci: the fraction takes the grid's few values): in the static
    setting (select.static) or the training setting select.where names."""
    exp = data["experiment_data"]
    aggregator, attack_set = _selected(select)
    if select.get("static"):
        return _static_measure(exp, aggregator, attack_set, select.get("tolerance"))
    name, setting = find_setting(exp, select)
    if setting["strategy"] == "static":
        raise SelectionError("select.where names the static setting: select it with static: true")
    largest = _largest(setting, attack_set)
    if aggregator not in largest:
        raise SelectionError(f"the run has no aggregator {aggregator} (it has {list(largest)})")
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
    elif setting.get("rates_at_edge"):
        edge = ", ".join(setting["rates_at_edge"])
        untestable = f"the tuned rate of {edge} lies at an end of the rates its tuning tried"
    elif clean["low"] is None or not clean["low"] > 0:  # "80 % of no progress" would be noise
        low = "undefined" if clean["low"] is None else f"{clean['low']:.3g}"
        untestable = (
            f"the clean run's loss decrease {clean['point']:.3g} (95% CI low {low}) is not significantly above 0, "
            "so tolerance cannot be judged"
        )
    tolerance = select.get("tolerance", exp["tolerance"])
    values = (
        largest[aggregator]["per_seed"]
        if tolerance == exp["tolerance"]
        else largest_at(setting, attack_set, aggregator, tolerance)
    )
    return Measurement(
        values=values,
        seeds=setting["seeds"],
        reduce="median",  # a fraction of the grid: identical seeds would give a t interval of zero width
        label=(
            f"median over seeds of the largest tolerated fraction, {aggregator}, {setting['strategy']}, "
            f"{attack_set} attacks (tolerated: loss decrease >= {tolerance:g} x clean)"
        ),
        details={
            "setting": name,
            "aggregator": aggregator,
            "attacks": attack_set,
            "lr": setting["lr"],
            "warmup_lr": setting.get("warmup_lr"),
            "largest_tolerated": _largest_estimates(setting),
            "relative_decrease": _relative_tables(setting),
            "table": [
                {k: r[k] for k in ("aggregator", "attack_set", "attack", "fraction")}
                | {"relative": r["relative"]["point"]}
                for r in setting["table"]
            ],
            "stopped_runs": stopped,
            "clean_loss_decrease": estimate_of(clean),
            "other_settings": {other: _tolerance_summary(st) for other, st in exp["settings"].items() if other != name},
        },
        untestable=untestable,
    )


def _largest_line(largest: dict) -> str:
    return "; ".join(
        f"{s} attacks: " + ", ".join(f"{agg} {measured(v)}" for agg, v in aggs.items()) for s, aggs in largest.items()
    )


def describe_c7(d: dict) -> list[str]:
    """The summary's lines: the selected setting's tables and the other settings' results."""
    if "static" in d:
        st = d["static"]
        lines = [
            f"- Static measurement (the authors' E7, no model): D = {st['dim']}, {st['workers']} workers, "
            f"{st['steps']} steps, one shared direction per step; tolerated when |Agg_f - Agg_0|/|Agg_0| <= "
            f"{st['tolerance']:g}.",
            f"- Largest tolerated fraction: {_largest_line(st['largest_tolerated'])}.",
        ]
        for attack in d["attack_names"]:
            for metric, what in (("authors_metric", "authors' metric ||g_hat - g||/||g||"), ("relative_error", "ours")):
                cells = [
                    f"f={unkey(f)}: " + ", ".join(f"{unkey(agg)} {num(v['point'])}" for agg, v in aggs.items())
                    for f, aggs in st[metric].get(attack, {}).items()
                ]
                lines.append(f"- {attack}, {what}: " + "; ".join(cells) + ".")
        return lines
    lines = [
        f"- Clean run's held-out loss decrease ({d['aggregator']}): {measured(d['clean_loss_decrease'])}.",
        f"- Largest tolerated fraction: {_largest_line(d['largest_tolerated'])}.",
    ]
    for attack_set, aggs in d.get("relative_decrease", {}).items():
        for agg, attacks in aggs.items():
            cells = [
                f"{attack} " + ", ".join(f"f={unkey(f)} {num(v['point'])}" for f, v in fs.items())
                for attack, fs in attacks.items()
            ]
            lines.append(
                f"- {unkey(agg)}, {attack_set} attacks, loss decrease relative to the clean run: "
                + "; ".join(cells)
                + "."
            )
    for name, o in d.get("other_settings", {}).items():
        clean = o.get("clean_loss_decrease")
        clean_text = (
            "clean loss decrease " + "; ".join(f"{agg} {measured(v)}" for agg, v in clean.items()) + "; "
            if clean
            else ""
        )
        lines.append(
            f"- Setting {name} ({o['strategy']}, not read by this reading): {clean_text}"
            f"largest tolerated fraction {_largest_line(o['largest_tolerated'])}."
        )
    return lines


# --- figure -------------------------------------------------------------------------------------


def _training_panel(ax, setting: dict, agg: str, tolerance: float) -> None:
    """Relative loss decrease vs f, one line per attack (paper set solid, authors' dashed); a
    diverged cell ends its line with an x at the panel's bottom and "(diverged)" in the label;
    the y-axis is set from the finite values, so a diverged or runaway run flattens nothing."""
    table = [r for r in setting["table"] if r["aggregator"] == agg]
    clean = next(r for r in table if r["attack"] == "none")
    attacks = list(dict.fromkeys((r["attack_set"], r["attack"]) for r in table if r["attack"] != "none"))
    finite = [1.0] + [r["relative"]["point"] for r in table if _finite(r["relative"]["point"])]
    low, high = min(min(finite), 0.0), max(max(finite), 1.0)
    pad = 0.08 * (high - low)
    bottom = low - pad
    for i, (attack_set, attack) in enumerate(attacks):
        rows = sorted((r for r in table if r["attack"] == attack), key=lambda r: r["fraction"])
        xs, ys, diverged = [0.0], [1.0], None
        for r in rows:
            if r["stopped"] or not _finite(r["relative"]["point"]):
                diverged = r["fraction"]
                break
            xs.append(r["fraction"])
            ys.append(r["relative"]["point"])
        color = f"C{i}"
        label = f"{attack} ({attack_set})" + (f" (diverged at f={diverged:g})" if diverged is not None else "")
        ax.plot(xs, ys, LINESTYLE[attack_set], marker="o", ms=3, color=color, label=label)
        if diverged is not None:
            ax.plot([diverged], [bottom], marker="x", ms=8, mew=2, color=color, clip_on=False)
    ax.axhline(tolerance, color="0.4", lw=0.8, ls=":")
    ax.set_ylim(bottom, high + pad)
    learns = clean["loss_decrease"]["low"] is not None and clean["loss_decrease"]["low"] > 0
    note = f"clean {clean['loss_decrease']['point']:.3g}" + ("" if learns else " (not > 0: noise)")
    tolerated = ", ".join(f"{s} {v[agg]['point']:.2g}" for s, v in setting["largest_tolerated"].items())
    ax.set_title(f"{setting['strategy']}, {agg}\n{note}\nlargest tolerated f: {tolerated}", fontsize=7)
    ax.tick_params(labelsize=7)


def _static_panel(ax, setting: dict, agg: str, tolerance: float) -> None:
    """Static: the authors' metric (solid) and our relative error (dashed) vs f per attack,
    symlog y so that an error of exactly 0 shows."""
    table = [r for r in setting["table"] if r["aggregator"] == agg]
    attacks = list(dict.fromkeys(r["attack"] for r in table))
    for i, attack in enumerate(attacks):
        rows = sorted((r for r in table if r["attack"] == attack), key=lambda r: r["fraction"])
        xs = [r["fraction"] for r in rows]
        ax.plot(xs, [r["authors_metric"]["point"] for r in rows], "-", marker="o", ms=3, color=f"C{i}", label=attack)
        ax.plot(xs, [r["relative_error"]["point"] for r in rows], "--", marker="s", ms=3, color=f"C{i}")
    ax.axhline(tolerance, color="0.4", lw=0.8, ls=":")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_ylim(bottom=0)  # both metrics are >= 0
    tolerated = ", ".join(f"{s} {v[agg]['point']:.2g}" for s, v in setting["largest_tolerated"].items())
    ax.set_title(f"static, {agg}\nsolid: authors' metric, dashed: ours\nlargest tolerated f: {tolerated}", fontsize=7)
    ax.tick_params(labelsize=7)


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E7: one row per training setting (a panel per aggregator: loss decrease relative to the
    clean run vs f, a line per attack) and a row for the static setting (a panel per
    aggregator: the authors' metric, solid, and our relative error, dashed, vs f)."""
    exp, scale = data["experiment_data"], data["scale"]
    settings = list(exp["settings"].values())
    columns = max(len(next(iter(s["largest_tolerated"].values()))) for s in settings)
    fig, axes = plt.subplots(
        len(settings), columns, figsize=(3.2 * columns, 3.0 * len(settings)), squeeze=False, sharex=True
    )
    for row, setting in zip(axes, settings):
        aggs = list(next(iter(setting["largest_tolerated"].values())))
        for ax, agg in zip(row, aggs):
            if setting["strategy"] == "static":
                _static_panel(ax, setting, agg, exp["static_tolerance"])
            else:
                _training_panel(ax, setting, agg, exp["tolerance"])
        for ax in row[len(aggs) :]:
            ax.axis("off")
        row[0].legend(fontsize=6, loc="best")
        row[0].set_ylabel(
            "||g_hat-g||/||g|| (solid), |Agg_f-Agg_0|/|Agg_0| (dashed)"
            if setting["strategy"] == "static"
            else "loss decrease / clean",
            fontsize=7,
        )
    for ax in axes[-1]:
        ax.set_xlabel("Byzantine fraction f", fontsize=7)
    fig.text(
        0.5,
        -0.01,
        f"training rows: mean over seeds, dotted line = tolerance {exp['tolerance']:g}; "
        "solid = paper's attacks, dashed = authors' attacks; x = diverged.  Static row: dotted = "
        f"tolerance {exp['static_tolerance']}",
        ha="center",
        fontsize=7,
    )
    finish(fig, f"E7 Byzantine tolerance — {dims(scale)}", path)


# --- work model ---------------------------------------------------------------------------------


def work(model, cfg: dict) -> list[tuple[str, str, float]]:
    """The seconds of this experiment's jobs for one setting `cfg`, by the work model of
    benchmarks/estimate_suite.py (`model`): [(stage, setting label, seconds)].  Training:
    one run per distinct (aggregator as computed, attack as computed, f > 0) plus each
    aggregator's clean run; a warm-up's steps are random K steps on the union batch.  Static:
    2 x steps directions of dim entries (and nothing to tune but the job's start)."""
    from holograd.experiments.byzantine import (
        aggregator_arm,
        aggregators,
        attack_sets,
        base_arm,
        lr_grid,
        warmup,
        warmup_arm,
    )

    strategy = cfg["strategy"]
    if strategy == "static":
        st = cfg["static"]
        entries = 2 * st["steps"] * st["dim"] * model.u.entry(st["dim"], max(st["dim"], 1 << 18))
        return [("tuning", strategy, model.u.startup()), ("runs", strategy, model.u.startup() + entries)]
    n = cfg["n_workers"]
    arm = base_arm(cfg, warmup_lr=1.0)
    union = n if arm["kind"] == "random" else 1
    distinct_aggs = {repr(aggregator_arm(cfg, o, 1.0)) for o in aggregators(cfg).values()}
    distinct_attacks = {(a[1], a[2]) for attacks in attack_sets(cfg).values() for a in attacks}
    attacked = len(distinct_attacks) * sum(1 for f in cfg["fractions"] if f > 0)
    runs = len(distinct_aggs) * (1 + attacked)

    def one(steps: int) -> float:
        if "warmup" not in arm:
            return model.run(cfg, arm, steps, union)
        warm = min(steps, warmup(cfg)["steps"])
        main = {k: v for k, v in arm.items() if k != "warmup"}
        return (
            warm * model.step(cfg, warmup_arm(cfg), n)
            + (steps - warm) * model.step(cfg, main, union)
            + model.evals(cfg, steps)
        )

    grid = len(lr_grid(cfg))
    tune = model.u.startup() + grid * one(cfg["tune_steps"])
    if strategy == "momentum_random_warmup":
        tune += model.tuning(cfg, [(warmup_arm(cfg), len(cfg["lr_grid"]["random"]))], n) - model.u.startup()
    return [("tuning", strategy, tune), ("runs", strategy, model.u.startup() + runs * one(cfg["steps"]))]


EXPERIMENT = Experiment(
    aggregate=aggregate, plot=plot, work=work, claims={"C7": Claim(measure=c7_byzantine, describe=describe_c7)}
)
