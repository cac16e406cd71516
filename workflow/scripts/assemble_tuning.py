"""Stage 2a': a setting's tuning file from its arms' tuning files (a local rule)."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging
from paper_checks.runner import assemble_tuning

setup_logging(snakemake.log[0], 1)
assemble_tuning(
    module=snakemake.params.module,
    experiment=snakemake.wildcards.experiment,
    setting=snakemake.wildcards.setting,
    config=snakemake.params.config,
    code=snakemake.params.code,
    tokens=snakemake.input.tokens,
    arms=list(snakemake.input.arms),
    output=snakemake.output[0],
)
