"""Stage 2 of the pipeline: one measurement job, (experiment, setting, seeds) -> a metrics file.

    tune_arm           -> results/tuning/<experiment>/<setting>/<arm>.json   (training experiments)
    assemble_tuning    -> results/tuning/<experiment>/<setting>.json         (from its arms' files)
    run_experiment     -> results/runs/<experiment>/<setting>/seeds0_1_2.json  (a record per seed)

The job imports the experiment's measurement module (`module` in paper_checks/experiments.yaml),
calls its `run(config, seed, cache, device, checkpoint=...)` for each seed of the job (`tune_arm(config, cache, device,
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
import json
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


def job_identity(config: dict, code: str, seeds: list[int] | None = None) -> str:
    """What a checkpoint must belong to for a job to resume from it (a tuning job has no seeds)."""
    return config_hash({"config": config, "code": code, "seeds": seeds})


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
    seeds: list[int],
    config: dict,
    code: str,
    tokens: str,
    output: str,
    tuning: str | None = None,
    checkpoint: str | None = None,
    checkpoint_every: int = 0,
    allow_cpu_generator: bool = False,
) -> None:
    """Run module.run(config, seed, cache, device, checkpoint=...) for each of `seeds`, one
    after another in this process, and write one file holding each seed's record (run_record:
    its metrics with provenance) under "runs".

    `code` is the hash of the measurement's source (the rule's params), recorded so that
    aggregation can refuse runs made by other code.  The job's checkpoint (file `checkpoint`,
    saved every `checkpoint_every` steps) is opened here and passed to the module, each seed's
    runs under a prefix of their own, and a seed's record is kept in it once the seed is done:
    a job killed and started again skips the seeds it finished, goes on with the one it was in
    the middle of, and writes what an uninterrupted job writes.  The file is removed once the
    output is written."""
    from holograd.checkpoint import checkpointing
    from holograd.data import load_token_cache
    from holograd.experiments.setup import job_device

    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{experiment} {setting}: a job needs distinct seeds, got {seeds}")
    start = time.perf_counter()
    device = job_device(config["device"], allow_cpu_generator)
    experiment_module = importlib.import_module(module)
    cache = load_token_cache(tokens)
    extra = {"tuned": read_tuning(tuning, config, code)} if tuning else {}
    records, timings = [], {}
    with checkpointing(checkpoint, job_identity(config, code, seeds), checkpoint_every) as saving:
        for n, seed in enumerate(seeds, 1):
            what = config["experiment"]
            log.info("%s %s seed %d (%d of %d) on %s: %s", experiment, setting, seed, n, len(seeds), device, what)
            done = saving.result(f"record/seed{seed}") if saving is not None else None
            if done is None:
                if saving is not None:
                    saving.begin(f"seed{seed}/")
                seed_start = time.perf_counter()
                metrics = experiment_module.run(config["experiment"], seed, cache, device, **extra, checkpoint=saving)
                record = run_record(experiment, setting, seed, config, code, tokens, cache, metrics, extra.get("tuned"))
                timing = {
                    "wall_seconds": round(time.perf_counter() - seed_start, 3),
                    "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                # as plain JSON values (the checkpoint loads only those; torch's version string is a class)
                done = json.loads(json.dumps({"record": record, "timing": timing}))
                if saving is not None:  # the seed's record replaces its runs' saved results
                    saving.drop(f"seed{seed}/")
                    saving.finish(f"record/seed{seed}", done)
            records.append(done["record"])
            timings[str(seed)] = done["timing"]
        content = {"experiment": experiment, "setting": setting, "seeds": seeds, "runs": records}
        # wall times and timestamps apart, the one field in which two runs of the job differ
        content[TIMING] = {"job_wall_seconds": round(time.perf_counter() - start, 3), "seeds": timings}
        write_json(content, output)
    log.info("wrote %s: %d seed(s) in %.1fs", output, len(records), content[TIMING]["job_wall_seconds"])


def run_record(
    experiment: str,
    setting: str,
    seed: int,
    config: dict,
    code: str,
    tokens: str,
    cache,
    metrics: dict,
    tuned: dict | None,
) -> dict:
    """One seed's record: the module's metrics with their provenance (config and its hash,
    code hash, token cache, scale, software and device) and the rates it was tuned with."""
    scale, environment = metrics.pop("scale"), {**metrics.pop("environment"), "git_commit": git_commit()}
    return {
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
        "tuned": tuned,
    }


def run_records(path: str | Path) -> list[dict]:
    """The seeds' records of a measurement job's file (run_experiment), in its seeds' order,
    each with its own `timing` (wall seconds, finished at) from the file's."""
    content = read_json(path)
    runs = content.get("runs") if isinstance(content, dict) else None
    if not isinstance(runs, list) or [r.get("seed") for r in runs] != content.get("seeds"):
        raise ProvenanceError(f"{path} is not a measurement file of this pipeline (a record per seed under 'runs')")
    timings = content.get(TIMING, {}).get("seeds", {})
    return [{**r, TIMING: timings.get(str(r["seed"]), {"wall_seconds": 0.0})} for r in runs]
