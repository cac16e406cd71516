"""Stage 5 of the pipeline: results/RESULTS_SUMMARY.md, rendered from templates/summary.md.j2.

One table of every claim under every reading (NOT RUN ones too), then the authors' published
numbers beside ours (paper_checks/published.yaml), then one section per experiment (its
figure, the scale it ran at against the paper's setting, each reading's verdict of each claim
with the lines its analysis module writes), then the systems check (E8).  Every number in it
is read from a verdict or data file written by the pipeline.  The first table is also
written as reStructuredText (results/readings_table.rst), which the Snakemake report's
landing page (workflow/report/workflow.rst) includes.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

import jinja2
from scipy.stats import t as _t

from holograd.files import read_json, write_text
from paper_checks.catalog import family_size, load_published, readings_of
from paper_checks.experiment import load_analysis, load_systems_check
from paper_checks.formatting import measured, num
from paper_checks.overview import (
    NOT_VERIFIABLE,
    claim_rows,
    describe_run,
    found_sentences,
    plot_verdict_grid,
    shown_verdict,
)
from paper_checks.regions import Region
from paper_checks.verdict import ALPHA, INCONCLUSIVE, NOT_RUN, decision_level
from paper_checks.verdict_table import CSV, JSON, verdict_frame, write_verdict_table

log = logging.getLogger("paper_checks")

TEMPLATE = "templates/summary.md.j2"
"""The summary's template, relative to this package (its source hash covers it)."""

VERDICT_FIGURE = "figures/verdicts.png"
"""Every claim under every reading as a grid of verdicts (overview.plot_verdict_grid), beside
the summary; its first screen shows it."""

READINGS_TABLE = "readings_table.rst"
"""The claims x readings table as reStructuredText, written beside the summary for the report."""

NOT_MEASURED = "not measured (path missing)"
"""What the published table shows for a value its verdict file does not have (yet)."""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (a bare | would end the cell)."""
    return str(text).replace("|", "\\|")


def _part(part: dict) -> str:
    return f"{part['part']}: " if part.get("part") else ""


def _each(value, spec: str = "") -> str:
    """A scale value, or the values a sweep gives it joined by " / "."""
    return " / ".join(format(v, spec) for v in value) if isinstance(value, list) else format(value, spec)


VERIFIABLE = {"yes": "yes", "no": "no †", "n/a": "no protocol step in it"}
"""claims.yaml's `verifiable` as the tables show it ("n/a": a property of gradients, say, that
no step of the protocol computes)."""


def verdict_readings(verdict: dict) -> list[dict]:
    """A verdict file's readings (a record written before readings existed: its top level, as-stated)."""
    if "readings" in verdict:
        return verdict["readings"]
    fields = ("select", "verdict", "reason", "parts", "details", "statistic", "expected", "acceptance", "measured")
    return [{"id": "as-stated", "reading": "", "verifiable": "n/a", **{k: verdict[k] for k in fields if k in verdict}}]


def _measured(part: dict) -> str:
    """A part's estimate as the tables show it ("not measured" where the run lacks its selection)."""
    return "not measured" if part["measured"]["label"] == "not measured" else measured(part["measured"])


def _expected(parts: list[dict]) -> str:
    """Each part's expected value with its acceptance region, e.g. "a: 1 ([0.9, 1.1]); b: ..."."""
    return "; ".join(f"{_part(p)}{p['expected']:g} ({p['acceptance']})" for p in parts)


def dims_cell(claim: dict, verdict: dict | None) -> str:
    """ "ours · paper's": the D the verdict was measured at (each of a sweep's) beside the D at
    which the paper states the claim's number (claims.yaml `paper_dim`; "not stated")."""
    ours = "—" if verdict is None else _each(verdict["scale"]["D"], ",")
    paper = claim["paper_dim"]["D"]
    return f"{ours} · {'not stated' if paper is None else format(paper, ',')}"


