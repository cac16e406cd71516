# Entry points.  `make results` sets up .venv and runs the claims pipeline on the embedded
# default; `make test` sets up .venv and runs the test suite (what CI runs); `make bench`
# runs every benchmark (kernels, the work-model estimates of the default and paper suites,
# the smoke and default pipelines; about 25 minutes on 2 CPU cores), `make bench-quick`
# the quick kernel benchmark and the smoke pipeline (a few minutes).  All write
# benchmarks/out/*.json and print a table.
#
# torch is installed first, pinned, so that installing the project never pulls a CUDA build of
# several GB onto a CPU machine.  A .venv that already holds a torch keeps it (e.g. the CUDA build
# you installed there): torch is installed only into a .venv without one, or when TORCH is given,
# whose words go to pip as they are, an index included:
#     make setup TORCH="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu121"
# (on a fresh checkout, or after `make clean`; the project itself accepts any torch >= 2.3).

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ifneq ($(filter command line environment,$(origin TORCH)),)
ENSURE_TORCH = $(BIN)/python -m pip install --quiet $(TORCH)
else
ENSURE_TORCH = $(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH)
endif

.PHONY: setup results test bench bench-quick clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(ENSURE_TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

results: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores all results/RESULTS_SUMMARY.md

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/estimate_suite.py --config config/config.yaml
	$(BIN)/python benchmarks/estimate_suite.py --config config/paper.yaml
	$(BIN)/python benchmarks/bench_pipeline.py --config smoke
	$(BIN)/python benchmarks/bench_pipeline.py --config default

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py --quick
	$(BIN)/python benchmarks/bench_pipeline.py --config smoke

clean:
	rm -rf $(VENV) .pytest_cache benchmarks/out .snakemake
