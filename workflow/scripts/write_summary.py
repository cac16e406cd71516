"""Stage 5: results/RESULTS_SUMMARY.md."""

import _project  # noqa: F401  (the repository on sys.path)

from pathlib import Path

from paper_checks.joblog import setup_logging
from paper_checks.summary import write_summary

setup_logging(snakemake.log[0])
catalog = snakemake.params.catalog
write_summary(
    claims=catalog["claims"],
    experiments=catalog["experiments"],
    verdicts={Path(p).stem: p for p in snakemake.input.claims},
    data_files={Path(p).stem: p for p in snakemake.input.data},
    figures={key: f"results/figures/{e['figure']}.png" for key, e in catalog["experiments"].items()},
    output=snakemake.output[0],
)
