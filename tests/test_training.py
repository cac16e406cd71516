"""The training loop: same batches for every arm, held-out evaluation, determinism, early stop."""

import math

import pytest
import torch

from holograd.data import SampleSet
from holograd.strategies import make_strategy
from holograd.training import eval_batches, train


def _spy_batches(samples, monkeypatch):
    seen = []
    real = SampleSet.batch

    def spy(self, ids, device=None):
        if self is samples:
            seen.append(tuple(ids))
        return real(self, ids, device)

    monkeypatch.setattr(SampleSet, "batch", spy)
    return seen


def test_every_arm_sees_the_same_batches(make_model, train_samples, monkeypatch):
    seen = _spy_batches(train_samples, monkeypatch)
    train(make_strategy("sgd", make_model(), lr=0.1), train_samples, steps=4, batch_size=4, data_seed=7)
    sgd = list(seen)
    seen.clear()
    train(make_strategy("random", make_model(), lr=0.1, k=3), train_samples, steps=4, batch_size=4, data_seed=7)
    assert seen == sgd
    seen.clear()
    # Momentum-Centric with 3 workers: worker 0 gets the same batches as the single-batch arms.
    train(
        make_strategy("momentum", make_model(), lr=0.1, n_workers=3), train_samples, steps=4, batch_size=4, data_seed=7
    )
    assert seen[0::3] == sgd and len(set(seen)) == 12


def test_single_batch_arms_get_the_union_of_the_workers_batches(make_model, train_samples, monkeypatch):
    """With workers=N, SGD sees per step exactly the samples Momentum-Centric's N workers see
    (the fairness rule of E3/E7).  Catches a union that drops or repeats a worker, or that
    takes another stream's batches."""
    seen = _spy_batches(train_samples, monkeypatch)
    train(
        make_strategy("momentum", make_model(), lr=0.1, n_workers=3), train_samples, steps=4, batch_size=4, data_seed=7
    )
    workers = list(seen)
    seen.clear()
    train(make_strategy("sgd", make_model(), lr=0.1), train_samples, steps=4, batch_size=4, data_seed=7, workers=3)
    assert seen == [workers[3 * t] + workers[3 * t + 1] + workers[3 * t + 2] for t in range(4)]
    with pytest.raises(ValueError, match="cannot share the data of 3 workers"):
        train(
            make_strategy("momentum", make_model(), lr=0.1, n_workers=2),
            train_samples,
            steps=1,
            batch_size=4,
            data_seed=7,
            workers=3,
        )


def test_held_out_loss_is_measured_at_start_intervals_and_end(make_model, token_cache, train_samples):
    held = eval_batches(SampleSet(token_cache.splits["validation"], 16), 2, 4, seed=0)
    records = train(
        make_strategy("sgd", make_model(), lr=0.5),
        train_samples,
        steps=5,
        batch_size=8,
        data_seed=0,
        held_out=held,
        eval_every=2,
    )
    evals = [r["step"] for r in records if "eval_loss" in r]
    assert evals == [0, 2, 4, 5] and len(records) == 6
    assert records[-1]["eval_loss"] < records[0]["eval_loss"]  # SGD at lr 0.5 learns in 5 steps


def test_training_is_deterministic(make_model, train_samples):
    def run():
        strategy = make_strategy("momentum", make_model(seed=1), lr=0.3, n_workers=2)
        return train(strategy, train_samples, steps=3, batch_size=4, data_seed=2)

    assert run() == run()


def test_non_finite_loss_stops_the_run(make_model, train_samples):
    records = train(make_strategy("sgd", make_model(), lr=1e12), train_samples, steps=20, batch_size=4, data_seed=0)
    assert len(records) < 20
    assert not math.isfinite(records[-1]["loss"]) and "non-finite" in records[-1]["stopped"]
    assert torch.isfinite(torch.tensor([r["loss"] for r in records[:-1]])).all()


def test_an_exploding_loss_stops_the_run_and_says_where(make_model, train_samples):
    """A learning rate far too large: the loss leaves max_loss_factor x its start within a
    few steps and the run stops there, naming the step; without the factor it would go on
    until the loss overflows (or not at all).  Catches a check against the wrong reference
    (the previous step's loss, or an evaluation that never runs)."""
    records = train(
        make_strategy("sgd", make_model(), lr=50.0),
        train_samples,
        steps=50,
        batch_size=4,
        data_seed=0,
        max_loss_factor=2.0,
    )
    last = records[-1]
    assert len(records) < 50 and math.isfinite(last["loss"]) and last["loss"] > 2.0 * records[0]["loss"]
    assert last["stopped"].endswith(f"at step {last['step']}") and "above 2 x the initial" in last["stopped"]
    assert all(r["loss"] <= 2.0 * records[0]["loss"] for r in records[:-1])
