"""E8, the systems check (no claim): the HoloGrad protocol run across real processes.

The job writes the run's configuration, starts its workers with torchrun
(holograd.distributed.launch) and adds provenance to the result that rank 0 wrote:

    results/systems/e8_distributed_protocol.json   records per step, bytes per worker and
                                                   step against all-reduce, verifier ledger,
                                                   final theta hash, restarts
    logs/systems/e8_distributed_protocol/          one log per rank, the run's checkpoint
                                                   while it runs (a killed job resumes)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import yaml

from paper_checks.files import read_json, write_json
from paper_checks.provenance import git_commit
from paper_checks.settings import config_hash

log = logging.getLogger("paper_checks")

KEY = "e8_distributed_protocol"


def run_distributed(section: dict, device: str, code: str, tokens: str, output: str, run_dir: str) -> None:
    """Run the `distributed` config section (its `run` mapping, the device of the pipeline
    unless it names its own) and write `output`."""
    from holograd.distributed.launch import launch

    run = {"device": device, **section["run"]}
    run_path = Path(run_dir) / "run.yaml"
    run_path.parent.mkdir(parents=True, exist_ok=True)
    run_path.write_text(yaml.safe_dump(run, sort_keys=True))
    start = time.perf_counter()
    tmp = Path(run_dir) / "result.json"
    sys.stderr.flush()
    launch(run_path, tokens, tmp, run_dir, max_restarts=section["max_restarts"], log_file=sys.stderr)
    result = read_json(tmp)
    result["provenance"] = {"config_sha256": config_hash(run), "code_sha256": code, "git_commit": git_commit(), "tokens": str(tokens)}
    result["timing"]["job_wall_seconds"] = round(time.perf_counter() - start, 3)
    write_json(result, output)
    tmp.unlink()
    log.info("wrote %s in %.1fs (%d restart(s))", output, result["timing"]["job_wall_seconds"], result["restarts"])
