"""E7 under every reading of claim C7 (claims.yaml `readings`): each reading's rule on planted
data, the static measurement (the authors' E7 without a model) against what theory says it
must give, and each new arm against the strategy it names, constructed directly."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from test_claim_rules import CODE, aggregate, write_runs

from holograd.experiments import byzantine as e7
from holograd.experiments.arms import Bench
from holograd.strategies import HoloGradRandom, MomentumCentric, WarmStarted
from holograd.training import train
from paper_checks import evaluation
from paper_checks.catalog import load_claims, load_experiments, readings_of
from paper_checks.experiment import load_analysis
from paper_checks.experiments import byzantine as analysis
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = load_experiments()
C7 = next(c for c in load_claims(experiments=EXPERIMENTS) if c["id"] == "C7")
READINGS = {r["id"]: r for r in readings_of(C7)}
ANALYSIS = load_analysis(EXPERIMENTS["e7_byzantine"]["analysis"])

AUTHORS = [
    {"name": "uniform_100", "attack": "uniform", "scale": 100},
    {"name": "sign_flip_10", "attack": "sign_flip", "scale": 10},
    {"name": "extreme_100", "attack": "extreme", "scale": 100},
]
TAUS = [0.05, 0.1, 0.15, 0.2]
AGGS = ["mean"] + [f"trimmed_{t:g}" for t in TAUS]
SECTION = {
    "model": "micro", "block_size": 16, "batch_size": 2, "steps": 4, "eval_every": 2, "eval_batches": 2,
    "tune_steps": 2, "strategy": "momentum", "n_workers": 10, "beta": 0.9, "cold_start_steps": 1,
    "fractions": [0, 0.1, 0.2, 0.3], "attacks": ["random", "sign_flip", "extreme"], "authors_attacks": AUTHORS,
    "taus": TAUS, "tolerance": 0.8, "warmup": {"k": 8, "steps": 2},
    "static": {"dim": 10000, "workers": 20, "steps": 20, "tolerance": 0.2},
    "lr_grid": {"momentum": [1.0], "random": [0.01]}, "seeds": list(range(10)),
    "sweep": {"strategy": ["momentum", "momentum_random_warmup", "momentum_oracle", "random", "static"]},
}  # fmt: skip
SETS = {"paper": SECTION["attacks"], "authors": [a["name"] for a in AUTHORS]}
N = len(SECTION["seeds"])  # ten seeds: the median's order-statistic interval needs them (three give none)


def _training_metrics(strategy, cell, value, clean=0.5):
    """One seed of a training setting: every (attack set, aggregator) tolerates nothing
    (largest f = 0) except `cell` = (set, aggregator), which tolerates `value`; the clean
    runs decrease the loss by `clean`."""
    rows = []
    for agg in AGGS:
        rows.append(
            {"aggregator": agg, "attack_set": "none", "attack": "none", "fraction": 0.0, "loss_decrease": clean,
             "stopped": None, "relative": 1.0, "tolerated": True}
        )  # fmt: skip
        for attack_set, attacks in SETS.items():
            largest = value if (attack_set, agg) == cell else 0.0
            for attack in attacks:
                for f in (0.1, 0.2, 0.3):
                    ok = f <= largest
                    rows.append(
                        {"aggregator": agg, "attack_set": attack_set, "attack": attack, "fraction": f,
                         "loss_decrease": clean if ok else 0.0, "stopped": None, "relative": 1.0 if ok else 0.0,
                         "tolerated": ok}
                    )  # fmt: skip
    largest = {s: {agg: value if (s, agg) == cell else 0.0 for agg in AGGS} for s in SETS}
    return {"strategy": strategy, "lr": 1.0, "warmup_lr": None, "rows": rows, "largest_tolerated": largest, "dim": 1000}


def _static_metrics(cell, value):
    """One seed of the static setting, with the same convention as _training_metrics."""
    rows = [
        {"attack_set": s, "attack": attack, "fraction": f, "aggregator": agg, "authors_metric": 1.01,
         "relative_error": 0.0 if f <= (value if (s, agg) == cell else 0.0) else 5.0,
         "tolerated": f <= (value if (s, agg) == cell else 0.0)}
        for s, attacks in SETS.items() for attack in attacks for f in SECTION["fractions"] for agg in AGGS
    ]  # fmt: skip
    largest = {s: {agg: value if (s, agg) == cell else 0.0 for agg in AGGS} for s in SETS}
    return {"strategy": "static", "rows": rows, "largest_tolerated": largest, "dim": 10000, "workers": 20, "steps": 20}


def _plant(tmp_path, reading_id, values, clean=0.5, section=SECTION):
    """Run files of every setting (N seeds) through the real aggregation: the reading's
    (setting, attack set, aggregator) tolerates values[seed], every other cell 0."""
    select = READINGS[reading_id]["select"]
    target = "static" if select.get("static") else select["where"]["strategy"]
    cell = (select["attacks"], select["aggregator"])
    per_setting = {}
    for strategy in section["sweep"]["strategy"]:
        per = values if strategy == target else [0.0] * N
        per_setting[f"strategy-{strategy}"] = [
            _static_metrics(cell if strategy == target else None, v)
            if strategy == "static"
            else _training_metrics(strategy, cell if strategy == target else None, v, clean)
            for v in per
        ]
    runs = write_runs(tmp_path, "e7_byzantine", per_setting, section)
    out = tmp_path / "e7.json"
    aggregate("e7_byzantine", section, "cpu", CODE, runs, str(out))
    return json.loads(out.read_text())


def _judge(data, reading_id):
    claim = {k: v for k, v in READINGS[reading_id]["claim"].items() if k != "region"}
    (result,) = evaluation.evaluate(claim, data, ANALYSIS)
    return result


TRAINING_READINGS = [r for r in READINGS if not READINGS[r]["select"].get("static")]
STATIC_READINGS = [r for r in READINGS if READINGS[r]["select"].get("static")]
PAIRED = [r for r in READINGS if READINGS[r]["select"].get("test") == "paired"]
MEDIAN = [r for r in READINGS if r not in PAIRED]


def test_every_reading_of_c7_is_covered():
    # Catches a reading added to claims.yaml that these tests (and the measure) do not know.
    assert sorted(TRAINING_READINGS + STATIC_READINGS) == sorted(READINGS) and len(STATIC_READINGS) == 5
    assert len(PAIRED) == 3 and READINGS[MEDIAN[0]]["select"].get("test", "median") == "median"


@pytest.mark.parametrize("reading", MEDIAN)
@pytest.mark.parametrize(
    "values, expected, words",
    [
        # every seed alike: the median's order-statistic interval is the value itself, which
        # decides (a t interval of zero width would not)
        ([0.2] * 10, PASS, "lies inside"),
        ([0.3] * 10, FAIL, "above"),  # tolerates 30 %: the claimed failure at 30 % does not happen
        ([0.1] * 10, FAIL, "below"),
        # one seed of ten at 0.2: the sign test still puts the median below 0.2 at alpha = 0.05
        # (2^-10 (1 + 10) = 0.011); two of ten would not (0.055)
        ([0.1] * 9 + [0.2], FAIL, "below"),
        ([0.1] * 8 + [0.2] * 2, INCONCLUSIVE, "reaches across"),
        ([0.1] * 5 + [0.3] * 5, INCONCLUSIVE, "reaches across"),
    ],
)
def test_each_reading_judges_its_own_cell(tmp_path, reading, values, expected, words):
    """Every other (setting, attack set, aggregator) is planted at 0 (FAIL): a measure that read
    another setting, the other attack set, another aggregator, or the training setting for a
    static reading (and vice versa) would FAIL where PASS is expected."""
    result = _judge(_plant(tmp_path, reading, values), reading)
    assert result["verdict"] == expected and words in result["reason"], result["reason"]
    assert result["measurement"].values == values


@pytest.mark.parametrize("reading", TRAINING_READINGS)
def test_a_training_reading_whose_clean_run_does_not_learn_is_inconclusive(tmp_path, reading):
    # Catches a rule that judges "80 % of the clean progress" when there is no progress.
    result = _judge(_plant(tmp_path, reading, [0.2] * N, clean=0.0), reading)
    assert result["verdict"] == INCONCLUSIVE and "not significantly above 0" in result["reason"], result["reason"]


@pytest.mark.parametrize("reading", TRAINING_READINGS)
def test_a_training_reading_whose_clean_run_diverged_is_inconclusive(tmp_path, reading):
    # Catches a rule that reads a tolerance against a clean run that never finished.
    data = _plant(tmp_path, reading, [0.2] * N)
    select = READINGS[reading]["select"]
    setting = data["experiment_data"]["settings"][f"strategy-{select['where']['strategy']}"]
    clean = next(r for r in setting["table"] if r["aggregator"] == select["aggregator"] and r["attack"] == "none")
    clean["stopped"] = ["loss 14.2 above 2 x the initial 5.7 at step 3"]
    result = _judge(data, reading)
    assert result["verdict"] == INCONCLUSIVE and "stopped early" in result["reason"], result["reason"]


@pytest.mark.parametrize("reading", list(READINGS))
def test_a_reading_whose_setting_was_not_run_is_inconclusive(tmp_path, reading):
    """A run without the reading's setting (the old two-setting sweep; for static readings no
    static setting) or without the authors' attack set: INCONCLUSIVE naming what is missing.
    Catches a measure that falls back on another setting or attack set."""
    select = READINGS[reading]["select"]
    target = "static" if select.get("static") else select["where"]["strategy"]
    others = [s for s in SECTION["sweep"]["strategy"] if s != target]
    section = {**SECTION, "strategy": others[0], "sweep": {"strategy": others}}
    per = [_training_metrics(s, None, 0.0) if s != "static" else _static_metrics(None, 0.0) for s in others]
    runs = write_runs(tmp_path, "e7_byzantine", {f"strategy-{s}": [m] * N for s, m in zip(others, per)}, section)
    aggregate("e7_byzantine", section, "cpu", CODE, runs, str(tmp_path / "e7.json"))
    result = _judge(json.loads((tmp_path / "e7.json").read_text()), reading)
    assert result["verdict"] == INCONCLUSIVE and "no setting with strategy = " in result["reason"], result["reason"]


def test_a_missing_attack_set_is_inconclusive(tmp_path):
    # A run of the paper's attacks only cannot answer a reading of the authors' attacks.
    data = _plant(tmp_path, "algorithm1-0.15-authors-attacks", [0.2] * N)
    for setting in data["experiment_data"]["settings"].values():
        del setting["largest_tolerated"]["authors"]
    result = _judge(data, "algorithm1-0.15-authors-attacks")
    assert result["verdict"] == INCONCLUSIVE and "no attack set 'authors'" in result["reason"], result["reason"]


def test_static_details_have_dot_free_paths_for_the_published_table(tmp_path):
    """The summary resolves published.yaml's paths by splitting on dots: the static
    measurement's keys for f and the aggregator must hold none.  Catches "0.2" or
    "trimmed_0.15" as keys (the path would not resolve)."""
    from paper_checks.summary import resolve

    result = _judge(_plant(tmp_path, "static-authors", [0.2] * N), "static-authors")
    record = {"details": result["measurement"].details}
    cell = resolve(record, "details.static.authors_metric.uniform_100.0_2.trimmed_0_15")
    assert cell["point"] == pytest.approx(1.01) and cell["n"] == N
    assert resolve(record, "details.static.relative_error.sign_flip_10.0_3.mean")["point"] == pytest.approx(5.0)
    assert analysis.describe_c7(record["details"])  # the summary's lines are built from these details


def test_the_figure_draws_every_setting_with_a_diverged_run(tmp_path):
    # A diverged attacked run (relative NaN) must not break the figure or its axis limits.
    data = _plant(tmp_path, "momentum-protocol", [0.2] * N)
    setting = data["experiment_data"]["settings"]["strategy-momentum"]
    row = next(r for r in setting["table"] if r["attack"] == "extreme" and r["fraction"] == 0.3)
    row["relative"]["point"], row["stopped"] = None, ["loss 14.2 above 2 x the initial 5.7 at step 3"]
    data["experiment_data"]["settings"]["strategy-random"]["table"][3]["relative"]["point"] = 40.0  # a runaway ratio
    analysis.plot(data, {}, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 10_000


# --- the static measurement against theory ------------------------------------------------------


@pytest.fixture(scope="module")
def static_run(token_cache):
    cfg = {**SECTION, "strategy": "static"}
    return e7.run(cfg, 0, token_cache, CPU, {})


def _cell(out, attack, f, agg):
    return next(r for r in out["rows"] if r["attack"] == attack and r["fraction"] == f and r["aggregator"] == agg)


def test_static_trimmed_mean_removes_attackers_it_outnumbers(static_run):
    """All honest scalars are equal (one shared direction), so the trimmed mean with tau =
    0.15 of W = 20 (3 dropped at each end) removes f = 0.1's 2 attackers wherever they sort,
    and keeps 14 copies of the honest value: our metric is exactly 0 for every attack of both
    sets.  Catches a trim that drops too few, or a metric against the true g."""
    for attack in [*SECTION["attacks"], *SETS["authors"]]:
        assert _cell(static_run, attack, 0.1, "trimmed_0.15")["relative_error"] == 0.0, attack
        assert _cell(static_run, attack, 0.1, "trimmed_0.15")["tolerated"]


@pytest.mark.parametrize(
    "attack, f, agg, exact",
    [
        # 6 attackers send -10a: 3 of them dropped with the 3 largest honest, kept 3(-10a) + 11a = -19a over
        # 14: |-19/14 - 1| = 33/14.  4 attackers: 1(-10a) + 13a = 3a over 14 -> 11/14.
        ("sign_flip_10", 0.3, "trimmed_0.15", 33 / 14),
        ("sign_flip_10", 0.2, "trimmed_0.15", 11 / 14),
        ("extreme_100", 0.2, "trimmed_0.15", 99 / 14),  # 1(100a) + 13a = 113a over 14
        ("sign_flip_10", 0.1, "mean", 1.1),  # (18a - 20a)/20 = -0.1a
        ("extreme_100", 0.1, "mean", 9.9),  # (18a + 200a)/20 = 10.9a
        # the paper's -a against tau = 0.1 (2 dropped at each end): 6 attackers, kept 4(-a) + 12a = 8a over 16
        ("sign_flip", 0.3, "trimmed_0.1", 0.5),
    ],
)
def test_static_relative_error_is_the_exact_order_statistics_value(static_run, attack, f, agg, exact):
    """With equal honest scalars the trimmed mean of the attacked scalars is a fixed multiple
    of a, whatever a is: the error per step is that constant, so its mean over steps is too
    (to float64 rounding, 1e-12).  Catches a wrong count trimmed (floor(tau W)) or scaling."""
    assert _cell(static_run, attack, f, agg)["relative_error"] == pytest.approx(exact, rel=1e-12)


def test_static_authors_metric_is_about_one_whatever_the_aggregator_does(static_run):
    """The authors' metric compares g_hat = W Agg v, along one random direction, with a unit g
    in D = 10,000 dimensions: honestly ||g_hat - g||^2 = 1 + W (W - 2) a^2 with a = <g, v>,
    E a^2 = 1/D.  So it lies in [1, 1 + W (W - 2) mean(a^2) / 2] (sqrt(1 + x) <= 1 + x/2), and
    mean(a^2) over 20 steps stays below 3/D (chi^2_20 / 20 > 3 has p ~ 1e-5): [1, 1.054].  The
    authors' published honest value is 1.0131.  Where the trimmed mean removes every attacker
    (f = 0.1) the metric equals the honest one exactly; the mean under a uniform(-100, 100)
    attack moves it far above 1 (|W mean| ~ |u_1 + u_2| ~ 50), as in their table (65.7).
    Catches a synthesis scaled by D instead of W, or a metric against the honest aggregate."""
    W, D = 20, 10000
    honest = _cell(static_run, "uniform_100", 0.0, "mean")["authors_metric"]
    assert 1.0 <= honest <= 1 + W * (W - 2) * 3 / D / 2
    for agg in AGGS:
        assert _cell(static_run, "sign_flip_10", 0.0, agg)["authors_metric"] == honest
    assert _cell(static_run, "uniform_100", 0.1, "trimmed_0.15")["authors_metric"] == honest
    assert _cell(static_run, "uniform_100", 0.1, "mean")["authors_metric"] > 10


def test_static_largest_tolerated(static_run):
    """By the exact values above: trimmed_0.15 tolerates f = 0.1 and not 0.2 (sign_flip_10 gives
    11/14 > 0.2), the mean tolerates nothing (1.1 at f = 0.1); tau = 0.2 (4 dropped) removes
    f = 0.2's 4 attackers too.  Catches a largest-f that ignores one attack of the set."""
    largest = static_run["largest_tolerated"]["authors"]
    assert largest["trimmed_0.15"] == 0.1 and largest["trimmed_0.1"] == 0.1 and largest["mean"] == 0.0
    assert largest["trimmed_0.2"] == 0.2


