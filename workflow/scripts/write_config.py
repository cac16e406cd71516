"""Stage 5: results/config.yaml, the configuration this run used."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.configuration import write_config
from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])
write_config(snakemake.params.config, snakemake.params.sources, snakemake.output[0])