def reading_rows(claim: dict, verdict: dict | None, base: Path, not_run: dict[str, str]) -> list[dict]:
    """The verdicts table's rows of one claim, one per reading (the primary first, the only one
    that shows the statement); a claim without a verdict is NOT RUN under every reading, with
    `not_run`'s reason or, by default, because its experiment is not in the configuration."""
    rows = []
    for reading in readings_of(claim):
        effective = reading["claim"]
        row = {
            "id": claim["id"],
            "statement": "",
            "reading": reading["id"],
            "text": reading["reading"],
            "verifiable": reading["verifiable"],
            "expected": _expected([effective, *effective.get("also_requires", [])]),
            "dims": dims_cell(claim, verdict),
            "measured": "—",
            "verdict": NOT_RUN,
            "reason": not_run.get(claim["id"], f"experiment `{claim['experiment']}` is not in the configuration"),
            "figure": "—",
        }
        if verdict is not None:
            judged = {r["id"]: r for r in verdict_readings(verdict)}
            if reading["id"] in judged:
                r = judged[reading["id"]]
                row |= {
                    "expected": _expected(r["parts"]),
                    "measured": "; ".join(f"{_part(p)}{_measured(p)}" for p in r["parts"]),
                    "verdict": r["verdict"],
                    "reason": r["reason"],
                    "figure": f"[{claim['id']}]({os.path.relpath(verdict['figure'], base)})",
                }
            else:
                row["reason"] = "not judged: the verdict file predates this reading"
        rows.append(
            row
            | {"label": shown_verdict(row["verdict"], row["verifiable"]), "verifiable": VERIFIABLE[row["verifiable"]]}
        )
    rows[0]["statement"] = claim["statement"]
    return rows


_RST_OPENERS = re.compile(r"^(?:[-+*#>:|]|\.\.|[0-9]+[.)]\s|[a-zA-Z][.)]\s|\([0-9a-zA-Z]+\)\s)")
"""The starts of a cell that reStructuredText would read as a list, a block or a directive."""


def _rst(text: str) -> str:
    """Text safe inside a reStructuredText list-table cell: on one line, inline markup escaped,
    and a start that would open a list or a block preceded by an escaped (invisible) space."""
    text = " ".join(str(text).split())
    for char in ("\\", "*", "`", "|", "_"):
        text = text.replace(char, "\\" + char)
    return "\\ " + text if not text or _RST_OPENERS.match(text) else text


RST_COLUMNS = {
    "claim": "id",
    "reading": "reading",
    "verifiable": "verifiable",
    "measured [95% CI], seeds": "measured",
    "D: ours · paper's": "dims",
    "expected (acceptance)": "expected",
    "verdict": "label",
    "reason": "reason",
}
"""The report's table: its header -> the row's field."""


def readings_rst(rows: list[dict]) -> str:
    """The claims x readings table as a reStructuredText list-table (the report's landing page
    includes it); the verdict in bold, everything else escaped."""
    lines = [".. list-table:: Every claim under every reading", "   :header-rows: 1", ""]
    cells = [list(RST_COLUMNS)]
    cells += [[f"**{_rst(r[f])}**" if f == "label" else _rst(r[f]) for f in RST_COLUMNS.values()] for r in rows]
    for first, *rest in cells:
        lines += [f"   * - {first}", *(f"     - {cell}" for cell in rest)]
    return "\n".join(lines) + "\n"


SUMMARY_HTML = "RESULTS_SUMMARY.html"
"""The summary rendered to HTML beside it, figures embedded: the report shows an HTML file
inside its page, where it only offers a Markdown file for download."""

HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 1.5em auto; padding: 0 1em; line-height: 1.45 }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0 }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; text-align: left }
th { background: #f2f2f2 }
img { max-width: 100% }
code { background: #f4f4f4; padding: 0 0.2em }
"""


def summary_html(markdown: str, base: Path) -> str:
    """The summary's Markdown as a standalone HTML page (markdown-it-py, CommonMark with
    tables), each figure it shows embedded as a data URI so that the page reads the same
    wherever it is opened, the report included."""
    import base64

    from markdown_it import MarkdownIt

    def embedded(match: re.Match) -> str:
        path = base / match.group(1)
        if not path.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    body = re.sub(r'src="([^":]+\.png)"', embedded, MarkdownIt("commonmark").enable("table").render(markdown))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>HoloGrad claim checks: results</title><style>{HTML_STYLE}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


OVERVIEW_RST = "overview.rst"
"""The summary's first screen as reStructuredText, the report's landing page (workflow.rst)."""


def overview_rst(found: list[str], rows: list[dict], figure: Path | None = None) -> str:
    """The first screen for the report: the three sentences, a list-table of one row per claim,
    and the grid of every verdict embedded as a data URI (the landing page is rendered from
    text, so a path would not resolve inside the report)."""
    import base64

    lines = [
        _rst(" ".join(found)).removeprefix("\\ "),
        "",
        ".. list-table:: The eight claims on their primary readings",
        "   :header-rows: 1",
        "",
    ]
    header = [
        "claim",
        "in a few words",
        "primary reading: verdict",
        "ours [decision interval]",
        "paper (acceptance)",
        "readings: pass · fail · inc.",
    ]
    cells = [header]
    for r in rows:
        cells.append(
            [
                r["id"],
                _rst(r["short"]),
                f"{_rst(r['reading'])}: **{_rst(r['verdict'])}**{r['direction_text']}",
                _rst(r["value"]),
                _rst(r["expected"]),
                r["counts_text"],
            ]
        )
    for first, *rest in cells:
        lines += [f"   * - {first}", *(f"     - {cell}" for cell in rest)]
    if figure is not None and Path(figure).exists():
        data = base64.b64encode(Path(figure).read_bytes()).decode()
        # the URI in lines of 76 characters, which docutils joins (a line over its 10,000
        # characters' limit would drop the whole include)
        uri = f"data:image/png;base64,{data}"
        lines += [
            "",
            ".. image::",
            *(f"   {uri[i : i + 76]}" for i in range(0, len(uri), 76)),
            "   :alt: every claim under every reading, a square per reading coloured by its verdict",
            "   :width: 100%",
        ]
    return "\n".join(lines) + "\n"


def resolve(record: dict, path: str):
    """The value at a dotted path in a reading's verdict (numbers index lists); KeyError if none."""
    value = record
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise KeyError(path)
    return value


def shown(value) -> str:
    """A resolved value as the published table shows it: an estimate as "point [low, high]"."""
    if isinstance(value, dict) and "point" in value:
        ci = f" [{num(value.get('low'))}, {num(value.get('high'))}]" if value.get("low") is not None else " (no CI)"
        return f"{num(value['point'])}{ci}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _cell(value)
    return num(value)


def _point(value) -> float | None:
    """The number a control compares: a value, or an estimate's point."""
    value = value.get("point") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


RESOLUTION = 1e-6
"""Relative difference below which a published number and an end of our interval are not told
apart: the measurements are float32, whose last places (about 1e-7) are rounding, not data."""


def beside(value, published: float) -> str | None:
    """Where the published number lies against our estimate: inside or outside our 95 % CI,
    and how many of our standard errors from our point (the se an estimate carries, else the
    one its t interval implies, half-width / t_{0.975, n-1}); None for a value without an
    interval (then a relative tolerance decides)."""
    if not isinstance(value, dict) or value.get("low") is None or value.get("high") is None:
        return None
    point, low, high, n = value["point"], value["low"], value["high"], value.get("n", 0)
    if not all(math.isfinite(x) for x in (point, low, high)):
        return None
    se = value.get("se")
    if se is None and n >= 2:
        se = (high - low) / 2 / float(_t.ppf(0.975, n - 1))
    margin = RESOLUTION * max(abs(low), abs(high), abs(published))
    where = "inside" if low - margin <= published <= high + margin else "outside"
    if high - low <= 1e-12 * max(1.0, abs(point)) or not se:  # every seed alike: no standard error to count in
        return f"the published {published:g} lies {where} our 95% CI (of zero width: every seed gave {num(point)})"
    away = f", {abs(published - point) / se:.1f} of our standard errors from our {num(point)}"
    return f"the published {published:g} lies {where} our 95% CI{away}"


def _look_up(pointer: dict, verdicts: dict[str, dict], entry: str):
    """(value, text) at a pointer {claim, reading, value}: value None where it is not measured."""
    verdict = verdicts.get(pointer["claim"])
    if verdict is None:
        return None, f"not measured ({pointer['claim']} has no verdict in this run)"
    judged = {r["id"]: r for r in verdict_readings(verdict)}
    try:
        value = resolve(judged[pointer["reading"]], pointer["value"])
    except KeyError:
        log.warning(
            "published %s: %s reading %s has no %s", entry, pointer["claim"], pointer["reading"], pointer["value"]
        )
        return None, NOT_MEASURED
    return value, shown(value)


def _not_at(control: dict, verdicts: dict[str, dict]) -> str:
    """The control's setting where it differs from the one its `at` names: "path = run's value,
    not wanted" for each, joined; "" when it matches (or names none)."""
    differs = []
    for path, wanted in control.get("at", {}).items():
        actual, _ = _look_up({**control, "value": path}, verdicts, "its setting")
        if actual != wanted:
            differs.append(f"{path.rsplit('.', 1)[-1]} = {actual}, not {wanted:g}")
    return "; ".join(differs)


def published_rows(published: list[dict], verdicts: dict[str, dict]) -> list[dict]:
    """The published-numbers table: each number, ours at the named reading (with where the
    number lies against our interval), and the control that reproduces it or not: the number
    inside the control's 95 % CI where it has one, else within the entry's relative tolerance."""
    rows = []
    for entry in published:
        ours = entry["ours"]
        ours_value, ours_text = _look_up(ours, verdicts, entry["id"])
        ours_text = f"{ours_text} ({ours['claim']}, reading {ours['reading']})"
        if (against := beside(ours_value, entry["value"])) is not None:
            ours_text = f"{ours_text}; {against}"
        control = "—"
        if "reproduced_by" in entry:
            by = entry["reproduced_by"]
            value, control = _look_up(by, verdicts, entry["id"])
            point = _point(value)
            elsewhere = _not_at(by, verdicts)
            if point is not None and elsewhere:
                where = f"{by['claim']}, reading {by['reading']}"
                control = f"{control} ({where}): not at the authors' setting ({elsewhere})"
            elif point is not None and (inside := beside(value, entry["value"])) is not None:
                words = "reproduces" if "lies inside" in inside else "does not reproduce"
                control = f"{control} ({by['claim']}, reading {by['reading']}): {words}: {inside}"
            elif point is not None:  # a value without an interval: within the entry's tolerance
                close = abs(point - entry["value"]) <= by["tolerance"] * abs(entry["value"])
                words = "reproduces" if close else "does not reproduce"
                control = f"{control} ({by['claim']}, reading {by['reading']}): {words} (tolerance {by['tolerance']:g})"
            elif value is not None:
                control = f"{control}: not a number"
        rows.append(
            {
                "number": f"{entry['quantity']}: **{entry['value']:g}** "
                f"({entry['source']}; setting: {entry['setting']})",
                "ours": ours_text,
                "control": control,
                "explanation": " ".join(entry["explanation"].split()),
            }
        )
    return rows


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
        ", ".join(data["environment"]["devices"])
        + f" (directions: {', '.join(data['environment'].get('generators', ['unrecorded']))})",
        f"{paper['model']} on {paper['corpus']}",
        "yes" if matches else "no",
    ]


