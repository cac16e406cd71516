"""E8's figure: loss curve, bytes per step, the verifier's ledger."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])

from holograd.files import read_json  # noqa: E402
from paper_checks.experiment import load_systems_check  # noqa: E402

load_systems_check(snakemake.params.analysis).plot(read_json(snakemake.input[0]), snakemake.output[0])
