"""C1 (E2, K/D sweep) and C2 (E1, gradient variability) under every reading of claims.yaml.

Planted per-seed values go through the real aggregation (run files with valid provenance) and
the real evaluation of each reading's effective claim (paper_checks.catalog.readings_of), so a
measure that ignored a select key, read the wrong arm, setting or checkpoint, or compared
unpaired means would give a wrong verdict here.  The fixed-rate arm of E2 is checked bit for
bit against HoloGradRandom(clip_norm=1.0) built and trained directly."""

import json
import math

import pytest
import test_claim_rules as claim_rules
import torch
import yaml

from holograd.directions import DEFAULT_CHUNK_ELEMENTS
from holograd.experiments import kd_ratio as e2
from holograd.experiments.arms import Bench
from holograd.params import ParamSpace
from holograd.strategies import HoloGradRandom
from holograd.training import train
from paper_checks import evaluation
from paper_checks.analysis import find_setting
from paper_checks.catalog import load_claims, load_experiments, readings_of
from paper_checks.experiment import load_analysis
from paper_checks.experiments import kd_ratio as analysis_e2
from paper_checks.sweeps import resolve, setting_names
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

EXPERIMENTS = load_experiments()
CLAIMS = {c["id"]: c for c in load_claims(experiments=EXPERIMENTS)}
SCALE = {
    "model": "micro", "D": 1000, "corpus": "embedded", "tokenizer": "bpe", "vocab_size": 300, "block_size": 16,
    "batch_size": 8, "steps": 4,
}  # fmt: skip
CPU = torch.device("cpu")

E2_SECTION = {
    "model": "micro", "block_size": 16, "batch_size": 2, "steps": 4, "eval_every": 2, "eval_batches": 2,
    "tune_steps": 2, "kd": 0.01, "cos_draws": 2, "lr_grid": {"sgd": [1.0], "random": [1.0]}, "fixed_lr": 0.1,
    "seeds": [0, 1, 2], "sweep": {"kd": [0.001, 0.003, 0.01, 0.03, 0.1]},
}  # fmt: skip
GRID = E2_SECTION["sweep"]["kd"]
E1_SECTION = {
    "model": "micro", "block_size": 16, "batch_size": 8, "n_batches": 4, "checkpoints": [0, 5], "sgd_lr": 0.5,
    "seeds": [0, 1, 2], "sweep": {"batch_size": [8, 2]},
}  # fmt: skip


def plant(tmp_path, experiment, section, per_setting):
    """Run files with valid provenance for {setting: [metrics per seed]}, aggregated by the
    real stage; returns the data file's content."""
    return json.loads(claim_rules.plant(tmp_path, experiment, per_setting, section).read_text())


def judge(claim_id: str, data: dict, reading: str) -> tuple[str, list[dict]]:
    """The verdict of one reading (the framework's rule: every part judged, then combined)."""
    (effective,) = [r["claim"] for r in readings_of(CLAIMS[claim_id]) if r["id"] == reading]
    effective = {k: v for k, v in effective.items() if k != "region"}
    analysis = load_analysis(EXPERIMENTS[effective["experiment"]]["analysis"])
    results = evaluation.evaluate(effective, data, analysis)
    return evaluation.combine([r["verdict"] for r in results]), results


# --- C1 ---------------------------------------------------------------------------------------

N = 10  # seeds: the median's order-statistic interval needs 5 at alpha = 0.05 (and 8 at 0.005)
SGD = [0.30 + 0.04 * i for i in range(N)]  # SGD's per-seed decreases: a wide spread, so only pairing is sharp
JITTER = [0.001 * (i - 4.5) for i in range(N)]  # per-seed noise, small against every fraction planted
C1_READINGS = [(r["id"], r["select"]["rate"], r["select"]["sgd_fraction"]) for r in CLAIMS["C1"]["readings"]]
ARM = {"tuned": "random", "fixed": "random_fixed"}
DIVERGED = "loss nan is not finite at step 3"
E2_SEEDS = {**E2_SECTION, "seeds": list(range(N))}


