"""The CPU arithmetic pin (holograd/numerics.py): on a machine with AVX-512, torch's default
kernels and MKL's give a gradient other last bits than their AVX2 paths, and a slice of the
pipeline started from two shells that would select different kernels writes the same files,
bit for bit, because every job pins both to AVX2."""

import json
import os
import subprocess
import sys

import pytest
import torch
from pipeline import ROOT, SMOKE, snakemake, tracked_copy

from holograd.numerics import PINNED
from paper_checks.hashing import TIMING

GRADIENT = """
import hashlib, torch
from holograd.models import build_model
model = build_model("tiny", 300, 32)
x = torch.randint(0, 300, (4, 32), generator=torch.Generator().manual_seed(0))
model(x, labels=x).loss.backward()
print(hashlib.sha256(torch.cat([p.grad.flatten() for p in model.parameters()]).numpy().tobytes()).hexdigest())
"""

# The slice: E2's token cache, the tuning of one setting and its measurement job (two seeds).
SLICE = ["results/tuning/e2_kd_ratio/kd-0.001.json", "results/runs/e2_kd_ratio/kd-0.001/seeds0_1.json"]


def _shell(**variables) -> dict:
    """This process's environment without the pinned variables, plus `variables`: a shell on
    another machine, as far as the kernels are concerned."""
    return {**{k: v for k, v in os.environ.items() if k not in PINNED}, **variables}


def _gradient_sha(env: dict) -> str:
    result = subprocess.run([sys.executable, "-c", GRADIENT], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()[-1]


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() != "AVX512",
    reason="this CPU's default kernels are not AVX-512: nothing differs from the AVX2 pin here",
)
def test_the_vector_width_moves_a_gradients_last_bits():
    """One `tiny` gradient under the machine's defaults, with only ATen's kernels at AVX2, and
    with the pin: three different SHA-256.  So the pin is needed, and needs both variables (a
    pin of ATen alone would leave MKL's AVX-512 path)."""
    shas = {_gradient_sha(_shell()), _gradient_sha(_shell(ATEN_CPU_CAPABILITY="avx2")), _gradient_sha(_shell(**PINNED))}
    assert len(shas) == 3


def _without_timing(path) -> dict:
    record = json.loads(path.read_text())
    record.pop(TIMING, None)
    return record


def test_a_slice_of_the_pipeline_writes_the_same_files_from_any_shell(tmp_path):
    """The token cache, a tuning job and a training job of the smoke config, run from a shell
    that selects the machine's widest kernels (AVX-512 here) and from one that asks for no
    vectorisation and MKL's compatible path: the files agree bit for bit but for their
    `timing`, and every run records the AVX2 pin.  Catches a pin that a job's environment
    overrides, or one set after the first CPU op (the test above shows the shells' kernels
    differ where it matters)."""
    files = []
    for name, shell in (("widest", _shell()), ("other", _shell(ATEN_CPU_CAPABILITY="default", MKL_CBWR="COMPATIBLE"))):
        repo = tracked_copy(tmp_path / name)
        snakemake(repo, "--cores", "2", *SMOKE, *SLICE, env=shell)
        files.append({p.relative_to(repo): p for p in sorted((repo / "results").rglob("*.json"))})
    assert set(files[0]) == set(files[1]) and len(files[0]) >= 2
    for path in files[0]:
        assert _without_timing(files[0][path]) == _without_timing(files[1][path]), f"{path} differs between the shells"
    runs = json.loads(files[0][next(p for p in files[0] if p.parts[1] == "runs")].read_text())["runs"]
    assert all(r["environment"]["mkl_cbwr"] == "AVX2" for r in runs)
    assert all(r["environment"]["cpu_capability"] in ("AVX2", "DEFAULT") for r in runs)  # DEFAULT: a CPU without AVX2
