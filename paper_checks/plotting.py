"""What every figure shares (seaborn theme, verdict colours, the verdicts' intervals, atomic
saving), the verdict figure of each claim, and the rule's entry point for an experiment's
figure (drawn by its analysis module, paper_checks/experiments/<name>.py).

Figures read the data files only, so restyling a figure never reruns a measurement.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from holograd.files import atomic_write  # noqa: E402
from paper_checks.experiment import load_analysis  # noqa: E402
from paper_checks.intervals import mean_ci  # noqa: E402
from paper_checks.regions import Region  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
VERDICT_COLOURS = {"PASS": "#2a9d55", "FAIL": "#c0392b", "INCONCLUSIVE": "#d68910", "NOT RUN": "#7f8c8d"}


def geometric_mean(values) -> float:
    """exp(mean(log v)) of positive values: the centre a log axis draws."""
    logs = [math.log(v) for v in values if v is not None and v > 0]
    return math.exp(math.fsum(logs) / len(logs)) if logs else math.nan


def log_t_interval(values) -> tuple[float, float]:
    """The 95 % Student-t interval of the log values, mapped back: on a log axis, the band of a
    positive quantity that stays positive (a t interval of the values themselves can reach
    below 0, which a log axis draws as a band down to its bottom)."""
    low, high = t_interval([math.log(v) for v in values if v is not None and v > 0])
    return math.exp(low), math.exp(high)


def t_interval(values) -> tuple[float, float]:
    """The verdicts' 95 % Student-t interval across seeds, as a seaborn `errorbar`.

    seaborn's own ("ci", 95) bootstraps, which with three seeds draws intervals far
    narrower than the ones the verdicts use; the figures must show the same intervals.
    """
    est = mean_ci(list(values))
    return (est.point, est.point) if est.low is None else (est.low, est.high)


def save_figure(fig, path: str | Path) -> None:
    """fig.savefig atomically (PNG, 150 dpi, no timestamp in the metadata)."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None}))


def dims(scale: dict) -> str:
    """ "model, D = ..." for a title; a sweep over models lists each."""
    dims = scale["D"] if isinstance(scale["D"], list) else [scale["D"]]
    models = scale["model"] if isinstance(scale["model"], list) else [scale["model"]]
    return f"{' / '.join(models)}, D = {' / '.join(f'{d:,}' for d in dims)}"


def finish(fig, title: str, path: str | Path) -> None:
    """Title the figure, lay it out, save it (save_figure) and close it."""
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


LABEL_WIDTH, LABEL_LINES, ID_CHARS = 46, 2, 40
"""A verdict figure's row labels are wrapped to LABEL_LINES lines of LABEL_WIDTH characters
(then cut), reading ids cut to ID_CHARS in the middle, where ids differ least."""

ROW_INCHES, PANEL_INCHES = 0.27, 0.75
"""A verdict figure's height: per reading row, and per panel (title, axis); C3's 17 readings
in three panels come to about 6.8 inches."""

CANNOT_TEST = "the run cannot test the claim"
"""How a reason starts when the verdict is INCONCLUSIVE because the run could not test the
claim (a diverged run, a rate at the end of its grid, no progress to compare with)."""


def _label(text: str) -> str:
    """A row label wrapped to at most LABEL_LINES lines, the last cut with an ellipsis if need be."""
    lines = textwrap.wrap(" ".join(str(text).split()), LABEL_WIDTH) or [""]
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][: LABEL_WIDTH - 1].rstrip() + "…"
    return "\n".join(lines)


def _short_id(text: str) -> str:
    """A reading id of at most ID_CHARS characters, its middle replaced by an ellipsis if need
    be (ids of one claim often share a prefix and differ at the end)."""
    if len(text) <= ID_CHARS:
        return text
    head = (ID_CHARS - 1) // 2
    return text[:head] + "…" + text[-(ID_CHARS - 1 - head) :]


def direction_of(part: dict) -> str:
    """ "too low" / "too high" for a FAIL part, from the interval it was decided on; else ""."""
    from paper_checks.verdict_table import direction

    d = part.get("decision") or {}
    return direction(part["verdict"], part["acceptance"], d.get("low"), d.get("high"))


def row_label(reading: dict, part: dict) -> str:
    """A reading's row: its id († where the protocol cannot run it), its verdict and, for a
    FAIL, whether it is too low or too high; "cannot test" where the run could not test it."""
    name = _short_id(reading.get("id") or "as stated") + ("†" if reading.get("verifiable") == "no" else "")
    verdict = part["verdict"]
    if part.get("reason", "").startswith(CANNOT_TEST):
        verdict += ", cannot test"
    elif direction_of(part):
        verdict += f", {direction_of(part)}"
    return f"{name}: {verdict}"


def _panels(readings: list[dict], controls: Callable[[dict], list]) -> list[dict]:
    """The figure's panels: one per (part, acceptance region, expected value), in order of
    first appearance, each with a row per reading that judges that part against that region
    (then the rows `controls` gives for it, a negative control say)."""
    panels: dict[tuple, dict] = {}
    for reading in readings:
        for part in reading["parts"]:
            key = (part.get("part", ""), part["acceptance"], part["expected"])
            panel = panels.setdefault(key, {"part": part, "rows": []})
            m = part["measured"]
            panel["rows"].append(
                {"label": row_label(reading, part), "values": m["per_seed"], "estimate": m, "part": part}
            )
            for label, values, estimate in controls(part["details"]):
                panel["rows"].append({"label": f"↳ {label}", "values": values, "estimate": estimate})
    return list(panels.values())


