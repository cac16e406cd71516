"""Files written atomically, and JSON kept strict: the one writer of the project.

Every output (results, token caches, checkpoints) goes through a temporary file in its own
folder, flushed to disk, and a rename, so a job that is killed or a machine that crashes
leaves either the old file or the new one, never a half-written file that looks finished.
The temporary file a killed writer leaves (a hidden `.name.*` beside the output) is removed by
the next write of that output.
JSON is written with sorted keys (reruns diff cleanly) and without NaN or infinity, which
strict JSON readers reject: a non-finite number is written as null.

This module imports no torch (the workflow uses it when it starts).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[str], object]) -> None:
    """write(tmp) to a temporary file in the same folder, flush it to disk, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.stem}.*{path.suffix}"):  # left by a writer killed before its rename
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode())  # mkstemp's 0600 would hide results from a shared group
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


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
    """`text` to `path`, atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_json(path: str | Path):
    """The JSON content of `path`."""
    return json.loads(Path(path).read_text())
