"""benchmarks/gpu_check.sh and the analytical H100 estimate of benchmarks/estimate_suite.py,
checked without a GPU: the script parses and its driver writes a summary under $OUT; the
estimate with `--units h100` derives every unit cost (nothing timed: the two CPU costs it would
measure are given) and reports every experiment, E8 and a total.  No timing is asserted."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ("pytest_gpu", "bench_triton", "bit_identity", "nccl_e8", "estimate", "bench_core")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_gpu_check_script_parses():
    """`bash -n`: the script is valid bash."""
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_gpu_check_driver_skips_steps_past_its_budget(tmp_path):
    """With a budget too small for any step, every step is skipped (nothing runs), the summary
    names all six under $OUT, and the exit status says not every step passed."""
    env = {**os.environ, "OUT": str(tmp_path), "GPU_CHECK_BUDGET": "5", "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    summary = (tmp_path / "summary.txt").read_text()
    for step in STEPS:
        assert f"{step}" in summary and "SKIPPED" in summary
    assert "RESULT: some step did not pass" in summary
    assert (tmp_path / "gpu_check.log").is_file()


def test_h100_estimate_of_the_paper_config_is_analytical(tmp_path):
    """`--units h100` on config/paper.yaml: one row per (experiment, stage) of the config with its
    breakdown by kind of work, E8 apart, totals that add up, and the assumptions recorded as
    given (start-up and seed hashing supplied, so nothing is measured)."""
    out = tmp_path / "estimate.json"
    command = [
        sys.executable,
        "benchmarks/estimate_suite.py",
        "--config",
        "config/paper.yaml",
        "--units",
        "h100",
        "--assume",
        "STARTUP_SECONDS=5",
        "--assume",
        "SEED_SECONDS=4e-6",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert {r["experiment"] for r in data["by_experiment"]} == set(config["experiments"])
    assert data["units"] == "h100" and data["assumptions"]["STARTUP_SECONDS"] == 5.0
    assert data["assumptions"]["SEED_SECONDS"] == 4e-6
    for row in data["by_experiment"]:
        parts = sum(row[f"{c}_seconds"] for c in ("passes", "directions", "steps", "startup"))
        assert row["seconds"] > 0 and math.isclose(parts, row["seconds"], rel_tol=1e-9)
    assert math.isclose(data["total_seconds"], sum(r["seconds"] for r in data["jobs"]), rel_tol=1e-12)
    e8 = data["systems"]
    assert e8["experiment"] == "e8_distributed_protocol" and e8["gpus"] == config["distributed"]["run"]["workers"]
    assert math.isclose(data["suite_seconds"], data["total_seconds"] + e8["seconds"], rel_tol=1e-12)
    assert data["suite_gpu_hours"] > 0 and "GPU-hours" in result.stdout


def test_unknown_assumption_is_refused():
    """A misspelt --assume name stops the run instead of being ignored."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import estimate_suite
    finally:
        sys.path.pop(0)
    with pytest.raises(ValueError, match="unknown assumption"):
        estimate_suite.H100Units({"ENTRIES_PER_SECONDS": 1.0})
