"""Check a pipeline configuration against workflow/schemas/config.schema.yaml, in one line.

Snakemake's own `validate` prints the whole schema around an error; this finds the most
relevant violation and names the key, e.g.

    config error at experiments.e5_unbiased_estimator.k: 0 is less than the minimum of 1

It also checks what JSON Schema cannot say (e.g. that draw counts increase).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import jsonschema
import yaml

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration violates the schema or a rule the schema cannot express."""


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_config(config: dict, schema_file: str | Path = SCHEMA_FILE) -> None:
    schema = yaml.safe_load(Path(schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"config error at {_where(error.absolute_path)}: {error.message}")
    experiments = config.get("experiments", {})
    e5 = experiments.get("e5_unbiased_estimator")
    if e5 and any(b <= a for a, b in pairwise(e5["draws"])):
        raise ConfigError(f"config error at experiments.e5_unbiased_estimator.draws: must increase, got {e5['draws']}")
    e6 = experiments.get("e6_pogp_verification")
    if e6 and not e6["cheating"]["offset"] > e6["eps"]:
        raise ConfigError(f"config error at experiments.e6_pogp_verification.cheating.offset: a cheat must lie outside eps = {e6['eps']}, got {e6['cheating']['offset']}")
