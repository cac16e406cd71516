"""Stage 4 of the pipeline: one claim's verdict from its experiment's data file.

    evaluate_claim     results/data/<experiment>.json -> results/claims/<id>.json + <id>.png

The claim's statistic (paper_checks/statistics.py) reads per-seed values from the data
file; their estimate is the mean with its 95 % Student-t interval across seeds (or the worst
case, for claims that must hold for every value), and `paper_checks.verdict.decide` compares
it with the acceptance region written in paper_checks/claims.yaml.  The verdict file carries
the reason, the data files' SHA-256, the config, the scale and the environment it came from.
"""

from __future__ import annotations

import inspect
import logging
import time

from holograd.experiments.setup import git_commit
from paper_checks.stats import Estimate
from paper_checks.figures import plot_verdict
from paper_checks.files import read_json, sha256_file, write_json
from paper_checks.regions import Region
from paper_checks.statistics import STATISTICS, Measurement, SelectionError
from paper_checks.verdict import decide

log = logging.getLogger("paper_checks")


def evaluate(claim: dict, data: dict) -> tuple[Measurement, Estimate, str, str]:
    """(Measurement, Estimate, verdict, reason) of a claim on its experiment's data."""
    region = Region.parse(claim["acceptance"])
    statistic = STATISTICS.get(claim["id"])
    if statistic is None:
        raise KeyError(f"claim {claim['id']} has no statistic in paper_checks/statistics.py")
    try:
        extra = {"region": region} if "region" in inspect.signature(statistic).parameters else {}
        measurement = statistic(data, claim["select"], **extra)
    except SelectionError as exc:
        measurement = Measurement(values=[float("nan")], seeds=[], label="not measured", untestable=str(exc))
    estimate = measurement.estimate()
    verdict, reason = decide(estimate, region, measurement.untestable)
    return measurement, estimate, verdict, reason


def evaluate_claim(claim: dict, experiment: dict, data_file: str, output: str, figure: str) -> None:
    """Write a claim's verdict JSON and its figure."""
    start = time.perf_counter()
    data = read_json(data_file)
    measurement, estimate, verdict, reason = evaluate(claim, data)
    record = {
        "claim": claim["id"],
        "statement": claim["statement"],
        "section": claim["section"],
        "statistic": claim["statistic"],
        "expected": claim["expected"],
        "acceptance": claim["acceptance"],
        "select": claim["select"],
        "measured": {"label": measurement.label, "per_seed": measurement.values, "seeds": measurement.seeds, **estimate.as_dict()},
        "verdict": verdict,
        "reason": reason,
        "details": measurement.details,
        "figure": str(figure),
        "experiment": {"key": claim["experiment"], "id": experiment["id"], "title": experiment["title"], "module": experiment["module"]},
        "data_files": [{"path": str(data_file), "sha256": sha256_file(data_file)}],
        "config": data["config"],
        "config_sha256": data["config_sha256"],
        "scale": data["scale"],
        "environment": {**data["environment"], "verdict_git_commit": git_commit()},
    }
    plot_verdict(record, region_text=claim["acceptance"], path=figure)
    record["wall_seconds"] = {"runs_total": data["wall_seconds"]["runs_total"], "claim": round(time.perf_counter() - start, 3)}
    write_json(record, output)
    log.info("%s: %s (%s)", claim["id"], verdict, reason)
