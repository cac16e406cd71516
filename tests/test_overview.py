"""The summary's first screen (paper_checks.overview): the three sentences read from the
verdicts, and the machine line read from the data files."""

from paper_checks.overview import describe_run, found_sentences
from paper_checks.verdict import FAIL, INCONCLUSIVE, NOT_RUN, PASS


def _row(cid, verdict, direction="", counts=(1, 0, 0)):
    return {
        "id": cid,
        "verdict": verdict,
        "direction": direction,
        "readings": sum(counts),
        "counts": {PASS: counts[0], FAIL: counts[1], INCONCLUSIVE: counts[2], NOT_RUN: 0},
    }


def test_three_sentences_name_every_claim_and_where_failures_lie():
    """Catches a count that reads the dagger as another verdict ("PASS†" is a PASS), a failure
    without its side, and totals that miss the sensitivity readings."""
    rows = [
        _row("C1", FAIL, "too low", (1, 3, 0)),
        _row("C2", FAIL, "too high", (0, 3, 0)),
        _row("C3", PASS + "†", "", (2, 0, 1)),
        _row("C4", INCONCLUSIVE, "", (0, 0, 2)),
    ]
    first, second, third = found_sentences(rows)
    assert (
        first
        == "Of the 4 claims, on their primary readings, 1 passes (C3), 2 fail (C1, C2) and 1 is inconclusive (C4)."
    )
    assert second == "Where a claim fails, our measurement lies below the acceptance region for C1 and above it for C2."
    assert third == "Across all 12 readings, the sensitivity analyses included, 3 pass, 6 fail and 3 are inconclusive."


def test_the_run_is_described_from_its_data_files():
    data = {
        "e1": {
            "environment": {"machines": ["Xeon (AVX-512)"], "devices": ["cpu"],
                            "cpu_numerics": ["AVX2, MKL_CBWR=AVX2"]},
            "timing": {"runs_wall_seconds": 100.0, "first_start": "2026-12-07T13:00:00+00:00",
                       "last_finish": "2026-12-07T13:20:00+00:00"},
        },
        "e2": {
            "environment": {"machines": ["Xeon (AVX-512)"], "devices": ["cuda:0 (NVIDIA H100)"]},
            "timing": {"runs_wall_seconds": 50.5, "first_start": "2026-12-07T12:50:00+00:00",
                       "last_finish": "2026-12-07T13:10:00+00:00"},
        },
    }  # fmt: skip
    line = describe_run(data)
    assert line.startswith("CPU Xeon (AVX-512); jobs pinned to AVX2, MKL_CBWR=AVX2; devices cpu, cuda:0 (NVIDIA H100)")
    assert "from 2026-12-07 12:50 to 13:20 UTC (30 min wall" in line and "150 seconds of measurement jobs" in line


def test_the_span_of_the_runs_is_from_the_earliest_start_to_the_latest_end():
    """A run's start is its finishing time less its wall seconds.  Catches the earliest
    finishing time taken for the start, and a span that ignores a run with no time."""
    from paper_checks.aggregation import span

    records = [
        {"timing": {"finished_at": "2026-12-07T13:00:00+00:00", "wall_seconds": 600.0}},
        {"timing": {"finished_at": "2026-12-07T12:58:00+00:00", "wall_seconds": 60.0}},
    ]
    assert span(records) == {"first_start": "2026-12-07T12:50:00+00:00", "last_finish": "2026-12-07T13:00:00+00:00"}
    assert span([*records, {"timing": {"wall_seconds": 1.0}}]) == {}


def test_a_job_records_its_cpu():
    from holograd.numerics import cpu_description

    cpu = cpu_description()
    assert cpu["cpu_model"] and cpu["cpu_vector_width"] in ("AVX-512", "AVX2", "AVX", "SSE4.2", "NEON", "unknown")
