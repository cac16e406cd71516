"""A flat training loop around a strategy: batches by (seed, step, worker), held-out evaluation,
progress in the log.

    for t in range(steps):
        batches = [samples.batch(batch_ids(data_seed, t, B, n, stream=w)) for w in workers]
        metrics = strategy.step(batches, t)
        every eval_every steps: held-out loss on fixed validation batches

Every arm of a comparison that uses the same data_seed sees the same batches in the same
order: worker w of step t always gets stream w.  With `workers=N`, an arm that takes one
batch per step (SGD, HoloGrad-Random, ADC) gets the union of the N workers' batches, so it
sees exactly the data that Momentum-Centric's N workers see.
"""

from __future__ import annotations

import logging
import math
import time

import torch
from torch import nn

from holograd.checkpoint import Checkpoint
from holograd.data import Batch, SampleSet, batch_ids
from holograd.derivatives import lm_loss
from holograd.strategies import Strategy

log = logging.getLogger(__name__)

EVAL_STREAM = 1 << 20
"""Batch stream of the held-out evaluation batches (far from the workers' streams 0..N-1)."""


@torch.no_grad()
def mean_loss(model: nn.Module, batches: list[Batch]) -> float:
    """Mean of the minibatch losses over `batches` (held-out evaluation)."""
    return sum(lm_loss(model, b).item() for b in batches) / len(batches)


def eval_batches(samples: SampleSet, n_batches: int, batch_size: int, seed: int, device=None) -> list[Batch]:
    """A fixed set of held-out batches, drawn from the validation samples by (seed, i)."""
    size = min(batch_size, samples.n_samples)
    return [
        samples.batch(batch_ids(seed, i, size, samples.n_samples, stream=EVAL_STREAM), device) for i in range(n_batches)
    ]


def step_batches(
    samples: SampleSet,
    per_step: int,
    t: int,
    *,
    batch_size: int,
    data_seed: int,
    workers: int | None = None,
    device=None,
) -> list[Batch]:
    """The `per_step` batches of step t: worker w's batch is stream w.  With `workers` = N and
    one batch per step, that batch is the union of the N workers' batches."""
    streams = workers or per_step
    ids = [batch_ids(data_seed, t, batch_size, samples.n_samples, stream=w) for w in range(streams)]
    if per_step == streams:
        return [samples.batch(i, device) for i in ids]
    if per_step == 1:
        return [samples.batch([i for worker in ids for i in worker], device)]
    raise ValueError(f"a strategy taking {per_step} batches per step cannot share the data of {streams} workers")


def train(
    strategy: Strategy,
    samples: SampleSet,
    *,
    steps: int,
    batch_size: int,
    data_seed: int,
    held_out: list[Batch] | None = None,
    eval_every: int = 0,
    workers: int | None = None,
    max_loss_factor: float | None = None,
    checkpoint: Checkpoint | None = None,
    key: str | None = None,
    device=None,
) -> list[dict]:
    """Run `steps` steps; returns one dict of StepMetrics per step (plus eval_loss when evaluated).

    The held-out loss is measured at t = 0 (before any update, key "eval_loss" of step 0's
    record is the loss at theta_0), every eval_every steps, and after the last step (a final
    record with "step" = steps).

    A diverging run stops early, its last record saying why under "stopped": a training loss
    that is not finite, or (with `max_loss_factor`) one above max_loss_factor x the loss of
    step 0.  What a stopped run measured is partial, so callers must not read it as a result.

    With a `checkpoint`, the run saves its records and the strategy's state under `key` every
    checkpoint.every steps, and a run found there in progress goes on from its saved step
    (holograd.checkpoint: the result is the uninterrupted run's, bit for bit).
    """
    if steps < 0 or batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps} and {batch_size}")
    records: list[dict] = []
    first = 0
    saved = checkpoint.progress(key) if checkpoint is not None else None
    if saved is not None:
        strategy.load_state_dict(saved["state"])
        records, first = list(saved["records"]), saved["step"]
        log.info("%s resumes at step %d/%d", strategy.name, first, steps)
    evaluate = bool(held_out) and eval_every > 0
    start = time.perf_counter()
    for t in range(first, steps):
        eval_loss = mean_loss(strategy.model, held_out) if evaluate and t % eval_every == 0 else None
        batches = step_batches(
            samples,
            strategy.batches_at(t),
            t,
            batch_size=batch_size,
            data_seed=data_seed,
            workers=workers,
            device=device,
        )
        record = strategy.step(batches, t).as_dict()
        if eval_loss is not None:
            record["eval_loss"] = eval_loss
        records.append(record)
        if t % max(1, steps // 20) == 0 or t == steps - 1:
            elapsed = time.perf_counter() - start
            eta = elapsed / (t + 1 - first) * (steps - t - 1)
            log.info(
                "%s step %d/%d loss %.4f cos %.4f eta %.0fs",
                strategy.name,
                t + 1,
                steps,
                record["loss"],
                record["cosine"],
                eta,
            )
        if not math.isfinite(record["loss"]):
            record["stopped"] = f"non-finite loss at step {t}"
        elif max_loss_factor is not None and record["loss"] > max_loss_factor * records[0]["loss"]:
            record["stopped"] = (
                f"loss {record['loss']:.4g} above {max_loss_factor:g} x the initial {records[0]['loss']:.4g} "
                f"at step {t}"
            )
        if "stopped" in record:
            log.warning("%s diverged: %s; stopping", strategy.name, record["stopped"])
            break
        if checkpoint is not None and checkpoint.due(t + 1) and t + 1 < steps:
            checkpoint.save_progress(key, t + 1, records, strategy.state_dict())
    if evaluate:
        records.append({"step": len(records), "eval_loss": mean_loss(strategy.model, held_out)})
    return records