def test_static_is_a_function_of_the_seed(token_cache, static_run):
    # Catches draws from a global generator (a rerun or a resumed job would differ).
    cfg = {**SECTION, "strategy": "static"}
    assert e7.run(cfg, 0, token_cache, CPU, {})["rows"] == static_run["rows"]
    assert e7.run(cfg, 1, token_cache, CPU, {})["rows"] != static_run["rows"]
    assert e7.tune(cfg, token_cache, CPU) == {}


# --- each new arm is the strategy it names ------------------------------------------------------


def _arms(cfg, token_cache, monkeypatch, tuned):
    """The arms e7.run trains, by (aggregator row, attack, fraction), without training them."""
    seen = []

    def fake(self, arm, lr, seed, steps=None, byzantine=None):
        seen.append((arm, lr, byzantine))
        return {"loss_decrease": 1.0, "stopped": None, "dim": 1}

    monkeypatch.setattr(Bench, "run", fake)
    out = e7.run(cfg, 0, token_cache, CPU, tuned)
    monkeypatch.undo()
    return out, seen


def _trained(strategy, bench, cfg, seed):
    train(
        strategy, bench.samples, steps=cfg["steps"], batch_size=cfg["batch_size"], data_seed=seed,
        workers=cfg["n_workers"], device=CPU,
    )  # fmt: skip
    return torch.cat([p.detach().reshape(-1) for p in strategy.model.parameters()])


