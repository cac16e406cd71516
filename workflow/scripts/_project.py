"""Imported first by every script: makes the repository's packages (holograd, paper_checks)
importable in a job, so a job needs the project's dependencies but no install of the project
(e.g. on a fresh remote machine that received only the repository's files)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT in sys.path:  # first, ahead of any installed or other copy of the project
    sys.path.remove(ROOT)
sys.path.insert(0, ROOT)
