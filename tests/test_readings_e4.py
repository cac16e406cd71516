"""E4 / claim C5 under each of its readings (claims.yaml: random-warmup, svd-of-warmup,
svd-of-warmup-on-estimate, bootstrap, no-warmup): the claim rule on planted data, each
reading's arm against the strategy it names, the two captured energies (on g and on g_hat)
against theory, the bootstrap's shared warm-up, and the work model's count of the new arms."""

import importlib.util
import math
from pathlib import Path

import pytest
import test_claim_rules as claim_rules
import torch

from holograd.adc import DirectionCodebook
from holograd.directions import DEFAULT_CHUNK_ELEMENTS
from holograd.experiments import adc_energy as e4
from holograd.experiments.arms import Bench
from holograd.files import read_json
from holograd.models import build_model
from holograd.strategies import HoloGradADC
from holograd.training import step_batches, train
from paper_checks import evaluation
from paper_checks.catalog import load_claims, load_experiments, readings_of
from paper_checks.experiment import load_analysis
from paper_checks.experiments import adc_energy as analysis
from paper_checks.sweeps import setting_names
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

CPU = torch.device("cpu")
_SUITE = importlib.util.spec_from_file_location(
    "estimate_suite", Path(__file__).resolve().parents[1] / "benchmarks" / "estimate_suite.py"
)
estimate_suite = importlib.util.module_from_spec(_SUITE)
_SUITE.loader.exec_module(estimate_suite)
EXPERIMENTS = load_experiments()
C5 = next(c for c in load_claims(experiments=EXPERIMENTS) if c["id"] == "C5")
READINGS = {r["id"]: r for r in readings_of(C5)}
WARM_STARTS = ["random", "svd", "bootstrap", "none"]

# --- the claim rule on planted data -------------------------------------------------------------

SECTION = {
    "model": "micro", "block_size": 16, "batch_size": 2, "steps": 4, "eval_every": 2, "eval_batches": 2,
    "tune_steps": 2, "k": 4, "ranks": [8, 32], "warm_start": "random", "warm_steps": 2, "alpha": 1e-3,
    "qr_every": 5, "lr_grid": {}, "seeds": [0, 1, 2],
}  # fmt: skip
CURVE = [[0, 5.0], [4, 4.9]]
UP, DOWN, UNSURE = [0.1, 0.12, 0.11], [-0.1, -0.12, -0.11], [0.1, -0.05, 0.02]  # the last: mean > 0.01, CI reaches < 0
ADVANTAGE = [0.05, 0.06, 0.04]


def e4_arm(trend_g, trend_hat, decrease, *, old=False):
    """One planted arm: gamma trends on g and g_hat, main-phase means, loss decrease.  old:
    a run from before gamma_hat was recorded (no energy_estimate fields)."""
    arm = {
        "lr": 0.1, "warm_lr": 0.01, "warm_steps": 2, "curve": CURVE, "loss_decrease": decrease, "stopped": None,
        "energy": [0.1, 0.1 + trend_g], "energy_trend": trend_g,
    }  # fmt: skip
    if not old:
        arm.update(
            energy_estimate=[0.1, 0.1 + trend_hat], energy_estimate_trend=trend_hat,
            gamma_gradient_mean=0.1 + trend_g, gamma_estimate_mean=0.9 + trend_hat / 10,
        )  # fmt: skip
    return arm


def e4_run(warm_start, trend_g, trend_hat, advantage, *, old=False):
    """One planted run: rank 32 with the given trends and advantage over ADC-off; rank 8 with
    opposite-signed trends, so a rule that read the wrong rank would turn the verdict."""
    return {
        "warm_start": warm_start,
        "dim": 1000,
        "arms": {
            "adc_r8": e4_arm(-trend_g, -trend_hat, 0.2 - advantage, old=old),
            "adc_r32": e4_arm(trend_g, trend_hat, 0.2 + advantage, old=old),
            "adc_off": {**e4_arm(math.nan, math.nan, 0.2, old=old), "energy": [], "energy_estimate": []},
        },
    }


