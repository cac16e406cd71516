"""Stage 2 of the pipeline: one measurement job, (experiment, setting, seed) -> a metrics file.

    run_experiment     -> results/runs/<experiment>/<setting>/seed<seed>.json

The job imports the experiment's module (named in paper_checks/experiments.yaml), calls its
`run(config, seed, cache, device)` and writes the metrics together with their provenance:
the job's configuration and its SHA-256, the hash of the code that ran, the token
cache's checksum (aggregation checks all three), the scale it ran at and the software/device it ran on.  This module and the
experiment module are all that a measurement's rerun depends on (workflow/rules/common.smk
hashes exactly these sources).
"""

from __future__ import annotations

import importlib
import logging
import time
from datetime import datetime, timezone

from paper_checks.files import write_json
from paper_checks.settings import config_hash, resolve

log = logging.getLogger("paper_checks")


def job_config(section: dict, setting: str, device: str) -> dict:
    """What one job runs with, and what its provenance hash covers."""
    return {"experiment": resolve(section, setting), "device": device}


def run_experiment(module: str, experiment: str, setting: str, seed: int, config: dict, code: str, tokens: str, output: str) -> None:
    """Run module.run(config, seed, cache, device) and write its metrics with provenance.

    `code` is the hash of the measurement's source (the rule's params), recorded so that
    aggregation can refuse runs made by other code."""
    from holograd.data import load_token_cache
    from holograd.experiments.setup import resolve_device

    start = time.perf_counter()
    experiment_module = importlib.import_module(module)
    cache = load_token_cache(tokens)
    device = resolve_device(config["device"])
    log.info("%s %s seed %d on %s: %s", experiment, setting, seed, device, config["experiment"])
    metrics = experiment_module.run(config["experiment"], int(seed), cache, device)
    scale, environment = metrics.pop("scale"), metrics.pop("environment")
    record = {
        "experiment": experiment,
        "setting": setting,
        "seed": int(seed),
        "config": config,
        "config_sha256": config_hash(config),
        "code_sha256": code,
        "tokens": {"path": str(tokens), "sha256": cache.meta["sha256"]},
        "scale": scale,
        "environment": environment,
        "metrics": metrics,
        "wall_seconds": round(time.perf_counter() - start, 3),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(record, output)
    log.info("wrote %s in %.1fs", output, record["wall_seconds"])
