"""Readings of a claim and the authors' published numbers: every reading of a claim judged by
the same rule into one verdict file, the catalog's one-line errors for readings and
published.yaml, the summary's claims x readings table (and its reStructuredText twin for the
report) and the published-numbers table."""

import json
import logging
import re

import pytest
import yaml
from docutils.core import publish_parts
from test_claim_rules import CODE, EXPERIMENTS, SECTIONS, e1_metrics, plant

from paper_checks import evaluation
from paper_checks.catalog import (
    CLAIMS_FILE,
    PUBLISHED_FILE,
    CatalogError,
    load_claims,
    load_published,
    readings_of,
)
from paper_checks.summary import NOT_MEASURED, READINGS_TABLE, published_rows, write_summary
from paper_checks.verdict import FAIL, INCONCLUSIVE, NOT_RUN, PASS

C2 = "e1_gradient_variability"
READINGS = [  # planted below: batch 8 ends at 0.07 (step 5) and starts at 0.5 (step 0)
    {"id": "last", "reading": "after the last checkpoint", "verifiable": "yes", "select": {"checkpoint": "last"}},
    {"id": "init", "reading": "at initialisation", "verifiable": "no", "select": {"checkpoint": "init"}},
    {
        "id": "init-wide",
        "reading": "at initialisation, against a wider region",
        "verifiable": "n/a",
        "select": {"checkpoint": "init"},
        "expected": 0.5,
        "acceptance": "[0.3, 0.7]",
    },
    {"id": "batch-16", "reading": "batches of 16", "verifiable": "yes", "select": {"where": {"batch_size": 16}}},
]


def c2_claim(readings=READINGS) -> dict:
    claim = {k: v for k, v in load_claims()[1].items() if k != "region"}
    assert claim["id"] == "C2"
    return {**claim, "select": {"where": {"batch_size": 8}, "checkpoint": "last"}, "readings": readings}


@pytest.fixture()
def judged(tmp_path):
    """C2 judged under READINGS from planted runs of batches of 2 and 8: (claim, verdict path, data path)."""
    section = {**SECTIONS[C2], "sweep": {"batch_size": [2, 8]}}
    planted = {
        "batch_size-2": [e1_metrics(c) for c in (0.29, 0.3, 0.31)],
        "batch_size-8": [e1_metrics(c) for c in (0.07, 0.072, 0.068)],
    }
    data = plant(tmp_path, C2, planted, section)
    claim, out, fig = c2_claim(), tmp_path / "C2.json", tmp_path / "C2.png"
    evaluation.evaluate_claim(claim, EXPERIMENTS[C2], str(data), str(out), str(fig), CODE)
    assert fig.stat().st_size > 0
    return claim, out, data


def test_readings_of_merges_select_and_overrides_the_first_part():
    claim = {
        "id": "C9",
        "expected": 1.0,
        "acceptance": "[0.9, 1.1]",
        "statistic": "s",
        "also_requires": [{"part": "b", "expected": 2.0, "acceptance": "[1, 3]", "statistic": "t"}],
        "select": {"where": {"k": 16, "lr": 0.1}, "draws": "largest"},
        "readings": [
            {"id": "a", "reading": "r", "verifiable": "yes", "select": {"where": {"k": 1}, "rank": 8}},
            {"id": "b", "reading": "r", "verifiable": "no", "expected": 8, "acceptance": "[4, 16]", "structural": "x"},
        ],
    }
    first, second = readings_of(claim)
    assert first["select"] == {"where": {"k": 1, "lr": 0.1}, "draws": "largest", "rank": 8}
    assert first["claim"]["select"] == first["select"] and "readings" not in first["claim"]
    assert (second["claim"]["expected"], second["claim"]["acceptance"], second["claim"]["structural"]) == (
        8,
        "[4, 16]",
        "x",
    )
    assert second["claim"]["also_requires"] == claim["also_requires"]  # later parts keep theirs
    assert claim["select"]["where"] == {"k": 16, "lr": 0.1}  # the catalog entry is untouched
    [implicit] = readings_of({k: v for k, v in claim.items() if k != "readings"})
    assert (implicit["id"], implicit["verifiable"], implicit["select"]) == ("as-stated", "n/a", claim["select"])


