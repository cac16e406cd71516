"""The four training strategies behind one step interface, and the factory that builds them."""

import pytest
import torch

from holograd.commitments import commit_batch, commit_params, step_seeds
from holograd.derivatives import flat_grad
from holograd.directions import random_directions
from holograd.estimators import cosine
from holograd.params import ParamSpace
from holograd.strategies import (
    SGD,
    Byzantine,
    HoloGradADC,
    HoloGradRandom,
    MomentumCentric,
    Strategy,
    VerifiableStrategy,
    make_strategy,
)


def _theta(model):
    return ParamSpace(model).get_flat()


def test_sgd_step_is_theta_minus_lr_g(make_model, make_batch):
    model, batch = make_model(), make_batch()
    before = _theta(model)
    _, g = flat_grad(model, batch)
    metrics = make_strategy("sgd", model, lr=0.1).step([batch], 0)
    assert torch.allclose(_theta(model), before - 0.1 * g, atol=1e-7)
    assert metrics.scalars == g.numel() and metrics.cosine == pytest.approx(1.0)
    assert metrics.grad_norm == pytest.approx(g.norm().item(), rel=1e-6)


def test_sgd_heavy_ball_momentum(make_model, make_batch):
    model = make_model()
    sgd = make_strategy("sgd", model, lr=0.1, momentum=0.5)
    b0, b1 = make_batch(0), make_batch(1)
    theta0 = _theta(model)
    _, g0 = flat_grad(model, b0)
    sgd.step([b0], 0)
    _, g1 = flat_grad(model, b1)
    sgd.step([b1], 1)
    assert torch.allclose(_theta(model), theta0 - 0.1 * g0 - 0.1 * (0.5 * g0 + g1), atol=1e-6)


def test_random_jvp_and_backprop_paths_give_the_same_update(make_model, make_batch):
    # The cheap simulation (one backward, K dot products) must reproduce the workers' own
    # computation (K forward-mode JVPs) up to float32 rounding.
    batch = make_batch()
    a, b = make_model(seed=1), make_model(seed=1)
    ma = make_strategy("random", a, lr=0.05, k=6, proof_path="backprop", seed=9).step([batch], 0)
    mb = make_strategy("random", b, lr=0.05, k=6, proof_path="jvp", seed=9).step([batch], 0)
    assert torch.allclose(_theta(a), _theta(b), atol=1e-6)
    assert ma.cosine == pytest.approx(mb.cosine, abs=1e-4) and ma.scalars == mb.scalars == 6


def test_random_step_metrics_describe_the_update(make_model, make_batch):
    model, batch = make_model(), make_batch()
    before = _theta(model)
    _, g = flat_grad(model, batch)
    m = make_strategy("random", model, lr=0.2, k=8).step([batch], 0)
    step = before - _theta(model)  # = lr * g_hat
    assert m.cosine == pytest.approx(cosine(step, g), abs=1e-5)
    assert m.update_norm == pytest.approx(step.norm().item() / 0.2, rel=1e-4)


def test_proof_seeds_commit_to_theta_when_asked(make_model, make_batch):
    model, batch = make_model(), make_batch()
    strategy = make_strategy("random", model, lr=0.1, k=3, seed=5, commit_theta=True)
    want = step_seeds(5, commit_params(model), commit_batch(batch.ids), 7, 3)
    assert strategy._proof_seeds([batch], 7, 3) == want
    plain = make_strategy("random", model, lr=0.1, k=3, seed=5)
    assert plain._proof_seeds([batch], 7, 3) == step_seeds(5, b"", commit_batch(batch.ids), 7, 3) != want


def test_extreme_proofs_dominate_a_random_direction_update(make_model, make_batch):
    # Byzantine injection reaches the synthesis: 2 of 20 proofs multiplied by 1e6 blow up g_hat
    # (no robust aggregation applies to projections on different directions).
    batch = make_batch()
    byz = Byzantine(fraction=0.1, attack="extreme", scale=1e6, seed=1)
    honest = make_strategy("random", make_model(), lr=0.1, k=20).step([batch], 0)
    attacked = make_strategy("random", make_model(), lr=0.1, k=20, byzantine=byz).step([batch], 0)
    assert attacked.update_norm > 1e4 * honest.update_norm