def e2_runs(decreases: dict[str, dict[float, list]], stopped: dict | None = None, sgd=None, tuned=None) -> dict:
    """Planted E2 metrics: decreases[arm][kd] per seed (None: the run stopped, see `stopped`
    {(arm, kd, seed index): why}); the alignment sits at ratio 1 +- 0.45 % (part a passes)."""
    stopped, sgd = stopped or {}, sgd or SGD
    out = {}
    for kd in GRID:
        runs = []
        for i in range(N):
            dec = {arm: decreases[arm][kd][i] for arm in decreases} | {"sgd": sgd[i]}
            runs.append(
                {
                    # seeds that agreed to the last bit would have a zero-width interval
                    "kd": kd, "k": 10, "dim": 1000, "cosines": [kd**0.5 * (1 + JITTER[i])],
                    "cos_mean": kd**0.5 * (1 + JITTER[i]), "sqrt_kd": kd**0.5,
                    "cos_theory": kd**0.5, "loss_decrease": dec,
                    "fraction_of_sgd": dec["random"] / sgd[i] if dec["random"] is not None and sgd[i] else None,
                    "curves": {a: [[0, 5.0], [4, 5.0 - (d or 0.0)]] for a, d in dec.items()},
                    "lr": {"random": 0.01, "sgd": 1.0, "random_fixed": 0.1},
                    "stopped": {a: why for (a, k, s), why in stopped.items() if k == kd and s == i},
                    "max_update_norm": {a: 1.0 for a in dec},
                }
            )  # fmt: skip
        out[f"kd-{kd:g}"] = runs
    return out


def fraction_curve(q: dict[float, float], jitter: bool = True) -> dict[float, list[float]]:
    """An arm whose decrease is the fraction q[kd] of each seed's SGD decrease (+ jitter)."""
    return {kd: [q[kd] * s + (q[kd] * j if jitter else 0.0) for s, j in zip(SGD, JITTER)] for kd in GRID}


def trains_from(threshold: float | None) -> dict[float, list[float]]:
    """An arm at 0 of SGD's decrease below `threshold` and exactly at SGD's from it on (None:
    nowhere): every seed's crossing of F lies where the planted fraction is linear."""
    return fraction_curve({kd: 1.0 if threshold is not None and kd >= threshold else 0.0 for kd in GRID}, False)


def plant_c1(tmp_path, arms: dict, **kw) -> dict:
    return plant(tmp_path, "e2_kd_ratio", E2_SEEDS, e2_runs(arms, **kw))


def between(low: float, high: float, f: float) -> float:
    """The crossing of f where the fraction goes from 0 at `low` to 1 at `high`, linear in log K/D."""
    return 10 ** (math.log10(low) + f * (math.log10(high) - math.log10(low)))


@pytest.mark.parametrize("reading, rate, f", C1_READINGS)
@pytest.mark.parametrize(
    "thresholds, expected",
    [
        ([0.01] * N, PASS),  # every seed crosses between 0.003 and 0.01: inside [0.003, 0.03]
        ([0.001] * N, FAIL),  # at SGD's from the grid's smallest K/D on: the crossing lies below it
        ([None] * N, FAIL),  # nowhere up to 0.1: above
        ([0.001] * 5 + [None] * 5, INCONCLUSIVE),  # half below the grid, half above: the median's interval spans
    ],
)
def test_c1_every_reading_passes_fails_and_is_inconclusive(tmp_path, reading, rate, f, thresholds, expected):
    """Each seed's crossing of F is interpolated between the grid values that bracket it, and
    the median over seeds decides.  The reading's arm is planted, the other random arm never
    trains (so reading the wrong arm FAILs above), and the crossing depends on F (catches a
    measure that ignores select.sgd_fraction)."""
    arm = ARM[rate]
    other = "random_fixed" if arm == "random" else "random"
    mine = {kd: [trains_from(t)[kd][i] for i, t in enumerate(thresholds)] for kd in GRID}
    data = plant_c1(tmp_path, {arm: mine, other: trains_from(None)})
    verdict, results = judge("C1", data, reading)
    assert verdict == expected, [r["reason"] for r in results]
    b = results[1]["measurement"]
    crossings = {0.01: between(0.003, 0.01, f), 0.001: 0.001 / 10, None: 0.1 * 10}
    assert b.values == pytest.approx([crossings[t] for t in thresholds])
    assert b.details["c1b_reading"] == {"arm": arm, "sgd_fraction": f}


def test_c1_a_planted_crossing_is_recovered_within_its_interval(tmp_path):
    """Fractions linear in log10 K/D, each seed crossing 0.5 at its own c_s (a log-normal
    spread around 0.01): the interpolation recovers every c_s exactly (the fraction is linear
    between grid values), and the median's 90 % interval covers the population's 0.01."""
    import numpy as np

    c = 0.01 * 10 ** (0.15 * np.random.default_rng(4).standard_normal(N))
    per_seed = {kd: [(0.5 + 0.4 * (math.log10(kd) - math.log10(cs))) * s for cs, s in zip(c, SGD)] for kd in GRID}
    data = plant_c1(tmp_path, {"random": per_seed, "random_fixed": trains_from(None)})
    verdict, results = judge("C1", data, "tuned-half-sgd")
    b = results[1]
    assert b["measurement"].values == pytest.approx(list(c), rel=1e-9)
    assert b["decision"]["low"] <= 0.01 <= b["decision"]["high"] and verdict == PASS


