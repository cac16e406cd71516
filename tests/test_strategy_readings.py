"""The strategy options behind the paper's other readings: warm-ups (WarmStarted), momentum from
true gradients, Algorithm 1's trimmed mean over random-direction proofs, clipping, the
seed-collapse control, ADC's SVD-of-warm-up start with gamma on g_hat, the uniform attack."""

import pytest
import torch

from holograd.adc import DirectionCodebook
from holograd.byzantine import attack
from holograd.data import Batch
from holograd.derivatives import flat_grad
from holograd.directions import random_directions, reconstruct
from holograd.estimators import cosine
from holograd.params import ParamSpace
from holograd.strategies import SGD, HoloGradADC, HoloGradRandom, MomentumCentric, WarmStarted


def _theta(model):
    return ParamSpace(model).get_flat()


def _union(make_batch, t, n=2):
    """n workers' batches and their union (what a single-batch arm takes)."""
    batches = [make_batch(t, stream=w) for w in range(n)]
    union = Batch(tuple(i for b in batches for i in b.ids), torch.cat([b.tokens for b in batches]))
    return batches, union


def test_warm_up_steps_then_main_steps_and_momentum_absorbs_the_warm_up(make_model, make_batch):
    # WarmStarted must run `warm` for exactly `steps` steps, then `main`, and hand every
    # warm-up update to main's momentum: m = sum_t beta^(T-1-t) (1 - beta) u_t.  Catches a
    # warm-up that is off by one step, or a momentum that ignores (or double counts) it.
    model, twin = make_model(seed=3), make_model(seed=3)
    beta, steps = 0.9, 3
    main = MomentumCentric(model, lr=5.0, n_workers=2, beta=beta, seed=1)
    warm = HoloGradRandom(model, lr=0.05, k=4, seed=1)
    arm = WarmStarted(main, warm, steps)
    direct = HoloGradRandom(twin, lr=0.05, k=4, seed=1)
    expected_m = torch.zeros_like(_theta(model))
    for t in range(steps):
        workers, union = _union(make_batch, t)
        assert arm.batches_at(t) == 1
        assert arm.step([union], t).phase == "warmup"
        direct.step([union], t)
        expected_m.mul_(beta).add_(direct.last_update, alpha=1 - beta)  # the EMA, in Algorithm 3's order
    assert torch.equal(_theta(model), _theta(twin))  # the warm-up is the random strategy, bit for bit
    assert torch.equal(main.momentum, expected_m)
    workers, _ = _union(make_batch, steps)
    assert arm.batches_at(steps) == 2
    metrics = arm.step(workers, steps)
    assert metrics.phase == "main" and arm.last_update is main.last_update


def test_two_arms_with_one_warm_up_leave_it_at_the_same_weights(make_model, make_batch):
    # C4's fairness: SGD and Momentum-Centric after the same random warm-up start their
    # comparison from one point (a warm-up that depended on the main strategy would not).
    a, b = make_model(seed=5), make_model(seed=5)
    arm_a = WarmStarted(MomentumCentric(a, lr=5.0, n_workers=2, seed=2), HoloGradRandom(a, lr=0.05, k=4, seed=2), 2)
    arm_b = WarmStarted(SGD(b, lr=0.3), HoloGradRandom(b, lr=0.05, k=4, seed=2), 2)
    for t in range(2):
        _, union = _union(make_batch, t)
        arm_a.step([union], t)
        arm_b.step([union], t)
    assert torch.equal(_theta(a), _theta(b))


def test_adc_refuses_the_random_only_options(make_model):
    with pytest.raises(ValueError, match="ADC's steps ignore them"):
        HoloGradADC(make_model(), lr=1.0, k=4, rank=2, clip_norm=1.0)


def test_a_warm_up_on_another_model_is_refused(make_model):
    with pytest.raises(ValueError, match="same model"):
        WarmStarted(SGD(make_model(), lr=0.1), SGD(make_model(), lr=0.1), 2)


def test_momentum_from_the_true_gradient_is_the_ema_of_g(make_model, make_batch):
    # The oracle reading: m <- beta m + (1 - beta) g with g the mean of the workers' true
    # gradients (after the cold start too).  Catches an m still built from g_hat.
    model = make_model(seed=2)
    beta = 0.8
    strategy = MomentumCentric(model, lr=1.0, n_workers=2, beta=beta, momentum_from="gradient", seed=4)
    expected = torch.zeros_like(_theta(model))
    for t in range(3):
        workers, union = _union(make_batch, t)
        _, g = flat_grad(model, union)  # equal-size batches: the union's gradient is the workers' mean
        metrics = strategy.step(workers, t)
        if t > 0:  # after the cold start the projection direction is m_hat, the EMA of past gradients
            assert metrics.extra["direction_cosine"] == pytest.approx(cosine(expected, g), abs=1e-4)
        expected = beta * expected + (1 - beta) * g
        assert torch.allclose(strategy.momentum, expected, rtol=1e-4, atol=1e-7)


def test_momentum_from_the_gradient_needs_the_gradient(make_model):
    with pytest.raises(ValueError, match="track_gradient"):
        MomentumCentric(make_model(), lr=1.0, n_workers=2, momentum_from="gradient", proof_path="jvp",
                        track_gradient=False)  # fmt: skip


