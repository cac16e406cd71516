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


LABEL_WIDTH, LABEL_LINES, ID_CHARS = 40, 2, 40
"""A verdict figure's row labels are wrapped to LABEL_LINES lines of LABEL_WIDTH characters
(then cut), reading ids in panel titles cut to ID_CHARS in the middle, where ids differ least."""


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


def reading_title(reading: dict, part: dict) -> str:
    """A panel's title: the reading's id (marked where the protocol cannot run it), the part
    and its verdict, e.g. "oracle [not verifiable] · part b: FAIL"."""
    words = []
    if reading.get("id"):
        words.append(_short_id(reading["id"]) + (" [not verifiable]" if reading.get("verifiable") == "no" else ""))
    if part.get("part"):
        words.append(f"part {part['part']}")
    return f"{' · '.join(words)}: {part['verdict']}" if words else part["verdict"]


def _verdict_axis(ax, part: dict, rows: list[tuple[str, list, dict]], title: str) -> None:
    """One part of a claim under one reading: per-seed values, estimate with CI, acceptance
    region, expected value."""
    region = Region.parse(part["acceptance"])
    finite = [
        v
        for _, vals, est in rows
        for v in [*vals, est.get("point"), est.get("low"), est.get("high")]
        if v is not None and math.isfinite(v)
    ]
    finite += [part["expected"], *(x for x in (region.low, region.high) if math.isfinite(x))]
    decision = part.get("decision") or {}
    finite += [v for v in (decision.get("low"), decision.get("high")) if v is not None and math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1e-6
    band_lo = region.low if math.isfinite(region.low) else lo - pad
    band_hi = region.high if math.isfinite(region.high) else hi + pad
    ax.axvspan(band_lo, band_hi, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"acceptance {region}")
    ax.axvline(part["expected"], c="k", ls="--", lw=1, label=f"expected {part['expected']:g}")
    if decision.get("low") is not None and decision.get("high") is not None and math.isfinite(decision["high"]):
        ax.plot(
            [decision["low"], decision["high"]],
            [0, 0],
            c=VERDICT_COLOURS.get(part["verdict"], "k"),
            lw=5,
            alpha=0.5,
            solid_capstyle="butt",
            label="decision interval" + (f" ({100 * decision['level']:.4g}%)" if decision.get("level") else ""),
        )
    for y, (_, values, est) in enumerate(rows):
        shown = [v for v in values if v is not None]
        ax.plot(shown, [y] * len(shown), "o", c="grey", alpha=0.6, ms=4)
        point, low, high = est.get("point"), est.get("low"), est.get("high")
        if low is not None and high is not None and math.isfinite(high):
            ax.errorbar([point], [y], xerr=[[point - low], [high - point]], fmt="D", c="k", capsize=4)
        elif point is not None and math.isfinite(point):
            ax.plot([point], [y], "D", c="k")
    ax.set_yticks(range(len(rows)), [_label(r[0]) for r in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(lo - pad, hi + pad)
    ax.legend(fontsize=6, loc="best")
    ax.set_title(title, fontsize=8, loc="left", color=VERDICT_COLOURS.get(part["verdict"], "k"), fontweight="bold")


def plot_verdict(record: dict, path: str | Path, controls: Callable[[dict], list] = lambda details: []) -> None:
    """Per reading of the claim (a verdict file's `readings`; a record without them is one
    reading) and per part: per-seed values (dots), the estimate with its 95% CI (diamond), the
    decision interval the verdict reads (a bar in the verdict's colour), the acceptance region
    and the expected value; the rows `controls` gives from the part's
    details (a negative control, say) below it.  One panel per (reading, part), titled with
    the reading, the part and its verdict in the verdict's colour; the figure grows with them."""
    readings = record.get("readings") or [{"parts": record["parts"]}]
    panels = []
    for reading in readings:
        for part in reading["parts"]:
            m = part["measured"]
            rows = [(m["label"], m["per_seed"], m), *controls(part["details"])]
            named = len(readings) > 1 or reading.get("id", "as-stated") != "as-stated"
            panels.append((part, rows, reading_title(reading if named else {}, part)))
    heights = [0.7 + 0.4 * len(rows) for _, rows, _ in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, 0.8 + sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, (part, rows, title) in zip(axes[:, 0], panels):
        _verdict_axis(ax, part, rows, title)
    axes[-1, 0].set_xlabel(
        "per-seed values (dots), estimate with 95% CI (diamond), the interval the verdict reads (bar: 90%, "
        "or wider for a primary reading, one of the confirmatory family)"
    )
    verdict = record["verdict"]
    primary = f" (primary reading: {record.get('primary_reading')})" if len(readings) > 1 else ""
    fig.suptitle(f"{record['claim']}: {verdict}{primary}", color=VERDICT_COLOURS.get(verdict, "k"), fontweight="bold")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_experiment(analysis: str, data: dict, claims: list[dict], path: str | Path) -> None:
    """The experiment's figure, drawn by its analysis module; `claims` are its claims' entries
    of claims.yaml (expected values and acceptance regions are drawn from them, never typed)."""
    load_analysis(analysis).plot(data, {c["id"]: c for c in claims}, path)