def plant(tmp_path, runs_by_warm_start):
    """Run files with valid provenance for the given warm starts ({warm start: [metrics per
    seed]}), aggregated by the real stage; returns the data file's content."""
    section = {**SECTION, "sweep": {"warm_start": list(runs_by_warm_start)}}
    per_setting = dict(zip(setting_names(section), runs_by_warm_start.values()))
    return read_json(claim_rules.plant(tmp_path, "e4_adc_energy", per_setting, section))


def judge(reading_id, data):
    """The verdict of one reading of C5 (every part judged by the framework's rule) and the
    details of its parts."""
    claim = {k: v for k, v in READINGS[reading_id]["claim"].items() if k != "region"}
    results = evaluation.evaluate(claim, data, load_analysis(EXPERIMENTS["e4_adc_energy"]["analysis"]))
    details = {k: v for r in results for k, v in r["measurement"].details.items()}
    reasons = "; ".join(r["reason"] for r in results)
    return evaluation.combine([r["verdict"] for r in results]), reasons, details, results


def test_every_reading_of_c5_is_one_this_analysis_can_read():
    """The readings are the pre-registration: each selects a warm start this experiment
    sweeps, and energy_of gradient or estimate.  Catches a reading whose select could not work."""
    assert set(READINGS) == {"random-warmup", "svd-of-warmup", "svd-of-warmup-on-estimate", "bootstrap", "no-warmup"}
    for r in READINGS.values():
        assert r["select"]["where"]["warm_start"] in WARM_STARTS and r["select"]["rank"] == 32
        assert r["select"]["energy_of"] in analysis.TRENDS


@pytest.mark.parametrize("reading_id", list(READINGS))
@pytest.mark.parametrize(
    "own, other, advantage, expected, words",
    [
        (UP, DOWN, ADVANTAGE, PASS, None),
        (DOWN, UP, ADVANTAGE, FAIL, "wholly below"),
        (UP, DOWN, [-a for a in ADVANTAGE], FAIL, None),  # part b fails
        # the mean lies above the minimum effect 0.01, its interval does not: no evidence, no PASS
        (UNSURE, UP, ADVANTAGE, INCONCLUSIVE, "reaches across"),
    ],
)
def test_c5_reading_on_planted_data(tmp_path, reading_id, own, other, advantage, expected, words):
    """Each reading reads the trend of gamma on its own quantity (g or g_hat) in its own
    warm start's setting: there `own` is planted on that quantity and `other` on the other
    one, and every other setting has the opposite trends and advantage.  A rule that read
    gamma on the wrong quantity, the wrong setting or the wrong rank would get the verdict
    wrong in at least one row."""
    select = READINGS[reading_id]["select"]
    mine, on_estimate = select["where"]["warm_start"], select["energy_of"] == "estimate"
    runs = {}
    for warm in WARM_STARTS:
        if warm == mine:
            g, hat, adv = (other, own, advantage) if on_estimate else (own, other, advantage)
        else:
            g, hat, adv = other, other, [-a for a in advantage]
        runs[warm] = [e4_run(warm, *x) for x in zip(g, hat, adv)]
    verdict, reasons, details, results = judge(reading_id, plant(tmp_path, runs))
    assert verdict == expected, reasons
    if words:
        assert words in reasons, reasons
    assert results[0]["measurement"].values == own
    assert details["warm_start"] == mine and details["energy_of"] == select["energy_of"]
    # the summary reports gamma on g and on g_hat for every reading, as estimates
    for key in ("gamma_gradient_mean", "gamma_estimate_mean", "energy_trend", "energy_estimate_trend"):
        assert set(details[key]) == {"point", "low", "high", "n"} and details[key]["n"] == 3
    assert details["gamma_estimate_mean"]["point"] == pytest.approx(0.9 + sum(own if on_estimate else other) / 30)
    assert analysis.describe_c5(details)  # the summary lines render from these details


@pytest.mark.parametrize("reading_id", list(READINGS))
def test_c5_reading_without_its_setting_is_inconclusive(tmp_path, reading_id):
    """A run without the reading's warm start cannot test it, whatever the other settings
    say (they pass here).  Catches a where that is ignored or falls back to another setting."""
    mine = READINGS[reading_id]["select"]["where"]["warm_start"]
    runs = {w: [e4_run(w, t, t, a) for t, a in zip(UP, ADVANTAGE)] for w in WARM_STARTS if w != mine}
    verdict, reasons, _, _ = judge(reading_id, plant(tmp_path, runs))
    assert verdict == INCONCLUSIVE and f"no setting with warm_start = {mine}" in reasons, reasons