def test_c1_the_fraction_is_paired_per_seed(tmp_path):
    """q_s = decrease_s / SGD_s per seed: planted at exactly 0.6 of each seed's own SGD
    decrease, every seed's fraction is 0.6 though SGD's decreases spread from 0.30 to 0.66 (an
    unpaired fraction, each seed over SGD's mean, would spread from 0.37 to 0.82)."""
    data = plant_c1(tmp_path, {"random": fraction_curve(dict.fromkeys(GRID, 0.6)), "random_fixed": trains_from(None)})
    _, results = judge("C1", data, "tuned-half-sgd")
    entry = results[1]["measurement"].details["training_by_kd"]["0.01"]
    assert entry["fraction_of_sgd"]["per_seed"] == pytest.approx([0.6 * (1 + j / s) for s, j in zip(SGD, JITTER)])
    assert judge("C1", data, "tuned-half-sgd")[0] == FAIL  # 0.6 >= 0.5 from the grid's smallest on: below
    assert judge("C1", data, "tuned-90-sgd")[0] == FAIL  # never 0.9: above


def test_c1_a_diverged_fixed_rate_run_is_a_k_d_that_does_not_train(tmp_path):
    """The fixed rate is not tuned, so a diverged run is a measured failure at that K/D: its
    fraction counts as below F, and that seed's crossing moves up the grid (between 0.01 and
    0.03) while the others stay.  Catches a rule that makes it INCONCLUSIVE or drops the seed."""
    fixed = trains_from(0.01)
    fixed[0.01][1] = None
    data = plant_c1(
        tmp_path, {"random_fixed": fixed, "random": trains_from(0.01)}, stopped={("random_fixed", 0.01, 1): DIVERGED}
    )
    verdict, results = judge("C1", data, "fixed-half-sgd")
    b = results[1]["measurement"]
    assert verdict == PASS and b.untestable is None, results[1]["reason"]
    assert b.values[1] == pytest.approx(between(0.01, 0.03, 0.5)) and b.values[0] == pytest.approx(
        between(0.003, 0.01, 0.5)
    )
    assert judge("C1", data, "tuned-half-sgd")[0] == PASS  # the tuned readings do not read the fixed arm


def test_c1_a_diverged_tuned_run_or_sgd_run_is_inconclusive(tmp_path):
    """A tuned rate was chosen not to diverge, and SGD is the yardstick: a stopped run of
    either leaves no fraction to read.  The fixed readings read SGD too."""
    runs = {"random": trains_from(0.01), "random_fixed": trains_from(0.01)}
    runs["random"][0.01][1] = None
    data = plant_c1(tmp_path, runs, stopped={("random", 0.01, 1): DIVERGED})
    verdict, results = judge("C1", data, "tuned-half-sgd")
    assert verdict == INCONCLUSIVE and "stopped early" in results[1]["reason"] and DIVERGED in results[1]["reason"]
    assert judge("C1", data, "fixed-half-sgd")[0] == PASS
    sgd = list(SGD)
    sgd[1] = None
    data = plant_c1(tmp_path, dict(runs, random=trains_from(0.01)), stopped={("sgd", 0.01, 1): DIVERGED}, sgd=sgd)
    for reading in ("tuned-half-sgd", "fixed-90-sgd"):
        verdict, results = judge("C1", data, reading)
        assert verdict == INCONCLUSIVE and "sgd at K/D 0.01, seed 1" in results[1]["reason"], results[1]["reason"]


