"""Stage 4: one claim's verdict and figure."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging
from paper_checks.evaluation import evaluate_claim

setup_logging(snakemake.log[0])
evaluate_claim(
    claim=snakemake.params.claim,
    experiment=snakemake.params.experiment,
    data_file=snakemake.input.data,
    output=snakemake.output.verdict,
    figure=snakemake.output.figure,
)
