"""Stage 3: all jobs of an experiment -> its data file (results/data/<experiment>.json)."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.aggregation import aggregate_experiment
from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])
aggregate_experiment(
    experiment=snakemake.wildcards.experiment,
    analysis=snakemake.params.analysis,
    section=snakemake.params.section,
    device=snakemake.params.device,
    code=snakemake.params.run_code,
    runs=list(snakemake.input.runs),
    output=snakemake.output[0],
)
