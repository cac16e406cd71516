"""The measurements of holograd.experiments against known answers: E1, E5, E6, and the training
experiments E2, E3, E4, E7 (arms.Bench) at a tiny scale."""

import math

import pytest
import torch

from holograd.experiments import adc_energy as e4
from holograd.experiments import byzantine as e7
from holograd.experiments import gradient_variability as e1
from holograd.experiments import kd_ratio as e2
from holograd.experiments import momentum_comparison as e3
from holograd.experiments import pogp_verification as e6
from holograd.experiments import unbiased_estimator as e5
from holograd.experiments.arms import Bench, arm_options, choose_rate
from holograd.experiments.setup import resolve_device
from holograd.strategies import Byzantine

CPU = torch.device("cpu")


# --- E1 --------------------------------------------------------------------------------


def test_gram_statistics_match_direct_computation():
    g = torch.randn(6, 1000, generator=torch.Generator().manual_seed(0))
    gram = e1.gram_matrix(g)
    assert torch.allclose(gram, g.double() @ g.double().T)
    direct = [
        torch.nn.functional.cosine_similarity(g[i], g[j], dim=0).item() for i in range(6) for j in range(i + 1, 6)
    ]
    assert e1.pairwise_cosines(gram).tolist() == pytest.approx(direct, abs=1e-6)


def test_gradient_matrix_is_the_stacked_gradients_bit_for_bit(make_model, make_batch):
    """The preallocated matrix E1 fills row by row is what stacking each batch's own gradient
    gave (catches a row written to the wrong place or a gradient taken at a moved theta)."""
    from holograd.derivatives import flat_grad
    from holograd.params import ParamSpace

    model = make_model(seed=4)
    space = ParamSpace(model)
    batches = [make_batch(step=i, stream=7) for i in range(5)]
    rows = e1.gradient_matrix(model, batches, space)
    assert torch.equal(rows, torch.stack([flat_grad(model, b, space)[1] for b in batches]))


# E1's gradients in a process of its own: the peak resident memory the measurement adds, against
# the n x D float32 matrix it must hold.  Micro with GPT-2's vocabulary (D = 1.63M), n = 40: the
# matrix is 261 MB, the model's own memory a few MB.
E1_PEAK = """
import resource, sys, torch
from holograd.experiments.gradient_variability import gradient_matrix
from holograd.models import build_model
from holograd.params import ParamSpace
torch.manual_seed(0)
model = build_model("micro", 50257, 16, seed=0)
space = ParamSpace(model)
batches = [torch.randint(0, 50257, (2, 17)) for _ in range(40)]
from holograd.derivatives import flat_grad
flat_grad(model, batches[0], space)  # the allocator's and autograd's first-use memory
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
grads = gradient_matrix(model, batches, space)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(after - before, grads.numel() * grads.element_size())
"""


def test_gradient_matrix_holds_each_gradient_once():
    """The peak the measurement adds stays under 1.3x the matrix (one gradient in flight and
    allocator slack); stacking a list of gradients, as d39e71f did, needs 2x, which put E1 on
    gpt2like at 17.9 GB (benchmarks/bench_e1_memory.py measures the paper's D)."""
    import subprocess
    import sys
    from pathlib import Path

    from holograd.models import param_count

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", E1_PEAK], capture_output=True, text=True, cwd=root, timeout=300, check=True
    )
    added, matrix = map(int, result.stdout.split())
    assert matrix == 40 * param_count("micro", 50257, 16) * 4
    assert added < 1.3 * matrix, (added / matrix, added, matrix)


def test_statistics_on_planted_gradients():
    # g_i = mu + xi_i with ||mu||^2 = 1 and E||xi||^2 = 9: E cos(g_i, g_j) ~ 1/10 and the
    # variance ratio E||g - mu||^2 / E||g||^2 = 9/10.  With D = 20000 and 50 gradients the
    # statistics' standard errors are ~ 1e-3; tolerance 0.01.  Catches a variance ratio that
    # uses the diagonal (it would be ~ 0) or cosines that are not normalised.
    gen = torch.Generator().manual_seed(1)
    d = 20000
    mu = torch.randn(d, generator=gen)
    mu /= mu.norm()
    g = mu + torch.randn(50, d, generator=gen) * (3 / math.sqrt(d))
    m = e1.measure(g)
    assert m["mean_pairwise_cosine"] == pytest.approx(0.1, abs=0.01)
    assert m["variance_ratio"] == pytest.approx(0.9, abs=0.01)
    assert len(m["pairwise_cosines"]) == 50 * 49 // 2


