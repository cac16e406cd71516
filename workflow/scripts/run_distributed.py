"""E8: the protocol across processes (torchrun), the systems check."""

from pathlib import Path

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.gpu_slots import claim_gpus
from paper_checks.joblog import setup_logging
from paper_checks.systems_runner import run_distributed

setup_logging(snakemake.log.log)
# the job's GPUs (config resources' `gpu`): ones no other running job holds (paper_checks.gpu_slots)
with claim_gpus(snakemake.resources.gpu):
    run_distributed(
        section=snakemake.params.section,
        device=snakemake.params.device,
        code=snakemake.params.code,
        tokens=snakemake.input.tokens,
        output=snakemake.output[0],
        run_dir=str(Path(snakemake.log.log).with_suffix("")),
    )