def verdict_lines(verdict: dict, describe) -> list[dict]:
    """A claim's verdicts in its experiment's section, one per reading: its title, each part's
    measurement, and the lines its analysis module writes from that reading's details."""
    readings = verdict_readings(verdict)
    blocks = []
    for reading in readings:
        several = len(reading["parts"]) > 1
        parts = [
            (
                f"{_part(p)}not measured: {p['reason']}"
                if p["measured"]["label"] == "not measured"
                else f"{_part(p)}{p['measured']['label']}: {measured(p['measured'])}"
            )
            + (f" → {p['verdict']}" if several else "")
            for p in reading["parts"]
        ]
        named = len(readings) > 1 or reading["id"] != "as-stated"
        blocks.append(
            {
                "id": f"{verdict['claim']} · {reading['id']}" if named else verdict["claim"],
                "verdict": shown_verdict(reading["verdict"], reading["verifiable"]),
                "reading": " ".join(str(reading.get("reading", "")).split()).rstrip("."),
                "reason": str(reading["reason"]).rstrip("."),
                "parts": parts,
                # a reading the run cannot select has no details (its reason says why)
                "details": describe(reading["details"]) if reading["details"] else [],
            }
        )
    return blocks


def experiment_section(meta: dict, claims: list[dict], verdicts: dict, data: dict, figure: str, base: Path) -> dict:
    """An experiment's section: its figure, its scale beside the paper's, every reading's
    verdict of each of its claims."""
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
        "software": data["environment"].get("software", []),
        "verdicts": [
            block
            for cid in ids
            if cid in verdicts
            for block in verdict_lines(verdicts[cid], analysis.claims[cid].describe)
        ],
    }


