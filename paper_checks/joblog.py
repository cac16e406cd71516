"""Logging of one pipeline job: everything goes to the job's log file, one line to the console.

Snakemake runs each `script:` in its own Python process and, on failure, points at the
job's log.  So the log gets the whole story (progress lines, warnings, the traceback) and
the console gets the one line that names the problem, e.g.

    DataUnavailableError: WikiText-2 ... unreachable; run offline with the embedded default instead (corpus: embedded)
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType


def setup_logging(path: str | Path | None, threads: int | None = None) -> None:
    """Send logging and stderr to the job's log file, report failures in one line; set torch's threads.

    `threads` is the job's `threads:` from Snakemake, so that Snakemake's scheduling and
    torch's intra-op threading agree instead of oversubscribing the cores.
    """
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stderr = stream
        logging.basicConfig(
            stream=stream, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
        )
        logging.captureWarnings(True)
        sys.excepthook = _report_failure
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _report_failure(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """The traceback into the log, `ExceptionType: message` (first line only) to the console."""
    logging.getLogger("paper_checks").error(
        "job failed:\n%s", "".join(traceback.format_exception(kind, error, tb)).rstrip()
    )
    message = str(error).splitlines()[0] if str(error) else ""
    print(f"{kind.__name__}: {message}", file=sys.__stderr__, flush=True)