def test_algorithm1_trimmed_arm_is_holograd_random_with_trim(token_cache, monkeypatch):
    """The random setting's trimmed_0.15 arm (K = N = 10: floor(1.5) = 1 proof dropped at
    each end) trains bit for bit as HoloGradRandom(k=10, trim=0.15) constructed directly, and
    not as the mean (which would mean the trim was ignored)."""
    cfg = {**SECTION, "strategy": "random"}
    _, seen = _arms(cfg, token_cache, monkeypatch, {"clean": {"lr": 0.01}})
    clean = {repr(a): a for a, _, byz in seen if byz is None}
    trimmed = next(a for a in clean.values() if a.get("trim"))
    mean = next(a for a in clean.values() if not a.get("trim"))
    bench, lr, seed = Bench(cfg, token_cache, CPU, workers=cfg["n_workers"]), 0.01, 3
    via_bench = _trained(bench.strategy(trimmed, lr, seed), bench, cfg, seed)
    direct = HoloGradRandom(bench.model(seed), lr, k=10, trim=0.15, seed=seed)
    assert torch.equal(via_bench, _trained(direct, bench, cfg, seed))
    assert not torch.equal(via_bench, _trained(bench.strategy(mean, lr, seed), bench, cfg, seed))


def test_momentum_random_warmup_arm_is_warm_started_momentum(token_cache, monkeypatch):
    """momentum_random_warmup's arm is WarmStarted(MomentumCentric, HoloGradRandom(K = 8), 2)
    at the tuned warm-up rate, bit for bit; and the warm-up changes the run (else the arm
    would be plain Momentum-Centric)."""
    cfg = {**SECTION, "strategy": "momentum_random_warmup"}
    out, seen = _arms(cfg, token_cache, monkeypatch, {"clean": {"lr": 3.0}, "warmup": {"lr": 0.02}})
    assert out["warmup_lr"] == 0.02
    arm = next(a for a, _, byz in seen if byz is None and a["aggregator"] == "trimmed_mean")
    # trimmed_0.1 drops floor(0.1 x 10) = 1 worker scalar per end, and floor(0.1 x 8) = 0 of
    # the warm-up's 8 proofs: its warm-up is the plain random one
    assert arm["warmup"] == {"kind": "random", "k": 8, "steps": 2, "lr": 0.02}
    bench, seed = Bench(cfg, token_cache, CPU, workers=cfg["n_workers"]), 1
    via_bench = _trained(bench.strategy(arm, 3.0, seed), bench, cfg, seed)
    model = bench.model(seed)
    main = MomentumCentric(
        model, 3.0, n_workers=10, beta=0.9, cold_start_steps=1, aggregator="trimmed_mean", tau=0.1, seed=seed
    )
    direct = WarmStarted(main, HoloGradRandom(model, 0.02, k=8, seed=seed), 2)
    assert torch.equal(via_bench, _trained(direct, bench, cfg, seed))
    plain = {k: v for k, v in arm.items() if k != "warmup"}
    assert not torch.equal(via_bench, _trained(bench.strategy(plain, 3.0, seed), bench, cfg, seed))
    # trimmed_0.15 trims the warm-up's proofs too (floor(0.15 x 8) = 1 per end): Algorithm 1
    defended = next(a for a, _, byz in seen if byz is None and a.get("tau") == 0.1 and "trim" in a["warmup"])
    assert defended["warmup"]["trim"] == 1 / 8


