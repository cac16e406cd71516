"""E8: the protocol across processes (torchrun), the systems check."""

from pathlib import Path

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.gpu_slots import claim_gpus
from paper_checks.joblog import setup_logging
from paper_checks.systems_runner import run_distributed

setup_logging(snakemake.log.log)
# the job's GPUs (config resources' `gpu`, at most what --resources gpu=N gives): ones no other
# running job holds (paper_checks.gpu_slots); up to what the machine shows, since ranks can share
with claim_gpus(snakemake.resources.gpu, up_to=True):
    run_distributed(
        section=snakemake.params.section,
        device=snakemake.params.device,
        allow_cpu_generator=snakemake.config["allow_cpu_generator"],
        code=snakemake.params.code,
        tokens=snakemake.input.tokens,
        output=snakemake.output[0],
        run_dir=str(Path(snakemake.log.log).with_suffix("")),
    )
