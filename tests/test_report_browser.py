"""The Snakemake report as a reader sees it (issue 26): rendered by headless Chromium (apt's
`chromium`) in a 1400 x 900 window, the landing page opens on its first heading and what was
found, a claim's figure opens with its top, where its title and verdict are, in view, and
the summary opens inside the report.

Snakemake 9 centres each page in a box as tall as the window, so a taller page lost its top;
workflow/report/style.css (set by every profile) aligns it to the start.  Skipped where no
chromium is installed (.ci/run installs it)."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pipeline import SMOKE, TARGET, snakemake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = Path(__file__).parent / "browser" / "probe.html"
WINDOW = (1400, 900)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium here: apt-get install chromium")


def _rendered(report: Path, tmp_path: Path) -> dict:
    """What the probe recorded in the rendered report."""
    text = report.read_text()
    end = text.rfind("</body>")
    page = tmp_path / "probed.html"
    page.write_text(text[:end] + PROBE.read_text() + text[end:])
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, f"the probe did not report (chromium: {dom.stderr[-1500:]})"
    return json.loads(html.unescape(found.group(1)))


def test_the_report_opens_on_what_was_found_and_a_claim_figure_on_its_title(smoke_run, tmp_path):
    """Catches the stylesheet not applied (the landing page's top then lies thousands of pixels
    above the window), a landing page that lost its first screen (an include docutils
    refused shows as a "System Message"), and a claim figure opening below its title."""
    snakemake(smoke_run, "--report", "report.html", *SMOKE, TARGET)
    seen = _rendered(smoke_run / "report.html", tmp_path)
    height = seen["window"][1]
    assert seen["landing"] and 0 <= seen["landing"]["top"] <= 100, seen["landing"]
    assert seen["landingText"].startswith("HoloGrad claim checks")
    assert "Of the 8 claims, on their primary readings" in seen["landingHtml"]
    assert "System Message" not in seen["landingHtml"]
    assert seen["category"] and seen["figureLink"]
    assert seen["figure"] and 0 <= seen["figure"]["top"] < height / 2, seen["figure"]
    # the summary reads inside the report (not only as a download): its HTML in a frame
    assert seen["summaryCategory"] and seen["summaryLink"]
    assert "filename=RESULTS_SUMMARY.html" in seen["summaryFrame"] and 0 <= seen["summary"]["top"] <= 100
