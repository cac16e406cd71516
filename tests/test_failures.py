"""What a failed run's summary says (paper_checks.failures): failed jobs read from Snakemake's
log, the error line from each job's log, and which claims each failure stops."""

from holograd.files import write_json
from paper_checks.failures import FailedJob, failed_jobs, not_run_reasons
from paper_checks.hashing import TIMING, content_sha256

# As Snakemake 9 writes it (the failing job's block, between other lines of the log); the
# backslash only joins the long `log:` line, which Snakemake writes as one line.
LOG = """Finished jobid: 3 (Rule: run_experiment)
Error in rule tune_experiment:
    message: None
    jobid: 12
    input: resources/tokens/embedded-bpe300.pt
    output: results/tuning/e4_adc_energy/base.json
    log: logs/tuning/e4_adc_energy/base.log, results/benchmarks/tuning/e4_adc_energy/base.tsv \
(check log file(s) for error details)

Error in rule prepare_embedded_tokens:
    jobid: 1
    output: resources/tokens/embedded-bpe1024.pt
    log: logs/tokens/embedded-bpe1024.log (check log file(s) for error details)
Select jobs to execute...
"""
CLAIMS = [
    {"id": "C5", "experiment": "e4_adc_energy"},
    {"id": "C2", "experiment": "e1"},
    {"id": "C8", "experiment": "e6"},
]


def test_failed_jobs_are_read_from_the_snakemake_log():
    jobs = failed_jobs(LOG)
    assert jobs == [
        FailedJob(
            "tune_experiment",
            ("results/tuning/e4_adc_energy/base.json",),
            ("logs/tuning/e4_adc_energy/base.log", "results/benchmarks/tuning/e4_adc_energy/base.tsv"),
        ),
        FailedJob(
            "prepare_embedded_tokens", ("resources/tokens/embedded-bpe1024.pt",), ("logs/tokens/embedded-bpe1024.log",)
        ),
    ]
    assert failed_jobs("Finished jobid: 3\nComplete log: x\n") == []


def test_each_failure_stops_the_claims_that_depend_on_it(tmp_path):
    log = tmp_path / "logs" / "tuning" / "e4_adc_energy" / "base.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026 INFO tuning\nTraceback (most recent call last):\n  File x\n"
        "ValueError: codebook rank must lie in [1, D=22880], got 1000000\n"
    )
    reasons = not_run_reasons(
        failed_jobs(LOG), CLAIMS, {}, {"resources/tokens/embedded-bpe1024.pt": ["e1"]}, root=tmp_path
    )
    assert sorted(reasons) == ["C2", "C5"]  # C8's experiment did not fail
    assert reasons["C5"] == (
        "job tune_experiment for results/tuning/e4_adc_energy/base.json failed: "
        "ValueError: codebook rank must lie in [1, D=22880], got 1000000 (log: logs/tuning/e4_adc_energy/base.log)"
    )
    assert reasons["C2"].startswith(
        "job prepare_embedded_tokens for resources/tokens/embedded-bpe1024.pt failed: see the Snakemake log"
    )


def test_a_job_killed_without_an_exception_says_so(tmp_path):
    (tmp_path / "job.log").write_text("2026 INFO step 3/10 loss 5.1\n")
    assert (
        FailedJob("run_experiment", ("results/runs/e1/base/seed0.json",), ("job.log",)).error(tmp_path)
        == "no exception in its log job.log: killed?"
    )


def test_the_content_hash_leaves_out_timing_only(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.json", "b.json", "c.json"))
    write_json({"x": 1.5, TIMING: {"wall_seconds": 3.0}}, a)
    write_json({"x": 1.5, TIMING: {"wall_seconds": 9.0, "finished_at": "2026-11-25T17:00:00+00:00"}}, b)
    write_json({"x": 1.6, TIMING: {"wall_seconds": 3.0}}, c)
    assert content_sha256(a) == content_sha256(b) != content_sha256(c)