def test_c5_on_the_estimate_without_gamma_hat_in_the_data_is_inconclusive(tmp_path):
    """Runs that recorded gamma on g only: the reading on g_hat cannot be judged
    (SelectionError, INCONCLUSIVE naming what is missing), the reading on g still can.
    Catches a rule that silently reads gamma on g when asked for gamma on g_hat."""
    runs = {w: [e4_run(w, t, t, a, old=True) for t, a in zip(UP, ADVANTAGE)] for w in WARM_STARTS}
    data = plant(tmp_path, runs)
    verdict, reasons, _, _ = judge("svd-of-warmup-on-estimate", data)
    assert verdict == INCONCLUSIVE and "recorded no gamma on g_hat" in reasons, reasons
    assert judge("svd-of-warmup", data)[0] == PASS


def test_c5_unknown_energy_of_is_an_error():
    """A typo in claims.yaml's energy_of is a one-line error, not a silent default."""
    with pytest.raises(ValueError, match="energy_of must be one of"):
        analysis.c5_adc_learns({"experiment_data": {"settings": {}}}, {"energy_of": "g", "rank": 32}, None)


# --- the arms of each reading -------------------------------------------------------------------

CFG = {
    "model": "micro", "block_size": 16, "batch_size": 2, "steps": 6, "eval_every": 3, "eval_batches": 2,
    "tune_steps": 2, "k": 4, "ranks": [8], "warm_steps": 3, "alpha": 1e-3, "qr_every": 5,
    "lr_grid": {"adc": [7.0], "random": [0.02], "sgd": [0.3]},
}  # fmt: skip


def _train(strategy, bench, steps, seed):
    return train(strategy, bench.samples, steps=steps, batch_size=CFG["batch_size"], data_seed=seed)


def _weights(strategy):
    return [p.detach().clone() for p in strategy.model.parameters()]


def test_svd_arm_is_holograd_adc_with_the_svd_warm_start(token_cache):
    """The svd setting's ADC arm, as the Bench builds it, is HoloGradADC(warm_start="svd")
    constructed directly with the run's seed, rank, K, Oja options and rates: same weights,
    codebook and energies, bit for bit, through the warm-up and after it.  Catches the svd
    setting mapped to another warm start, or a wrong warm-up rate or seed."""
    cfg, seed = {**CFG, "warm_start": "svd"}, 3
    arm = e4.arms(cfg, warm_lr=0.02)["adc_r8"]
    assert arm["warm_start"] == "svd" and e4.warm_arm(cfg) == {"kind": "random", "k": 4}
    bench = Bench(cfg, token_cache, CPU)
    via_bench = bench.strategy(arm, 7.0, seed)
    model = build_model("micro", token_cache.vocab_size, 16, seed=seed)
    direct = HoloGradADC(
        model, 7.0, k=4, rank=8, alpha=1e-3, qr_every=5, warm_start="svd", warm_steps=3, warm_lr=0.02, seed=seed,
        chunk_elements=DEFAULT_CHUNK_ELEMENTS,
    )  # fmt: skip
    a, b = _train(via_bench, bench, 6, seed), _train(direct, bench, 6, seed)
    assert [r["energy"] for r in a] == [r["energy"] for r in b]
    assert [r["phase"] for r in a] == ["warmup"] * 3 + ["main"] * 3
    assert all(torch.equal(x, y) for x, y in zip(_weights(via_bench), _weights(direct)))
    assert torch.equal(via_bench.codebook.U, direct.codebook.U)
    # the random setting's arm is another strategy: the test can tell them apart
    other = bench.strategy({**arm, "warm_start": "random"}, 7.0, seed)
    _train(other, bench, 6, seed)
    assert not torch.equal(other.codebook.U, direct.codebook.U)


