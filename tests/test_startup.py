"""A pipeline job's start-up imports only what it runs: no Hugging Face stack before a model is built.

Each check runs a fresh interpreter (the modules a test session has already imported would hide
an import) and asserts which modules are absent; nothing here is timed (benchmarks/bench_startup.py
measures the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a job imports before its experiment builds a model: the job script's modules
# (workflow/scripts/run_experiment.py), then what the runner imports to run an experiment.
JOB_CHAIN = (
    "paper_checks.joblog",
    "paper_checks.runner",
    "holograd.checkpoint",
    "holograd.data",
    "holograd.experiments.setup",
    "holograd.experiments.momentum_comparison",
)

# Packages a job does not need until it builds a model (transformers and the hub, weight-file and
# tokenizer packages it pulls in), or ever (the dataset stack, tables and plots of the analysis stage).
NOT_AT_START = (
    "transformers",
    "huggingface_hub",
    "huggingface_hub.file_download",
    "safetensors",
    "tokenizers",
    "datasets",
    "pandas",
    "matplotlib",
)


def _loaded(statements: str, names: tuple[str, ...]) -> dict[str, bool]:
    """Run `statements` in a fresh interpreter; for each name, whether it is then in sys.modules."""
    code = f"import json, sys\n{statements}\nprint(json.dumps({{n: n in sys.modules for n in {list(names)!r}}}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_models_module_does_not_import_transformers():
    loaded = _loaded("import holograd.models", NOT_AT_START)
    assert not any(loaded.values()), {n for n, v in loaded.items() if v}


def test_job_import_chain_leaves_the_hugging_face_stack_and_analysis_packages_unloaded():
    loaded = _loaded("\n".join(f"import {m}" for m in JOB_CHAIN), NOT_AT_START)
    assert not any(loaded.values()), {n for n, v in loaded.items() if v}


def test_a_built_model_is_transformers_gpt2_without_the_dataset_and_analysis_stack():
    statements = (
        "from holograd.models import build_model\n"
        "model = build_model('micro', 300, 16)\n"
        "assert type(model).__module__ == 'transformers.models.gpt2.modeling_gpt2', type(model)\n"
        "assert type(model).__name__ == 'GPT2LMHeadModel'"
    )
    loaded = _loaded(statements, ("transformers", "datasets", "pandas", "matplotlib"))
    assert loaded["transformers"]
    assert not any(v for n, v in loaded.items() if n != "transformers"), loaded
