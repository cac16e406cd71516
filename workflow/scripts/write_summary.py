"""Stage 5: results/RESULTS_SUMMARY.md."""

from pathlib import Path

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging
from paper_checks.summary import write_summary

setup_logging(snakemake.log[0])
catalog = snakemake.params.catalog
experiment_of_figure = {e["figure"]: key for key, e in catalog["experiments"].items()}
write_summary(
    claims=catalog["claims"],
    experiments=catalog["experiments"],
    verdicts={Path(p).stem: p for p in snakemake.input.claims},
    data_files={Path(p).stem: p for p in snakemake.input.data},
    figures={experiment_of_figure[Path(p).stem]: p for p in snakemake.input.figures},
    output=snakemake.output.summary,
    config_file=snakemake.input.config,
    published_file=snakemake.input.published,
    systems_file=next((p for p in snakemake.input.systems if p.endswith(".json")), None),
    systems_figure=next((p for p in snakemake.input.systems if p.endswith(".png")), None),
    systems_check=snakemake.params.systems_check,
    preregistered=snakemake.params.preregistered,
)