def test_each_reading_gets_its_own_verdict(judged):
    _, out, _ = judged
    v = json.loads(out.read_text())
    by_id = {r["id"]: r for r in v["readings"]}
    assert [r["id"] for r in v["readings"]] == ["last", "init", "init-wide", "batch-16"]
    assert by_id["last"]["verdict"] == PASS and by_id["last"]["measured"]["per_seed"] == [0.07, 0.072, 0.068]
    assert by_id["init"]["verdict"] == FAIL and by_id["init"]["measured"]["point"] == 0.5
    # the same measurement, judged against the reading's own acceptance region and expected value
    wide = by_id["init-wide"]
    assert wide["verdict"] == PASS and (wide["expected"], wide["acceptance"]) == (0.5, "[0.3, 0.7]")
    assert wide["parts"][0]["acceptance"] == "[0.3, 0.7]" and "[0.3, 0.7]" in wide["reason"]
    assert (
        by_id["batch-16"]["verdict"] == INCONCLUSIVE
        and "no setting with batch_size = 16" in by_id["batch-16"]["reason"]
    )
    assert by_id["init"]["verifiable"] == "no" and by_id["batch-16"]["select"]["where"] == {"batch_size": 16}
    # the top level is the primary (first) reading's, as before readings existed
    assert v["primary_reading"] == "last"
    for key in ("verdict", "reason", "statistic", "expected", "acceptance", "measured", "select", "details", "parts"):
        assert v[key] == by_id["last"][key], key


def _write(tmp_path, name, doc) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _claims_with_readings(tmp_path, readings) -> str:
    doc = yaml.safe_load(CLAIMS_FILE.read_text())
    c2 = next(c for c in doc["claims"] if c["id"] == "C2")
    c2["readings"] = readings
    return _write(tmp_path, "claims.yaml", doc)


@pytest.mark.parametrize(
    "readings, message",
    [
        ([READINGS[0], {**READINGS[1], "id": "last"}], "claim C2 reading last: id: duplicate reading id 'last'"),
        (
            [READINGS[0], {**READINGS[2], "acceptance": "[0.7, 0.3]"}],
            "claim C2 reading init-wide: acceptance: acceptance region '[0.7, 0.3]' is empty",
        ),
        ([{**READINGS[0], "acceptance": "0.3 to 0.7"}], "claim C2 reading last: acceptance: acceptance region"),
        ([{**READINGS[0], "verifiable": "maybe"}], "claim C2 reading last: verifiable: 'maybe' is not one of"),
        ([{**READINGS[0], "id": "Last"}], "claim C2 reading Last: id: 'Last' does not match"),
        ([{**READINGS[0], "select": {"rate": "tuned-ish"}}], "claim C2 reading last: select.rate: 'tuned-ish'"),
        ([{**READINGS[0], "select": {"sgd_fraction": 1.5}}], "claim C2 reading last: select.sgd_fraction: 1.5"),
        ([{**READINGS[0], "expectd": 1}], "claim C2 reading last: Additional properties are not allowed"),
    ],
)
def test_bad_readings_are_one_line_errors(tmp_path, readings, message):
    with pytest.raises(CatalogError) as err:
        load_claims(_claims_with_readings(tmp_path, readings))
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def _published(**changes) -> dict:
    entry = {
        "id": "cosine",
        "claim": "C2",
        "quantity": "mean pairwise cosine",
        "value": 0.28,
        "source": "paper, §6.1",
        "setting": "unknown",
        "ours": {"claim": "C2", "reading": "init", "value": "parts.0.measured"},
        "explanation": "a shared component at initialisation",
    }
    for key, value in changes.items():
        entry[key] = value
    return entry


@pytest.mark.parametrize(
    "entries, message",
    [
        ([_published(claim="C99")], "entry cosine: claim: unknown claim 'C99'"),
        (
            [_published(ours={"claim": "C2", "reading": "oracle", "value": "x"})],
            "entry cosine: ours.reading: 'oracle' is not a reading of claim C2",
        ),
        (
            [_published(reproduced_by={"claim": "C3", "reading": "init", "value": "x", "tolerance": 0.1})],
            "entry cosine: reproduced_by.reading: 'init' is not a reading of claim C3",
        ),
        (
            [_published(ours={"claim": "C42", "reading": "init", "value": "x"})],
            "entry cosine: ours.claim: unknown claim 'C42'",
        ),
        ([_published(value="0.28")], "entry cosine: value: '0.28' is not of type 'number'"),
        ([_published(explanation="")], "entry cosine: explanation: '' should be non-empty"),
        ([_published(), _published()], "entry #2: id: duplicate entry id 'cosine'"),
    ],
)
def test_bad_published_entries_are_one_line_errors(tmp_path, entries, message):
    claims = load_claims(_claims_with_readings(tmp_path, READINGS))
    with pytest.raises(CatalogError) as err:
        load_published(_write(tmp_path, "published.yaml", {"published": entries}), claims)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_shipped_published_numbers_load():
    """Every published number names a claim and readings that claims.yaml has."""
    entries = load_published(PUBLISHED_FILE)
    assert {e["claim"] for e in entries} >= {"C2", "C3", "C4", "C5", "C6"}