def family_of(claims: list[dict], verdicts: dict[str, dict]) -> dict:
    """The confirmatory family as the summary states it: its decisions (the parts of the
    primary readings; as the verdicts record it, else as the claims give it), the level of
    each decision and of the sensitivity readings."""
    sizes = {v["family"]["size"] for v in verdicts.values() if "family" in v}
    if len(sizes) > 1:
        raise ValueError(f"the verdicts were judged in families of different sizes {sorted(sizes)}: rerun the claims")
    size = sizes.pop() if sizes else family_size(claims)
    return {
        "size": size,
        "alpha": ALPHA,
        "primary_alpha": ALPHA / size,
        "primary_level": 100 * decision_level(ALPHA / size),
        "level": 100 * decision_level(ALPHA),
    }


MAX_SEEDS = 1000
"""The most seeds the power table looks for (beyond it: "more than 1000")."""


def seeds_to_decide(point: float, sd: float, region: Region, alpha: float) -> int | None:
    """The fewest seeds n whose decision interval, point +- t_{1-alpha, n-1} sd / sqrt(n) with
    this point and per-seed standard deviation, would lie wholly inside or wholly outside the
    region (no end within it); None if no n up to MAX_SEEDS would (a point on an end never)."""
    ends = [x for x in (region.low, region.high) if math.isfinite(x)]
    distance = min(abs(point - x) for x in ends)
    if distance == 0:
        return None
    for n in range(2, MAX_SEEDS + 1):
        if float(_t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n) < distance:
            return n
    return None


def power_rows(claims: list[dict], verdicts: dict[str, dict]) -> list[dict]:
    """Per part of each judged claim's primary reading whose estimate is a mean across seeds:
    the per-seed standard deviation, the seeds used, the verdict, and for an INCONCLUSIVE one
    the seeds that would decide it at the family's alpha if the mean and spread stayed."""
    rows = []
    for claim in claims:
        verdict = verdicts.get(claim["id"])
        if verdict is None or "readings" not in verdict:
            continue
        primary = verdict["readings"][0]
        for part in primary["parts"]:
            m, decision = part["measured"], part.get("decision") or {}
            if m.get("se") is None or m.get("n", 0) < 2 or not decision:
                continue
            sd = m["se"] * math.sqrt(m["n"])
            need = "—"
            if part["verdict"] == INCONCLUSIVE and "cannot test" not in part["reason"]:
                n = seeds_to_decide(m["point"], sd, Region.parse(part["acceptance"]), decision["alpha"])
                need = str(n) if n else f"more than {MAX_SEEDS}"
            rows.append(
                {
                    "claim": claim["id"] + (f" ({part['part']})" if part.get("part") else ""),
                    "reading": primary["id"],
                    "point": num(m["point"]),
                    "sd": num(sd),
                    "n": m["n"],
                    "acceptance": part["acceptance"],
                    "verdict": part["verdict"],
                    "seeds_to_decide": need,
                }
            )
    return rows


