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
    result = subprocess.run([sys.executable, "benchmarks/bench_core.py", "--quick", "--device", "cpu", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["ratios"]) == {"generator_vs_randn", "random_directions_vs_randn", "project_reconstruct_vs_randn", "jvp_vs_forward_backward"}
    assert all(math.isfinite(v) and v > 0 for v in data["ratios"].values())
    (micro,) = data["training_steps"]
    assert micro["preset"] == "micro" and set(micro["strategies"]) == {"sgd", "random_k64", "adc_r32_k8", "momentum_n4"}
    for timing in micro["strategies"].values():
        assert timing["step_s"] > 0 and timing["forward_backward_s"] > 0
        assert timing["ratio"] == timing["step_s"] / timing["forward_backward_s"]
    assert "one training step vs the forward+backward passes" in result.stdout