def test_summary_tables(judged, tmp_path, caplog):
    claim, out, data = judged
    c3 = next(c for c in load_claims() if c["id"] == "C3")  # no verdict: NOT RUN under every reading
    c3 = {k: v for k, v in c3.items() if k != "region"}
    published = [
        _published(reproduced_by={"claim": "C2", "reading": "last", "value": "parts.0.measured", "tolerance": 0.1}),
        _published(
            id="init-cosine",
            value=0.5,
            ours={"claim": "C2", "reading": "last", "value": "details.checkpoint_step"},
            reproduced_by={"claim": "C2", "reading": "init", "value": "parts.0.measured.point", "tolerance": 0.1},
        ),
        _published(id="missing", ours={"claim": "C2", "reading": "last", "value": "details.no_such_value"}),
        _published(id="not-run", claim="C3", ours={"claim": "C3", "reading": "oracle", "value": "parts.0.measured"}),
    ]
    claims_file = _claims_with_readings(tmp_path, READINGS)
    published_file = _write(tmp_path, "published.yaml", {"published": published})
    summary = tmp_path / "summary" / "RESULTS_SUMMARY.md"
    with caplog.at_level(logging.WARNING, logger="paper_checks"):
        write_summary(
            str(summary),
            claims=[claim, c3],
            experiments={C2: EXPERIMENTS[C2]},
            verdicts={"C2": str(out)},
            data_files={C2: str(data)},
            figures={C2: str(tmp_path / "gradient_variability.png")},
            published_file=published_file,
            not_run={"C3": "its experiment is not in this test"},
            preregistered="0123abc",
        )
    assert load_claims(claims_file)  # the readings the entries name exist
    text = summary.read_text()
    # the family as the verdicts were judged in (the shipped claims.yaml's eleven decisions), not
    # as the two claims given here would make it
    assert "primary readings, fractions) as last changed in commit 0123abc" in text
    family = "11 decisions (a claim in parts counts each part), each at α = 0.00454545 per side (99.0909 % intervals"
    assert family in text
    verdicts, rest = text.split("## The authors' published numbers beside ours")
    first_screen, verdicts = verdicts.split("## Verdicts: every claim under every reading")
    # the first screen (issue 26): what was found in three sentences, then one row per claim
    assert text.index("## What was found") < text.index("## How to read it")
    assert "Of the 2 claims, on their primary readings, 1 passes (C2) and 1 was not run (C3)." in first_screen
    assert "No claim fails on its primary reading." in first_screen
    overview = [line for line in first_screen.splitlines() if line.startswith(("| C2 |", "| C3 |"))]
    assert len(overview) == 2 and "| `last` | **PASS** | 0.07 [" in overview[0]
    assert "| 2 · 1 · 1 |" in overview[0] and "not run" in overview[1]  # C2: two PASS, a FAIL†, an INC
    rows = [line for line in verdicts.splitlines() if line.startswith(("| C2 |", "| C3 |"))]
    # one row per (claim, reading): the four of C2, every one of C3 NOT RUN with the reason
    assert len(rows) == len(READINGS) + len(c3["readings"])
    assert [r.split(" | ")[1].split("`")[1] for r in rows[:4]] == ["last", "init", "init-wide", "batch-16"]
    assert "**PASS**" in rows[0] and "**FAIL†**" in rows[1] and "**INCONCLUSIVE**" in rows[3]
    # short cells: the reading's id, no statement or description (those are on the first screen
    # and in the claim's section), a reason only for what did not run
    assert "0.5 ([0.3, 0.7])" in rows[2] and all(claim["statement"] not in r for r in rows)
    assert all(r.rstrip(" |").split(" | ")[-2] == "—" for r in rows[:4]) and max(map(len, rows[:4])) < 250
    assert all(f"**{NOT_RUN}" in r and "its experiment is not in this test" in r for r in rows[4:])
    assert any("**NOT RUN†**" in r for r in rows[4:])  # C3's oracle reading
    # every row shows the D it was measured at beside the paper's (issue 25): C2's paper states
    # none; C3 was not run here, and its paper's D is the one its ratio readings predict at
    assert re.search(r"\| [\d,]+ · not stated \|", rows[0]) and "| — · 16,058,112 |" in rows[4]
    # the power table: the primary reading's per-seed sd and seeds (a PASS needs no more)
    power = text.split("## Power of the primary readings")[1].split("##")[0]
    assert "| `C2` · `last` | 0.07 | 0.002 | 3 | [0.04, 0.10] | PASS | — |" in power
    # the experiment section: one bold line per reading, the verifiable flag with the verdict
    section = rest.split("## E1")[1]
    assert "**C2 · last — PASS.**" in section and "**C2 · init — FAIL†.**" in section
    assert section.count("Why: ") == len(READINGS)  # every reading's reason, moved out of the table
    assert section.count("Mean pairwise cosine by checkpoint") == len(READINGS) - 1  # each judged reading's details
    # the published numbers: ours at the reading, the control by the tolerance rule, a missing path
    published_rows_ = [line for line in rest.split("## E1")[0].splitlines() if line.startswith("| mean pairwise")]
    assert len(published_rows_) == 4
    first, second, missing, not_run = published_rows_
    assert "**0.28**" in first and "0.5 [0.495, 0.505] (C2, reading init)" in first
    # ours and the control are estimates: the published number is placed against their 95 % CI,
    # in their standard errors (0.5 +- 0.005: 0.28 lies 0.22 / 0.00115 = 190 of them away)
    assert "(C2, reading init); the published 0.28 lies outside our 95% CI, 190.5 of our standard errors" in first
    assert "does not reproduce: the published 0.28 lies outside our 95% CI" in first  # 0.07 [0.065, 0.075]
    assert "5 (C2, reading last)" in second and ": reproduces (tolerance 0.1)" in second  # 0.5 against 0.5 +- 10 %
    assert f"{NOT_MEASURED} (C2, reading last)" in missing and "| — |" in missing
    assert "not measured (C3 has no verdict in this run)" in not_run
    assert "details.no_such_value" in caplog.text
    # the same rows for the report, as a reStructuredText table that docutils reads cleanly
    rst = (summary.parent / READINGS_TABLE).read_text()
    html = publish_parts(rst, writer="html", settings_overrides={"report_level": 1})["html_body"]
    assert "System Message" not in html and "system-message" not in html
    assert html.count("<tr") == 1 + len(rows) and "FAIL†" in html
    # the verdicts as a table for pandas (issue 26): one row per (claim, reading, part), NOT RUN
    # claims per reading, the summary linking it; CSV and JSON hold the same rows
    import pandas as pd

    from paper_checks.verdict_table import COLUMNS

    table = pd.read_csv(summary.parent / "verdicts.csv")
    assert list(table.columns) == COLUMNS and len(table) == len(rows)  # C2's readings have one part each
    assert table.loc[0, ["claim", "reading", "role", "verdict"]].tolist() == ["C2", "last", "primary", "PASS"]
    assert (table["role"].iloc[1:4] == "sensitivity").all() and (table["verdict"].iloc[4:] == NOT_RUN).all()
    assert table["D_paper"].iloc[4] == 16058112 and pd.isna(table["D_paper"].iloc[0])
    failed = table[table["verdict"] == "FAIL"]
    assert len(failed) and set(failed["direction"]) <= {"too low", "too high"}
    assert pd.read_json(summary.parent / "verdicts.json").shape == table.shape
    assert "[verdicts.csv](verdicts.csv)" in text
    assert (summary.parent / "figures" / "verdicts.png").stat().st_size > 5_000 and "(figures/verdicts.png)" in text
    # the same summary as HTML for the report: its tables rendered, its figures embedded
    page = (summary.parent / "RESULTS_SUMMARY.html").read_text()
    assert (
        page.count("<table>") == sum(line.startswith("|---") for line in text.splitlines())
        and 'src="data:image/png;base64,' in page
    )
    assert "<h2>What was found</h2>" in page and "figures/verdicts.png" not in page


