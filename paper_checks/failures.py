"""A run that failed still ends with a summary: the claims judged in it, and every other claim
as NOT RUN with the failure that stopped it.

When a job fails, Snakemake (with keep-going, as the profiles set it) finishes every job that
does not depend on it, then calls the workflow's `onerror` handler with its log
(workflow/rules/summary.smk).  From that log this module reads which jobs failed

    Error in rule run_experiment:
        ...
        output: results/runs/e4_adc_energy/r32/seed1.json
        log: logs/runs/e4_adc_energy/r32/seed1.log, ... (check log file(s) for error details)

and from each failed job's own log the line that names the problem (paper_checks.joblog
ends a failed job's log with the exception).  A failed job takes with it the claims of its
experiment; a failed data preparation takes every claim that reads its token file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ERROR = re.compile(r"^Error in rule (\w+):\n((?:[ \t]+.*\n?)*)", re.MULTILINE)
_FIELD = re.compile(r"^\s+(output|log): (.+)$", re.MULTILINE)
_EXCEPTION = re.compile(r"^[\w.]*(?:Error|Exception|Interrupt|Exit)\b.*$")


@dataclass(frozen=True)
class FailedJob:
    rule: str
    outputs: tuple[str, ...]
    logs: tuple[str, ...]

    def error(self, root: Path = Path(".")) -> str:
        """The line of the job's (first) log that names its error, or where to look."""
        if not self.logs or not (root / self.logs[0]).is_file():
            return "see the Snakemake log"
        log = self.logs[0]
        exceptions = [
            line.strip()
            for line in (root / log).read_text(errors="replace").splitlines()
            if _EXCEPTION.match(line.strip())
        ]
        return f"{exceptions[-1]} (log: {log})" if exceptions else f"no exception in its log {log}: killed?"


def _paths(text: str) -> tuple[str, ...]:
    text = text.split(" (check log file(s)")[0]
    return tuple(p.strip() for p in text.split(",") if p.strip())


def failed_jobs(snakemake_log: str) -> list[FailedJob]:
    """The jobs a Snakemake log reports as failed, in the order it reports them."""
    jobs = []
    for match in _ERROR.finditer(snakemake_log):
        fields = {name: _paths(value) for name, value in _FIELD.findall(match.group(2))}
        jobs.append(FailedJob(match.group(1), fields.get("output", ()), fields.get("log", ())))
    return jobs


def experiments_of(
    output: str, claims: list[dict], figure_of: dict[str, str], token_users: dict[str, list[str]]
) -> list[str]:
    """The experiments whose claims a failed job's output stops."""
    match Path(output).parts:
        case ("results", "runs" | "tuning", experiment, *_):
            return [experiment]
        case ("results", "data", name):
            return [Path(name).stem]
        case ("results", "figures", name):
            return [figure_of[Path(name).stem]] if Path(name).stem in figure_of else []
        case ("results", "claims", name):
            return [c["experiment"] for c in claims if c["id"] == Path(name).stem]
    return token_users.get(output, [])


def not_run_reasons(
    failed: list[FailedJob],
    claims: list[dict],
    figure_of: dict[str, str],
    token_users: dict[str, list[str]],
    root: Path = Path("."),
) -> dict[str, str]:
    """{claim id: why it has no verdict} for the claims a failed job stops (the first
    failure of each experiment is named, and how many jobs of it failed)."""
    by_experiment: dict[str, list[FailedJob]] = {}
    for job in failed:
        for key in {e for out in job.outputs for e in experiments_of(out, claims, figure_of, token_users)}:
            by_experiment.setdefault(key, []).append(job)
    reasons = {}
    for claim in claims:
        jobs = by_experiment.get(claim["experiment"])
        if jobs:
            more = f" ({len(jobs)} failed jobs of it in all)" if len(jobs) > 1 else ""
            reasons[claim["id"]] = f"job {jobs[0].rule} for {jobs[0].outputs[0]} failed: {jobs[0].error(root)}{more}"
    return reasons
