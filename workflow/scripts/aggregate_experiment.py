"""Stage 3: all jobs of an experiment -> its data file (results/data/<experiment>.json)."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging
from paper_checks.aggregation import aggregate

setup_logging(snakemake.log[0])
aggregate(
    module=snakemake.params.module,
    experiment=snakemake.wildcards.experiment,
    section=snakemake.params.section,
    device=snakemake.params.device,
    runs=list(snakemake.input.runs),
    output=snakemake.output[0],
)
