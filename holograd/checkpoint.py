"""Resumable jobs: a job's progress saved every N steps, so a killed job goes on where it stopped.

A measurement job is a sequence of training runs (the arms of a comparison, the rates of a
tuning grid, ...), each a loop of steps.  Its checkpoint file holds

    identity   what the job is (hash of its configuration, its code and its seed); a file
               with another identity is from another job or other code and is not used
    done       {run key: result} of the runs that finished
    current    the run in progress: its key, its next step, its step records so far and the
               strategy's state (weights, momentum, codebook, ...: Strategy.state_dict)

Run keys number the runs in the order the job starts them ("3:" + what the run is), so a
job that repeats the same computation finds its own runs again, in the same order.  A job of
several seeds numbers each seed's runs afresh under a prefix of its own (`begin`), and keeps
a seed's finished record under `done` too, so a restarted job skips the seeds it finished
and finds the runs of the seed it was in the middle of.

Resuming reproduces the uninterrupted run exactly: every random draw of a step is a
function of (seed, step, j), the held-out batches are fixed, and the strategy's state comes
back bit for bit, so the resumed job computes the same numbers in the same order.

The file is replaced atomically (temporary file in the same folder, fsync, rename): a job
killed while saving leaves the previous checkpoint, never a truncated one.  The job runner
opens it with `checkpointing(...)` and passes it on explicitly: to the experiment's `run` or
`tune`, their arms.Bench, and holograd.training.train, which saves and resumes the runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import torch

from holograd.data import save_atomically

log = logging.getLogger(__name__)


class Checkpoint:
    """One job's saved progress (see the module docstring); `every` steps between saves."""

    def __init__(self, path: str | Path, identity: str, every: int):
        if every < 0:
            raise ValueError(f"checkpoint interval must be >= 0 steps, got {every}")
        self.path, self.identity, self.every = Path(path), identity, int(every)
        self.done: dict[str, dict] = {}
        self.current: dict | None = None
        self.started = 0  # runs started so far by this process (under the prefix): numbers the run keys
        self.prefix = ""
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001  (unreadable, whatever the cause: start over rather than fail the job)
            log.warning("ignoring unreadable checkpoint %s (%s); starting over", self.path, exc)
            return
        if saved.get("identity") != self.identity:
            log.warning("ignoring checkpoint %s: it belongs to another configuration or code; starting over", self.path)
            return
        self.done, self.current = saved["done"], saved["current"]
        at = f", run {self.current['key']} at step {self.current['step']}" if self.current else ""
        log.info("resuming from %s: %d run(s) done%s", self.path, len(self.done), at)

    def _save(self) -> None:
        save_atomically({"identity": self.identity, "done": self.done, "current": self.current}, self.path)

    def begin(self, prefix: str) -> None:
        """Number the runs started from now on afresh, their keys under `prefix` (one seed of a
        job of several: "seed3/")."""
        self.prefix, self.started = prefix, 0

    def next_key(self, what: dict) -> str:
        """The key of the next run this job starts: its prefix, number and a description of it."""
        key = f"{self.prefix}{self.started}:{json.dumps(what, sort_keys=True, default=str)}"
        self.started += 1
        return key

    def result(self, key: str) -> dict | None:
        """The saved result of a finished run, or None."""
        return self.done.get(key)

    def progress(self, key: str) -> dict | None:
        """{"step", "records", "state"} of the run `key` if it was in progress, else None."""
        return self.current if self.current is not None and self.current["key"] == key else None

    def due(self, steps_done: int) -> bool:
        return self.every > 0 and steps_done % self.every == 0

    def save_progress(self, key: str, step: int, records: list[dict], state: dict) -> None:
        """Save the run `key` before its step `step` (records: the steps before it)."""
        self.current = {"key": key, "step": step, "records": records, "state": state}
        self._save()

    def finish(self, key: str, result: dict) -> None:
        """Record a finished run (its result is what a resumed job returns for it)."""
        self.done[key] = result
        self.current = None
        self._save()

    def drop(self, prefix: str) -> None:
        """Forget the finished runs whose keys start with `prefix` (saved with the next save)."""
        self.done = {key: result for key, result in self.done.items() if not key.startswith(prefix)}

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def checkpointing(path: str | Path | None, identity: str, every: int) -> Iterator[Checkpoint | None]:
    """Open a job's Checkpoint for the code run inside, which receives it (`as`) and passes it
    on; its file is removed when that code returns (the job's output then holds everything)
    and kept when it raises or is killed.  With path None or every = 0, nothing is saved and
    the code receives None."""
    if path is None or every == 0:
        yield None
        return
    checkpoint = Checkpoint(path, identity, every)
    yield checkpoint
    checkpoint.remove()