def test_momentum_oracle_arm_takes_m_from_the_true_gradient(token_cache, monkeypatch):
    # The oracle arm is MomentumCentric(momentum_from="gradient") bit for bit, and not the protocol's.
    cfg = {**SECTION, "strategy": "momentum_oracle"}
    _, seen = _arms(cfg, token_cache, monkeypatch, {"clean": {"lr": 1.0}})
    arm = next(a for a, _, byz in seen if byz is None and a["aggregator"] == "mean")
    bench, seed = Bench(cfg, token_cache, CPU, workers=cfg["n_workers"]), 2
    via_bench = _trained(bench.strategy(arm, 1.0, seed), bench, cfg, seed)
    direct = MomentumCentric(bench.model(seed), 1.0, n_workers=10, beta=0.9, momentum_from="gradient", seed=seed)
    assert torch.equal(via_bench, _trained(direct, bench, cfg, seed))
    protocol = {k: v for k, v in arm.items() if k != "momentum_from"}
    assert not torch.equal(via_bench, _trained(bench.strategy(protocol, 1.0, seed), bench, cfg, seed))


def test_every_setting_runs_both_attack_sets_and_shares_equal_runs(token_cache, monkeypatch):
    """Each training setting runs every attack of both sets at every f > 0 for every
    aggregator, and trains each distinct computation once: with N = 10, tau = 0.05 is the
    mean, 0.1 and 0.15 both drop 1, and the paper's x100 equals the authors' extreme_100.
    Catches a dropped attack set, and a cache keyed too loosely (one run reused for another
    attack or fraction) or too tightly (the work model would undercount)."""
    for strategy in ("momentum", "momentum_random_warmup", "momentum_oracle", "random"):
        cfg = {**SECTION, "strategy": strategy}
        out, seen = _arms(cfg, token_cache, monkeypatch, {"clean": {"lr": 1.0}, "warmup": {"lr": 0.01}})
        attacks = [*SECTION["attacks"], *SETS["authors"]]
        assert len(out["rows"]) == len(AGGS) * (1 + len(attacks) * 3)
        assert set(out["largest_tolerated"]) == {"paper", "authors"}
        distinct_aggs, distinct_attacks = 3, 5  # mean, drop 1, drop 2; extreme == extreme_100
        if strategy == "momentum_random_warmup":  # 0.1 and 0.15 differ in the warm-up's trim (0 and 1 of 8)
            distinct_aggs = 4
        assert len(seen) == distinct_aggs * (1 + distinct_attacks * 3), strategy
        assert len({repr(s) for s in seen}) == len(seen)