def test_leave_one_out_cosine_known_cases():
    # orthogonal gradients: nothing of g_i lies in the others' span -> 0;
    # gradients in a 2-D subspace: each lies in the span of the others -> 1.
    eye = torch.eye(5, 50)
    assert e1.leave_one_out_cosines(e1.gram_matrix(eye)).tolist() == pytest.approx([0.0] * 5, abs=1e-9)
    basis = torch.randn(2, 50, generator=torch.Generator().manual_seed(2))
    coeffs = torch.randn(6, 2, generator=torch.Generator().manual_seed(3))
    assert e1.leave_one_out_cosines(e1.gram_matrix(coeffs @ basis)).tolist() == pytest.approx([1.0] * 6, abs=1e-6)


def test_e1_run(token_cache):
    cfg = {"model": "micro", "block_size": 16, "batch_size": 4, "n_batches": 4, "checkpoints": [3, 0], "sgd_lr": 0.5}
    out = e1.run(cfg, 0, token_cache, CPU)
    steps = [c["step"] for c in out["checkpoints"]]
    assert steps == [0, 3]
    first, last = out["checkpoints"]
    assert first["mean_pairwise_cosine"] != last["mean_pairwise_cosine"]  # SGD moved theta
    assert out["scale"]["steps"] == 3 and out["scale"]["D"] > 0


# --- E5 --------------------------------------------------------------------------------


def test_errors_of_exact_and_scaled_means():
    g = torch.tensor([3.0, 4.0])
    exact = e5.errors(g.clone(), g, n_directions=10, control_scale=0.5)
    assert exact["estimator"]["r"] == 0.0 and exact["estimator"]["bias_along_g"] == 0.0
    assert exact["control"]["bias_along_g"] == pytest.approx(-0.5)
    assert exact["control"]["relative_error"] == pytest.approx(0.5)


def test_e5_unbiased_and_control_rejected(token_cache):
    # r has mean 1 and relative standard deviation ~ sqrt(2 / (N K)) = 0.044 at N K = 1024:
    # tolerance 0.2 (4.5 sigma).  The bias along g has standard deviation sqrt(2 / (N K)) =
    # 0.044: tolerance 0.2.  A wrong scale c gives r -> c^2 + (c-1)^2 N K / (D-1) and bias c - 1.
    # Catches a reconstruction with the wrong scale, a K/D mix-up or correlated draws.
    cfg = {
        "model": "micro",
        "block_size": 16,
        "batch_size": 4,
        "k": 16,
        "draws": [4, 64],
        "control_scale": 0.5,
        "chunk_elements": 1 << 16,
    }
    out = e5.run(cfg, 0, token_cache, CPU)
    last = out["points"][-1]
    assert last["directions"] == 1024
    assert last["estimator"]["r"] == pytest.approx(1.0, abs=0.2)
    assert abs(last["estimator"]["bias_along_g"]) < 0.2
    d = out["scale"]["D"]
    assert last["control"]["r"] == pytest.approx(0.25 + 0.25 * 1024 / (d - 1), abs=0.1)
    assert last["control"]["bias_along_g"] == pytest.approx(-0.5, abs=0.1)
    assert last["theory_relative_error"] == pytest.approx(math.sqrt((d - 1) / 1024))


def test_e5_draws_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        e5.check_draws([4, 4, 16])


# --- E6 --------------------------------------------------------------------------------


def test_recommended_eps():
    assert e6.recommended_eps(3e-9) == pytest.approx(1e-7)
    assert e6.recommended_eps(1e-8) == pytest.approx(1e-7)
    assert e6.recommended_eps(0.0) == 0.0


def test_e6_run(token_cache):
    cheating = {"p": [0.0, 1.0], "q": [0.0, 0.5], "m": 4, "trials": 20, "offset": 1e-2}
    cfg = {"model": "micro", "block_size": 16, "batch_size": 2, "n_proofs": 3, "eps": 1e-4, "cheating": cheating}
    out = e6.run(cfg, 0, token_cache, CPU)
    assert out["max_abs_diff"]["verifier"] == 0.0  # same device, same inputs: bit-identical
    assert 0 < out["max_abs_diff"]["float64"] < 1e-6 and out["max_abs_diff"]["backprop"] < 1e-6
    rows = {(r["p"], r["q"]): r for r in out["cheaters"]}
    assert rows[(1.0, 0.5)]["caught"] == 20 and rows[(1.0, 0.5)]["theory"] == 1.0  # every proof checked
    assert rows[(0.0, 0.5)]["caught"] == 0  # nothing checked
    assert rows[(1.0, 0.0)]["caught"] == 0 and rows[(1.0, 0.0)]["false_rejections"] == 0  # honest worker


