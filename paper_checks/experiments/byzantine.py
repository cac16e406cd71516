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
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
from scipy import stats as _scipy_stats

from paper_checks.analysis import by_setting, estimate_of, find_setting, over_seeds, rate_at_edge, sweep_seeds
from paper_checks.experiment import Claim, Experiment, Measurement, SelectionError
from paper_checks.formatting import measured, num
from paper_checks.intervals import Estimate
from paper_checks.plotting import dims, save_figure
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


def margins(setting: dict, attack_set: str, aggregator: str, tolerance: float) -> dict[float, dict[str, list]]:
    """{f: {attack: per-seed margin}} for every f > 0 of the grid and attack of the set: by how
    much the defence keeps the required share of the clean progress on that seed,

        training:  decrease_f - tolerance x decrease_0     (>= 0: kept at least `tolerance`)
        static:    tolerance - |Agg_f - Agg_0| / |Agg_0|   (>= 0: within `tolerance`)

    paired per seed (the attacked and clean runs share weights, data and directions).  None:
    the attacked run diverged, a measured failure to tolerate the attack."""
    static = setting["strategy"] == "static"
    rows = [r for r in setting["table"] if r["aggregator"] == aggregator]
    clean = None if static else next(r for r in rows if r["attack"] == "none")["loss_decrease"]["per_seed"]
    out: dict[float, dict[str, list]] = {}
    for r in rows:
        if r["attack_set"] != attack_set or r["fraction"] == 0:
            continue
        values = r["relative_error" if static else "loss_decrease"]["per_seed"]
        cell = []
        for i, v in enumerate(values):
            if not _finite(v) or (clean is not None and not _finite(clean[i])):
                cell.append(None)
            else:
                cell.append(tolerance - v if static else v - tolerance * clean[i])
        out.setdefault(float(r["fraction"]), {})[r["attack"]] = cell
    return dict(sorted(out.items()))


def _p_values(cell: list) -> tuple[float, float]:
    """(p of "the mean margin is <= 0", p of "it is >= 0"): one-sided one-sample t tests
    (scipy.stats.ttest_1samp).  A diverged run is a failure observed, so (1, 0); fewer than
    two seeds or identical margins carry no noise estimate and decide nothing, (1, 1)."""
    if any(m is None for m in cell):
        return 1.0, 0.0
    if len(cell) < 2 or all(m == cell[0] for m in cell):
        return 1.0, 1.0
    kept = _scipy_stats.ttest_1samp(cell, 0.0, alternative="greater").pvalue
    lost = _scipy_stats.ttest_1samp(cell, 0.0, alternative="less").pvalue
    return float(kept), float(lost)


def _largest_prefix(fractions: list[float], ok: dict[float, bool]) -> float:
    """The largest f with ok at every fraction <= f (0: none)."""
    best = 0.0
    for f in fractions:
        if not ok[f]:
            break
        best = f
    return best


def kept_bracket(cells: dict[float, dict[str, list]], level: float) -> tuple[Estimate, list[dict]]:
    """The largest tolerated fraction f* of the grid from per-(f, attack) paired tests at
    alpha = (1 - level) / 2 per side, and the tests' table.

    At each f the defence keeps the required share under every attack when each attack's test
    of "mean margin <= 0" rejects at alpha (an intersection-union test: no adjustment is
    needed for "every attack"); it loses it at f when some attack's test of "mean margin >= 0"
    rejects after Holm's adjustment over all (f, attack) cells (statsmodels multipletests:
    "some cell is lost" is a union, so the family of cells is adjusted).  Then

        low  = the largest f kept at every fraction <= f,
        high = the fraction of the grid below the smallest f lost (inf: none is lost),
        point = the largest f whose every mean margin up to f is >= 0,

    so that [low, high] holds f* with the tests' joint level, and a claim "f* = 0.2" passes
    only when 0.1 and 0.2 are kept under every attack and 0.3 is lost under some attack."""
    from statsmodels.stats.multitest import multipletests

    alpha = (1 - level) / 2
    fractions = sorted(cells)
    table = [
        {"fraction": f, "attack": attack, "kept_p": p[0], "lost_p": p[1], "mean_margin": _mean_or_none(cell)}
        for f in fractions
        for attack, cell in cells[f].items()
        for p in [_p_values(cell)]
    ]
    lost = multipletests([t["lost_p"] for t in table], alpha=alpha, method="holm")[0] if table else []
    for t, rejected in zip(table, lost):
        t["kept"], t["lost"] = t["kept_p"] < alpha, bool(rejected)
    at = {f: [t for t in table if t["fraction"] == f] for f in fractions}
    low = _largest_prefix(fractions, {f: all(t["kept"] for t in at[f]) for f in fractions})
    point = _largest_prefix(
        fractions, {f: all(t["mean_margin"] is not None and t["mean_margin"] >= 0 for t in at[f]) for f in fractions}
    )
    first_lost = next((f for f in fractions if any(t["lost"] for t in at[f])), None)
    high = math.inf if first_lost is None else max([0.0] + [f for f in fractions if f < first_lost])
    n = max((len(c) for attacks in cells.values() for c in attacks.values()), default=0)
    return Estimate(point, low, high, n), table