def test_algorithm1_trimmed_mean_drops_the_extreme_proofs(make_model, make_batch):
    # trim = tau keeps all but the floor(tau K) smallest and largest a_j and synthesises
    # (D/K') sum_kept a_j v_j.  Catches trimming by |a| instead of a, or the wrong scale K.
    model, batch = make_model(), make_batch()
    strategy = HoloGradRandom(model, lr=0.1, k=10, trim=0.2, seed=3)
    plan = strategy.plan([batch], 0)
    _, g = flat_grad(model, batch)
    scalars = torch.stack([g @ strategy.direction(plan, j) for j in range(10)])
    kept = strategy.trimmed(scalars)
    order = torch.argsort(scalars).tolist()
    assert kept == sorted(order[2:8])
    g_hat = strategy.synthesise(plan, scalars)
    expected = reconstruct(scalars[kept], [plan.seeds[j] for j in kept], strategy.dim)
    assert torch.equal(g_hat, expected)


def test_clip_norm_bounds_the_update(make_model, make_batch):
    model, batch = make_model(), make_batch()
    metrics = HoloGradRandom(model, lr=0.1, k=3, clip_norm=0.5, seed=1).step([batch], 0)
    assert metrics.update_norm == pytest.approx(0.5, rel=1e-6)  # a K = 3 estimate is far longer than 0.5


def test_collapsed_seeds_make_one_direction_per_step(make_model, make_batch):
    # The seed-collapse control: g_hat = (D/K) sum_j <g, v> v = D <g, v> v, parallel to the
    # step's single direction, so |cos(g_hat, g)| = |cos(v, g)| whatever K is.
    model, batch = make_model(), make_batch()
    strategy = HoloGradRandom(model, lr=0.1, k=8, collapse_seeds=True, seed=6)
    plan = strategy.plan([batch], 0)
    assert len(set(plan.seeds)) == 1
    _, g = flat_grad(model, batch)
    v = random_directions(plan.seeds[:1], strategy.dim)[0]
    metrics = strategy.step([batch], 0)
    assert metrics.cosine == pytest.approx(abs(cosine(v, g)), rel=1e-4)  # sign(<g, v>) cos(v, g) = |cos(v, g)|


def test_adc_svd_warm_start_builds_u_from_the_warm_up_estimates(make_model, make_batch):
    # The authors' codebook start: U from the SVD of the buffered warm-up g_hat's (not Oja on
    # them).  After it, gamma on g_hat is 1 (g_hat lies in span U); catches an Oja update
    # during the warm-up or a U built from something else.
    model = make_model(seed=4)
    adc = HoloGradADC(model, lr=1.0, k=4, rank=3, warm_start="svd", warm_steps=2, warm_lr=0.05, seed=2)
    estimates = []
    for t in range(2):
        adc.step([make_batch(t)], t)
        estimates.append(adc.last_update.clone())
    expected = DirectionCodebook.from_gradients(estimates, 3, seed=2, **adc.codebook_options)
    batch = make_batch(2)
    plan = adc.plan([batch], 2)  # the first step after the warm-up builds U from the buffer
    assert plan.phase == "main" and torch.equal(adc.codebook.U, expected.U)
    _, g = flat_grad(model, batch)
    metrics = adc.conclude(plan, adc.codebook.project(g, plan.seeds), g=g)
    assert metrics.extra["energy_estimate"] == pytest.approx(1.0, abs=1e-5)  # float32 projection rounding


def test_uniform_attack_draws_within_its_range_and_repeats():
    # a' ~ U(-100, 100) whatever a is: over many slots the draws spread across the range with
    # mean ~ 0 and variance 100^2/3.  Catches an attack that leaves a in place, scales it, or
    # draws from N(0, 1).
    scalars = torch.full((4000,), 0.5)
    slots = list(range(0, 4000, 2))
    out = attack(scalars, slots, "uniform", seed=3)
    assert torch.equal(out, attack(scalars, slots, "uniform", seed=3))  # a function of the seed
    drawn = out[slots].to(torch.float64)
    assert drawn.abs().max() < 100 and drawn.abs().max() > 95
    # mean of 2000 draws: sd 100/sqrt(3 x 2000) = 1.3; variance: relative sd sqrt(0.8/2000) = 2 %
    assert abs(drawn.mean().item()) < 5 and abs(drawn.var().item() / (100**2 / 3) - 1) < 0.1
    assert torch.equal(out[1::2], scalars[1::2])  # honest slots untouched


def test_a_warm_started_run_resumes_bit_for_bit(make_model, make_batch):
    # A checkpoint taken during the warm-up must restore both parts (weights, momentum):
    # catches a state_dict that forgets the main strategy's state built by the warm-up.
    def arm(model):
        return WarmStarted(
            MomentumCentric(model, lr=5.0, n_workers=2, seed=1), HoloGradRandom(model, lr=0.05, k=4, seed=1), 2
        )

    def batches(t):
        workers, union = _union(make_batch, t)
        return [union] if t < 2 else workers

    straight, resumed = arm(make_model(seed=7)), arm(make_model(seed=7))
    for t in range(4):
        straight.step(batches(t), t)
    resumed.step(batches(0), 0)
    state = resumed.state_dict()
    fresh = arm(make_model(seed=8))  # other initial weights: everything must come from the state
    fresh.load_state_dict(state)
    for t in range(1, 4):
        fresh.step(batches(t), t)
    assert torch.equal(_theta(fresh.model), _theta(straight.model))
    assert torch.equal(fresh.main.momentum, straight.main.momentum)
