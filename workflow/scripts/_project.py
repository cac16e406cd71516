"""Imported first by every script: makes the repository's packages (holograd, paper_checks)
importable in a job, so a job needs the project's dependencies but no install of the project
(e.g. on a fresh remote machine that received only the repository's files), and pins the
job's CPU arithmetic before anything computes (holograd.numerics).

Every script has the same shape -- its log set up, then one call into the package with
Snakemake's inputs, outputs and params as keywords -- which is the thin-script convention of
snakemake-workflows, not logic to factor out (tools that look for repeated code list it)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT in sys.path:  # first, ahead of any installed or other copy of the project
    sys.path.remove(ROOT)
sys.path.insert(0, ROOT)

from holograd.numerics import pin_cpu_numerics  # noqa: E402  (after the path: the project's own copy)

pin_cpu_numerics()
