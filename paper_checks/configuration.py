"""results/config.yaml: the configuration a run used, for the report and for repeating the run."""

from __future__ import annotations

import logging

import yaml

from paper_checks.files import write_text

log = logging.getLogger("paper_checks")


def write_config(config: dict, sources: list[str], output: str) -> None:
    """Write the configuration as validated (schema defaults filled in), headed by the config
    files it came from; `--configfile` accepts the file as it is."""
    header = "".join(f"# from {source}\n" for source in sources) or "# from the embedded default\n"
    text = "# The configuration of this run, as validated (defaults filled in).\n" + header
    write_text(text + yaml.safe_dump(config, sort_keys=False), output)
    log.info("wrote %s", output)