def test_attack_names_must_be_unique_across_sets():
    cfg = {**SECTION, "authors_attacks": [{"name": "sign_flip", "attack": "sign_flip", "scale": 10}]}
    with pytest.raises(ValueError, match="unique"):
        e7.attack_sets(cfg)


def test_work_model_counts_the_new_settings():
    """work() counts the same distinct runs as e7.run trains (3 aggregators x (1 + 5 attacks
    x 3 fractions) at N = 10), the warm-up's random steps, and a static job of direction
    entries only.  Catches a work model that misses the authors' attack set."""
    spec = importlib.util.spec_from_file_location("estimate_suite", ROOT / "benchmarks" / "estimate_suite.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    model = suite.WorkModel({"data": {"corpus": "embedded", "vocab_size": 300}}, suite.EntryCount())
    d = model.dim(SECTION)
    runs = dict((stage, s) for stage, _, s in analysis.work(model, {**SECTION, "strategy": "random"}))
    per_run = SECTION["steps"] * 10 * d  # K = 10 directions of D entries per step
    assert runs["runs"] == 3 * (1 + 5 * 3) * per_run
    static = dict((stage, s) for stage, _, s in analysis.work(model, {**SECTION, "strategy": "static"}))
    assert static["runs"] == 2 * 20 * 10000 and static["tuning"] == 0
    warm = dict((stage, s) for stage, _, s in analysis.work(model, {**SECTION, "strategy": "momentum_random_warmup"}))
    assert warm["runs"] == 4 * (1 + 5 * 3) * 2 * 8 * d  # 2 warm-up steps of K = 8 directions per run
    assert math.isfinite(warm["tuning"])


def test_the_thresholds_sensitivity_rows_recompute_tolerance_per_seed(tmp_path):
    """The readings at another threshold (kept 0.7 / 0.9 of the clean progress) recompute each
    seed's largest tolerated fraction from its rows: runs keeping 75 % at f = 0.2 tolerate 0.2
    at 0.7 but only 0.1 at 0.8 and 0.9; at the config's own 0.8 the recomputation equals the
    measurement's stored value.  Catches a sensitivity row that reads the stored 0.8 answer."""
    data = _plant(tmp_path, "momentum-protocol", [0.3] * N)
    setting = data["experiment_data"]["settings"]["strategy-momentum"]
    for row in setting["table"]:
        if row["aggregator"] == "trimmed_0.1" and row["attack_set"] == "paper" and row["fraction"] >= 0.2:
            row["relative"]["per_seed"] = [0.75] * N
    assert analysis.largest_at(setting, "paper", "trimmed_0.1", 0.7) == [0.3] * N
    assert analysis.largest_at(setting, "paper", "trimmed_0.1", 0.9) == [0.1] * N
    (tmp_path / "again").mkdir()
    stored = _plant(tmp_path / "again", "momentum-protocol", [0.2] * N)["experiment_data"]["settings"]
    at_config = analysis.largest_at(stored["strategy-momentum"], "paper", "trimmed_0.1", SECTION["tolerance"])
    assert at_config == stored["strategy-momentum"]["largest_tolerated"]["paper"]["trimmed_0.1"]["per_seed"]
    assert _judge(data, "momentum-protocol-kept-0.7")["measurement"].values == [0.3] * N
    assert _judge(data, "momentum-protocol-kept-0.9")["measurement"].values == [0.1] * N


# --- the paired per-(f, attack) tests (the `paired` readings) -------------------------------

ATTACKS = ["random", "sign_flip", "extreme"]


def _cells(means: dict, sd=0.05, n=N, seed=0):
    """Planted margins: {f: {attack: n values around means[f][attack]}} (a normal noise of sd;
    None, a diverged run, kept as it is)."""
    rng = torch.Generator().manual_seed(seed)
    out = {}
    for f, attacks in means.items():
        out[f] = {}
        for a, m in attacks.items():
            noise = torch.randn(n, generator=rng, dtype=torch.float64) * sd
            out[f][a] = [None] * n if m is None else [m + float(e) for e in noise]
    return out


def _uniform(by_f: dict) -> dict:
    return {f: dict.fromkeys(ATTACKS, m) for f, m in by_f.items()}


@pytest.mark.parametrize(
    "means, low, high",
    [
        # kept at 0.1 and 0.2 under every attack, lost at 0.3 under one: the claim exactly
        ({**_uniform({0.1: 0.3, 0.2: 0.3}), 0.3: {"random": 0.3, "sign_flip": -0.3, "extreme": 0.3}}, 0.2, 0.2),
        # one attack at 0.2 within noise of the threshold: 0.2 neither kept nor lost
        (
            {**_uniform({0.1: 0.3}), 0.2: {"random": 0.3, "sign_flip": 0.0, "extreme": 0.3}, **_uniform({0.3: -0.3})},
            0.1,
            0.2,
        ),
        # nothing lost anywhere: the bracket is open above (the grid may end too soon)
        (_uniform({0.1: 0.3, 0.2: 0.3, 0.3: 0.3}), 0.3, math.inf),
        # a diverged attacked run at 0.2: a failure observed, lost whatever the other seeds say
        (
            {**_uniform({0.1: 0.3}), 0.2: {"random": None, "sign_flip": 0.3, "extreme": 0.3}, **_uniform({0.3: 0.3})},
            0.1,
            0.1,
        ),
    ],
)
def test_the_paired_bracket_reads_kept_and_lost_fractions(means, low, high):
    """Catches: a bracket that needs only some attack kept (the intersection), one that
    ignores a lost fraction or a diverged run, one closed above when nothing is lost."""
    estimate, table = analysis.kept_bracket(_cells(means), 0.9)
    assert (estimate.low, estimate.high) == (low, high), table
    assert estimate.low <= estimate.point <= estimate.high


def test_the_paired_tests_are_t_tests_of_the_margin_and_holm_over_the_cells():
    """Closed forms: each cell's p is the t distribution's tail at mean / (s / sqrt(n)), and a
    cell is lost when Holm's step-down (the i-th smallest p against alpha / (m - i + 1), until
    the first that is not) rejects it.  Catches a two-sided p, a z instead of t, Bonferroni's
    alpha / m (which would keep the p = 0.012 cell below) or no adjustment (which would lose
    the p = 0.04 cell)."""
    from scipy import stats

    cells = _cells({0.1: {"a": -0.05, "b": -0.3}, 0.2: {"a": -0.04, "b": 0.2}}, sd=0.08, seed=3)
    _, table = analysis.kept_bracket(cells, 0.9)
    for t in table:
        xs = cells[t["fraction"]][t["attack"]]
        mean = sum(xs) / len(xs)
        se = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) / len(xs))
        assert t["kept_p"] == pytest.approx(stats.t.sf(mean / se, len(xs) - 1), rel=1e-9)
        assert t["lost_p"] == pytest.approx(stats.t.cdf(mean / se, len(xs) - 1), rel=1e-9)
    ps = sorted(t["lost_p"] for t in table)
    holm = []
    for i, p in enumerate(ps):
        if p > 0.05 / (len(ps) - i):
            break
        holm.append(p)
    assert sorted(t["lost_p"] for t in table if t["lost"]) == holm


