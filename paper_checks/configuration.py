"""The pipeline's configuration: checked when the workflow starts, written as results/config.yaml.

`check_config` checks it against workflow/schemas/config.schema.yaml through the project's
one schema check (holograd.validation) and names the offending key in one line, where
Snakemake's own `validate` prints the whole schema around an error, e.g.

    config error at experiments.e5_unbiased_estimator.k: 0 is less than the minimum of 1

What standard JSON Schema cannot say (that draw counts increase, that a cheat lies outside
the tolerance) the schema says with the two keywords of holograd.validation.  `write_config`
records the configuration a run used, for the report and for repeating the run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from holograd.files import write_text
from holograd.validation import SCHEMA_DIR, dotted, validate

log = logging.getLogger("paper_checks")

SCHEMA_FILE = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration violates the schema."""


def check_config(config: dict, schema_file: str | Path = SCHEMA_FILE) -> None:
    """Raise ConfigError, one line naming the key, if `config` violates the schema."""
    validate(config, schema_file, lambda path: f"config error at {dotted(path)}", ConfigError)


def write_config(config: dict, sources: list[str], output: str) -> None:
    """Write the configuration as validated (schema defaults filled in), headed by the config
    files it came from; `--configfile` accepts the file as it is."""
    header = "".join(f"# from {source}\n" for source in sources) or "# from the embedded default\n"
    text = "# The configuration of this run, as validated (defaults filled in).\n" + header
    write_text(text + yaml.safe_dump(config, sort_keys=False), output)
    log.info("wrote %s", output)
