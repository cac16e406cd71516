"""The kernel benchmark command runs (its quick mode, in CI's budget) and writes every
measurement beside its reference.  Speed itself is judged by reading its output, never by
a timed test."""

import json
import math
import subprocess
import sys

from pipeline import ROOT


def test_quick_kernel_benchmark_writes_every_measurement(tmp_path):
    out = tmp_path / "core.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_core.py", "--quick", "--device", "cpu", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    differing = data["ratios"].pop("entries_differing_from_reference")
    assert set(data["ratios"]) == {
        "generator_vs_randn",
        "random_directions_vs_randn",
        "project_vs_randn",
        "project_reconstruct_vs_randn",
        "jvp_vs_forward_backward",
    }
    assert all(math.isfinite(v) and v > 0 for v in data["ratios"].values())
    # the generated entries are the correctly rounded definition's (tests/test_generator.py)
    assert differing == 0 and data["reference"]["entries"] == 8 * (1 << 17)
    (micro,) = data["training_steps"]
    assert micro["preset"] == "micro" and set(micro["strategies"]) == {"sgd", "random_k64", "adc_r32_k8", "momentum_n4"}
    for timing in micro["strategies"].values():
        assert timing["step_s"] > 0 and timing["forward_backward_s"] > 0
        assert timing["ratio"] == timing["step_s"] / timing["forward_backward_s"]
    assert "one training step vs the forward+backward passes" in result.stdout


def test_pipeline_benchmark_times_a_run_and_tables_its_jobs(tmp_path):
    """The pipeline benchmark on a small target of the smoke config (one E5 measurement job,
    K = 1 for seed 0, and the token cache it reads) in a scratch copy: it records the wall
    time, the per-job table from the benchmark files, and leaves this checkout's results/
    alone.  (The per-job table of a whole run: test_executors.py's job-times test.)"""
    out = tmp_path / "pipeline.json"
    before = sorted((ROOT / "results").rglob("*")) if (ROOT / "results").exists() else []
    command = [
        sys.executable,
        "benchmarks/bench_pipeline.py",
        "--config",
        "smoke",
        "--cores",
        "2",
        "--target",
        "results/runs/e5_unbiased_estimator/k-1/seeds0_1.json",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["wall_seconds"] > 0 and data["snakemake_jobs"] >= 2  # the token cache and the measurement job
    jobs = data["heavy_jobs"]
    assert jobs["jobs"] == 1 and {r["experiment"] for r in jobs["by_experiment"]} == {"e5_unbiased_estimator"}
    assert data["targets"]["wall_seconds"] is None  # a partial run is not judged against the whole-run target
    assert data["targets"]["max_rss_met"] == (jobs["max_rss_mb"] <= 2000)
    assert out.with_suffix(".log").is_file()
    assert (sorted((ROOT / "results").rglob("*")) if (ROOT / "results").exists() else []) == before


def test_suite_estimate_counts_every_job_of_the_config(tmp_path):
    """The work model of benchmarks/estimate_suite.py has one entry per tuning and
    measurement job that Snakemake would run for the config (checked against a dry run of the
    smoke config), each with a positive time.  A model that forgot a setting, a seed or a
    tuning job would miss jobs here; the time it gives is judged by comparing it with a
    measured run (README), not by this test."""
    from pipeline import SMOKE, TARGET, copy_repository, planned_outputs

    out = tmp_path / "estimate.json"
    command = [
        sys.executable,
        "benchmarks/estimate_suite.py",
        "--config",
        "config/smoke.yaml",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    planned = planned_outputs(copy_repository(tmp_path / "repo"), *SMOKE, TARGET)
    expected = {}
    for path in planned:
        top, stage, experiment, *_ = path.split("/") + ["", ""]
        if top == "results" and stage in ("runs", "tuning"):
            expected[(experiment, stage)] = expected.get((experiment, stage), 0) + 1
    counted = {(r["experiment"], r["stage"]): r["jobs"] for r in data["by_experiment"]}
    assert counted == expected
    assert all(r["seconds_each"] > 0 and math.isfinite(r["seconds_each"]) for r in data["jobs"])
    assert math.isclose(
        data["total_seconds"], sum(r["seconds"] for r in data["jobs"]), rel_tol=1e-12
    )  # summed in another order