def test_the_paired_tests_use_the_pairing():
    """The clean decrease varies fivefold across seeds and the attacked run keeps 0.9 of it on
    every seed: the paired margin 0.1 x clean is significantly > 0 (kept), while a test of the
    attacked decreases' mean against 0.8 x the clean mean, unpaired, would see the seeds'
    spread and keep nothing.  Catches a margin computed from means rather than seed by seed."""
    clean = [0.2 + 0.08 * i for i in range(N)]
    setting = {
        "strategy": "momentum",
        "table": [{"aggregator": "t", "attack_set": "none", "attack": "none", "fraction": 0.0,
                   "loss_decrease": {"per_seed": clean}}]
        + [{"aggregator": "t", "attack_set": "paper", "attack": a, "fraction": 0.1,
            "loss_decrease": {"per_seed": [0.9 * c for c in clean]}} for a in ATTACKS],
    }  # fmt: skip
    cells = analysis.margins(setting, "paper", "t", 0.8)
    assert cells[0.1]["random"] == pytest.approx([0.1 * c for c in clean])
    estimate, _ = analysis.kept_bracket(cells, 0.9)
    assert estimate.low == 0.1


def _plant_paired(tmp_path, reading, kept_share: dict, clean=0.5):
    """The reading's cell with noisy seeds: the attacked decrease at f is kept_share[f] x the
    clean one plus noise (training), or the relative error 0.2 x (2 - kept_share[f] / 0.8)
    plus noise (static: the margin has the training one's sign).  The noise is an even spread
    of mean exactly 0, so that a share at the threshold is at it, not a draw away."""
    data = _plant(tmp_path, reading, [0.0] * N, clean=clean)
    select = READINGS[reading]["select"]
    target = "static" if select.get("static") else select["where"]["strategy"]
    setting = data["experiment_data"]["settings"][f"strategy-{target}"]
    noise = [0.02 * (i - (N - 1) / 2) / ((N - 1) / 2) for i in range(N)]
    for r in setting["table"]:
        if r["aggregator"] != select["aggregator"] or r["attack_set"] != select["attacks"] or r["fraction"] == 0:
            continue
        share = kept_share[r["fraction"]]
        if select.get("static"):
            r["relative_error"]["per_seed"] = [0.2 * (2 - share / 0.8) + e for e in noise]
        else:
            r["loss_decrease"]["per_seed"] = [share * clean + e for e in noise]
    return data


