"""Stage 3 of the pipeline: every measurement job of an experiment -> one data file.

    aggregate     results/runs/<experiment>/*/seeds*.json -> results/data/<experiment>.json

A measurement file holds the records of a group of seeds (paper_checks.runner.run_records);
aggregation reads one record per (setting, seed), whatever the grouping.  Before anything is
combined, every record's provenance is checked: it must carry the SHA-256 of exactly the job
configuration the current config gives its (setting, seed), and the records must cover the
configured settings x seeds, each once, no more and no less.  A file left over
from another configuration, another token cache or other measurement code is refused
(ProvenanceError) instead of being mixed in.  The experiment's analysis
(paper_checks/experiments/<name>.py) then computes its per-setting statistics.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from holograd.files import write_json
from paper_checks.experiment import load_analysis
from paper_checks.formatting import software_line
from paper_checks.hashing import TIMING, ProvenanceError, config_hash, content_sha256
from paper_checks.runner import run_records
from paper_checks.sweeps import experiment_config, job_config, resolve, setting_names, sweep_of

log = logging.getLogger("paper_checks")


def merged_scale(records: list[dict]) -> dict:
    """The runs' scale: a value where all runs agree, the sorted distinct values where a
    sweep varies it (e.g. batch_size [8, 32])."""
    out = {}
    for key in records[0]["scale"]:
        values = sorted({r["scale"][key] for r in records}, key=str)
        out[key] = values[0] if len(values) == 1 else values
    return out


def aggregate_experiment(
    experiment: str, analysis: str, section: dict, device: str, code: str, runs: list[str], output: str
) -> None:
    """Check every run's provenance, then write the experiment's aggregate (by its analysis
    module `analysis`) with provenance.

    A run must carry the hash of the job configuration that the current config gives its
    (setting, seed) and of the measurement code `code` that the current source gives; all
    runs must have read the same token cache; together they must cover the configured
    settings x seeds exactly.
    """
    expected = {(s, seed) for s in setting_names(section) for seed in section["seeds"]}
    records, found, paths = [], set(), []
    for path, r in ((file, r) for file in runs for r in run_records(file)):
        want = config_hash(job_config(section, r["setting"], device))
        if r.get("config_sha256") != want:
            raise ProvenanceError(
                f"{path} was made from a different configuration (hash {str(r.get('config_sha256'))[:12]}, "
                f"expected {want[:12]}); delete it and rerun"
            )
        if r.get("code_sha256") != code:
            raise ProvenanceError(
                f"{path} was made by different measurement code (hash {str(r.get('code_sha256'))[:12]}, "
                f"expected {code[:12]}); delete it and rerun"
            )
        if (r["setting"], r["seed"]) in found:
            raise ProvenanceError(f"{experiment}: setting {r['setting']} seed {r['seed']} has two records ({path})")
        found.add((r["setting"], r["seed"]))
        r["sweep"] = sweep_of(section, r["setting"])
        records.append(r)
        paths.append(path)
    if found != expected:
        raise ProvenanceError(
            f"{experiment}: runs {sorted(found)} do not match the configured settings x seeds {sorted(expected)}"
        )
    tokens = {r["tokens"]["sha256"] for r in records}
    if len(tokens) != 1:
        raise ProvenanceError(
            f"{experiment}: the runs read {len(tokens)} different token caches; delete the runs and rerun"
        )
    checksums = {path: content_sha256(path) for path in runs}
    data = load_analysis(analysis).aggregate(records, section)
    for name, s in data.get("settings", {}).items():
        s["config"] = resolve(section, name)
    out = {
        "experiment": experiment,
        "config": experiment_config(section, device),
        "config_sha256": config_hash(experiment_config(section, device)),
        "scale": {**merged_scale(records), "seeds": sorted(section["seeds"]), "settings": setting_names(section)},
        "environment": {
            "torch": sorted({r["environment"]["torch"] for r in records}),
            "devices": sorted({r["environment"]["device"] for r in records}),
            # where the generator and software versions are recorded (every run since they were)
            "generators": sorted({r["environment"].get("generator", "unrecorded") for r in records}),
            "software": sorted({software_line(r["environment"]) for r in records}),
            "git_commits": sorted({r["environment"].get("git_commit", "unknown") for r in records}),
            # the CPU arithmetic the jobs were pinned to (holograd.numerics), where recorded
            # the CPUs the jobs ran on, with the widest vector extension each has
            "machines": sorted(
                {
                    f"{r['environment']['cpu_model']} ({r['environment']['cpu_vector_width']})"
                    for r in records
                    if "cpu_model" in r["environment"]
                }
            ),
            "cpu_numerics": sorted(
                {
                    f"{r['environment']['cpu_capability']}, MKL_CBWR={r['environment'].get('mkl_cbwr')}"
                    for r in records
                    if "cpu_capability" in r["environment"]
                }
            ),
        },
        "code_sha256": code,
        "tokens": records[0]["tokens"],
        "runs": [
            {"path": str(p), "sha256": checksums[p], "setting": r["setting"], "seed": r["seed"]}
            for p, r in zip(paths, records)
        ],
        TIMING: {"runs_wall_seconds": round(sum(r[TIMING]["wall_seconds"] for r in records), 3), **span(records)},
        "experiment_data": data,
    }
    write_json(out, output)
    log.info("%s: aggregated %d runs into %s", experiment, len(records), output)


def span(records: list[dict]) -> dict:
    """{"first_start", "last_finish"}: when the earliest of the runs began and the latest ended
    (ISO 8601, UTC), from each run's finishing time and wall seconds; {} where a run has no
    finishing time (a record from before they were kept)."""
    times = [r[TIMING] for r in records]
    if not times or not all("finished_at" in t for t in times):
        return {}
    ends = [datetime.fromisoformat(t["finished_at"]) for t in times]
    starts = [end - timedelta(seconds=t["wall_seconds"]) for end, t in zip(ends, times)]
    return {
        "first_start": min(starts).isoformat(timespec="seconds"),
        "last_finish": max(ends).isoformat(timespec="seconds"),
    }
