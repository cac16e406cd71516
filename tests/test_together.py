"""Runs stepped together (holograd.training.train_together, holograd.strategies.step_together,
a stacked holograd.directions.project_reconstruct) against the plain one-run-at-a-time code.

Lockstep changes no arithmetic of a run: each run's gradient, proofs, synthesis and update are
the operations its own `train` performs, in the same order, and the directions shared by
runs with the same seeds are the same bits.  So the comparison is exact (torch.equal, ==),
not a tolerance: any difference is a bug, such as a shared direction block applied to the
wrong run, a run stepped twice or not at all, a diverged run still updated, or one run's
momentum, codebook or warm-up leaking into another's.
"""

import json
import math

import pytest
import torch

from holograd.checkpoint import Checkpoint
from holograd.directions import project_reconstruct
from holograd.strategies import WarmStarted, make_strategy
from holograd.training import train, train_together

STEPS = 20  # at least 20 steps per run (issue 24)
EVAL_EVERY = 5

# One run of each kind, every one at data seed 3: two HoloGrad-Random runs with the same seed
# and K at two rates (they share every step's directions), a clipped one (the fixed-rate arm),
# ADC with a random warm-up (shares during its warm-up), Momentum-Centric after a random
# warm-up (shares during the warm-up), SGD with momentum, Momentum-Centric alone, and a
# HoloGrad-Random run at a rate that diverges (masked after its stop).
RUNS = {
    "random": ("random", {"lr": 0.02, "k": 8, "seed": 5}),
    "random_faster": ("random", {"lr": 0.05, "k": 8, "seed": 5}),
    "random_clipped": ("random", {"lr": 0.1, "k": 8, "seed": 5, "clip_norm": 1.0}),
    "adc": (
        "adc",
        {"lr": 5.0, "seed": 5, "k": 8, "rank": 3, "warm_start": "random", "warm_steps": 6, "warm_lr": 0.02},
    ),
    "sgd": ("sgd", {"lr": 0.3, "momentum": 0.9}),
    "momentum": ("momentum", {"lr": 3.0, "seed": 5, "n_workers": 1}),
    "diverges": ("random", {"lr": 1.0e4, "k": 8, "seed": 5}),
}


def _same(a, b) -> bool:
    """Records equal value for value, a NaN equal to a NaN (float repr is exact)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _strategy(make_model, name):
    kind, options = RUNS[name]
    return make_strategy(kind, make_model(), **options)


def _momentum_after_random_warmup(make_model):
    model = make_model()
    main = make_strategy("momentum", model, lr=3.0, seed=5, n_workers=1)
    warm = make_strategy("random", model, lr=0.02, k=8, seed=5)
    return WarmStarted(main, warm, 6)


def _train(strategies, samples, held_out, **kw):
    common = dict(steps=STEPS, batch_size=4, data_seed=3, held_out=held_out, eval_every=EVAL_EVERY)
    return train_together(strategies, samples, **common, max_loss_factor=2.0, **kw)


def test_a_batch_of_runs_gives_each_run_what_it_gives_alone(make_model, train_samples, make_batch):
    held_out = [make_batch(step=100 + i, stream=7) for i in range(2)]
    alone = {}
    for name in RUNS:
        strategy = _strategy(make_model, name)
        alone[name] = (_train([strategy], train_samples, held_out)[0], strategy.space.get_flat())
    warm_started = _momentum_after_random_warmup(make_model)
    alone["warm_started"] = (_train([warm_started], train_samples, held_out)[0], warm_started.space.get_flat())

    strategies = [_strategy(make_model, name) for name in RUNS] + [_momentum_after_random_warmup(make_model)]
    together = _train(strategies, train_samples, held_out)
    for name, records, strategy in zip(alone, together, strategies):
        expected_records, expected_theta = alone[name]
        assert _same(records, expected_records), name
        assert torch.equal(strategy.space.get_flat(), expected_theta), name
    stopped = [r for r in alone["diverges"][0] if "stopped" in r]
    assert len(stopped) == 1 and len(alone["diverges"][0]) < STEPS  # it did diverge, and stopped
    assert len(alone["random"][0]) == STEPS + 1  # the others trained every step (+ the final evaluation)
    assert math.isfinite(alone["random"][0][-1]["eval_loss"])


def test_train_is_train_together_of_one(make_model, train_samples):
    a, b = _strategy(make_model, "random"), _strategy(make_model, "random")
    records = train(a, train_samples, steps=STEPS, batch_size=4, data_seed=3)
    assert _same(records, train_together([b], train_samples, steps=STEPS, batch_size=4, data_seed=3)[0])


@pytest.mark.parametrize("chunk", [1 << 18, 5000])  # whole rows in one block; a block of a few rows
def test_stacked_projections_are_each_runs_own_bit_for_bit(chunk):
    """R gradients projected on the same seeds at once give each gradient's own (a, g_hat)."""
    torch.manual_seed(0)
    grads = torch.randn(4, 1500)
    seeds = list(range(100, 123))
    a, g_hat = project_reconstruct(grads, seeds, chunk_elements=chunk)
    assert a.shape == (4, 23) and g_hat.shape == (4, 1500)
    for r in range(4):
        a_r, g_hat_r = project_reconstruct(grads[r], seeds, chunk_elements=chunk)
        assert torch.equal(a[r], a_r) and torch.equal(g_hat[r], g_hat_r)


def test_a_batch_of_runs_killed_and_resumed_ends_where_it_would_have(make_model, train_samples, tmp_path):
    """The checkpoint of a lockstep batch holds every run's state and records, diverged runs
    included, and a resumed batch ends bit for bit where the uninterrupted one ends."""
    names = ["random", "random_clipped", "diverges", "sgd"]
    expected = _train([_strategy(make_model, n) for n in names], train_samples, None)

    class Interrupted(Exception):
        pass

    strategies = [_strategy(make_model, n) for n in names]
    begin = strategies[0].begin

    def interrupting(batches, t):
        if t == 13:
            raise Interrupted
        return begin(batches, t)

    strategies[0].begin = interrupting
    path = tmp_path / "job.pt"
    with pytest.raises(Interrupted):
        _train(strategies, train_samples, None, checkpoint=Checkpoint(path, "job", 4), key="batch")
    saved = Checkpoint(path, "job", 4)
    assert saved.progress("batch")["step"] == 12
    resumed = [_strategy(make_model, n) for n in names]
    assert _same(_train(resumed, train_samples, None, checkpoint=saved, key="batch"), expected)