def table_rows(claims: list[dict], verdicts: dict[str, dict], base: Path, not_run: dict[str, str] | None) -> list[dict]:
    """Every (claim, reading) row of the verdicts table, in claims.yaml's order."""
    return [row for c in claims for row in reading_rows(c, verdicts.get(c["id"]), base, not_run or {})]


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
    published: list[dict] | None = None,
    preregistered: str | None = None,
) -> str:
    """The summary's Markdown.  verdicts: claim id -> verdict record; data: experiment -> data file;
    published: the entries of published.yaml (catalog.load_published), shown beside ours;
    config_file: the configuration the run used (results/config.yaml), linked if given;
    not_run: claim id -> why it has no verdict; failed: jobs that failed in the run
    (paper_checks.failures), said at the top; systems_check: the module of the systems check
    (E8) with its result and figure (or systems_note, why it has none), after the experiments;
    preregistered: the commit that last changed claims.yaml, named beside the rule.  The first
    screen says where and how long the run ran (overview.describe_run, from the data files)."""
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
    table = verdict_frame(claims, verdicts, not_run)
    overview = claim_rows(claims, table)
    text = env.get_template(TEMPLATE).render(
        found=found_sentences(overview),
        overview=overview,
        dagger=f"{NOT_VERIFIABLE} the reading needs true gradients, which the protocol never sends: its verdict "
        "says what the idea could do, not what the protocol does.",
        machine=describe_run(data),
        measured_at=sorted({c for e in environment for c in e["git_commits"]}),
        judged_at=sorted({e["verdict_git_commit"] for e in environment}),
        config_file=os.path.relpath(config_file, base) if config_file else None,
        failed=failed,
        claims=table_rows(claims, verdicts, base, not_run),
        family=family_of(claims, verdicts),
        preregistered=preregistered,
        power=power_rows(claims, verdicts),
        published=published_rows(published or [], verdicts),
        experiments=sections,
        systems=systems_lines,
    )
    return text.rstrip("\n") + "\n"


def write_summary(
    output: str,
    *,
    verdicts: dict[str, str],
    data_files: dict[str, str],
    systems_file: str | None = None,
    published_file: str | None = None,
    **options,
) -> None:
    """Write results/RESULTS_SUMMARY.md from the verdict files (claim id -> path), the data files
    (experiment -> path), E8's result and the authors' published numbers (published.yaml,
    checked against the claims) -- after a failed run: those of the claims judged in it -- and
    beside it the claims x readings table as reStructuredText (READINGS_TABLE, for the report)
    and the verdicts as a table (paper_checks.verdict_table: verdicts.csv and .json).
    `options` are render's: claims, experiments, figures, config_file, not_run, failed,
    systems_check, systems_figure, systems_note."""
    if systems_file is not None:
        options["systems"] = read_json(systems_file)
    if published_file is not None:
        options["published"] = load_published(published_file, options["claims"])
    verdict_records = {cid: read_json(p) for cid, p in verdicts.items()}
    data = {key: read_json(p) for key, p in data_files.items()}
    base = Path(output).parent
    text = render(verdicts=verdict_records, data=data, base=base, **options)
    write_text(text, output)
    rows = table_rows(options["claims"], verdict_records, base, options.get("not_run"))
    write_text(readings_rst(rows), base / READINGS_TABLE)
    frame = verdict_frame(options["claims"], verdict_records, options.get("not_run"))
    write_verdict_table(frame, base)
    plot_verdict_grid(options["claims"], frame, base / VERDICT_FIGURE)
    overview = claim_rows(options["claims"], frame)
    write_text(overview_rst(found_sentences(overview), overview, base / VERDICT_FIGURE), base / OVERVIEW_RST)
    write_text(summary_html(text, base), base / SUMMARY_HTML)  # after the figures it embeds
    log.info(
        "wrote %s, %s, %s, %s and %s", output, base / READINGS_TABLE, base / CSV, base / JSON, base / VERDICT_FIGURE
    )