def test_c1_a_tuned_rate_at_the_end_of_its_grid_is_inconclusive(tmp_path):
    """The tuned arm's rate at an end of the rates tried at some K/D: the tuned readings cannot
    be judged; the fixed ones (whose random arm is not tuned) can."""
    edge = {"random": {"lr": 3.0, "at_edge": True}, "sgd": {"lr": 1.0, "at_edge": False}}
    runs = claim_rules.write_runs(
        tmp_path, "e2_kd_ratio", e2_runs({"random": trains_from(0.01), "random_fixed": trains_from(0.01)}), E2_SEEDS,
        tuned=edge,
    )  # fmt: skip
    claim_rules.aggregate("e2_kd_ratio", E2_SEEDS, "cpu", claim_rules.CODE, runs, str(tmp_path / "e2.json"))
    data = json.loads((tmp_path / "e2.json").read_text())
    verdict, results = judge("C1", data, "tuned-half-sgd")
    assert verdict == INCONCLUSIVE and "tuned rate of random at K/D" in results[1]["reason"], results[1]["reason"]
    assert judge("C1", data, "fixed-half-sgd")[0] == PASS


def test_c1_an_sgd_that_does_not_learn_is_no_yardstick(tmp_path):
    """A fraction of SGD's decrease is a bar only if SGD learns: an SGD whose decrease is not
    significantly above 0 would let any arm clear it.  Catches a rule that passes on it."""
    flat = [0.01 * (i - 4.5) for i in range(N)]
    data = plant_c1(tmp_path, {"random": trains_from(0.01), "random_fixed": trains_from(0.01)}, sgd=flat)
    verdict, results = judge("C1", data, "tuned-half-sgd")
    assert verdict == INCONCLUSIVE and "SGD's loss decrease is not significantly above 0" in results[1]["reason"]


def test_c1_fixed_readings_without_the_fixed_arm_are_inconclusive(tmp_path):
    # A run from a config without fixed_lr has no random_fixed arm: the fixed readings cannot
    # be judged (SelectionError -> INCONCLUSIVE naming it), the tuned ones can.
    data = plant_c1(tmp_path, {"random": trains_from(0.01)})
    for reading, rate, _ in C1_READINGS:
        verdict, results = judge("C1", data, reading)
        if rate == "fixed":
            assert verdict == INCONCLUSIVE and "no random_fixed arm" in results[1]["reason"], results[1]["reason"]
        else:
            assert verdict in (PASS, FAIL)


def test_c1_a_bad_select_is_a_one_line_error():
    with pytest.raises(ValueError, match="select.rate"):
        analysis_e2.reading_of({"rate": "adaptive"})
    for bad in (-0.5, 0, 1.5):
        with pytest.raises(ValueError, match="sgd_fraction"):
            analysis_e2.reading_of({"rate": "tuned", "sgd_fraction": bad})


def test_e2_figure_marks_a_diverged_arm_and_every_reading(tmp_path, monkeypatch):
    # The figure must draw every arm, F x SGD's reference lines and each reading's crossing
    # from the readings, the (b) band, and mark a diverged K/D rather than draw it.  Catches a
    # figure that drops the fixed arm or types the fractions in.
    fixed = trains_from(0.01)
    fixed[0.03] = [None] * N
    data = plant_c1(
        tmp_path,
        {"random": trains_from(0.01), "random_fixed": fixed},
        stopped={("random_fixed", 0.03, i): DIVERGED for i in range(N)},
    )
    figures = []
    monkeypatch.setattr(analysis_e2, "finish", lambda fig, title, path: figures.append(fig))
    analysis_e2.plot({"experiment_data": data["experiment_data"], "scale": SCALE}, CLAIMS, tmp_path / "e2.png")
    (fig,) = figures
    labels = {t for ax in fig.axes for t in ax.get_legend_handles_labels()[1]}
    assert set(analysis_e2.ARM_LABELS.values()) <= labels
    assert {"0.5 x SGD's", "0.9 x SGD's", "0.1 x SGD's", "C1 (b) acceptance [0.003, 0.03]"} <= labels
    assert f"{analysis_e2.ARM_LABELS['random_fixed']} (diverged)" in labels
    assert all(any(label.startswith(f"{r}: median crossing") for label in labels) for r, _, _ in C1_READINGS)
    assert all(ax.get_xscale() == "log" for ax in fig.axes[:3])


# --- the fixed-rate arm, bit for bit --------------------------------------------------------