def test_cheater_catch_rate_matches_theory():
    # 2000 steps, P = 1 - 0.9^5 = 0.41: the empirical rate's standard error is 0.011; the
    # tolerance 0.045 is 4 sigma.  Catches a verifier whose sampling is not independent per proof.
    a = [0.001 * i for i in range(50)]
    rows = e6.simulate_cheaters(
        a, a, {"p": [0.1], "q": [0.5], "m": 10, "trials": 2000, "offset": 1e-2}, eps=1e-4, seed=0
    )
    assert rows[0]["caught"] / 2000 == pytest.approx(rows[0]["theory"], abs=0.045)


def test_cuda_device_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(RuntimeError, match="device 'cuda' was asked for, but"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


# --- the training experiments (E2, E3, E4, E7) ---------------------------------------------

TRAIN = {
    "model": "micro",
    "block_size": 16,
    "batch_size": 2,
    "steps": 3,
    "eval_every": 3,
    "eval_batches": 2,
    "tune_steps": 2,
}


class ParabolaBench(Bench):
    """A Bench whose tuning runs are a parabola in log10(lr) with its minimum at 0.3."""

    def __init__(self):
        self.calls = []

    def final_losses(self, arm, rates, seed, steps):
        self.calls.extend(rates)
        # two tuning seeds that agree: no noise, so the lowest sum decides
        return {lr: [math.inf if lr > 100 else (math.log10(lr) - math.log10(0.3)) ** 2] * 2 for lr in rates}


def test_tuning_extends_a_grid_whose_best_rate_is_at_an_end():
    """A grid far below the best rate must not clip the arm at its largest value: the search
    walks on by the grid's ratio and finds the minimum (and says when it stopped at an end)."""
    out = ParabolaBench().tune({"kind": "sgd"}, [0.001, 0.01, 0.1], seed=0, steps=1)
    # 1.0 is tried beyond the grid and loses to 0.1 (0.3 lies between them, nearer 0.1 in log10)
    assert out["lr"] == pytest.approx(0.1) and out["extended"] == [pytest.approx(1.0)] and not out["at_edge"]
    flagged = ParabolaBench().tune({"kind": "sgd"}, [1e-9, 1e-8], seed=0, steps=1, max_extensions=2)
    assert flagged["at_edge"] and flagged["lr"] == pytest.approx(1e-6)


class DivergingBench(ParabolaBench):
    """Every rate above 0.05 diverges; below, a parabola in log10(lr) with its minimum at 0.01."""

    def final_losses(self, arm, rates, seed, steps):
        self.calls.extend(rates)
        return {lr: [math.inf if lr > 0.05 else (math.log10(lr) - math.log10(0.01)) ** 2] * 2 for lr in rates}


def test_tuning_goes_below_a_grid_where_every_rate_diverged():
    """A grid wholly above the edge of stability: the search steps down by the grid's ratio
    until rates train, then on to the minimum.  Catches a tuning that returns a rate that
    diverged (the E3 SGD-warm-up arm's grid did, issue 25), and one that flags nothing."""
    out = DivergingBench().tune({"kind": "sgd"}, [1.0, 3.0, 10.0], seed=0, steps=1, max_extensions=6)
    assert out["extended"][0] == pytest.approx(0.3) and out["lr"] == pytest.approx(0.0081)
    assert not out["at_edge"] and not out["none_trains"]
    stuck = DivergingBench().tune({"kind": "sgd"}, [1.0, 3.0, 10.0], seed=0, steps=1, max_extensions=1)
    assert stuck["none_trains"] and stuck["extended"] == [pytest.approx(0.3)]


@pytest.mark.parametrize(
    "losses, chosen",
    [
        # 0.3 has the lower sum by 0.02, but the seeds disagree on the order by 0.08: a tie,
        # and the smaller rate is chosen
        ({0.1: [5.00, 5.04], 0.3: [5.03, 4.99], 1.0: [5.6, 5.7]}, 0.1),
        # both seeds prefer 0.3 by 0.2: no tie (the seeds agree, so the noise is 0)
        ({0.1: [5.2, 5.21], 0.3: [5.0, 5.01], 1.0: [5.6, 5.7]}, 0.3),
        # a run that diverged on one seed never ties, however good the other seed
        ({0.1: [5.2, 5.21], 0.3: [math.inf, 4.0]}, 0.1),
        # identical losses (no noise at all): within float32's resolution, a tie
        ({0.1: [5.0, 5.0], 0.3: [5.0, 5.0]}, 0.1),
    ],
)
def test_choose_rate_breaks_ties_within_noise_toward_the_smaller_rate(losses, chosen):
    """Catches a choice by the lowest sum alone (the first and last cases), a band that lets a
    diverged rate tie, and a band that ignores the seeds' agreement (the second case)."""
    assert choose_rate(losses)[0] == chosen


def test_choose_rate_does_not_follow_the_last_bits():
    """Two rates whose losses differ by last bits only (1e-7 relative, float32's rounding):
    the rate of lowest sum flips with every perturbation, the choice does not.  Catches a
    tuning decided by the last bits of the arithmetic (issue 25's two machines)."""
    gen = torch.Generator().manual_seed(0)
    picks, argmins = set(), set()
    for _ in range(50):
        e = (torch.rand(4, generator=gen, dtype=torch.float64) - 0.5) * 1e-6
        losses = {0.1: [5.0 + float(e[0]), 5.1 + float(e[1])], 0.3: [5.0 + float(e[2]), 5.1 + float(e[3])]}
        picks.add(choose_rate(losses)[0])
        argmins.add(min(losses, key=lambda lr: sum(losses[lr])))
    assert argmins == {0.1, 0.3} and picks == {0.1}


def test_an_arm_gets_the_protocol_options_only_if_its_strategy_is_verifiable():
    """The bench's seed, Byzantine slots and chunk size go to the verifiable strategies; SGD
    takes none of them, and Byzantine proofs for an SGD arm are an error, not ignored."""
    byz = Byzantine(0.25)
    assert arm_options({"kind": "sgd", "momentum": 0.5}, 3, None, 64) == {"momentum": 0.5}
    expected = {"chunk_elements": 64, "k": 4, "seed": 3, "byzantine": byz}
    assert arm_options({"kind": "random", "k": 4}, 3, byz, 64) == expected
    with pytest.raises(ValueError, match="sends gradients, not proofs"):
        arm_options({"kind": "sgd"}, 3, byz, 64)
    with pytest.raises(ValueError, match=r"sets \['seed'\]"):
        arm_options({"kind": "random", "k": 4, "seed": 1}, 3, None, 64)
    with pytest.raises(ValueError, match="unknown strategy"):
        arm_options({"kind": "nesterov"}, 3, None, 64)


def test_e2_run(token_cache):
    cfg = {**TRAIN, "kd": 0.01, "cos_draws": 2, "lr_grid": {"sgd": [0.5], "random": [1.0]}}
    tuned = e2.tune(cfg, token_cache, CPU)
    out = e2.run(cfg, 0, token_cache, CPU, tuned)
    assert out["k"] == e2.directions_for(0.01, out["dim"]) == round(0.01 * out["dim"])
    assert tuned["random"]["lr"] == pytest.approx(out["k"] / out["dim"])  # the random grid is in units of K/D
    assert 0 < out["cos_mean"] < 1 and out["cos_theory"] == pytest.approx(
        math.sqrt(out["k"] / (out["k"] + out["dim"] - 1))
    )
    assert set(out["loss_decrease"]) == {"random", "sgd"}


def test_e3_arms_share_weights_and_data(token_cache):
    """Every arm starts from the same held-out loss (same initial weights, same held-out
    batches); Momentum-Centric sends one scalar per worker, SGD N x D."""
    cfg = {**TRAIN, "n_workers": 3, "k_random": 4, "beta": 0.9, "cold_start_steps": 1}
    tuned = {name: {"lr": 0.01} for name in e3.arms(cfg)}
    out = e3.run(cfg, 0, token_cache, CPU, tuned)
    starts = {a["curve"][0][1] for a in out["arms"].values()}
    assert len(starts) == 1
    assert out["arms"]["momentum"]["scalars_per_worker_per_step"] == 1
    assert out["arms"]["sgd"]["scalars_per_step"] == 3 * out["dim"]
    assert out["random_alignment_theory"] == pytest.approx(math.sqrt(2 / (math.pi * out["dim"])))


@pytest.mark.parametrize("warm_start, warm_kind", [("random", "adc_off"), ("bootstrap", "warm_sgd")])
def test_e4_tunes_the_warm_up_rate_apart_and_records_energy_every_step(token_cache, warm_start, warm_kind):
    """An ADC arm's warm-up takes the rate tuned for its kind of full-space step (random with
    the same K, or SGD), its ADC steps a rate of their own.  Catches a warm-up run at the ADC
    rate (orders of magnitude off) or a warm_lr that the runs do not receive."""
    cfg = {
        **TRAIN,
        "k": 2,
        "ranks": [4],
        "warm_start": warm_start,
        "warm_steps": 1,
        "alpha": 1e-3,
        "qr_every": 5,
        "lr_grid": {"adc": [7.0], "random": [0.02], "sgd": [0.3]},
    }
    tuned = e4.tune(cfg, token_cache, CPU)
    assert tuned["adc_r4"]["lr"] == 7.0 and tuned["adc_r4"]["warm_lr"] == tuned[warm_kind]["lr"]
    out = e4.run(cfg, 0, token_cache, CPU, tuned)
    off_warm_lr = tuned["warm_sgd"]["lr"] if warm_start == "bootstrap" else None  # ADC-off takes the bootstrap's steps
    assert out["arms"]["adc_r4"]["warm_lr"] == tuned[warm_kind]["lr"]
    assert out["arms"]["adc_off"]["warm_lr"] == off_warm_lr
    assert len(out["arms"]["adc_r4"]["energy"]) == cfg["steps"] and all(
        0 <= g <= 1 + 1e-6 for g in out["arms"]["adc_r4"]["energy"]
    )
    assert out["arms"]["adc_off"]["energy"] == []
    assert e4.trend([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(0.4)


def test_e4_rank_above_d_fails_at_the_start_in_one_line(token_cache):
    """A codebook rank larger than D cannot exist: the job stops before training with an
    error naming the rank and D (the config schema cannot know D)."""
    cfg = {
        **TRAIN,
        "k": 2,
        "ranks": [10**6],
        "warm_start": "none",
        "warm_steps": 1,
        "alpha": 1e-3,
        "qr_every": 5,
        "lr_grid": {"adc": [7.0], "random": [0.02], "sgd": [0.3]},
    }
    with pytest.raises(ValueError, match=r"codebook rank must lie in \[1, D=\d+\], got 1000000"):
        e4.tune(cfg, token_cache, CPU)


def test_largest_tolerated_fraction():
    def row(f, attack, ok):
        return {"aggregator": "t", "attack": attack, "fraction": f, "tolerated": ok}

    rows = [
        row(0.0, "none", True),
        row(0.1, "a", True),
        row(0.1, "b", True),
        row(0.2, "a", True),
        row(0.2, "b", False),
        row(0.3, "a", True),
        row(0.3, "b", True),
    ]
    assert e7.largest_tolerated(rows, "t", ["a", "b"]) == 0.1  # every attack, every fraction up to f
    assert e7.largest_tolerated(rows, "t", ["a"]) == 0.3


E7 = {**TRAIN, "n_workers": 4, "beta": 0.9, "cold_start_steps": 1, "fractions": [0, 0.25], "tolerance": 0.8}


def test_e7_random_strategy_has_the_mean_and_algorithm1_s_trimmed_mean(token_cache):
    # HoloGrad-Random's rows: the mean and Algorithm 1's trimmed mean of the K proofs (trim).
    cfg = {**E7, "strategy": "random", "attacks": ["sign_flip"], "taus": [0.1]}
    out = e7.run(cfg, 0, token_cache, CPU, {"clean": {"lr": 1e-3}})
    assert {r["aggregator"] for r in out["rows"]} == {"mean", "trimmed_0.1"} and len(out["rows"]) == 4


def test_e7_a_trimmed_mean_that_drops_nothing_reuses_the_mean_s_runs(token_cache, monkeypatch):
    """With N = 4, tau = 0.1 trims floor(0.4) = 0 scalars: that trimmed mean is the mean, so
    its rows are the mean's runs (trained once), while tau = 0.25 trims one at each end and
    trains its own.  A cache keyed too loosely (ignoring the attack or the fraction) would
    reuse a run for a different attack and fail the count."""
    calls = []
    real = Bench.run

    def counting(self, arm, lr, seed, steps=None, byzantine=None):
        calls.append((arm.get("aggregator"), byzantine))
        return real(self, arm, lr, seed, steps=steps, byzantine=byzantine)

    monkeypatch.setattr(Bench, "run", counting)
    cfg = {**E7, "strategy": "momentum", "attacks": ["sign_flip", "extreme"], "taus": [0.1, 0.25]}
    out = e7.run(cfg, 0, token_cache, CPU, {"clean": {"lr": 1.0}})
    assert e7.effective({"aggregator": "trimmed_mean", "tau": 0.1}, 4) == {"aggregator": "mean"}
    assert len(out["rows"]) == 3 * 3 and len(calls) == 2 * 3  # mean and trimmed_0.25 trained, trimmed_0.1 reused
    by = {(r["aggregator"], r["attack"]): r["loss_decrease"] for r in out["rows"]}
    assert all(by[("trimmed_0.1", a)] == by[("mean", a)] for a in ("none", "sign_flip", "extreme"))


def test_the_chosen_rate_cannot_see_the_batches_that_measure(token_cache):
    """Tuning reads only the first half of the validation stream and measuring only the second
    (holograd.experiments.arms.split_validation): replacing every token of the measured half
    leaves the tuning losses, and so the chosen rate, bit for bit as they were, while the
    measured held-out loss moves; replacing the tuning half moves the tuning losses (so the
    test can fail).  Catches a rate chosen on the held-out batches that later measure it (the
    leak issue 25 names), or halves that overlap."""
    import dataclasses

    from holograd.experiments.arms import Bench, split_validation

    cfg = {**TRAIN, "steps": 2, "eval_every": 2}
    arm, grid = {"kind": "sgd"}, [0.1, 1.0]

    def with_half(which: int) -> Bench:
        halves = list(split_validation(token_cache.splits["validation"]))
        noise = torch.Generator().manual_seed(5)
        halves[which] = torch.randint(0, token_cache.vocab_size, halves[which].shape, generator=noise)
        splits = {**token_cache.splits, "validation": torch.cat(halves)}
        return Bench(cfg, dataclasses.replace(token_cache, splits=splits), torch.device("cpu"))

    base = Bench(cfg, token_cache, torch.device("cpu"))
    tuned = base.tune(arm, grid, seed=0, steps=2, max_extensions=0)
    measured_changed, tuning_changed = with_half(1), with_half(0)
    assert measured_changed.tune(arm, grid, seed=0, steps=2, max_extensions=0) == tuned
    assert measured_changed.run(arm, 0.1, seed=0)["curve"] != base.run(arm, 0.1, seed=0)["curve"]
    moved = tuning_changed.tune(arm, grid, seed=0, steps=2, max_extensions=0)
    assert moved["final_loss_by_lr"] != tuned["final_loss_by_lr"]
    assert tuned["tune_seeds"] == [0, 1]  # two seeds' losses summed


def test_a_run_that_diverges_at_its_tuned_rate_is_measured_at_the_next_lower_one(token_cache):
    """Bench.run_tuned: SGD at a rate that blows up, whose tuning tried 0.1, 0.3 and it: the
    run is measured again at 0.3 (the next lower, not the lowest), alone, bit for bit the run
    at 0.3, and carries the rate it diverged at; without a tuning record (a fixed rate) the
    diverged run stays as it was, a measurement.  Catches a rule that drops the run, picks
    another rate, or reruns a fixed-rate arm."""
    from holograd.experiments.arms import Bench, lower_rate

    cfg = {**TRAIN, "steps": 3, "eval_every": 1, "max_loss_factor": 2.0}
    bench, arm, seed = Bench(cfg, token_cache, torch.device("cpu")), {"kind": "sgd"}, 3
    record = {"lr": 1e4, "final_loss_by_lr": {"0.1": 5.0, "0.3": 4.9, "10000": math.inf}}
    assert lower_rate(record, 1e4) == 0.3 and lower_rate(record, 0.1) is None and lower_rate(None, 1.0) is None
    tuned, fixed = bench.run_tuned([(arm, 1e4, record), (arm, 1e4, None)], seed)
    assert tuned["diverged_at"]["lr"] == 1e4 and tuned["diverged_at"]["stopped"] and tuned["stopped"] is None
    assert {k: v for k, v in tuned.items() if k != "diverged_at"} == bench.run(arm, 0.3, seed)
    assert fixed["stopped"] and "diverged_at" not in fixed