def test_seeds_that_would_decide_an_inconclusive_reading():
    """The power table's count is the fewest n at which the decision interval of the same mean
    and per-seed sd clears the region's nearest end, and n - 1 does not: checked against the
    t quantile directly for a part inside the region (C2-like), outside it, and one-sided.
    Catches a z quantile, a two-sided quantile at the one-sided level, or sd in place of se."""
    import math

    from scipy.stats import t

    from paper_checks.regions import Region
    from paper_checks.summary import seeds_to_decide

    for point, sd, region, alpha in [
        (0.07, 0.05, "[0.04, 0.10]", 0.005),
        (0.12, 0.03, "[0.04, 0.10]", 0.05),
        (0.02, 0.04, "[0.01, inf)", 0.005),
    ]:
        n = seeds_to_decide(point, sd, Region.parse(region), alpha)
        distance = min(
            abs(point - x) for x in (Region.parse(region).low, Region.parse(region).high) if math.isfinite(x)
        )
        assert t.ppf(1 - alpha, n - 1) * sd / math.sqrt(n) < distance <= t.ppf(1 - alpha, n - 2) * sd / math.sqrt(n - 1)
    assert seeds_to_decide(0.1, 0.05, Region.parse("[0.04, 0.10]"), 0.05) is None  # on an end: never