def test_adc_bootstrap_then_subspace_updates(make_model, make_batch):
    model = make_model()
    adc = make_strategy("adc", model, lr=0.1, k=4, rank=3, warm_start="bootstrap", warm_steps=3)
    phases = [adc.step([make_batch(t)], t).phase for t in range(3)]
    assert phases == ["bootstrap"] * 3 and len(adc.history) == 3
    before = _theta(model)
    m = adc.step([make_batch(3)], 3)
    assert m.phase == "main" and m.scalars == 4 and adc.history == []
    assert 0.0 <= m.energy <= 1.0
    # The first ADC step's update lies in the span of the codebook built from the history.
    step = before - _theta(model)
    u = adc.codebook.U.double()
    q, _ = torch.linalg.qr(u)
    residual = step.double() - q @ (q.T @ step.double())
    assert residual.norm() < 1e-3 * step.norm()


def test_adc_random_warmup_trains_the_codebook(make_model, make_batch):
    adc = make_strategy("adc", make_model(), lr=0.05, k=8, rank=4, warm_steps=2, alpha=0.5, normalize_update=True)
    u0 = adc.codebook.U.clone()
    metrics = [adc.step([make_batch(t)], t) for t in range(3)]
    assert [m.phase for m in metrics] == ["warmup", "warmup", "main"]
    assert not torch.equal(u0, adc.codebook.U)
    assert all(m.energy is not None for m in metrics)


@pytest.mark.parametrize("warm_start", ["random", "bootstrap"])
def test_adc_warm_up_steps_use_warm_lr_and_adc_steps_lr(make_model, make_batch, warm_start):
    """The warm-up moves theta by warm_lr * g_hat, the ADC phase by lr * g_hat (update_norm
    is ||g_hat||).  Catches a warm_lr that is ignored or that leaks into the ADC phase."""
    model = make_model()
    adc = make_strategy("adc", model, lr=0.3, warm_lr=0.01, k=4, rank=3, warm_start=warm_start, warm_steps=2)
    for t in range(3):
        before = _theta(model)
        m = adc.step([make_batch(t)], t)
        rate = 0.01 if t < 2 else 0.3
        assert (before - _theta(model)).norm().item() == pytest.approx(rate * m.update_norm, rel=1e-4)


def test_momentum_centric_moves_along_the_momentum_after_the_cold_start(make_model, make_batch):
    model = make_model()
    mc = make_strategy("momentum", model, lr=0.5, n_workers=3, beta=0.9, cold_start_steps=2)

    def batches(t):
        return [make_batch(t, stream=w) for w in range(3)]

    assert [mc.step(batches(t), t).phase for t in range(2)] == ["cold", "cold"]
    m_prev = mc.momentum.clone()
    before = _theta(model)
    metrics = mc.step(batches(2), 2)
    step = before - _theta(model)
    assert metrics.phase == "main" and metrics.scalars == 3
    assert abs(cosine(step, m_prev)) == pytest.approx(1.0, abs=1e-5)  # g_hat is parallel to m_hat
    assert abs(metrics.extra["direction_cosine"]) <= 1.0


def test_momentum_centric_trimmed_mean_resists_one_extreme_worker(make_model, make_batch):
    # One of 10 workers multiplies its scalar by 1e6.  With tau = 0.1 the trimmed mean stays
    # inside the range of the honest scalars a_i = <g_i, d>; the plain mean is dominated.
    batches = [make_batch(0, stream=w) for w in range(10)]
    byz = Byzantine(fraction=0.1, attack="extreme", scale=1e6, seed=0)
    robust_model, naive_model = make_model(), make_model()
    robust = make_strategy(
        "momentum", robust_model, lr=0.1, n_workers=10, aggregator="trimmed_mean", tau=0.1, byzantine=byz
    )
    naive = make_strategy("momentum", naive_model, lr=0.1, n_workers=10, byzantine=byz)
    d = random_directions([robust._proof_seeds(batches, 0, 1)[0]], robust.dim)[0]  # the cold-start direction
    honest = torch.stack([flat_grad(robust_model, b)[1] @ d for b in batches])
    assert robust.step(batches, 0).update_norm <= honest.abs().max().item() * (1 + 1e-5)
    assert naive.step(batches, 0).update_norm > 1e4 * honest.abs().max().item()


def test_momentum_centric_algorithm3_tracks_sigma(make_model, make_batch):
    mc = make_strategy("momentum", make_model(), lr=0.1, n_workers=2, variant="algorithm3", cold_start_steps=1)
    assert isinstance(mc, MomentumCentric)
    m = mc.step([make_batch(0, stream=0), make_batch(0, stream=1)], 0)
    assert mc.sigma == pytest.approx(0.9 + 0.1 * m.update_norm, rel=1e-5)


