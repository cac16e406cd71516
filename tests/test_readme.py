"""The README's results are generated from the verdict table of the run it quotes
(docs/default-run/verdicts.csv), not typed (issue 26)."""

from pathlib import Path

import pandas as pd
import pytest

from paper_checks.catalog import load_claims
from paper_checks.readme_results import END, START, block, main, rewrite

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "docs" / "default-run" / "verdicts.csv"


def test_the_readme_block_is_the_quoted_runs_table():
    """Catches a README table edited by hand, or one left behind when the run it quotes (its
    verdicts.csv, committed beside it) changed: regenerate it with
    `python -m paper_checks.readme_results docs/default-run/verdicts.csv`."""
    readme = (ROOT / "README.md").read_text()
    generated = block(load_claims(), pd.read_csv(RUN))
    assert f"{START}\n{generated}\n{END}" in readme


def test_rewrite_replaces_only_the_block_and_refuses_a_readme_without_one(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold\n{END}\n\nrest\n")
    main([str(RUN), str(readme)])
    text = readme.read_text()
    assert text.startswith("# Title\n\n") and text.endswith(f"{END}\n\nrest\n") and "\nold\n" not in text
    with pytest.raises(ValueError, match="needs one block"):
        rewrite("no markers here", "x")
