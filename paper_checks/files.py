"""The pipeline's files: written atomically, JSON kept strict, hashed.

Every output goes through a temporary file in its own folder and a rename, so a job that is
killed leaves either the old file or the new one, never a half-written file that looks
finished.  JSON is written with sorted keys (reruns diff cleanly) and without NaN or
infinity, which strict JSON readers reject: a non-finite number is written as null.

Two runs of the same job write the same bytes, except in one field, `timing`, which holds
every wall time and timestamp of a file.  A file's provenance hash (content_sha256) leaves
that field out, so the files that cite it do not differ either.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


TIMING = "timing"
"""The field of a results file that holds its wall times and timestamps, and nothing else."""


class ProvenanceError(ValueError):
    """A file was made from another configuration, corpus or code than the stage expects."""


def content_sha256(path: str | Path) -> str:
    """SHA-256 of a JSON results file without its `timing` field: equal for two runs of a job."""
    content = {k: v for k, v in read_json(path).items() if k != TIMING}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def atomic_write(path: str | Path, write: Callable[[str], object]) -> None:
    """write(tmp) to a temporary file in the same folder, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_or_null(obj):
    """obj with every NaN or infinite float replaced by None (recursively)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj


def write_json(obj, path: str | Path) -> None:
    """Strict JSON (non-finite numbers as null) with sorted keys and a final newline."""
    text = json.dumps(finite_or_null(obj), indent=1, sort_keys=True, allow_nan=False) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_text(text: str, path: str | Path) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())
