"""The summary's first screen: what was found, in three sentences and one row per claim.

    found_sentences(rows)    three sentences: the primary verdicts by claim, where the failures
                             lie (too low / too high), and the readings in all
    claim_rows(...)          per claim: its statement in a few words (claims.yaml `short`), the
                             primary reading's verdict with its value and decision interval, the
                             readings that pass / fail / are inconclusive, and the direction of
                             a failure

Both read the verdict table (paper_checks.verdict_table), so the first screen, the CSV and
the full table say the same thing.
"""

from __future__ import annotations

import math

import pandas as pd

from paper_checks.formatting import num
from paper_checks.regions import Region
from paper_checks.verdict import FAIL, INCONCLUSIVE, NOT_RUN, PASS, combine

ORDER = (PASS, FAIL, INCONCLUSIVE, NOT_RUN)
WORDS = {
    PASS: ("pass", "passes"),
    FAIL: ("fail", "fails"),
    INCONCLUSIVE: ("are inconclusive", "is inconclusive"),
    NOT_RUN: ("were not run", "was not run"),
}

NOT_VERIFIABLE = "†"
"""The mark of a verdict on a reading that needs true gradients, which the protocol never sends."""


def shown_verdict(verdict: str, verifiable: str) -> str:
    """A verdict as the tables show it: "PASS†" on a reading the protocol cannot run."""
    return f"{verdict}{NOT_VERIFIABLE}" if verifiable == "no" else verdict


