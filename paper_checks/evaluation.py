"""Stage 4 of the pipeline: one claim's verdict from its experiment's data file.

    evaluate_claim     results/data/<experiment>.json -> results/claims/<id>.json + <id>.png

The claim's statistic (its `measure`, in the experiment's analysis module
paper_checks/experiments/<name>.py) reads per-seed values from the data file; their estimate
is the mean with its Student-t intervals across seeds (or the worst case, for claims that
must hold for every value), and `paper_checks.verdict.decide` compares it with the acceptance
region written in paper_checks/claims.yaml.  A claim is judged under each of its readings
(paper_checks.catalog.readings_of) by that same rule: the primary (first) reading at
alpha / m, as a member of the confirmatory family of m decisions (catalog.family_size), the
others at alpha.  The verdict file lists every reading's verdict under `readings` and repeats
the primary reading's at the top level, so a reader of one verdict per claim needs nothing
else.  It carries the reason, the data files'
SHA-256, the config, the scale and the environment it came from.
"""

from __future__ import annotations

import logging
import time

from holograd.files import read_json, write_json
from paper_checks.catalog import family_size, load_claims, readings_of
from paper_checks.experiment import Experiment, Measurement, SelectionError, load_analysis
from paper_checks.hashing import TIMING, content_sha256
from paper_checks.plotting import plot_verdict
from paper_checks.provenance import git_commit
from paper_checks.regions import Region
from paper_checks.verdict import ALPHA, combine, decide, decision_level

log = logging.getLogger("paper_checks")


def parts_of(claim: dict) -> list[dict]:
    """The claim's parts: the top-level statistic first, then those under `also_requires`."""
    first = {
        "part": claim.get("part", ""),
        **{k: claim[k] for k in ("statistic", "expected", "acceptance", "minimum_effect", "structural") if k in claim},
    }
    return [first, *claim.get("also_requires", [])]


def evaluate(claim: dict, data: dict, analysis: Experiment, alpha: float = ALPHA) -> list[dict]:
    """Per part of the claim: its Measurement (by the experiment's analysis), Estimate,
    verdict and reason at level alpha."""
    parts = parts_of(claim)
    if claim["id"] not in analysis.claims:
        raise KeyError(f"claim {claim['id']} has no statistic in its experiment's analysis module")
    statistic = analysis.claims[claim["id"]].measure
    regions = [Region.parse(p["acceptance"]) for p in parts]
    try:
        measured = statistic(data, claim["select"], regions[0])
    except SelectionError as exc:
        measured = [Measurement(values=[float("nan")], seeds=[], label="not measured", untestable=str(exc))] * len(
            parts
        )
    measured = measured if isinstance(measured, list) else [measured]
    if len(measured) != len(parts):
        raise ValueError(
            f"claim {claim['id']}: claims.yaml names {len(parts)} part(s), its statistic measures {len(measured)}"
        )
    results = []
    for part, region, measurement in zip(parts, regions, measured):
        estimate = measurement.estimate()  # as reported: with its 95 % interval
        decided = measurement.estimate(decision_level(alpha))  # with its interval at the decision's level
        verdict, reason = decide(
            decided, region, measurement.untestable, alpha=alpha, structural=part.get("structural")
        )
        low, high = decided.bounds(decision_level(alpha))
        # the interval the verdict read: at the decision's level, or an estimate's only interval
        # (a worst case, a grid bracket: level None)
        level = None if measurement.fixed is not None or measurement.reduce == "worst" else decision_level(alpha)
        decision = {"alpha": alpha, "level": level, "low": low, "high": high}
        results.append(
            {
                **part,
                "measurement": measurement,
                "estimate": estimate,
                "decision": decision,
                "verdict": verdict,
                "reason": reason,
            }
        )
    return results