def test_svd_codebook_after_the_warm_up_spans_the_warm_up_estimates(token_cache):
    """Right after the svd warm-up, U is DirectionCodebook.from_gradients of the warm-up's
    g_hat's (bit for bit) and so captures each of them whole: gamma = 1 up to float32
    rounding (tolerance 1e-5 ~ r x eps_32 = 8 x 1.2e-7 with room: U is an SVD in float64 cast
    to float32, then QR'd).  Catches U from the true gradients (SGD-bootstrap style) or from
    a random start."""
    cfg, seed = {**CFG, "warm_start": "svd"}, 1
    bench = Bench(cfg, token_cache, CPU)
    strategy = bench.strategy(e4.arms(cfg, warm_lr=0.02)["adc_r8"], 7.0, seed)
    estimates, gradients = [], []
    for t in range(cfg["warm_steps"] + 1):
        batches = step_batches(bench.samples, 1, t, batch_size=cfg["batch_size"], data_seed=seed)
        if t == cfg["warm_steps"]:
            strategy.plan(batches, t)  # the first ADC step's plan builds U from the buffer
            break
        strategy.step(batches, t)
        estimates.append(strategy.last_update.clone())
        gradients.append(strategy.last_gradient.clone())
    expected = DirectionCodebook.from_gradients(estimates, 8, seed=seed, alpha=1e-3, qr_every=5)
    assert torch.equal(strategy.codebook.U, expected.U)
    assert all(strategy.codebook.captured_energy(g_hat) == pytest.approx(1.0, abs=1e-5) for g_hat in estimates)
    from_gradients = DirectionCodebook.from_gradients(gradients, 8, seed=seed, alpha=1e-3, qr_every=5)
    assert not torch.allclose(strategy.codebook.U, from_gradients.U, atol=1e-3)


def test_gamma_on_the_estimate_is_one_and_on_the_gradient_r_over_d_for_a_random_codebook(token_cache):
    """ADC steps from a random U (no warm-up), rank r = 32:

    - on g_hat: an ADC step's g_hat = U c lies in span(U), so gamma_hat = 1 up to float32
      rounding of U c and of U's orthonormality: |1 - gamma_hat| <= 1e-5 (~ r x eps_32 =
      32 x 1.2e-7 = 3.8e-6, with room); also its main-phase mean (e4.energies);
    - on g: for a uniformly random r-dim subspace of R^D, gamma ~ Beta(r/2, (D - r)/2), mean
      r/D, sd sqrt(2 r (D - r) / (D^2 (D + 2))) ~ 0.25 r/D at r = 32.  Step 0 of 8 seeds (U_0
      independent of g_0): their mean lies within 4 sd / sqrt(8) of r/D.

    Catches gamma_hat computed on g (it would be ~ r/D) or gamma on g_hat (it would be 1), and
    a codebook that is not a uniformly random subspace at the start."""
    cfg, rank, seeds = {**CFG, "warm_start": "none", "ranks": [32]}, 32, range(8)
    bench = Bench(cfg, token_cache, CPU)
    arm = e4.arms(cfg)["adc_r32"]
    first = []
    for seed in seeds:
        records = _train(bench.strategy(arm, 1.0, seed), bench, 3, seed)
        assert all(r["phase"] == "main" and abs(1 - r["energy_estimate"]) <= 1e-5 for r in records)
        stats = e4.energies(records)
        assert stats["gamma_estimate_mean"] == pytest.approx(1.0, abs=1e-5)
        assert stats["energy_estimate_trend"] == pytest.approx(0.0, abs=1e-5)
        assert stats["gamma_gradient_mean"] < 0.01  # a random U holds almost none of g
        first.append(records[0]["energy"])
    d = bench.strategy(arm, 1.0, 0).dim
    sd = math.sqrt(2 * rank * (d - rank) / (d**2 * (d + 2)))
    assert abs(sum(first) / len(first) - rank / d) <= 4 * sd / math.sqrt(len(first)), (first, rank / d)


