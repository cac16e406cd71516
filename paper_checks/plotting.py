"""What every figure shares (seaborn theme, verdict colours, the verdicts' intervals, atomic
saving), the verdict figure of each claim, and the rule's entry point for an experiment's
figure (drawn by its analysis module, paper_checks/experiments/<name>.py).

Figures read the data files only, so restyling a figure never reruns a measurement.
"""

from __future__ import annotations

import math
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


def _verdict_axis(ax, part: dict, rows: list[tuple[str, list, dict]]) -> None:
    """One part of a claim: per-seed values, estimate with CI, acceptance region, expected value."""
    region = Region.parse(part["acceptance"])
    finite = [
        v
        for _, vals, est in rows
        for v in [*vals, est.get("point"), est.get("low"), est.get("high")]
        if v is not None and math.isfinite(v)
    ]
    finite += [part["expected"], *(x for x in (region.low, region.high) if math.isfinite(x))]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1e-6
    band_lo = region.low if math.isfinite(region.low) else lo - pad
    band_hi = region.high if math.isfinite(region.high) else hi + pad
    ax.axvspan(band_lo, band_hi, color=VERDICT_COLOURS["PASS"], alpha=0.15, label=f"acceptance {region}")
    ax.axvline(part["expected"], c="k", ls="--", lw=1, label=f"expected {part['expected']:g}")
    for y, (_, values, est) in enumerate(rows):
        ax.plot(
            [v for v in values if v is not None],
            [y] * len([v for v in values if v is not None]),
            "o",
            c="grey",
            alpha=0.6,
            ms=4,
        )
        point, low, high = est.get("point"), est.get("low"), est.get("high")
        if low is not None and high is not None and math.isfinite(high):
            ax.errorbar([point], [y], xerr=[[point - low], [high - point]], fmt="D", c="k", capsize=4)
        elif point is not None and math.isfinite(point):
            ax.plot([point], [y], "D", c="k")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(lo - pad, hi + pad)
    ax.legend(fontsize=7, loc="best")
    verdict = part["verdict"]
    title = f"part {part['part']}: {verdict}" if part["part"] else verdict
    ax.set_title(title, fontsize=8, color=VERDICT_COLOURS.get(verdict, "k"))


def plot_verdict(record: dict, path: str | Path, controls: Callable[[dict], list] = lambda details: []) -> None:
    """Per part of the claim: per-seed values (dots), the estimate with its 95% CI (diamond),
    the acceptance region and the expected value; the rows `controls` gives from the part's
    details (a negative control, say) below it."""
    parts = record["parts"]
    all_rows = []
    for part in parts:
        m = part["measured"]
        rows = [(m["label"], m["per_seed"], m)]
        rows += controls(part["details"])
        all_rows.append(rows)
    heights = [0.6 + 0.8 * len(rows) for rows in all_rows]
    fig, axes = plt.subplots(
        len(parts), 1, figsize=(8, 0.6 + sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, part, rows in zip(axes[:, 0], parts, all_rows):
        _verdict_axis(ax, part, rows)
    axes[-1, 0].set_xlabel("per-seed values (dots), estimate with 95% CI (diamond)")
    verdict = record["verdict"]
    fig.suptitle(f"{record['claim']}: {verdict}", color=VERDICT_COLOURS.get(verdict, "k"), fontweight="bold")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_experiment(analysis: str, data: dict, claims: list[dict], path: str | Path) -> None:
    """The experiment's figure, drawn by its analysis module; `claims` are its claims' entries
    of claims.yaml (expected values and acceptance regions are drawn from them, never typed)."""
    load_analysis(analysis).plot(data, {c["id"]: c for c in claims}, path)