def _bound(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return "∞" if x == math.inf else "−∞" if x == -math.inf else num(x)


def _value(part: pd.Series) -> str:
    """ "point [decision interval]" of one part ("—" where it was not measured)."""
    if part["verdict"] == NOT_RUN or pd.isna(part["point"]):
        return "—"
    interval = (
        "" if pd.isna(part["decision_low"]) else f" [{_bound(part['decision_low'])}, {_bound(part['decision_high'])}]"
    )
    return f"{num(part['point'])}{interval}"


def _expected(part: pd.Series) -> str:
    """The paper's value with the acceptance region around it, e.g. "0.07 in [0.04, 0.10]"; the
    region alone where the paper's claim is a direction, not a value (C5's "γ rises": [0.01, inf))."""
    if pd.isna(part.get("acceptance")):
        return "—"
    expected = part.get("expected")
    if pd.isna(expected) or not Region.parse(part["acceptance"]).contains(float(expected)):
        return f"in {part['acceptance']}"
    return f"{num(float(expected))} in {part['acceptance']}"


def reading_verdicts(table: pd.DataFrame) -> dict[str, str]:
    """{reading: its verdict} of one claim's rows, its parts combined by the rule
    (verdict.combine); NOT RUN where any part did not run."""
    return {
        name: NOT_RUN if NOT_RUN in set(group["verdict"]) else combine(list(group["verdict"]))
        for name, group in table.groupby("reading", sort=False)
    }


def claim_rows(claims: list[dict], table: pd.DataFrame) -> list[dict]:
    """One row per claim from the verdict table: id, short statement, the primary reading's
    verdict (marked † if it is not verifiable), its value per part with the interval it was
    decided on, the count of readings per verdict, and where a failing primary lies."""
    rows = []
    for claim in claims:
        mine = table[table["claim"] == claim["id"]]
        verdict_of = reading_verdicts(mine)
        primary = mine[mine["role"] == "primary"] if (mine["role"] == "primary").any() else mine.iloc[:1]
        name = primary["reading"].iloc[0]
        several = len(primary) > 1
        value = "; ".join(f"({p['part']}) {_value(p)}" if several else _value(p) for _, p in primary.iterrows())
        expected = "; ".join((f"({p['part']}) " if several else "") + f"{_expected(p)}" for _, p in primary.iterrows())
        directions = sorted({d for d in primary["direction"].fillna("") if d})
        counts = {v: sum(1 for x in verdict_of.values() if x == v) for v in ORDER}
        rows.append(
            {
                "id": claim["id"],
                "short": claim["short"],
                "reading": name,
                "verdict": shown_verdict(verdict_of[name], primary["verifiable"].iloc[0]),
                "value": value,
                "expected": expected,
                "counts": counts,
                # as the README's and the report's tables show them
                "direction_text": f" ({' and '.join(directions)})" if directions else "",
                "counts_text": " · ".join(str(counts[v]) for v in (PASS, FAIL, INCONCLUSIVE)),
                "readings": len(verdict_of),
                "direction": " and ".join(directions),
            }
        )
    return rows


def _ids(rows: list[dict], verdict: str) -> str:
    return ", ".join(r["id"] for r in rows if r["verdict"].rstrip(NOT_VERIFIABLE) == verdict)


def found_sentences(rows: list[dict]) -> list[str]:
    """Three sentences: the primary verdicts, the failures' directions, the readings in all."""
    parts = []
    for verdict, words in (
        (PASS, "pass"),
        (FAIL, "fail"),
        (INCONCLUSIVE, "are inconclusive"),
        (NOT_RUN, "were not run"),
    ):
        ids = _ids(rows, verdict)
        if ids:
            n = len(ids.split(", "))
            parts.append(f"{n} {words} ({ids})" if n > 1 else f"{n} {_singular(words)} ({ids})")
    first = f"Of the {len(rows)} claims, on their primary readings, " + _join(parts) + "."
    failed = [r for r in rows if r["verdict"].rstrip(NOT_VERIFIABLE) == FAIL]
    below = [r["id"] for r in failed if "too low" in r["direction"]]
    above = [r["id"] for r in failed if "too high" in r["direction"]]
    sides = ([f"below the acceptance region for {_join(below)}"] if below else []) + (
        [f"above it for {_join(above)}" if below else f"above the acceptance region for {_join(above)}"]
        if above
        else []
    )
    second = (
        f"Where a claim fails, our measurement lies {_join(sides)}."
        if sides
        else "No claim fails on its primary reading."
    )
    total = {v: sum(r["counts"][v] for r in rows) for v in ORDER}
    third = (
        f"Across all {sum(r['readings'] for r in rows)} readings, the sensitivity analyses included, "
        f"{total[PASS]} pass, {total[FAIL]} fail and {total[INCONCLUSIVE]} are inconclusive"
        + (f" ({total[NOT_RUN]} not run)" if total[NOT_RUN] else "")
        + "."
    )
    return [first, second, third]


def _singular(words: str) -> str:
    return {"pass": "passes", "fail": "fails", "are inconclusive": "is inconclusive", "were not run": "was not run"}[
        words
    ]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def describe_run(data: dict[str, dict]) -> str | None:
    """Where and how long the run behind these verdicts ran, from its data files: the CPUs with
    their widest vector extension and the arithmetic the jobs were pinned to, the devices, the
    span from the first measurement's start to the last one's end, and the measurement jobs'
    summed seconds.  None when the data files record none of it."""
    from datetime import datetime

    from paper_checks.hashing import TIMING

    envs = [d["environment"] for d in data.values()]
    machines = sorted({m for e in envs for m in e.get("machines", [])})
    devices = sorted({d for e in envs for d in e.get("devices", [])})
    pinned = sorted({p for e in envs for p in e.get("cpu_numerics", [])})
    timings = [d.get(TIMING, {}) for d in data.values()]
    if not machines and not devices:
        return None
    words = [f"CPU {', '.join(machines) or 'unrecorded'}"]
    if pinned:
        words.append(f"jobs pinned to {', '.join(pinned)}")
    words.append(f"devices {', '.join(devices)}")
    starts = [t["first_start"] for t in timings if "first_start" in t]
    ends = [t["last_finish"] for t in timings if "last_finish" in t]
    if starts and ends:
        first, last = datetime.fromisoformat(min(starts)), datetime.fromisoformat(max(ends))
        minutes = (last - first).total_seconds() / 60
        words.append(
            f"measurements from {first:%Y-%m-%d %H:%M} to {last:%H:%M} UTC ({minutes:.0f} min wall, tuning before it "
            "not counted)"
        )
    seconds = sum(t.get("runs_wall_seconds", 0.0) for t in timings)
    words.append(f"{seconds:,.0f} seconds of measurement jobs")
    return "; ".join(words)


COLOURS = {PASS: "#009E73", FAIL: "#D55E00", INCONCLUSIVE: "#E69F00", NOT_RUN: "#BBBBBB"}
"""One colour per verdict, from the Okabe-Ito palette (told apart with any colour vision)."""


def plot_verdict_grid(claims: list[dict], table: pd.DataFrame, path) -> None:
    """The verdicts at a glance: a row per claim, a square per reading (the primary first,
    outlined), coloured by verdict and lettered P / F / I / – ; † marks a reading the protocol
    cannot run, S one whose verdict follows from an identity (structural)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    from paper_checks.plotting import save_figure

    per_claim = []
    for claim in claims:
        mine = table[table["claim"] == claim["id"]]
        cells = []
        verdict_of = reading_verdicts(mine)
        for name, group in mine.groupby("reading", sort=False):
            cells.append(
                {
                    "verdict": verdict_of[name],
                    "dagger": group["verifiable"].iloc[0] == "no",
                    "structural": bool(group["structural"].fillna(False).astype(bool).any()),
                    "primary": (group["role"] == "primary").any(),
                }
            )
        per_claim.append((claim, cells))
    width = max(len(cells) for _, cells in per_claim)
    fig, ax = plt.subplots(figsize=(2.8 + 0.42 * width, 0.5 + 0.42 * len(per_claim)))
    letters = {PASS: "P", FAIL: "F", INCONCLUSIVE: "I", NOT_RUN: "–"}
    for row, (claim, cells) in enumerate(per_claim):
        y = len(per_claim) - 1 - row
        for col, c in enumerate(cells):
            ax.add_patch(
                Rectangle(
                    (col, y),
                    0.9,
                    0.9,
                    facecolor=COLOURS[c["verdict"]],
                    edgecolor="black",
                    lw=2.2 if c["primary"] else 0,
                )
            )
            text = letters[c["verdict"]] + ("†" if c["dagger"] else "") + ("S" if c["structural"] else "")
            ax.text(col + 0.45, y + 0.45, text, ha="center", va="center", fontsize=8, color="white", weight="bold")
        ax.text(-0.2, y + 0.45, f"{claim['id']}  {claim['short']}", ha="right", va="center", fontsize=8)
    ax.set_xlim(-0.1, width)
    ax.set_ylim(-0.1, len(per_claim))
    ax.axis("off")
    handles = [Patch(facecolor=COLOURS[v], label=v) for v in ORDER]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=4,
        fontsize=7,
        frameon=False,
        title="outlined: the primary reading · †: needs true gradients · S: follows from an identity",
        title_fontsize=7,
    )
    ax.set_title("Every claim under every reading (primary first)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
