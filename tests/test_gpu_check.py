"""benchmarks/gpu_check.sh and benchmarks/estimate_suite.py, checked without a GPU.

The script's parts that need no CUDA -- finding Python, the preflight, step selection, the
budget, the summary -- run here with CUDA absent: every step must report NOT RUN, never ok, and
the exit status must say so.  A stand-in for a bare GPU image (tests/bare_image: jsonschema,
referencing, docutils, snakemake and datasets cannot be imported) checks that the GPU tests
collect there and that the estimate runs without Snakemake.  The estimate with `--units h100`
derives every unit cost (nothing timed: the two CPU costs it would measure are given) and
reports every experiment, E8 and a total; the measured mode separates a call's fixed cost from
its per-entry cost.  No timing is asserted."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ("pytest_gpu", "bench_triton", "bit_identity", "paper_shape", "e8", "e1_memory", "estimate")
BARE_IMAGE = str(ROOT / "tests" / "bare_image")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_gpu_check_script_parses():
    """`bash -n`: the script is valid bash."""
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _gpu_check(tmp_path, **env) -> tuple[subprocess.CompletedProcess, str]:
    full = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, **env}
    result = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)
    return result, (tmp_path / "summary.txt").read_text()


def _rows(summary: str) -> dict[str, str]:
    """{step: its status} from the summary's table."""
    names = {"preflight", *STEPS}
    rows = (line.split(None, 1) for line in summary.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2 and row[0] in names}


def test_on_a_bare_image_without_cuda_every_step_reports_not_run_never_ok(tmp_path):
    """On a stand-in bare image (no jsonschema) on this machine (no CUDA): the script says which
    steps need jsonschema, the preflight fails with the reason in one line, and every step is
    NOT RUN, exit status 2.  At d39e71f a CPU-only Python passed the check's gates and its gpu
    tests were skipped, not failed."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result, summary = _gpu_check(tmp_path, PYTHONPATH=BARE_IMAGE, GPU_CHECK_WHEELS=str(tmp_path / "none"))
    assert result.returncode == 2, result.stdout[-3000:]
    rows = _rows(summary)
    assert rows["preflight"].startswith("FAILED") and set(rows) == {"preflight", *STEPS}
    assert all(rows[step].startswith("NOT RUN (preflight failed)") for step in STEPS)
    assert " ok " not in summary and "RESULT: not run (preflight failed: DeviceError: device 'cuda'" in summary
    log = (tmp_path / "gpu_check.log").read_text()
    assert "jsonschema is not importable: e8 and estimate will not run" in log and "jsonschema NOT IMPORTABLE" in log


def test_chosen_steps_past_the_budget_are_skipped_and_nothing_runs(tmp_path):
    """GPU_CHECK_STEPS picks steps (the preflight always runs first); with a budget too small for
    any step the preflight is skipped, the chosen steps are NOT RUN and the others not listed."""
    result, summary = _gpu_check(tmp_path, GPU_CHECK_BUDGET="5", GPU_CHECK_STEPS="e8 pytest_gpu")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    rows = _rows(summary)
    assert set(rows) == {"preflight", "pytest_gpu", "e8"} and rows["preflight"].startswith("SKIPPED")
    assert rows["e8"].startswith("NOT RUN") and rows["pytest_gpu"].startswith("NOT RUN")
    assert "RESULT: not run" in summary and (tmp_path / "gpu_check.log").is_file()


def test_without_python_or_a_venv_the_script_finds_python3(tmp_path):
    """GPU images have `python3` and often no `python`; at d39e71f the script fell back to `python`."""
    (tmp_path / "repo" / "benchmarks").mkdir(parents=True)
    shutil.copy(SCRIPT, tmp_path / "repo" / "benchmarks")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    env.update(OUT=str(tmp_path / "out"), GPU_CHECK_BUDGET="5", PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    script = tmp_path / "repo" / "benchmarks" / "gpu_check.sh"
    subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert ", python python3, " in (tmp_path / "out" / "gpu_check.log").read_text()


def test_the_gpu_tests_collect_on_a_bare_image():
    """The files gpu_check.sh hands pytest (those holding `gpu` tests) import without
    jsonschema, docutils, snakemake and datasets; at d39e71f the check collected every test
    module and stopped at the first that needed them."""
    files = sorted(str(p) for p in (ROOT / "tests").glob("test_*.py") if "pytest.mark.gpu" in p.read_text())
    assert files
    env = {**os.environ, "PYTHONPATH": BARE_IMAGE}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "gpu", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"(\d+)/\d+ tests collected", result.stdout) and "error" not in result.stdout.lower()


def test_the_estimate_fills_defaults_as_snakemake_does_and_runs_without_it(tmp_path):
    """estimate_suite.py reads a config without Snakemake (absent from a bare GPU image): the
    defaults it fills are Snakemake's, and it runs with snakemake unimportable."""
    import copy

    from snakemake.utils import validate

    from holograd.validation import fill_defaults
    from paper_checks.configuration import SCHEMA_FILE

    for name in ("config", "paper", "smoke"):
        raw = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())
        theirs, ours = copy.deepcopy(raw), copy.deepcopy(raw)
        validate(theirs, str(SCHEMA_FILE), set_default=True)
        assert fill_defaults(ours, SCHEMA_FILE) == theirs != raw, name
    env = {**os.environ, "PYTHONPATH": BARE_IMAGE, "HOLOGRAD_BARE_IMAGE_LACKS": "snakemake docutils datasets"}
    command = [
        sys.executable, "benchmarks/estimate_suite.py", "--config", "config/smoke.yaml", "--units", "h100",
        "--assume", "STARTUP_SECONDS=5", "--assume", "SEED_SECONDS=4e-6", "--out", str(tmp_path / "e.json"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "e.json").read_text())["suite_gpu_hours"] > 0


def test_measured_directions_charge_a_call_once_not_per_entry():
    """The work model's direction cost at the paper's K and D comes from a call's fixed cost and
    its per-entry cost fitted at that D, so the fixed cost is not multiplied by K: with a stand-in
    timer t(K) = c0 + c1 K D, K = 33,200 costs c0 + c1 K D exactly.  At d39e71f one call at
    K = 2-10 was divided by its entries, which charged c0 / (k D) to each of the paper's entries."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import estimate_suite
    finally:
        sys.path.pop(0)
    c0, c1, dim, chunk = 2e-3, 5e-12, 3_324_736, 1 << 24

    class StandIn(estimate_suite.UnitCosts):
        def _time_directions(self, d, c, k):
            assert (d, c) == (dim, chunk)
            return c0 + c1 * k * d  # one pass: a row fits the chunk

        def dim(self, preset, vocab, block):
            return dim

    model = estimate_suite.WorkModel({"data": {"corpus": "wikitext2"}}, StandIn("cuda"))
    cfg = {"model": "tiny", "block_size": 128, "chunk_elements": chunk}
    assert math.isclose(model.directions(cfg, 33_200), c0 + c1 * 33_200 * dim, rel_tol=1e-9)
    assert math.isclose(model.directions(cfg, 8), c0 + c1 * 8 * dim, rel_tol=1e-9)


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
