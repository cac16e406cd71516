"""Stage 3: an experiment's figure from its data file."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])

from holograd.files import read_json  # noqa: E402
from paper_checks.plotting import plot_experiment  # noqa: E402

plot_experiment(snakemake.params.analysis, read_json(snakemake.input[0]), snakemake.params.claims, snakemake.output[0])
