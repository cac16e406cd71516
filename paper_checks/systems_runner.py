"""Stage 2 of the pipeline for a systems check (E8): its job across processes, with provenance.

    run_distributed    -> results/systems/<check>.json

The job writes the run's configuration (the config's `distributed.run`), starts the workers
with torchrun (holograd.distributed.launch) and adds provenance to the result that rank 0
wrote.  Its logs go to logs/systems/<check>/ (one per rank), with the run's checkpoint while
it runs, so a killed job resumes.  This module and holograd/distributed/ are what the job's
rerun depends on (workflow/rules/common.smk hashes exactly these sources): the figure and
the summary section (paper_checks/experiments/distributed_protocol.py) are not.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import yaml

from holograd.files import read_json, write_json
from paper_checks.hashing import config_hash
from paper_checks.provenance import git_commit

log = logging.getLogger("paper_checks")


def run_distributed(
    section: dict, device: str, code: str, tokens: str, output: str, run_dir: str, allow_cpu_generator: bool = False
) -> None:
    """Run the `distributed` config section (its `run` mapping, the device of the pipeline
    unless it names its own) and write `output`.  The device (and on CUDA the direction
    generator) is checked here first, so that a run that cannot use CUDA stops with one line
    before any worker starts."""
    from holograd.directions import generator_backend
    from holograd.distributed.launch import launch
    from holograd.experiments.setup import job_device

    run = {"device": device, **section["run"]}
    generator_backend(job_device(run["device"], allow_cpu_generator))  # every rank generates directions
    run_path = Path(run_dir) / "run.yaml"
    run_path.parent.mkdir(parents=True, exist_ok=True)
    run_path.write_text(yaml.safe_dump(run, sort_keys=True))
    start = time.perf_counter()
    tmp = Path(run_dir) / "result.json"
    sys.stderr.flush()
    launch(run_path, tokens, tmp, run_dir, max_restarts=section["max_restarts"], log_file=sys.stderr)
    result = read_json(tmp)
    result["provenance"] = {
        "config_sha256": config_hash(run),
        "code_sha256": code,
        "git_commit": git_commit(),
        "tokens": str(tokens),
    }
    result["timing"]["job_wall_seconds"] = round(time.perf_counter() - start, 3)
    write_json(result, output)
    tmp.unlink()
    log.info("wrote %s in %.1fs (%d restart(s))", output, result["timing"]["job_wall_seconds"], result["restarts"])
