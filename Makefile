# Entry points.  `make results` sets up .venv and runs the claims pipeline on the embedded
# default; `make test` sets up .venv and runs the test suite (what CI runs); `make bench`
# runs the kernel benchmarks.
#
# torch is installed first, pinned, so that installing the project never pulls a CUDA
# build of several GB onto a CPU machine.  On a GPU machine install the CUDA build you
# want into .venv first (any 2.x >= 2.3 satisfies the project), or pass TORCH=...

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup results test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

results: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores all results/RESULTS_SUMMARY.md

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) .pytest_cache benchmarks/out .snakemake