def _finite(*values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _verdict_axis(ax, panel: dict) -> None:
    """One panel: per row, the per-seed values (dots), the estimate with its 95 % CI (black
    diamond; hollow where the run could not test the claim) and the interval the verdict
    decided on (a bar in the verdict's colour); the acceptance region (green band) and the
    paper's value (dashed).  A log x axis when the values span more than two decades."""
    part, rows = panel["part"], panel["rows"]
    region = Region.parse(part["acceptance"])
    finite = [part["expected"], *_finite(region.low, region.high)]
    for row in rows:
        est, decision = row["estimate"], (row.get("part") or {}).get("decision") or {}
        finite += _finite(*row["values"], est.get("point"), est.get("low"), est.get("high"))
        finite += _finite(decision.get("low"), decision.get("high"))
    positive = [v for v in finite if v > 0]
    log = len(positive) == len(finite) and max(positive) / min(positive) > 100
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1e-6
    left, right = (lo / 1.5, hi * 1.5) if log else (lo - pad, hi + pad)
    ax.axvspan(
        region.low if math.isfinite(region.low) else left,
        region.high if math.isfinite(region.high) else right,
        color=VERDICT_COLOURS["PASS"],
        alpha=0.15,
        label=f"acceptance {region}",
    )
    if region.contains(part["expected"]):
        ax.axvline(part["expected"], c="k", ls="--", lw=1, label=f"paper {part['expected']:g}")
    for y, row in enumerate(rows):
        est, judged = row["estimate"], row.get("part") or {}
        colour = VERDICT_COLOURS.get(judged.get("verdict"), "0.5")
        decision = judged.get("decision") or {}
        if decision.get("low") is not None and decision.get("high") is not None and math.isfinite(decision["high"]):
            # a bar in the verdict's colour (a square where it has no width: every seed alike)
            ax.plot(
                [decision["low"], decision["high"]],
                [y + 0.22] * 2,
                c=colour,
                lw=4,
                alpha=0.6,
                solid_capstyle="butt",
                marker="s" if decision["low"] == decision["high"] else None,
                ms=5,
            )
        values = _finite(*row["values"])
        ax.plot(values, [y] * len(values), "o", c="grey", alpha=0.5, ms=3)
        point, low, high = est.get("point"), est.get("low"), est.get("high")
        cannot = judged.get("reason", "").startswith(CANNOT_TEST)
        style = {"mfc": "white" if cannot else "k", "mec": "k", "c": "k", "ms": 5}
        if point is not None and low is not None and high is not None and math.isfinite(high):
            ax.errorbar([point], [y], xerr=[[point - low], [high - point]], fmt="D", capsize=3, **style)
        elif point is not None and math.isfinite(point):
            ax.plot([point], [y], "D", **style)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.set_yticks(range(len(rows)), [_label(r["label"]) for r in rows], fontsize=6.5)
    for tick, row in zip(ax.get_yticklabels(), rows):
        tick.set_color(VERDICT_COLOURS.get((row.get("part") or {}).get("verdict"), "0.35"))
    ax.set_ylim(len(rows) - 0.5, -0.6)
    ax.tick_params(axis="x", labelsize=7)
    name = f"part {part['part']}: " if part.get("part") else ""
    ax.set_title(f"{name}{_label(part['statistic'])[:160]}", fontsize=7, loc="left")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_verdict(record: dict, path: str | Path, controls: Callable[[dict], list] = lambda details: []) -> None:
    """The claim's verdicts in one figure: a panel per (part, acceptance region), a row per
    reading judged against it (primary first; its id, † where the protocol cannot run it, its
    verdict and a FAIL's direction), each with its per-seed values, estimate and 95 % CI, and
    the interval the verdict decided on in the verdict's colour; `controls` adds rows from a
    part's details (a negative control, say).  The title gives the primary reading's verdict."""
    readings = record.get("readings") or [{"parts": record["parts"]}]
    panels = _panels(readings, controls)
    heights = [PANEL_INCHES + ROW_INCHES * len(p["rows"]) for p in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 0.6 + sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, panel in zip(axes[:, 0], panels):
        _verdict_axis(ax, panel)
    axes[-1, 0].set_xlabel(
        "dots: per-seed values · diamond: estimate with 95% CI (hollow: the run cannot test the claim) · "
        "bar: the interval the verdict decided on, in its colour",
        fontsize=7,
    )
    primary = readings[0]
    directions = sorted({direction_of(p) for p in primary["parts"]} - {""})
    verdict = record["verdict"] + (f", {' and '.join(directions)}" if directions else "")
    named = f" (primary reading {primary['id']})" if primary.get("id") else ""
    fig.suptitle(
        f"{record['claim']}: {verdict}{named}", color=VERDICT_COLOURS.get(record["verdict"], "k"), fontweight="bold"
    )
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_experiment(analysis: str, data: dict, claims: list[dict], path: str | Path) -> None:
    """The experiment's figure, drawn by its analysis module; `claims` are its claims' entries
    of claims.yaml (expected values and acceptance regions are drawn from them, never typed)."""
    load_analysis(analysis).plot(data, {c["id"]: c for c in claims}, path)