def test_the_fixed_rate_arm_is_clipped_holograd_random_bit_for_bit(token_cache, monkeypatch):
    # e2.run's random_fixed arm must be HoloGradRandom(k=K, clip_norm=1.0) at fixed_lr, on the
    # seed's weights and batches, not tuned: trained directly here, the final weights agree
    # exactly.  Catches a clip left out, the tuned rate used, another K or other seeds.  Its
    # ||g_hat|| stays <= 1 + rounding at every step (float32 norm of D entries with pairwise
    # summation: relative error ~ log2(D) x 6e-8 < 1e-5), and reaches 1: the clip acts.
    cfg = {k: v for k, v in E2_SECTION.items() if k not in ("seeds", "sweep")}
    cfg.update(kd=0.001, cos_draws=1, steps=4, batch_size=2)  # K = 23: 23 JVPs a step
    models = []
    build = Bench.model
    monkeypatch.setattr(Bench, "model", lambda self, seed: models.append(build(self, seed)) or models[-1])
    tuning = []
    monkeypatch.setattr(Bench, "tune", lambda self, arm, grid, seed, steps: tuning.append(arm) or {"lr": 0.5})
    tuned = e2.tune(cfg, token_cache, CPU)
    assert set(tuned) == {"random", "sgd"} and all("clip_norm" not in arm for arm in tuning)  # never tuned
    models.clear()
    seed = 1
    out = e2.run(cfg, seed, token_cache, CPU, tuned)
    assert out["lr"]["random_fixed"] == 0.1 and set(out["loss_decrease"]) == {"random", "sgd", "random_fixed"}
    fixed_model = models[-1]  # the alignment's model, then one per arm: random, sgd, random_fixed

    bench = Bench(cfg, token_cache, CPU)
    twin = build(bench, seed)
    direct = HoloGradRandom(twin, lr=0.1, k=out["k"], clip_norm=1.0, seed=seed, chunk_elements=DEFAULT_CHUNK_ELEMENTS)
    records = train(
        direct,
        bench.samples,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        data_seed=seed,
        held_out=bench.held_out,
        eval_every=cfg["eval_every"],
    )
    assert torch.equal(ParamSpace(fixed_model).get_flat(), ParamSpace(twin).get_flat())
    assert out["curves"]["random_fixed"] == [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    norms = [r["update_norm"] for r in records if "update_norm" in r]
    assert len(norms) == cfg["steps"] and max(norms) <= 1 + 1e-5
    assert max(norms) == pytest.approx(1.0, abs=1e-5)  # g_hat ~ sqrt(D/K) ||g|| > 1 here: clipped
    assert out["max_update_norm"]["random_fixed"] == max(norms)
    assert out["max_update_norm"]["random"] > 1  # the tuned arm is not clipped


def test_work_counts_the_fixed_rate_arm():
    # One more measured run with fixed_lr, none without, and no tuning of it.
    class Units:
        def startup(self):
            return 1.0

        def forward_backward(self, *shape):
            return 1.0

    class Model:
        u = Units()

        def __init__(self):
            self.runs, self.tuned = [], []

        def dim(self, cfg):
            return 1000

        def shape(self, cfg):
            return ()

        def directions(self, cfg, k):
            return 0.0

        def run(self, cfg, arm, steps):
            self.runs.append(arm)
            return 10.0

        def tuning(self, cfg, grids):
            self.tuned += [arm for arm, _ in grids]
            return 5.0

        def shared(self, cfg, arm, steps, runs):  # what training together saves (estimate_suite)
            self.sharing = (arm, runs)
            return 3.0

    cfg = {k: v for k, v in E2_SECTION.items() if k not in ("seeds", "sweep")}
    with_fixed, without = Model(), Model()
    job = {stage: sec for stage, _, sec in analysis_e2.work(with_fixed, cfg)}["runs"]
    base = {
        stage: sec for stage, _, sec in analysis_e2.work(without, {k: v for k, v in cfg.items() if k != "fixed_lr"})
    }
    base = base["runs"]
    # one more run, less the directions it shares with the random arm it trains beside
    assert job - base == 10.0 - 3.0 and {"kind": "random", "k": 10, "clip_norm": 1.0} in with_fixed.runs
    assert with_fixed.sharing == ({"kind": "random", "k": 10}, 2)
    assert all("clip_norm" not in arm for arm in with_fixed.tuned)


# --- C2 ---------------------------------------------------------------------------------------

C2_READINGS = [r["id"] for r in CLAIMS["C2"]["readings"]]
POINTS = {  # (batch size, checkpoint step) each reading reads
    "last-checkpoint": (8, 5),
    "initialisation": (8, 0),
    "init-authors-batch": (2, 0),
}
OFF = 0.5  # what every point a reading does not read holds: FAIL for every reading


def e1_runs(values: dict[tuple[int, int], list[float]], batch_sizes=(8, 2)) -> dict:
    """Planted E1 metrics per setting: the mean pairwise cosine per (batch, step) per seed."""
    out = {}
    for b in batch_sizes:
        out[f"batch_size-{b}"] = [
            {
                "checkpoints": [
                    {
                        "step": step,
                        "mean_pairwise_cosine": values.get((b, step), [OFF] * 3)[i],
                        "pairwise_cosines": [values.get((b, step), [OFF] * 3)[i]] * 6,
                        "variance_ratio": 0.9,
                        "loo_reconstruction_cosine": 0.3,
                        "grad_norm_mean": 1.0,
                        "train_loss": None,
                    }  # fmt: skip
                    for step in (0, 5)
                ]
            }
            for i in range(3)
        ]
    return out


@pytest.mark.parametrize("reading", C2_READINGS)
@pytest.mark.parametrize(
    "values, expected",
    [([0.07, 0.072, 0.068], PASS), ([0.28, 0.29, 0.27], FAIL), ([0.11, 0.09, 0.13], INCONCLUSIVE)],
)
def test_c2_every_reading_reads_its_batch_size_and_checkpoint(tmp_path, reading, values, expected):
    # Every other (batch, step) holds 0.5 (FAIL): a reading that read the wrong setting or
    # checkpoint would FAIL where PASS or INCONCLUSIVE is expected, or read other values.
    point = POINTS[reading]
    data = plant(tmp_path, "e1_gradient_variability", E1_SECTION, e1_runs({point: values}))
    verdict, (result,) = judge("C2", data, reading)
    assert verdict == expected, result["reason"]
    assert result["measurement"].values == values
    details = result["measurement"].details
    assert (details["batch_size"], details["checkpoint_step"], details["block_size"]) == (*point, 16)


def test_c2_without_the_authors_batch_setting_is_inconclusive(tmp_path):
    section = {**E1_SECTION, "sweep": {"batch_size": [8]}}
    data = plant(
        tmp_path, "e1_gradient_variability", section, e1_runs({(8, 5): [0.07, 0.072, 0.068]}, batch_sizes=(8,))
    )
    verdict, (result,) = judge("C2", data, "init-authors-batch")
    assert verdict == INCONCLUSIVE and "no setting with batch_size = 2" in result["reason"], result["reason"]
    assert judge("C2", data, "last-checkpoint")[0] == PASS


@pytest.mark.parametrize("config", ["config/config.yaml", "config/smoke.yaml", "config/paper.yaml"])
def test_every_config_runs_every_reading(config):
    # C2: each reading's `where` picks exactly one setting of the config (find_setting), and
    # its checkpoint exists; C1: the fixed-rate arm runs.  The default has >= 3 seeds.
    sections = yaml.safe_load(open(config))["experiments"]
    e1 = sections["e1_gradient_variability"]
    data = {"settings": {name: {"config": resolve(e1, name)} for name in setting_names(e1)}}
    for r in readings_of(CLAIMS["C2"]):
        name, setting = find_setting(data, r["select"])
        assert setting["config"]["batch_size"] == r["select"]["where"]["batch_size"]
        assert r["select"]["checkpoint"] == "last" or 0 in e1["checkpoints"]
    e2_cfg = {k: v for k, v in sections["e2_kd_ratio"].items() if k != "k"} | {"kd": 0.01}
    assert e2.arms(e2_cfg, 1000)["random_fixed"] == {"kind": "random", "k": 10, "clip_norm": 1.0}
    if config == "config/config.yaml":
        assert len(e1["seeds"]) >= 3 and len(sections["e2_kd_ratio"]["seeds"]) >= 3
        assert e1["checkpoints"] == [0, 100, 300] and sections["e2_kd_ratio"]["fixed_lr"] == 0.1
    if config == "config/paper.yaml":  # the authors' setting: gpt2like, 128 tokens, batches of 2, at init
        authors = resolve(e1, "batch_size-2")
        assert (authors["model"], authors["block_size"], authors["batch_size"]) == ("gpt2like", 128, 2)


def test_the_claim_figure_says_which_crossings_lie_beyond_the_grid():
    """A crossing beyond the grid is drawn a decade out; the figure's row says so and how many
    seeds.  Catches a placeholder K/D drawn as if it were measured."""
    from paper_checks.experiments.kd_ratio import beyond_grid

    crossings = [{"seed": s, "kd": 1e-4, "beyond_grid": "below"} for s in range(3)]
    crossings.append({"seed": 3, "kd": 0.002, "beyond_grid": ""})
    ((label, values, estimate),) = beyond_grid({"crossings": crossings})
    assert label == "3 of 4 seeds cross below the grid: drawn a decade below" and values == [] and estimate == {}
    assert beyond_grid({}) == []