def test_control_tolerance_rule():
    verdicts = {
        "C2": {
            "claim": "C2",
            "readings": [{"id": "init", "verifiable": "n/a", "details": {"x": 1.05, "y": {"point": 2.0}, "s": "text"}}],
        }
    }

    def control(path, tolerance, value=1.0):
        entry = _published(
            value=value,
            ours={"claim": "C2", "reading": "init", "value": "details.x"},
            reproduced_by={"claim": "C2", "reading": "init", "value": path, "tolerance": tolerance},
        )
        return published_rows([entry], verdicts)[0]["control"]

    assert control("details.x", 0.1).endswith(": reproduces (tolerance 0.1)")  # |1.05 - 1| <= 0.1
    assert "does not reproduce" in control("details.x", 0.05)
    assert "reproduces" in control("details.y", 0.0, value=2.0)  # an estimate without interval: its point
    assert control("details.s", 0.1) == "text: not a number"
    # an estimate with an interval is judged by it, not by the tolerance: 2.9 lies inside [1, 3]
    # though 45 % off the point, and 0.9 outside though within 55 %; one standard error is
    # half the interval over t_{0.975, 2} = 4.303
    verdicts["C2"]["readings"][0]["details"]["w"] = {"point": 2.0, "low": 1.0, "high": 3.0, "n": 3}
    inside = control("details.w", 0.0, value=2.9)
    assert inside.endswith(
        "reproduces: the published 2.9 lies inside our 95% CI, 3.9 of our standard errors from our 2"
    )
    assert "does not reproduce: the published 0.9 lies outside our 95% CI" in control("details.w", 0.55, value=0.9)
    # every seed alike: no standard errors to count the distance in
    verdicts["C2"]["readings"][0]["details"]["v"] = {"point": 7.0, "low": 7.0, "high": 7.0, "n": 10, "se": 0.0}
    # every seed alike is an exact measurement: 7.5 is not reproduced, whatever the tolerance;
    # float32 rounding is not a difference (0.99999994 [0.99999990, 0.99999997] against 1.0)
    assert "does not reproduce: the published 7.5 lies outside our 95% CI" in control("details.v", 0.1, value=7.5)
    verdicts["C2"]["readings"][0]["details"]["u"] = {"point": 0.99999994, "low": 0.9999999, "high": 0.99999997, "n": 10}
    assert "reproduces: the published 1 lies inside our 95% CI" in control("details.u", 0.0, value=1.0)
    from paper_checks.summary import beside

    zero = verdicts["C2"]["readings"][0]["details"]["v"]
    assert beside(zero, 1.8) == "the published 1.8 lies outside our 95% CI (of zero width: every seed gave 7)"
    assert control("details.z", 0.1) == NOT_MEASURED


def test_a_control_at_another_setting_judges_no_reproduction():
    # A control run at a smaller D (the smoke config) must not be reported as reproducing or
    # failing to reproduce the authors' number: catches a summary that ignores `at`.
    verdicts = {
        "C2": {
            "claim": "C2",
            "readings": [{"id": "init", "verifiable": "n/a", "details": {"x": 1.0, "setting": {"dim": 200}}}],
        }
    }

    def control(dim):
        at = {"details.setting.dim": dim}
        by = {"claim": "C2", "reading": "init", "value": "details.x", "tolerance": 0.1, "at": at}
        entry = _published(value=1.0, ours={"claim": "C2", "reading": "init", "value": "details.x"}, reproduced_by=by)
        return published_rows([entry], verdicts)[0]["control"]

    assert "not at the authors' setting (dim = 200, not 1000)" in control(1000)
    assert control(200).endswith(": reproduces (tolerance 0.1)")


def test_the_commit_that_preregistered_the_rules():
    """last_commit_of names the commit that last changed claims.yaml (what the summary cites as
    the rules' pre-registration): a 40-digit commit of this repository that touches the file."""
    import subprocess

    from paper_checks.preregistration import last_commit_of

    commit = last_commit_of(CLAIMS_FILE).removesuffix("+dirty")
    assert len(commit) == 40 and int(commit, 16) >= 0
    changed = subprocess.run(
        ["git", "show", "--name-only", "--format=", commit], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "paper_checks/claims.yaml" in changed