def test_bootstrap_adc_off_takes_adcs_sgd_steps_bit_for_bit(token_cache):
    """In the bootstrap setting, ADC-off is WarmStarted(HoloGrad-Random, SGD, warm_steps) at
    the SGD rate tuned for the bootstrap: after the warm-up its weights equal ADC's bit for
    bit (the same SGD steps on the same batches from the same weights), and the two differ
    only afterwards.  Catches an ADC-off without the warm-up (the earlier, unfair arm), a
    warm-up at another rate, or one on other batches."""
    cfg, seed, sgd_lr = {**CFG, "warm_start": "bootstrap"}, 2, 0.3
    plan = e4.arms(cfg, warm_lr=sgd_lr)
    assert plan["adc_off"] == {"kind": "random", "k": 4, "warmup": {"kind": "sgd", "steps": 3, "lr": sgd_lr}}
    bench = Bench(cfg, token_cache, CPU)
    adc = bench.strategy(plan["adc_r8"], 7.0, seed)
    off = bench.strategy(plan["adc_off"], 0.02, seed)
    adc_records, off_records = _train(adc, bench, 3, seed), _train(off, bench, 3, seed)
    assert [r["phase"] for r in adc_records] == ["bootstrap"] * 3 and [r["phase"] for r in off_records] == [
        "warmup"
    ] * 3
    after_warm_up = _weights(adc)
    assert all(torch.equal(x, y) for x, y in zip(after_warm_up, _weights(off)))
    adc.step(step_batches(bench.samples, 1, 3, batch_size=2, data_seed=seed), 3)
    off.step(step_batches(bench.samples, 1, 3, batch_size=2, data_seed=seed), 3)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(adc), _weights(off)))
    # without the warm-up (ADC-off before this change) the weights after 3 steps differ: the test can fail
    bare = bench.strategy({"kind": "random", "k": 4}, 0.02, seed)
    _train(bare, bench, 3, seed)
    assert not all(torch.equal(x, y) for x, y in zip(after_warm_up, _weights(bare)))


def test_bootstrap_job_tunes_and_runs_adc_off_after_the_sgd_warm_up(token_cache):
    """The bootstrap job end to end: ADC-off is tuned and run after the SGD warm-up at the
    SGD rate tuned for it (the same rate as ADC's bootstrap), and records it; every arm
    records gamma on g and on g_hat aligned step by step (ADC-off none).  Catches an ADC-off
    tuned without its warm-up, or a run that drops the warm-up's rate."""
    cfg = {**CFG, "warm_start": "bootstrap", "steps": 5}
    tuned = e4.tune(cfg, token_cache, CPU)
    assert tuned["adc_off"]["warm_lr"] == tuned["warm_sgd"]["lr"] == tuned["adc_r8"]["warm_lr"]
    out = e4.run(cfg, 0, token_cache, CPU, tuned)
    adc, off = out["arms"]["adc_r8"], out["arms"]["adc_off"]
    assert off["warm_lr"] == tuned["warm_sgd"]["lr"] and off["warm_steps"] == adc["warm_steps"] == 3
    assert len(adc["energy"]) == len(adc["energy_estimate"]) == cfg["steps"]
    assert adc["energy_estimate"][:3] == adc["energy"][:3]  # a bootstrap step's update is g itself
    assert adc["gamma_estimate_mean"] == pytest.approx(1.0, abs=1e-5)
    assert off["energy"] == off["energy_estimate"] == [] and math.isnan(off["gamma_estimate_mean"])
    assert adc["curve"][0] == off["curve"][0]  # the same initial weights


# --- the work model ------------------------------------------------------------------------------


@pytest.mark.parametrize("warm_start", WARM_STARTS)
def test_work_counts_each_warm_up_by_its_kind_of_step(warm_start):
    """With unit costs that count direction entries (one per entry of a random direction,
    nothing for SGD or ADC steps), a job's work is exact: ADC-off's random steps (all but the
    bootstrap's SGD steps) plus each ADC arm's random warm-up steps (random and svd), each K x
    D entries.  Catches the svd warm-up counted as SGD, or ADC-off's SGD warm-up counted as
    random steps."""
    config = {"data": {"corpus": "embedded", "vocab_size": 300}}
    model = estimate_suite.WorkModel(config, estimate_suite.EntryCount())
    cfg = {**CFG, "warm_start": warm_start, "ranks": [8, 32], "tune_steps": 5}
    per_step = cfg["k"] * model.dim(cfg)
    off_warm = cfg["warm_steps"] if warm_start == "bootstrap" else 0  # ADC-off's SGD steps: no direction
    adc_warm = cfg["warm_steps"] if warm_start in ("random", "svd") else 0  # an ADC arm's random steps
    (_, _, tuning), (_, _, job) = analysis.work(model, cfg)
    assert job == ((cfg["steps"] - off_warm) + len(cfg["ranks"]) * adc_warm) * per_step
    grid = cfg["lr_grid"]  # every rate of a grid is one tuning run; SGD's grid counts no direction
    runs = len(grid["random"]) * (cfg["tune_steps"] - off_warm) + len(grid["adc"]) * len(cfg["ranks"]) * adc_warm
    assert tuning == runs * per_step


