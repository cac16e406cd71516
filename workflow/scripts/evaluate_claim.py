"""Stage 4: one claim's verdict and figure."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.evaluation import evaluate_claim
from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])
evaluate_claim(
    claim=snakemake.params.claim,
    experiment=snakemake.params.experiment,
    data_file=snakemake.input.data,
    output=snakemake.output.verdict,
    figure=snakemake.output.figure,
    code=snakemake.params.code,
    family=snakemake.params.family,
)