def _mean_or_none(cell: list) -> float | None:
    return None if any(m is None for m in cell) or not cell else math.fsum(cell) / len(cell)


def seeds_tolerating(per_seed_largest: list[float], fractions: list[float]) -> dict[str, dict]:
    """Per f > 0 of the grid: how many seeds tolerate every attack at every fraction up to f (k
    of n) with the exact (Clopper-Pearson) 95 % interval of that share
    (scipy.stats.binomtest(...).proportion_ci(method="exact")).  The median's order-statistic
    interval is these binomial tests inverted: the median is >= f exactly when at least half
    the seeds tolerate f."""
    n = len(per_seed_largest)
    out = {}
    for f in (f for f in fractions if f > 0):
        k = sum(1 for v in per_seed_largest if _finite(v) and v >= f)
        ci = _scipy_stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        out[key(f)] = {"k": k, "n": n, "low": float(ci.low), "high": float(ci.high)}
    return out


def _largest_estimates(setting: dict) -> dict:
    return {s: {agg: estimate_of(v) for agg, v in aggs.items()} for s, aggs in setting["largest_tolerated"].items()}


TESTS = ("median", "paired")


def _reduction(
    select: dict, setting: dict, attack_set: str, aggregator: str, tolerance: float, values: list, what: str, rule: str
) -> dict:
    """The Measurement's reduction under select.test: "median" (default), the median over seeds
    of each seed's largest tolerated fraction with its order-statistic interval (a fraction of
    the grid: identical seeds would give a t interval of zero width), with the per-fraction
    share of seeds that tolerate (exact binomial intervals) in `details`; "paired", the bracket
    of per-(f, attack) paired tests on the progress kept (kept_bracket), its tests' table (at
    the reported 95 %) in `details`.  `values`, the per-seed largest fractions, are shown."""
    test = select.get("test", "median")
    if test not in TESTS:
        raise SelectionError(f"unknown test {test!r} in select.test; choose one of {list(TESTS)}")
    tolerated = rule.format(t=f"{tolerance:g}")
    fractions = sorted({r["fraction"] for r in setting["table"]})
    if test == "median":
        return {
            "values": values,
            "reduce": "median",
            "label": f"median over seeds of the largest tolerated fraction, {what} (tolerated: {tolerated})",
            "details": {"seeds_tolerating": seeds_tolerating(values, fractions)},
        }
    cells = margins(setting, attack_set, aggregator, tolerance)
    return {
        "values": values,
        "at_level": lambda level: kept_bracket(cells, level)[0],
        "label": (
            f"largest fraction at which every attack's mean paired margin shows the defence keeps its share, "
            f"{what} (tolerated: {tolerated}; per-seed largest fractions shown)"
        ),
        "details": {"paired_tests": kept_bracket(cells, 0.95)[1]},
    }


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


