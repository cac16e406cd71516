"""Stage 2 of the pipeline: one measurement job, (experiment, setting, seed) -> a metrics file.

    tune_experiment    -> results/tuning/<experiment>/<setting>.json   (training experiments)
    run_experiment     -> results/runs/<experiment>/<setting>/seed<seed>.json

The job imports the experiment's measurement module (`module` in paper_checks/experiments.yaml),
calls its `run(config, seed, cache, device, checkpoint=...)` (`tune(config, cache, device,
checkpoint=...)` for a tuning job) and writes the metrics together with their provenance:
the job's configuration and its SHA-256, the hash of the code that ran, the token
cache's checksum (aggregation checks all three), the scale it ran at and the software/device
it ran on.  This module and the experiment module are all that a measurement's rerun depends
on (workflow/rules/common.smk hashes exactly these sources).

A training job saves its progress every `checkpoint_every` steps to the checkpoint this
module opens and hands to the experiment (holograd.checkpoint); started again after being
killed, it goes on from there and writes the file an uninterrupted run would have written.
Wall times and timestamps are kept apart under `timing`, the one field in which two runs of
a job differ.
"""

from __future__ import annotations

import importlib
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from holograd.files import read_json, write_json
from paper_checks.hashing import TIMING, ProvenanceError, config_hash
from paper_checks.provenance import git_commit

log = logging.getLogger("paper_checks")


def checkpoint_file(output: str | Path) -> str:
    """Where the job writing `output` keeps its progress: results/runs/e3/x/seed0.json ->
    results/checkpoints/runs/e3/x/seed0.pt (not an output of the rule, so Snakemake leaves it
    in place when the job fails or is killed)."""
    path = Path(output)
    if path.is_absolute() or len(path.parts) < 2:
        raise ValueError(f"an output path relative to the working directory is needed (results/...), got {output}")
    top, *rest = path.parts
    return str(Path(top, "checkpoints", *rest).with_suffix(".pt"))


def job_identity(config: dict, code: str, seed: int | None = None) -> str:
    """What a checkpoint must belong to for a job to resume from it."""
    return config_hash({"config": config, "code": code, "seed": seed})


def tune_experiment(
    module: str,
    experiment: str,
    setting: str,
    config: dict,
    code: str,
    tokens: str,
    output: str,
    checkpoint: str | None = None,
    checkpoint_every: int = 0,
) -> None:
    """Write module.tune(config, cache, device, checkpoint=...): each arm's learning rate,
    chosen on a seed of its own, that every seed's job of this setting then uses.  The job's
    checkpoint (file `checkpoint`, saved every `checkpoint_every` steps) is opened here and
    passed to the module; the file is removed once the output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import resolve_device

    start = time.perf_counter()
    cache = load_token_cache(tokens)
    device = resolve_device(config["device"])
    log.info("tuning %s %s on %s", experiment, setting, device)
    with checkpointing(checkpoint, job_identity(config, code), checkpoint_every) as saving:
        tuned = importlib.import_module(module).tune(config["experiment"], cache, device, checkpoint=saving)
        record = {
            "experiment": experiment,
            "setting": setting,
            "config_sha256": config_hash(config),
            "code_sha256": code,
            "tokens": {"path": str(tokens), "sha256": cache.meta["sha256"]},
            "tuned": tuned,
            TIMING: {"wall_seconds": round(time.perf_counter() - start, 3)},
        }
        write_json(record, output)
    log.info("wrote %s in %.1fs", output, record[TIMING]["wall_seconds"])


def read_tuning(path: str, config: dict, code: str) -> dict:
    """The tuned learning rates of a tuning file made from this job's config and code."""
    record = read_json(path)
    if record.get("config_sha256") != config_hash(config) or record.get("code_sha256") != code:
        raise ProvenanceError(f"{path} was tuned for another configuration or code; delete it and rerun")
    return record["tuned"]


def run_experiment(
    module: str,
    experiment: str,
    setting: str,
    seed: int,
    config: dict,
    code: str,
    tokens: str,
    output: str,
    tuning: str | None = None,
    checkpoint: str | None = None,
    checkpoint_every: int = 0,
) -> None:
    """Run module.run(config, seed, cache, device, checkpoint=...) and write its metrics with
    provenance.

    `code` is the hash of the measurement's source (the rule's params), recorded so that
    aggregation can refuse runs made by other code.  The job's checkpoint (file `checkpoint`,
    saved every `checkpoint_every` steps) is opened here and passed to the module; the file
    is removed once the output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import resolve_device

    start = time.perf_counter()
    experiment_module = importlib.import_module(module)
    cache = load_token_cache(tokens)
    device = resolve_device(config["device"])
    log.info("%s %s seed %d on %s: %s", experiment, setting, seed, device, config["experiment"])
    extra = {"tuned": read_tuning(tuning, config, code)} if tuning else {}
    with checkpointing(checkpoint, job_identity(config, code, int(seed)), checkpoint_every) as saving:
        metrics = experiment_module.run(config["experiment"], int(seed), cache, device, **extra, checkpoint=saving)
        scale, environment = metrics.pop("scale"), {**metrics.pop("environment"), "git_commit": git_commit()}
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
            "tuned": extra.get("tuned"),
            TIMING: {
                "wall_seconds": round(time.perf_counter() - start, 3),
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        }
        write_json(record, output)
    log.info("wrote %s in %.1fs", output, record[TIMING]["wall_seconds"])
