"""E8: the protocol across processes (torchrun), the systems check."""

from pathlib import Path

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.experiment import load_systems_check
from paper_checks.joblog import setup_logging

setup_logging(snakemake.log.log)
load_systems_check(snakemake.params.analysis).run(
    section=snakemake.params.section,
    device=snakemake.params.device,
    code=snakemake.params.code,
    tokens=snakemake.input.tokens,
    output=snakemake.output[0],
    run_dir=str(Path(snakemake.log.log).with_suffix("")),
)
