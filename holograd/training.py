"""A flat training loop around a strategy: batches by (seed, step, worker), held-out evaluation,
progress in the log.

    for t in range(steps):
        batches = [samples.batch(batch_ids(data_seed, t, B, n, stream=w)) for w in workers]
        metrics = strategy.step(batches, t)
        every eval_every steps: held-out loss on fixed validation batches

train_together steps several runs on the same data in lockstep (a tuning grid's rates, a
comparison's arms), so that the direction work they share is done once.

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
from holograd.strategies import Strategy, step_together

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

    One run is a batch of one: train_together([strategy], ...).
    """
    return train_together(
        [strategy],
        samples,
        steps=steps,
        batch_size=batch_size,
        data_seed=data_seed,
        held_out=held_out,
        eval_every=eval_every,
        workers=workers,
        max_loss_factor=max_loss_factor,
        checkpoint=checkpoint,
        key=key,
        device=device,
    )[0]


def train_together(
    strategies: list[Strategy],
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
) -> list[list[dict]]:
    """`train` for several independent runs on the same data (one data_seed), stepped in
    lockstep: returns each run's records, each equal bit for bit to what `train` returns for
    that run alone.

    Step t of every run still going is one call of step_together, so runs whose random
    directions coincide at a step (the rates of a tuning grid, the arms of a comparison that
    share a seed) generate each direction entry once.  A run that diverges stops (its last
    record says why) and is left out of later steps; the others go on.  The checkpoint saves
    every run's records and state together under `key`."""
    if steps < 0 or batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps} and {batch_size}")
    records: list[list[dict]] = [[] for _ in strategies]
    first = 0
    saved = checkpoint.progress(key) if checkpoint is not None else None
    if saved is not None:
        for strategy, state in zip(strategies, saved["state"]):
            strategy.load_state_dict(state)
        records, first = [list(r) for r in saved["records"]], saved["step"]
        log.info("%s resume at step %d/%d", _names(strategies), first, steps)
    evaluate = bool(held_out) and eval_every > 0
    going = [i for i, r in enumerate(records) if not any("stopped" in x for x in r)]
    start = time.perf_counter()
    for t in range(first, steps):
        if not going:
            break
        evaluated = t % eval_every == 0 if evaluate else False
        eval_loss = {i: mean_loss(strategies[i].model, held_out) for i in going} if evaluated else {}
        shared: dict[int, list[Batch]] = {}  # the step's batches, drawn once per batches-per-step count
        batches = []
        for i in going:
            per_step = strategies[i].batches_at(t)
            if per_step not in shared:
                shared[per_step] = step_batches(
                    samples, per_step, t, batch_size=batch_size, data_seed=data_seed, workers=workers, device=device
                )
            batches.append(shared[per_step])
        metrics = step_together([strategies[i] for i in going], batches, t)
        for i, step_metrics in zip(list(going), metrics):
            record = step_metrics.as_dict()
            if i in eval_loss:
                record["eval_loss"] = eval_loss[i]
            records[i].append(record)
            _progress(strategies[i].name, record, t, first, steps, start)
            stopped = _divergence(record, records[i][0]["loss"], max_loss_factor, t)
            if stopped is not None:
                record["stopped"] = stopped
                log.warning("%s diverged: %s; stopping", strategies[i].name, stopped)
                going.remove(i)
        if checkpoint is not None and checkpoint.due(t + 1) and t + 1 < steps and going:
            checkpoint.save_progress(key, t + 1, records, [s.state_dict() for s in strategies])
    if evaluate:
        for strategy, run in zip(strategies, records):
            run.append({"step": len(run), "eval_loss": mean_loss(strategy.model, held_out)})
    return records


def _names(strategies: list[Strategy]) -> str:
    return ", ".join(s.name for s in strategies)


def _progress(name: str, record: dict, t: int, first: int, steps: int, start: float) -> None:
    """Log a run's step about twenty times over the run, with the job's ETA."""
    if t % max(1, steps // 20) == 0 or t == steps - 1:
        elapsed = time.perf_counter() - start
        eta = elapsed / (t + 1 - first) * (steps - t - 1)
        log.info(
            "%s step %d/%d loss %.4f cos %.4f eta %.0fs", name, t + 1, steps, record["loss"], record["cosine"], eta
        )


def _divergence(record: dict, initial: float, max_loss_factor: float | None, t: int) -> str | None:
    """Why a run stops at step t: a training loss that is not finite, or one above
    max_loss_factor x the initial loss; None while it trains."""
    if not math.isfinite(record["loss"]):
        return f"non-finite loss at step {t}"
    if max_loss_factor is not None and record["loss"] > max_loss_factor * initial:
        return f"loss {record['loss']:.4g} above {max_loss_factor:g} x the initial {initial:.4g} at step {t}"
    return None