def judge_reading(claim: dict, data: dict, analysis: Experiment, alpha: float = ALPHA) -> dict:
    """One reading's verdict at level alpha: `claim` is the reading's effective claim
    (readings_of), judged part by part (evaluate) and combined; its select, statistic,
    expected, acceptance and measurement are those of its first part, as the verdict file's
    top level has them."""
    results = evaluate(claim, data, analysis, alpha)
    parts = [
        {
            **{k: r[k] for k in ("part", "statistic", "expected", "acceptance", "verdict", "reason", "decision")},
            **{k: r[k] for k in ("minimum_effect", "structural") if k in r},
            "measured": {
                "label": r["measurement"].label,
                "per_seed": r["measurement"].values,
                "seeds": r["measurement"].seeds,
                **r["estimate"].as_dict(),
            },
            "details": r["measurement"].details,
        }
        for r in results
    ]
    reason = (
        parts[0]["reason"]
        if len(parts) == 1
        else "; ".join(f"part {p['part']}: {p['verdict']}, {p['reason']}" for p in parts)
    )
    return {
        "select": claim["select"],
        "verdict": combine([p["verdict"] for p in parts]),
        "reason": reason,
        "parts": parts,
        "details": {k: v for p in parts for k, v in p["details"].items()},
        **{k: parts[0][k] for k in ("statistic", "expected", "acceptance", "measured")},
    }


def evaluate_claim(
    claim: dict, experiment: dict, data_file: str, output: str, figure: str, code: str, family: int | None = None
) -> None:
    """Write a claim's verdict JSON and its figure, every reading judged: the primary one as a
    member of the confirmatory family of `family` decisions (alpha / family; by default the
    family of the shipped claims.yaml), the others at alpha.  `code` is the hash of the source
    that judged it (this stage and the experiment's analysis), recorded so that a summary
    after a failed run can tell a verdict of this code from one left by an earlier run."""
    start = time.perf_counter()
    family = family_size(load_claims()) if family is None else family
    data = read_json(data_file)
    analysis = load_analysis(experiment["analysis"])
    readings = [
        {
            **{k: r[k] for k in ("id", "reading", "verifiable")},
            "role": "primary" if i == 0 else "sensitivity",
            **judge_reading(
                {k: v for k, v in r["claim"].items() if k != "region"},
                data,
                analysis,
                ALPHA / family if i == 0 else ALPHA,
            ),
        }
        for i, r in enumerate(readings_of(claim))
    ]
    primary = readings[0]
    record = {
        "claim": claim["id"],
        "statement": claim["statement"],
        "section": claim["section"],
        **{k: primary[k] for k in ("statistic", "expected", "acceptance", "measured", "select", "verdict", "reason")},
        "details": primary["details"],
        "parts": primary["parts"],
        "primary_reading": primary["id"],
        # the D we measured at beside the D at which the paper states its number
        "dims": {"ours": data["scale"]["D"], "paper": claim["paper_dim"]},
        "family": {"size": family, "alpha": ALPHA, "primary_alpha": ALPHA / family, "adjustment": "Bonferroni"},
        "readings": readings,
        "figure": str(figure),
        "experiment": {
            "key": claim["experiment"],
            "id": experiment["id"],
            "title": experiment["title"],
            "module": experiment["module"],
        },
        "data_files": [{"path": str(data_file), "sha256": content_sha256(data_file)}],
        "config": data["config"],
        "config_sha256": data["config_sha256"],
        "code_sha256": code,
        "scale": data["scale"],
        "environment": {**data["environment"], "verdict_git_commit": git_commit()},
    }
    plot_verdict(record, path=figure, controls=analysis.claims[claim["id"]].controls)
    record[TIMING] = {
        "runs_wall_seconds": data[TIMING]["runs_wall_seconds"],
        "claim_wall_seconds": round(time.perf_counter() - start, 3),
    }
    write_json(record, output)
    for r in readings:
        log.info("%s reading %s: %s (%s)", claim["id"], r["id"], r["verdict"], r["reason"])
