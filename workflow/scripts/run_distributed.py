"""E8: the protocol across processes (torchrun), the systems check."""

import _project  # noqa: F401  (the repository on sys.path)

from pathlib import Path

from paper_checks.joblog import setup_logging
from paper_checks.systems import run_distributed

setup_logging(snakemake.log.log)
run_distributed(
    section=snakemake.params.section,
    device=snakemake.params.device,
    code=snakemake.params.code,
    tokens=snakemake.input.tokens,
    output=snakemake.output[0],
    run_dir=str(Path(snakemake.log.log).with_suffix("")),
)
