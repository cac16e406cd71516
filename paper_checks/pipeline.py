"""The pipeline's jobs as functions: what each workflow script calls, one line per script.

    run_experiment     one (experiment, setting, seed) job       -> results/runs/<exp>/<setting>/seed<s>.json
    aggregate          all jobs of an experiment                  -> results/data/<data>.json
    evaluate_claim     one claim from its experiment's data       -> results/claims/<id>.json (+ figure)
    write_summary      every claim and experiment                 -> results/RESULTS_SUMMARY.md

Every file carries its provenance: the configuration it was made from and that
configuration's SHA-256, which the next stage checks, so a file left over from another
configuration is refused instead of being mixed in.  Wall times and timestamps are kept in
fields named `wall_seconds` and `finished_at`, the only fields that differ between reruns.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from paper_checks.provenance import git_commit, read_json, sha256_file, write_json
from paper_checks.settings import config_hash, resolve, setting_names, sweep_of

log = logging.getLogger("paper_checks")


class ProvenanceError(ValueError):
    """A file was made from a different configuration than the one the stage expects."""


def setup_logging(path: str | Path | None, threads: int | None = None) -> None:
    """Send logging and stderr (tracebacks included) to the job's log file; set torch's threads."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stderr = stream
        logging.basicConfig(stream=stream, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True)
        logging.captureWarnings(True)
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def job_config(section: dict, setting: str, device: str) -> dict:
    """What one job runs with, and what its provenance hash covers."""
    return {"experiment": resolve(section, setting), "device": device}


# --- stage 2: one measurement job ------------------------------------------------------


def run_experiment(module: str, experiment: str, setting: str, seed: int, config: dict, tokens: str, output: str) -> None:
    """Run module.run(config, seed, cache, device) and write its metrics with provenance."""
    from holograd.data import load_token_cache
    from holograd.experiments.setup import resolve_device

    start = time.perf_counter()
    runner = importlib.import_module(module)
    cache = load_token_cache(tokens)
    device = resolve_device(config["device"])
    log.info("%s %s seed %d on %s: %s", experiment, setting, seed, device, config["experiment"])
    metrics = runner.run(config["experiment"], int(seed), cache, device)
    scale, environment = metrics.pop("scale"), metrics.pop("environment")
    record = {
        "experiment": experiment,
        "setting": setting,
        "seed": int(seed),
        "config": config,
        "config_sha256": config_hash(config),
        "tokens": {"path": str(tokens), "sha256": cache.meta["sha256"]},
        "scale": scale,
        "environment": environment,
        "metrics": metrics,
        "wall_seconds": round(time.perf_counter() - start, 3),
        "finished_at": _now(),
    }
    write_json(record, output)
    log.info("wrote %s in %.1fs", output, record["wall_seconds"])


# --- stage 3: aggregation --------------------------------------------------------------


def aggregate(module: str, experiment: str, section: dict, device: str, runs: list[str], output: str) -> None:
    """Check every run's provenance, then write module.aggregate(runs, section) with provenance."""
    expected = {(s, seed) for s in setting_names(section) for seed in section["seeds"]}
    records, found = [], set()
    for path in runs:
        r = read_json(path)
        want = config_hash(job_config(section, r["setting"], device))
        if r.get("config_sha256") != want:
            raise ProvenanceError(f"{path} was made from a different configuration (hash {str(r.get('config_sha256'))[:12]}, expected {want[:12]}); delete it and rerun")
        found.add((r["setting"], r["seed"]))
        r["sweep"] = sweep_of(section, r["setting"])
        records.append(r)
    if found != expected:
        raise ProvenanceError(f"{experiment}: runs {sorted(found)} do not match the configured settings x seeds {sorted(expected)}")
    data = importlib.import_module(module).aggregate(records, section)
    for name, s in data.get("settings", {}).items():
        s["config"] = resolve(section, name)
    first = min(records, key=lambda r: (r["setting"], r["seed"]))
    out = {
        "experiment": experiment,
        "config": {"experiment": section, "device": device},
        "config_sha256": config_hash({"experiment": section, "device": device}),
        "scale": {**first["scale"], "seeds": sorted(section["seeds"]), "settings": setting_names(section)},
        "environment": {
            "torch": sorted({r["environment"]["torch"] for r in records}),
            "devices": sorted({r["environment"]["device"] for r in records}),
        },
        "runs": [{"path": str(p), "sha256": sha256_file(p), "setting": r["setting"], "seed": r["seed"]} for p, r in zip(runs, records)],
        "wall_seconds": {"runs_total": round(sum(r["wall_seconds"] for r in records), 3)},
        "experiment_data": data,
    }
    write_json(out, output)
    log.info("%s: aggregated %d runs into %s", experiment, len(records), output)


# --- stage 4: claims -------------------------------------------------------------------


def evaluate(claim: dict, data: dict):
    """(Measurement, Estimate, verdict, reason) of a claim on its experiment's data."""
    from holograd.stats import mean_ci
    from paper_checks.regions import Region
    from paper_checks.statistics import STATISTICS, SelectionError
    from paper_checks.verdict import decide

    region = Region.parse(claim["acceptance"])
    statistic = STATISTICS.get(claim["id"])
    if statistic is None:
        raise KeyError(f"claim {claim['id']} has no statistic in paper_checks/statistics.py")
    try:
        extra = {"region": region} if "region" in inspect.signature(statistic).parameters else {}
        measurement = statistic(data, claim["select"], **extra)
    except SelectionError as exc:
        from paper_checks.statistics import Measurement

        measurement = Measurement(values=[float("nan")], seeds=[], label="not measured", untestable=str(exc))
    estimate = mean_ci(measurement.values)
    verdict, reason = decide(estimate, region, measurement.untestable)
    return measurement, estimate, verdict, reason


def evaluate_claim(claim: dict, experiment: dict, data_file: str, output: str, figure: str) -> None:
    """Write a claim's verdict JSON and its figure."""
    from paper_checks.figures import plot_verdict

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
        "environment": {**data["environment"], "git_commit": git_commit()},
    }
    plot_verdict(record, region_text=claim["acceptance"], path=figure)
    record["wall_seconds"] = {"runs_total": data["wall_seconds"]["runs_total"], "claim": round(time.perf_counter() - start, 3)}
    write_json(record, output)
    log.info("%s: %s (%s)", claim["id"], verdict, reason)


# --- stage 5: summary ------------------------------------------------------------------


def write_summary(claims: list[dict], experiments: dict, verdicts: dict[str, str], data_files: dict[str, str], figures: dict[str, str], output: str) -> None:
    """Write results/RESULTS_SUMMARY.md from the verdict and data files."""
    from paper_checks.provenance import write_text
    from paper_checks.summary import render

    text = render(
        claims,
        experiments,
        {cid: read_json(p) for cid, p in verdicts.items()},
        {key: read_json(p) for key, p in data_files.items()},
        figures,
        Path(output).parent,
    )
    write_text(text, output)
    log.info("wrote %s", output)