@pytest.mark.parametrize("reading", PAIRED)
@pytest.mark.parametrize(
    "shares, expected",
    [
        ({0.1: 1.0, 0.2: 0.95, 0.3: 0.3}, PASS),  # kept at 0.2, lost at 0.3
        ({0.1: 1.0, 0.2: 0.95, 0.3: 0.95}, FAIL),  # kept at 0.3 too
        ({0.1: 1.0, 0.2: 0.3, 0.3: 0.3}, FAIL),  # lost at 0.2
        ({0.1: 1.0, 0.2: 0.8, 0.3: 0.3}, INCONCLUSIVE),  # at the threshold at 0.2
    ],
)
def test_each_paired_reading_judges_its_own_cell_end_to_end(tmp_path, reading, shares, expected):
    """Through the real aggregation and the verdict rule.  Every other setting and cell is
    planted at 0 (nothing tolerated): a measure that read another one would FAIL."""
    result = _judge(_plant_paired(tmp_path, reading, shares), reading)
    assert result["verdict"] == expected, result["reason"]
    assert any("Paired tests per (f, attack)" in line for line in analysis.describe_c7(result["measurement"].details))


def test_the_median_readings_report_the_share_of_seeds_per_fraction(tmp_path):
    """The exact binomial share of seeds that tolerate each fraction (scipy's Clopper-Pearson).
    Catches a count of seeds that tolerate exactly f rather than at least f."""
    from scipy import stats

    result = _judge(_plant(tmp_path, "momentum-protocol", [0.1] * 8 + [0.2, 0.3]), "momentum-protocol")
    shares = result["measurement"].details["seeds_tolerating"]
    assert [shares[k]["k"] for k in ("0_1", "0_2", "0_3")] == [10, 2, 1]
    exact = stats.binomtest(2, 10).proportion_ci(0.95, method="exact")
    assert (shares["0_2"]["low"], shares["0_2"]["high"]) == (exact.low, exact.high)
    assert any("2/10" in line for line in analysis.describe_c7(result["measurement"].details))
