"""results/verdicts.csv and results/verdicts.json: every verdict of a run as a table, one row
per (claim, reading, part), what a reader loads into pandas (`pd.read_csv`) instead of
walking the verdict files.

Columns (COLUMNS): the claim and its statement; the reading, its role (primary: a member of
the confirmatory family; sensitivity) and whether the protocol can run it; the part; what
was measured (its label), the point estimate with its 95 % interval and the number of seeds;
the interval the verdict decided on, at its level (empty for an estimate with one interval:
a worst case, a grid bracket); the acceptance region and the paper's expected value; the
verdict, its direction ("too low" / "too high" for a FAIL: where the decision interval lies
against the region; empty otherwise), whether it follows from an identity (`structural`) and
its reason; the D measured at beside the paper's.
A claim its run did not judge has one NOT RUN row per reading, with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from holograd.files import write_text
from paper_checks.catalog import readings_of
from paper_checks.regions import Region
from paper_checks.verdict import FAIL, NOT_RUN

CSV, JSON = "verdicts.csv", "verdicts.json"
"""The table's files, written beside the summary."""

COLUMNS = [
    "claim",
    "statement",
    "reading",
    "role",
    "verifiable",
    "part",
    "statistic",
    "point",
    "ci95_low",
    "ci95_high",
    "n",
    "decision_level",
    "decision_low",
    "decision_high",
    "acceptance",
    "expected",
    "verdict",
    "direction",
    "structural",
    "reason",
    "D_ours",
    "D_paper",
]


def direction(verdict: str, acceptance: str, low: float | None, high: float | None) -> str:
    """Where a FAIL lies: "too high" when the decision interval lies wholly above the
    acceptance region, "too low" when wholly below; "" for any other verdict."""
    if verdict != FAIL or low is None or high is None:
        return ""
    region = Region.parse(acceptance)
    if region.above(low):
        return "too high"
    return "too low" if region.below(high) else ""


def _number(x) -> float | None:
    """A JSON number as the table holds it (None: empty; an infinite end stays infinite)."""
    return None if x is None else float(x)


def _dims(value) -> str:
    return " / ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def claim_rows(claim: dict, verdict: dict | None, not_run: str) -> list[dict]:
    """The rows of one claim: every (reading, part) of its verdict file, or NOT RUN per reading."""
    paper_d = claim["paper_dim"]["D"]
    base = {"claim": claim["id"], "statement": claim["statement"], "D_paper": paper_d}
    if verdict is None:
        return [
            {
                **base,
                "reading": r["id"],
                "role": "primary" if i == 0 else "sensitivity",
                "verifiable": r["verifiable"],
                "verdict": NOT_RUN,
                "reason": not_run,
            }
            for i, r in enumerate(readings_of(claim))
        ]
    rows = []
    for reading in verdict["readings"]:
        for part in reading["parts"]:
            m, decision = part["measured"], part.get("decision") or {}
            low, high = _number(decision.get("low")), _number(decision.get("high"))
            rows.append(
                {
                    **base,
                    "reading": reading["id"],
                    "role": reading.get("role", ""),
                    "verifiable": reading["verifiable"],
                    "part": part.get("part", ""),
                    "statistic": m["label"],
                    "point": _number(m.get("point")),
                    "ci95_low": _number(m.get("low")),
                    "ci95_high": _number(m.get("high")),
                    "n": m.get("n"),
                    "decision_level": decision.get("level"),
                    "decision_low": low,
                    "decision_high": high,
                    "acceptance": part["acceptance"],
                    "expected": part["expected"],
                    "verdict": part["verdict"],
                    "direction": direction(part["verdict"], part["acceptance"], low, high),
                    "structural": bool(part.get("structural")),
                    "reason": part["reason"],
                    "D_ours": _dims(verdict["scale"]["D"]),
                }
            )
    return rows


def verdict_frame(claims: list[dict], verdicts: dict[str, dict], not_run: dict[str, str] | None = None) -> pd.DataFrame:
    """The table of every claim (claims.yaml's order) under every reading and part."""
    not_run = not_run or {}
    rows = []
    for claim in claims:
        reason = not_run.get(claim["id"], f"experiment `{claim['experiment']}` is not in the configuration")
        rows.extend(claim_rows(claim, verdicts.get(claim["id"]), reason))
    return pd.DataFrame(rows, columns=COLUMNS)


def write_verdict_table(frame: pd.DataFrame, directory: str | Path) -> None:
    """verdicts.csv and verdicts.json in `directory`, each written whole or not at all (an
    infinite interval end is written "inf" in the CSV and as the string "inf" in the JSON,
    which has no infinity)."""
    directory = Path(directory)
    write_text(frame.to_csv(index=False), directory / CSV)
    records = [{k: _json_value(v) for k, v in row.items()} for row in frame.astype(object).to_dict(orient="records")]
    write_text(json.dumps(records, indent=1, allow_nan=False) + "\n", directory / JSON)


def _json_value(v):
    """A cell as strict JSON holds it, in the columns' order: empty -> null, an infinite end ->
    "inf" / "-inf"."""
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
