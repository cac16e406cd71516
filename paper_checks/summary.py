"""Stage 5 of the pipeline: results/RESULTS_SUMMARY.md, rendered from templates/summary.md.j2.

One table of every claim (NOT RUN ones too), then one section per experiment (its figure,
the scale it ran at against the paper's setting, each claim's verdict with the lines its
analysis module writes), then the systems check (E8).  Every number in it is read from a
verdict or data file written by the pipeline.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jinja2

from holograd.files import read_json, write_text
from paper_checks.experiment import load_analysis, load_systems_check
from paper_checks.formatting import measured
from paper_checks.verdict import NOT_RUN

log = logging.getLogger("paper_checks")

TEMPLATE = "templates/summary.md.j2"
"""The summary's template, relative to this package (its source hash covers it)."""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (a bare | would end the cell)."""
    return str(text).replace("|", "\\|")


def _part(part: dict) -> str:
    return f"{part['part']}: " if part.get("part") else ""


def _each(value, spec: str = "") -> str:
    """A scale value, or the values a sweep gives it joined by " / "."""
    return " / ".join(format(v, spec) for v in value) if isinstance(value, list) else format(value, spec)


def claim_row(claim: dict, verdict: dict | None, base: Path, not_run: dict[str, str]) -> dict:
    """One row of the verdicts table; a claim without a verdict is NOT RUN, with `not_run`'s
    reason or, by default, because its experiment is not in the configuration."""
    parts = [claim, *claim.get("also_requires", [])]
    row = {
        "id": claim["id"],
        "statement": claim["statement"],
        "expected": "; ".join(f"{_part(p)}{p['expected']:g} ({p['acceptance']})" for p in parts),
    }
    if verdict is None:
        reason = not_run.get(claim["id"], f"experiment `{claim['experiment']}` is not in the configuration")
        return {**row, "measured": "—", "verdict": NOT_RUN, "reason": reason, "figure": "—"}
    return {
        **row,
        "measured": "; ".join(f"{_part(p)}{measured(p['measured'])}" for p in verdict["parts"]),
        "verdict": verdict["verdict"],
        "reason": verdict["reason"],
        "figure": f"[{claim['id']}]({os.path.relpath(verdict['figure'], base)})",
    }


def scale_cells(data: dict, paper: dict) -> list[str]:
    """The scale an experiment ran at, beside the paper's setting (the section's table row)."""
    s = data["scale"]
    matches = s["model"] == paper["model"] and s["corpus"] == paper["corpus"]
    return [
        _each(s["model"]),
        _each(s["D"], ","),
        s["corpus"],
        s["tokenizer"],
        f"{_each(s['batch_size'])} × {_each(s['block_size'])}",
        _each(s["steps"]),
        f"{len(s['seeds'])} ({', '.join(map(str, s['seeds']))})",
        ", ".join(s["settings"]),
        ", ".join(data["environment"]["devices"]),
        f"{paper['model']} on {paper['corpus']}",
        "yes" if matches else "no",
    ]


def verdict_lines(verdict: dict, describe) -> dict:
    """A claim's verdict in its experiment's section: each part's measurement, and the lines
    its analysis module writes from the verdict's details."""
    several = len(verdict["parts"]) > 1
    parts = [
        f"{_part(p)}{p['measured']['label']}: {measured(p['measured'])}" + (f" → {p['verdict']}" if several else "")
        for p in verdict["parts"]
    ]
    return {
        "id": verdict["claim"],
        "verdict": verdict["verdict"],
        "parts": parts,
        "details": describe(verdict["details"]),
    }


def experiment_section(meta: dict, claims: list[dict], verdicts: dict, data: dict, figure: str, base: Path) -> dict:
    analysis = load_analysis(meta["analysis"])
    ids = [c["id"] for c in claims]
    return {
        "id": meta["id"],
        "title": meta["title"],
        "claims": ids,
        "figure": os.path.relpath(figure, base),
        "scale": scale_cells(data, meta["paper"]),
        "jobs": len(data["runs"]),
        "job_seconds": data["timing"]["runs_wall_seconds"],
        "verdicts": [verdict_lines(verdicts[cid], analysis.claims[cid].describe) for cid in ids if cid in verdicts],
    }


def render(
    *,
    claims: list[dict],
    experiments: dict,
    verdicts: dict[str, dict],
    data: dict[str, dict],
    figures: dict[str, str],
    base: Path,
    config_file: str | None = None,
    not_run: dict[str, str] | None = None,
    failed: int = 0,
    systems_check: str | None = None,
    systems: dict | None = None,
    systems_figure: str | None = None,
    systems_note: str | None = None,
) -> str:
    """The summary's Markdown.  verdicts: claim id -> verdict record; data: experiment -> data file;
    config_file: the configuration the run used (results/config.yaml), linked if given;
    not_run: claim id -> why it has no verdict; failed: jobs that failed in the run
    (paper_checks.failures), said at the top; systems_check: the module of the systems check
    (E8) with its result and figure (or systems_note, why it has none), after the experiments."""
    environment = [v["environment"] for v in verdicts.values()]
    sections = [
        experiment_section(meta, [c for c in claims if c["experiment"] == key], verdicts, data[key], figures[key], base)
        for key, meta in experiments.items()
        if key in data
    ]
    systems_lines = None
    if systems_check is not None and (systems is not None or systems_note is not None):
        systems_lines = load_systems_check(systems_check).describe(systems, systems_figure, base, systems_note)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _cell
    text = env.get_template(TEMPLATE).render(
        measured_at=sorted({c for e in environment for c in e["git_commits"]}),
        judged_at=sorted({e["verdict_git_commit"] for e in environment}),
        config_file=os.path.relpath(config_file, base) if config_file else None,
        failed=failed,
        claims=[claim_row(c, verdicts.get(c["id"]), base, not_run or {}) for c in claims],
        experiments=sections,
        systems=systems_lines,
    )
    return text.rstrip("\n") + "\n"


def write_summary(
    output: str, *, verdicts: dict[str, str], data_files: dict[str, str], systems_file: str | None = None, **options
) -> None:
    """Write results/RESULTS_SUMMARY.md from the verdict files (claim id -> path), the data files
    (experiment -> path) and E8's result (after a failed run: those of the claims judged in it).
    `options` are render's: claims, experiments, figures, config_file, not_run, failed,
    systems_check, systems_figure, systems_note."""
    if systems_file is not None:
        options["systems"] = read_json(systems_file)
    verdict_records = {cid: read_json(p) for cid, p in verdicts.items()}
    data = {key: read_json(p) for key, p in data_files.items()}
    write_text(render(verdicts=verdict_records, data=data, base=Path(output).parent, **options), output)
    log.info("wrote %s", output)
