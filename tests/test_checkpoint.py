"""Checkpoints (holograd.checkpoint): a run interrupted after a save and started again from a
fresh process state ends bit for bit where the uninterrupted run ends.

The in-process tests here interrupt a run by an exception; tests/test_resume.py kills real
job processes with SIGKILL."""

import pytest
import torch

from holograd.checkpoint import Checkpoint, checkpointing, save_atomically
from holograd.strategies import make_strategy
from holograd.training import train

STEPS, EVERY = 9, 2

# One strategy of each kind, with every piece of state a later step depends on in use:
# SGD's heavy-ball buffer, ADC's codebook (U and its update count, which sets QR steps and
# the alpha schedule) and bootstrap gradient history, Momentum-Centric's momentum and
# Algorithm 3's sigma.  A state_dict that forgot any of them resumes to other numbers.
STRATEGIES = {
    "sgd_momentum": ("sgd", {"lr": 0.3, "momentum": 0.9}),
    "random": ("random", {"lr": 0.02, "k": 4, "seed": 5}),
    "adc_random_warmup": (
        "adc",
        {
            "lr": 5.0,
            "seed": 5,
            "k": 4,
            "rank": 3,
            "warm_start": "random",
            "warm_steps": 3,
            "warm_lr": 0.02,
            "qr_every": 3,
            "alpha_schedule": "inv_sqrt",
        },
    ),
    "adc_bootstrap": (
        "adc",
        {
            "lr": 5.0,
            "seed": 5,
            "k": 4,
            "rank": 3,
            "warm_start": "bootstrap",
            "warm_steps": 5,
            "warm_lr": 0.3,
            "qr_every": 3,
        },
    ),
    "momentum_alg3": (
        "momentum",
        {"lr": 0.3, "seed": 5, "n_workers": 3, "variant": "algorithm3", "beta": 0.8, "cold_start_steps": 2},
    ),
}


class Interrupted(Exception):
    pass


def _run(make_model, samples, kind, options, checkpoint=None, stop_at=None):
    strategy = make_strategy(kind, make_model(), **options)
    if stop_at is not None:
        begin = strategy.begin  # what the training loop calls (holograd.strategies.step_together)

        def interrupting(batches, t):
            if t == stop_at:
                raise Interrupted
            return begin(batches, t)

        strategy.begin = interrupting
    records = train(strategy, samples, steps=STEPS, batch_size=4, data_seed=3, checkpoint=checkpoint, key="run")
    return records, strategy.space.get_flat()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("stop_at", [3, 6])
def test_a_resumed_run_ends_bit_for_bit_where_the_uninterrupted_run_ends(
    name, stop_at, make_model, train_samples, tmp_path
):
    kind, options = STRATEGIES[name]
    expected_records, expected_theta = _run(make_model, train_samples, kind, options)
    path = tmp_path / "job.pt"
    with pytest.raises(Interrupted):
        _run(make_model, train_samples, kind, options, Checkpoint(path, "job", EVERY), stop_at=stop_at)
    saved = Checkpoint(path, "job", EVERY)
    assert saved.progress("run")["step"] == stop_at - stop_at % EVERY  # the last save before the interruption
    records, theta = _run(make_model, train_samples, kind, options, saved)
    assert records == expected_records
    assert torch.equal(theta, expected_theta)


def test_a_checkpoint_of_another_job_is_not_used(make_model, train_samples, tmp_path, caplog):
    kind, options = STRATEGIES["random"]
    path = tmp_path / "job.pt"
    with pytest.raises(Interrupted):
        _run(make_model, train_samples, kind, options, Checkpoint(path, "job-a", EVERY), stop_at=5)
    other = Checkpoint(path, "job-b", EVERY)
    assert other.progress("run") is None and other.done == {}
    assert "belongs to another configuration or code" in caplog.text


def test_an_unreadable_checkpoint_starts_over(tmp_path, caplog):
    path = tmp_path / "job.pt"
    path.write_bytes(b"truncated")
    assert Checkpoint(path, "job", EVERY).current is None
    assert "unreadable checkpoint" in caplog.text


def test_saving_replaces_the_file_atomically(tmp_path, monkeypatch):
    """A save that fails half-way (here: the serialiser raises) leaves the previous file
    and no temporary file behind."""
    path = tmp_path / "job.pt"
    save_atomically({"n": 1}, path)

    def broken(obj, f):
        with open(f, "wb") as out:
            out.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        save_atomically({"n": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["job.pt"]


def test_the_temporary_file_of_a_killed_save_goes_with_the_next_save(tmp_path):
    """A SIGKILL between the temporary file and its rename leaves `.job.XXXX.pt`; the next
    write of job.pt removes it (and nothing of another file's)."""
    path = tmp_path / "job.pt"
    (tmp_path / ".job.k1ll3d.pt").write_bytes(b"partial")
    (tmp_path / ".other.k1ll3d.pt").write_bytes(b"partial")
    save_atomically({"n": 1}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.k1ll3d.pt", "job.pt"]


def test_the_file_is_removed_when_the_job_returns_and_kept_when_it_fails(tmp_path):
    path = tmp_path / "job.pt"
    with checkpointing(path, "job", EVERY) as saving:
        saving.finish("0:x", {"loss": 1.0})
        assert path.exists()
    assert not path.exists()
    with pytest.raises(Interrupted), checkpointing(path, "job", EVERY) as saving:
        saving.finish("0:x", {"loss": 1.0})
        raise Interrupted
    assert Checkpoint(path, "job", EVERY).result("0:x") == {"loss": 1.0}
    with checkpointing(path, "job", 0) as saving:  # checkpoint_every = 0: nothing is saved
        assert saving is None


def test_a_written_file_has_the_mode_a_plain_open_gives(tmp_path):
    """Results are readable as any file the user writes (0o666 less the umask), not mkstemp's
    0o600, which would hide them from the rest of a group sharing the results folder."""
    import os

    from holograd.files import write_text

    mask = os.umask(0o022)
    try:
        write_text("x", tmp_path / "a.txt")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
