"""Stage 3 of the pipeline: every measurement job of an experiment -> one data file.

    aggregate     results/runs/<experiment>/*/seed*.json -> results/data/<experiment>.json

Before anything is combined, every run file's provenance is checked: it must carry the
SHA-256 of exactly the job configuration the current config gives its (setting, seed), and
the files must cover the configured settings x seeds, no more and no less.  A file left over
from another configuration is refused (ProvenanceError) instead of being mixed in.  The
experiment's own `aggregate(runs, section)` then computes its per-setting statistics.
"""

from __future__ import annotations

import importlib
import logging

from paper_checks.provenance import ProvenanceError, read_json, sha256_file, write_json
from paper_checks.runner import job_config
from paper_checks.settings import config_hash, resolve, setting_names, sweep_of

log = logging.getLogger("paper_checks")


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