# --- the figure ----------------------------------------------------------------------------------


def test_figure_draws_a_diverged_arm_to_its_stop_without_flattening_the_others(tmp_path, monkeypatch):
    """One seed of rank 8 diverges (its loss spikes to 500 at step 3 and the run stops): the
    arm is drawn to its stop, marked "(diverged)" with an x, and the loss axis stays on the
    arms that ran (losses near 5), no loss band below 0; every warm start has its panel and
    gamma on g and on g_hat are both drawn.  Catches the last run's figure, where the spike of
    one arm hid the rest."""
    runs = {w: [e4_run(w, t, t, a) for t, a in zip(UP, ADVANTAGE)] for w in WARM_STARTS}
    spiked = runs["bootstrap"][1]["arms"]["adc_r8"]
    spiked.update(curve=[[0, 5.0], [2, 4.95], [3, 500.0]], stopped="loss 500 above 2 x the initial 5 at step 2")
    spiked.update(energy=[0.1, 0.2, 0.3], energy_estimate=[0.1, 1.0, 1.0], loss_decrease=None)
    data = plant(tmp_path, runs)
    figures = []
    monkeypatch.setattr(analysis, "finish", lambda fig, title, path: figures.append(fig))
    analysis.plot(data, {"C5": C5}, tmp_path / "e4.png")
    (fig,) = figures
    top, bottom = fig.axes[: len(fig.axes) // 2], fig.axes[len(fig.axes) // 2 :]
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert [t.split(":")[0] for t in titles] == WARM_STARTS
    loss_axis = fig.axes[4 + WARM_STARTS.index("bootstrap")]
    labels = [line.get_label() for line in loss_axis.get_lines()]
    assert "ADC r = 8 (diverged)" in labels and "ADC r = 32" in labels and "ADC-off (random, same K)" in labels
    low, high = loss_axis.get_ylim()
    assert 0 <= low < 4.9 and 5.0 < high < 10  # scaled to the arms that ran, not to the spike of 500
    diverged = next(line for line in loss_axis.get_lines() if line.get_label() == "ADC r = 8 (diverged)")
    assert max(diverged.get_xdata()) <= 3
    (mark,) = [line for line in loss_axis.get_lines() if line.get_marker() == "x"]
    assert list(mark.get_xdata()) == [3] and low <= mark.get_ydata()[0] <= high  # marked where it can be seen
    for band in loss_axis.collections:
        assert all(y >= 0 for path in band.get_paths() for _, y in path.vertices)
    gamma_labels = {line.get_label() for ax in fig.axes[:4] for line in ax.get_lines()}
    assert {"r = 32, γ on g", "r = 32, γ on ĝ"} <= gamma_labels
    assert len(top) == len(bottom) == 4


def test_the_trend_is_taken_after_the_warm_up():
    # An SVD start replaces the random U (gamma ~ r/D) at the warm-up's end; gamma on g_hat is
    # 1 on every ADC step after it.  A trend over every step would read that one jump as
    # growth (about 1 - r/D here); over the ADC steps it is 0.  Catches a trend that counts
    # the warm-up again.
    warm = [{"phase": "warmup", "energy": 0.001, "energy_estimate": 0.001}] * 10
    adc = [{"phase": "main", "energy": 0.01, "energy_estimate": 1.0}] * 70
    out = e4.energies(warm + adc)
    assert out["energy_estimate_trend"] == 0.0 and out["energy_trend"] == 0.0
    assert len(out["energy"]) == 80  # the figure still gets every step
