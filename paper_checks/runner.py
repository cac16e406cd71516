"""Stage 2 of the pipeline: one measurement job, (experiment, setting, seed) -> a metrics file.

    tune_arm           -> results/tuning/<experiment>/<setting>/<arm>.json   (training experiments)
    assemble_tuning    -> results/tuning/<experiment>/<setting>.json         (from its arms' files)
    run_experiment     -> results/runs/<experiment>/<setting>/seed<seed>.json

The job imports the experiment's measurement module (`module` in paper_checks/experiments.yaml),
calls its `run(config, seed, cache, device, checkpoint=...)` (`tune_arm(config, cache, device,
arm, tuned, checkpoint=...)` for a tuning job, one per arm of the module's `tuning_arms`) and
writes the metrics together with their provenance:
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
from datetime import UTC, datetime
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
    allow_cpu_generator: bool = False,
) -> None:
    """Write module.tune(config, cache, device, checkpoint=...): each arm's learning rate,
    chosen on a seed of its own, that every seed's job of this setting then uses, all in one
    job (the pipeline runs one tune_arm job per arm instead and assemble_tuning; same file).  The job's
    checkpoint (file `checkpoint`, saved every `checkpoint_every` steps) is opened here and
    passed to the module; the file is removed once the output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import job_device

    start = time.perf_counter()
    device = job_device(config["device"], allow_cpu_generator)
    cache = load_token_cache(tokens)
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
    """The tuned learning rates of a tuning file (a setting's, or one arm's) made from this
    job's config and code."""
    return _checked_tuning(read_json(path), path, config, code)


def _checked_tuning(record: dict, path: str, config: dict, code: str) -> dict:
    """A tuning record's rates, once its config and code hashes are this job's."""
    if record.get("config_sha256") != config_hash(config) or record.get("code_sha256") != code:
        raise ProvenanceError(f"{path} was tuned for another configuration or code; delete it and rerun")
    return record["tuned"]


def _checked_arms(records: list[dict], paths: list[str], config: dict, code: str) -> dict[str, dict]:
    """{arm: its checked rates} of arm files' records (read once, by the caller)."""
    return {r["arm"]: _checked_tuning(r, path, config, code) for r, path in zip(records, paths)}


def tuning_arms(module: str, config: dict) -> dict[str, list[str]]:
    """{arm: the arms whose tuned records it needs} of a setting: the module's tuning_arms of
    the job's experiment config, in the order a one-job tuning runs them."""
    return importlib.import_module(module).tuning_arms(config["experiment"])


def tune_arm(
    module: str,
    experiment: str,
    setting: str,
    arm: str,
    config: dict,
    code: str,
    tokens: str,
    needs: list[str],
    output: str,
    checkpoint: str | None = None,
    checkpoint_every: int = 0,
    allow_cpu_generator: bool = False,
) -> None:
    """Write module.tune_arm(config, cache, device, arm, tuned, checkpoint=...): one arm's
    learning rate(s), chosen on a seed of their own, handed the records of the arms it needs
    (`needs`: their files, each checked against this job's config and code).  The job's
    checkpoint (file `checkpoint`, saved every `checkpoint_every` steps) belongs to this arm
    and the rates it was handed; it is removed once the output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import job_device

    start = time.perf_counter()
    wanted = tuning_arms(module, config)
    if arm not in wanted:
        raise ValueError(f"{experiment} {setting}: {arm!r} is not a tuned arm; the tuned arms are {list(wanted)}")
    tuned = _checked_arms([read_json(path) for path in needs], needs, config, code)
    if sorted(tuned) != sorted(wanted[arm]):
        raise ValueError(f"{experiment} {setting} {arm} needs the records of {wanted[arm]}, was given {sorted(tuned)}")
    device = job_device(config["device"], allow_cpu_generator)
    cache = load_token_cache(tokens)
    log.info("tuning %s %s, arm %s, on %s", experiment, setting, arm, device)
    identity = config_hash({"config": config, "code": code, "arm": arm, "needs": tuned})
    with checkpointing(checkpoint, identity, checkpoint_every) as saving:
        record = {
            "experiment": experiment,
            "setting": setting,
            "arm": arm,
            "config_sha256": config_hash(config),
            "code_sha256": code,
            "tokens": {"path": str(tokens), "sha256": cache.meta["sha256"]},
            "tuned": importlib.import_module(module).tune_arm(
                config["experiment"], cache, device, arm, tuned, checkpoint=saving
            ),
            TIMING: {"wall_seconds": round(time.perf_counter() - start, 3)},
        }
        write_json(record, output)
    log.info("wrote %s in %.1fs", output, record[TIMING]["wall_seconds"])


def assemble_tuning(
    module: str, experiment: str, setting: str, config: dict, code: str, tokens: str, arms: list[str], output: str
) -> None:
    """Write a setting's tuning file from its arms' files (`arms`, one per arm of tuning_arms,
    each checked against this config and code): module.assemble_tuning(config, tuned), the
    dict a one-job tune() returns, with the same provenance as the arms (the token cache's
    checksum from them; from the cache itself for a setting without tuned arms)."""
    start = time.perf_counter()
    records = [read_json(path) for path in arms]
    wanted = tuning_arms(module, config)
    given = sorted(r["arm"] for r in records)
    if given != sorted(wanted):
        raise ValueError(f"{experiment} {setting}: the tuned arms are {list(wanted)}, got files of {given}")
    tuned = _checked_arms(records, arms, config, code)
    checksums = {r["tokens"]["sha256"] for r in records}
    if len(checksums) > 1:
        raise ProvenanceError(f"{experiment} {setting}: its arms were tuned on different token caches")
    if not checksums:
        from holograd.data import load_token_cache

        checksums = {load_token_cache(tokens).meta["sha256"]}
    record = {
        "experiment": experiment,
        "setting": setting,
        "config_sha256": config_hash(config),
        "code_sha256": code,
        "tokens": {"path": str(tokens), "sha256": checksums.pop()},
        "tuned": importlib.import_module(module).assemble_tuning(config["experiment"], {a: tuned[a] for a in wanted}),
        TIMING: {
            "wall_seconds": round(sum(r[TIMING]["wall_seconds"] for r in records), 3),
            "arms_wall_seconds": {r["arm"]: r[TIMING]["wall_seconds"] for r in records},
            "assembly_wall_seconds": round(time.perf_counter() - start, 3),
        },
    }
    write_json(record, output)
    log.info("wrote %s from %d tuned arm(s)", output, len(arms))


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
    allow_cpu_generator: bool = False,
) -> None:
    """Run module.run(config, seed, cache, device, checkpoint=...) and write its metrics with
    provenance.

    `code` is the hash of the measurement's source (the rule's params), recorded so that
    aggregation can refuse runs made by other code.  The job's checkpoint (file `checkpoint`,
    saved every `checkpoint_every` steps) is opened here and passed to the module; the file
    is removed once the output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import job_device

    start = time.perf_counter()
    device = job_device(config["device"], allow_cpu_generator)
    experiment_module = importlib.import_module(module)
    cache = load_token_cache(tokens)
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
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }
        write_json(record, output)
    log.info("wrote %s in %.1fs", output, record[TIMING]["wall_seconds"])