def test_steps_are_deterministic(make_model, make_batch):
    runs = []
    for _ in range(2):
        model = make_model(seed=2)
        s = make_strategy("adc", model, lr=0.05, k=5, rank=4, warm_steps=1)
        for t in range(3):
            s.step([make_batch(t)], t)
        runs.append(_theta(model))
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("nesterov", {"lr": 0.1}, "unknown strategy"),
        ("random", {"lr": 0.1, "k": 0}, "K must"),
        ("random", {"lr": 0.1, "k": 4, "aggregator": "mean"}, r"unknown option\(s\) \['aggregator'\] for strategy"),
        ("random", {"lr": 0.1}, r"missing option\(s\) \['k'\]"),
        ("sgd", {"lr": 0.1, "seed": 1}, r"option\(s\) \['seed'\] for strategy 'sgd'; allowed: \['lr', 'momentum'\]$"),
        ("random", {"lr": -1.0, "k": 4}, "learning rate"),
        ("momentum", {"lr": 0.1, "n_workers": 4, "tau": 0.5}, "tau"),
        ("momentum", {"lr": 0.1, "n_workers": 4, "beta": 1.0}, "beta"),
        ("adc", {"lr": 0.1, "k": 2, "rank": 10**9}, "rank"),
        ("adc", {"lr": 0.1, "k": 2, "warm_start": "magic"}, "warm_start"),
        ("adc", {"lr": 0.1, "k": 2, "warm_steps": 1, "warm_lr": 0.0}, "warm_lr"),
    ],
)
def test_bad_strategy_options_are_rejected(make_model, name, options, message):
    with pytest.raises(ValueError, match=message) as info:
        make_strategy(name, make_model(), **options)
    assert "\n" not in str(info.value)


def test_an_unknown_option_is_named_with_the_allowed_ones(make_model):
    with pytest.raises(ValueError) as info:
        make_strategy("momentum", make_model(), lr=0.1, n_workers=2, colour="red", k=3)
    message = str(info.value)
    assert message.startswith("unknown option(s) ['colour', 'k'] for strategy 'momentum'; allowed: [")
    own, inherited = ("aggregator", "beta", "lr", "n_workers"), ("seed", "proof_path", "byzantine")
    assert all(f"'{option}'" in message for option in own + inherited)


def test_a_type_error_inside_a_constructor_is_not_rewritten(make_model, monkeypatch):
    """Options that match the signature reach the constructor, and what it raises comes out
    as it is: a TypeError from a bug inside must not read as "bad options"."""

    def broken(self, model, lr, *, k, **kw):
        raise TypeError("boom")

    monkeypatch.setattr(HoloGradRandom, "__init__", broken)
    with pytest.raises(TypeError, match="^boom$"):
        make_strategy("random", make_model(), lr=0.1, k=4, seed=1)


def test_only_the_verifiable_strategies_have_the_protocol_parts(make_model):
    """SGD is a Strategy and nothing more: no plan / prove / conclude that it would refuse."""
    sgd = make_strategy("sgd", make_model(), lr=0.1)
    assert isinstance(sgd, SGD) and isinstance(sgd, Strategy) and not isinstance(sgd, VerifiableStrategy)
    for part in ("plan", "direction", "prove", "synthesise", "conclude", "observe", "seed", "proof_path"):
        assert not hasattr(sgd, part)
    for name, options in {"random": {"k": 2}, "adc": {"k": 2, "rank": 2}, "momentum": {"n_workers": 2}}.items():
        strategy = make_strategy(name, make_model(), lr=0.1, **options)
        assert isinstance(strategy, VerifiableStrategy)
        assert all(callable(getattr(strategy, part)) for part in ("plan", "prove", "conclude"))
    with pytest.raises(TypeError, match="abstract"):
        VerifiableStrategy(make_model(), 0.1)


def test_wrong_number_of_batches_is_rejected(make_model, make_batch):
    mc = make_strategy("momentum", make_model(), lr=0.1, n_workers=3)
    with pytest.raises(ValueError, match="3 batch"):
        mc.step([make_batch()], 0)
    assert isinstance(make_strategy("adc", make_model(), lr=0.1, k=2, rank=2), HoloGradADC)