def _static_measure(exp: dict, aggregator: str, attack_set: str, select: dict) -> Measurement:
    name, setting = find_setting(exp, {"where": {"strategy": "static"}})
    largest = _largest(setting, attack_set)
    if aggregator not in largest:
        raise SelectionError(f"the static setting has no aggregator {aggregator} (it has {list(largest)})")
    attacks = sorted({r["attack"] for r in setting["table"] if r["attack_set"] == attack_set})
    tolerance = select.get("tolerance", exp["static_tolerance"])
    values = (
        largest[aggregator]["per_seed"]
        if tolerance == exp["static_tolerance"]
        else largest_at(setting, attack_set, aggregator, tolerance)
    )
    what = (
        f"{aggregator}, static (no model: D = {setting['dim']}, {setting['workers']} workers, "
        f"{setting['steps']} steps), {attack_set} attacks"
    )
    reduction = _reduction(
        select, setting, attack_set, aggregator, tolerance, values, what, "|Agg_f - Agg_0|/|Agg_0| <= {t}"
    )
    found = reduction.pop("details")
    return Measurement(
        **reduction,
        seeds=setting["seeds"],
        details={
            **found,
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
        return _static_measure(exp, aggregator, attack_set, select)
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
    what = f"{aggregator}, {setting['strategy']}, {attack_set} attacks"
    reduction = _reduction(
        select, setting, attack_set, aggregator, tolerance, values, what, "loss decrease >= {t} x clean"
    )
    found = reduction.pop("details")
    return Measurement(
        **reduction,
        seeds=setting["seeds"],
        details={
            **found,
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


def _test_lines(d: dict) -> list[str]:
    """The reading's per-fraction evidence: the share of seeds that tolerate (median readings)
    or the paired tests per (f, attack) (paired readings)."""
    lines = []
    if "seeds_tolerating" in d:
        cells = [
            f"f={unkey(f)} {c['k']}/{c['n']} [{c['low']:.2f}, {c['high']:.2f}]"
            for f, c in d["seeds_tolerating"].items()
        ]
        lines.append(
            "- Seeds that tolerate every attack up to f (exact 95% CI of the share): " + "; ".join(cells) + "."
        )
    if "paired_tests" in d:
        cells = [
            f"f={t['fraction']:g} {t['attack']} margin {num(t['mean_margin'])} "
            + ("kept" if t["kept"] else "lost" if t["lost"] else "undecided")
            for t in d["paired_tests"]
        ]
        lines.append(
            "- Paired tests per (f, attack) at 95% (margin = mean over seeds of the progress kept above the "
            "threshold; lost after Holm over the cells): " + "; ".join(cells) + "."
        )
    return lines


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
        return lines + _test_lines(d)
    lines = [
        f"- Clean run's held-out loss decrease ({d['aggregator']}): {measured(d['clean_loss_decrease'])}.",
        f"- Largest tolerated fraction: {_largest_line(d['largest_tolerated'])}.",
        *_test_lines(d),
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
    learns = clean["loss_decrease"]["low"] is not None and clean["loss_decrease"]["low"] > 0
    if not learns:  # a ratio to a decrease that is noise would be noise: say so instead of drawing it
        low = clean["loss_decrease"]["low"]
        ax.text(
            0.5,
            0.5,
            f"the clean run does not learn\n(loss decrease {clean['loss_decrease']['point']:.2g}, 95% CI low "
            f"{'undefined' if low is None else f'{low:.2g}'}):\nno ratio to it is drawn",
            ha="center",
            va="center",
            fontsize=7,
            transform=ax.transAxes,
        )
        ax.set_title(f"{STRATEGY_LABELS.get(setting['strategy'], setting['strategy'])}, {agg}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        return
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
        label = f"{attack} ({attack_set})"  # a divergence is the x at the panel's bottom
        ax.plot(xs, ys, LINESTYLE[attack_set], marker="o", ms=3, color=color, label=label)
        if diverged is not None:
            ax.plot([diverged], [bottom], marker="x", ms=8, mew=2, color=color, clip_on=False)
    ax.axhline(tolerance, color="0.4", lw=0.8, ls=":")
    ax.set_ylim(bottom, high + pad)
    tolerated = ", ".join(f"{s} {_shown(_median(v[agg]))}" for s, v in setting["largest_tolerated"].items())
    ax.set_title(
        f"{STRATEGY_LABELS.get(setting['strategy'], setting['strategy'])}, {agg}\nclean decrease "
        f"{clean['loss_decrease']['point']:.3g}; median largest tolerated f: {tolerated}",
        fontsize=7,
    )
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


STRATEGY_LABELS = {
    "momentum": "Momentum-Centric (protocol)",
    "momentum_random_warmup": "Momentum-Centric after a random warm-up",
    "momentum_oracle": "Momentum-Centric, m from g (oracle)†",
    "random": "Algorithm 1 (random directions, trimmed proofs)",
    "static": "static (the authors' E7, no model)",
}


def _median(estimate: dict | None) -> float:
    """The median over seeds of a per-seed statistic (NaN if none)."""
    values = [v for v in (estimate or {}).get("per_seed", []) if v is not None]
    return statistics.median(values) if values else math.nan


def _shown(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.2g}"


def _tolerance_grid(ax, exp: dict) -> None:
    """Every (setting, aggregator): the median over seeds of the largest tolerated fraction,
    the paper's attacks / the authors' (the sweep the panels above show one column of)."""
    settings = list(exp["settings"].values())
    aggs = list(next(iter(settings[0]["largest_tolerated"].values())))

    grid = [[_median(s["largest_tolerated"].get("paper", {}).get(a)) for a in aggs] for s in settings]
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=0.4, aspect="auto")
    for i, s in enumerate(settings):
        for j, a in enumerate(aggs):
            cells = [_median(s["largest_tolerated"].get(k, {}).get(a)) for k in ATTACK_SETS]
            text = " / ".join(_shown(v) for v in cells)
            ax.text(j, i, text, ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(aggs)), aggs, rotation=30, ha="right", fontsize=6)
    ax.set_yticks(
        range(len(settings)), [STRATEGY_LABELS.get(s["strategy"], s["strategy"]) for s in settings], fontsize=6
    )
    ax.set_title("median largest tolerated f: paper's / authors' attacks", fontsize=7)
    ax.grid(False)


def plot(data: dict, claims: dict[str, dict], path: str | Path) -> None:
    """E7 in two rows.  Top: per training setting, at the claim's aggregator, the loss decrease
    relative to the clean run vs f, a line per attack (or, where the clean run does not learn,
    why no ratio is drawn).  Bottom: the static measurement at the claim's and the authors'
    aggregators (the authors' metric solid, ours dashed) and every (setting, aggregator)'s
    largest tolerated fraction as a grid."""
    exp, scale = data["experiment_data"], data["scale"]
    aggregator = ((claims.get("C7") or {}).get("select") or {}).get("aggregator", "trimmed_0.1")
    training = [s for s in exp["settings"].values() if s["strategy"] != "static"]
    static = [s for s in exp["settings"].values() if s["strategy"] == "static"]
    columns = max(len(training), 3)
    fig, axes = plt.subplots(2, columns, figsize=(4.0 * columns, 7.6), squeeze=False)
    for ax, setting in zip(axes[0], training):
        aggs = next(iter(setting["largest_tolerated"].values()))
        _training_panel(ax, setting, aggregator if aggregator in aggs else next(iter(aggs)), exp["tolerance"])
        ax.set_xlabel("Byzantine fraction f", fontsize=7)
    for ax in axes[0][len(training) :]:
        ax.axis("off")
    axes[0][0].set_ylabel("loss decrease / clean run's", fontsize=7)
    handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.52), ncol=6, fontsize=6)
    bottom = list(axes[1])
    for setting in static:
        aggs = next(iter(setting["largest_tolerated"].values()))
        for agg in [a for a in (aggregator, "trimmed_0.15") if a in aggs][: len(bottom) - 1]:
            ax = bottom.pop(0)
            _static_panel(ax, setting, agg, exp["static_tolerance"])
            ax.set_xlabel("Byzantine fraction f", fontsize=7)
            ax.legend(fontsize=6, loc="upper left")
    for ax in bottom:  # the grid takes the rest of the row
        ax.remove()
    _tolerance_grid(fig.add_subplot(axes[0][0].get_gridspec()[1, columns - len(bottom) :]), exp)
    fig.text(
        0.5,
        -0.01,
        f"top: mean over seeds, dotted line = the tolerance {exp['tolerance']:g} of the clean progress, solid = the "
        "paper's attacks, dashed = the authors', x = diverged (a failure to tolerate).  Static: dotted = tolerance "
        f"{exp['static_tolerance']} of our relative error.  † needs true gradients",
        ha="center",
        fontsize=7,
    )
    fig.suptitle(f"E7 Byzantine tolerance — {dims(scale)}")
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=4.0)
    save_figure(fig, path)
    plt.close(fig)


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
