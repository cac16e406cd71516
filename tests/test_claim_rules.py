"""Each claim rule on planted measurements: it must be able to PASS, FAIL and come out
INCONCLUSIVE.  Planted per-seed values go through the real stages (run files with
provenance -> aggregation.aggregate_experiment -> evaluation.evaluate_claim), so a rule that ignored its
data, read the wrong field or could not fail would be caught here."""

import json
from pathlib import Path

import pytest

from paper_checks import aggregation, evaluation
from paper_checks.catalog import load_claims, load_experiments
from paper_checks.hashing import config_hash
from paper_checks.sweeps import job_config, setting_names
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

EXPERIMENTS = load_experiments()
CLAIMS = {c["id"]: c for c in load_claims(experiments=EXPERIMENTS)}
SCALE = {
    "model": "micro",
    "D": 1000,
    "corpus": "embedded",
    "tokenizer": "bpe",
    "vocab_size": 300,
    "block_size": 16,
    "batch_size": 8,
    "steps": 0,
}
ENV = {"torch": "x", "python": "3", "device": "cpu (test)", "threads": 1, "git_commit": "abc"}
CODE = "c0de" * 16  # the measurement code's hash that aggregation expects
TOKENS = {"path": "tokens.pt", "sha256": "70" * 32}

SECTIONS = {
    "e1_gradient_variability": {
        "model": "micro", "block_size": 16, "batch_size": 8, "n_batches": 4, "checkpoints": [0, 5], "sgd_lr": 0.5,
        "seeds": [0, 1, 2],
    },
    "e5_unbiased_estimator": {
        "model": "micro", "block_size": 16, "batch_size": 4, "k": 16, "draws": [1, 4], "control_scale": 0.5,
        "chunk_elements": 4096, "seeds": [0, 1, 2],
    },
    "e6_pogp_verification": {
        "model": "micro", "block_size": 16, "batch_size": 2, "n_proofs": 2, "eps": 1e-4,
        "cheating": {"p": [0.5], "q": [0.5], "m": 4, "trials": 10, "offset": 0.01}, "seeds": [0, 1, 2],
    },
}  # fmt: skip


def e1_metrics(cosine):
    point = {
        "mean_pairwise_cosine": cosine,
        "pairwise_cosines": [cosine] * 6,
        "variance_ratio": 1 - cosine,
        "loo_reconstruction_cosine": 0.3,
        "grad_norm_mean": 1.0,
    }
    # at step 0: 0.5, moved with the seed's cosine (identical values would have an interval of
    # zero width, which decides nothing)
    return {"checkpoints": [{**point, "step": 0, "mean_pairwise_cosine": 0.5 + (cosine - 0.07)}, {**point, "step": 5}]}


def e5_metrics(r, control_r):
    def arm(x):
        return {"r": x, "relative_error": x**0.5, "bias_along_g": 0.01 * (x - 1)}  # varies with the seed

    return {
        "grad_norm": 1.0,
        "points": [
            {
                "draws": n,
                "directions": 16 * n,
                "theory_relative_error": 1.0,
                "estimator": arm(r),
                # the control varies with the seed as the estimator does (identical values have a
                # zero-width interval, which decides nothing)
                "control": arm(control_r + 0.01 * (r - 1)),
            }
            for n in (1, 4)
        ],
    }


def e6_metrics(max_diff):
    proofs = {
        "worker": [0.01, 0.02],
        "verifier": [0.01 + max_diff, 0.02],
        "verifier_threads": [0.01, 0.02],
        "backprop": [0.01, 0.02],
        "float64": [0.01, 0.02],
    }
    cheaters = [
        {
            "p": 0.5,
            "q": 0.5,
            "m": 4,
            "invalid_per_step": 2,
            "trials": 10,
            "caught": 7,
            "theory": 0.75,
            "false_rejections": 0,
        }
    ]
    diffs = {"verifier": max_diff, "verifier_threads": 0.0, "backprop": 1e-9, "float64": 1e-9}
    return {
        "proofs": proofs,
        "max_abs_diff": diffs,
        "median_abs_a": 0.015,
        "recommended_eps": 1e-7,
        "cheaters": cheaters,
    }


def write_runs(tmp_path, experiment, per_seed_metrics, section=None, **fields) -> list[str]:
    """Planted run files with valid provenance (fields override record entries).
    per_seed_metrics: one metrics dict per seed, or {setting: [...]} to plant per setting."""
    section = section or SECTIONS[experiment]
    runs = []
    for setting in setting_names(section):
        metrics_of_seeds = per_seed_metrics[setting] if isinstance(per_seed_metrics, dict) else per_seed_metrics
        for seed, metrics in zip(section["seeds"], metrics_of_seeds):
            config = job_config(section, setting, "cpu")
            record = {
                "experiment": experiment, "setting": setting, "seed": seed,
                "config": config, "config_sha256": config_hash(config), "code_sha256": CODE,
                "tokens": TOKENS, "scale": SCALE, "environment": ENV, "metrics": metrics,
            }  # fmt: skip
            record.update({k: v(seed) if callable(v) else v for k, v in fields.items()})
            path = tmp_path / f"{setting}-seeds{seed}.json"  # a job of one seed (paper_checks.runner)
            job = {"experiment": experiment, "setting": setting, "seeds": [seed], "runs": [record]}
            path.write_text(json.dumps({**job, "timing": {"seeds": {str(seed): {"wall_seconds": 1.0}}}}))
            runs.append(str(path))
    return runs


def aggregate(experiment, *args):
    """The real aggregation stage, with the experiment's analysis module from the catalog."""
    aggregation.aggregate_experiment(experiment, EXPERIMENTS[experiment]["analysis"], *args)


def plant(tmp_path, experiment, per_seed_metrics, section=None):
    """Planted run files aggregated by the real stage; returns the data file."""
    section = section or SECTIONS[experiment]
    runs = write_runs(tmp_path, experiment, per_seed_metrics, section)
    out = tmp_path / f"{experiment}.json"
    aggregate(experiment, section, "cpu", CODE, runs, str(out))
    return out


def verdict_of(tmp_path, claim_id, data_file, **overrides):
    claim = {**CLAIMS[claim_id], **overrides}
    claim = {k: v for k, v in claim.items() if k != "region"}
    out, fig = tmp_path / f"{claim_id}.json", tmp_path / f"{claim_id}.png"
    evaluation.evaluate_claim(claim, EXPERIMENTS[claim["experiment"]], str(data_file), str(out), str(fig), CODE)
    assert fig.stat().st_size > 0
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    "cosines, expected",
    [([0.07, 0.072, 0.068], PASS), ([0.28, 0.29, 0.27], FAIL), ([0.11, 0.09, 0.13], INCONCLUSIVE)],
)
def test_c2(tmp_path, cosines, expected):
    v = verdict_of(tmp_path, "C2", plant(tmp_path, "e1_gradient_variability", [e1_metrics(c) for c in cosines]))
    assert v["verdict"] == expected, v["reason"]
    assert v["measured"]["per_seed"] == cosines  # the last checkpoint, not step 0 (0.5)
    assert v["details"]["checkpoint_step"] == 5


def test_c2_missing_setting_is_inconclusive(tmp_path):
    section = {**SECTIONS["e1_gradient_variability"], "batch_size": 16}
    data = plant(tmp_path, "e1_gradient_variability", [e1_metrics(0.07)] * 3, section)
    v = verdict_of(tmp_path, "C2", data)
    assert v["verdict"] == INCONCLUSIVE and "no setting with batch_size = 8" in v["reason"]


@pytest.mark.parametrize(
    "rs, control, expected, words",
    [
        # C6's primary reading is decided at the family's alpha = 0.005 (99 % interval; with
        # three seeds t = 9.92): [0.859, 1.148] lies inside [0.8, 1.25]
        ([1.0, 0.98, 1.03], [0.26, 0.25, 0.24], PASS, "lies inside"),
        ([2.0, 2.1, 1.9], [0.5, 0.52, 0.49], FAIL, "above"),
        ([1.3, 1.1, 1.5], [0.3, 0.3, 0.3], INCONCLUSIVE, "reaches across"),
        ([1.0, 0.98, 1.03], [0.9, 1.0, 1.1], INCONCLUSIVE, "negative control"),  # control not rejected
    ],
)
def test_c6(tmp_path, rs, control, expected, words):
    data = plant(tmp_path, "e5_unbiased_estimator", [e5_metrics(r, c) for r, c in zip(rs, control)])
    v = verdict_of(tmp_path, "C6", data)
    assert v["verdict"] == expected and words in v["reason"], v["reason"]
    assert v["details"]["draws"] == 4  # "largest"


@pytest.mark.parametrize(
    "diffs, expected",
    [
        ([0.0, 0.0, 0.0], PASS),
        ([0.0, 5e-5, 0.0], PASS),
        ([1e-3, 2e-3, 1.5e-3], FAIL),
        # one seed over eps is a counterexample: the mean of the maxima (9.7e-5) would pass
        ([0.0, 0.0, 2.9e-4], FAIL),
    ],
)
def test_c8(tmp_path, diffs, expected):
    v = verdict_of(tmp_path, "C8", plant(tmp_path, "e6_pogp_verification", [e6_metrics(d) for d in diffs]))
    assert v["verdict"] == expected, v["reason"]
    assert v["measured"]["point"] == max(diffs)


def test_one_seed_is_inconclusive(tmp_path):
    """A value inside the region but from one seed has no CI: INCONCLUSIVE, never PASS."""
    section = {**SECTIONS["e1_gradient_variability"], "seeds": [0]}
    v = verdict_of(tmp_path, "C2", plant(tmp_path, "e1_gradient_variability", [e1_metrics(0.07)], section))
    assert v["verdict"] == INCONCLUSIVE and "at least two seeds" in v["reason"]


def test_claims_read_the_selected_setting_of_a_sweep(tmp_path):
    """C6 selects k = 16 from a sweep over k: planted k = 1 values would FAIL, k = 16 PASS.
    Catches a rule that reads the first setting, or pools the sweep."""
    section = {**SECTIONS["e5_unbiased_estimator"], "sweep": {"k": [1, 16]}}
    planted = {
        "k-1": [e5_metrics(r, 0.25) for r in (2.0, 2.1, 1.9)],
        "k-16": [e5_metrics(r, 0.25) for r in (1.0, 0.98, 1.03)],
    }
    v = verdict_of(tmp_path, "C6", plant(tmp_path, "e5_unbiased_estimator", planted, section))
    assert v["verdict"] == PASS and v["details"]["k"] == 16 and v["measured"]["per_seed"] == [1.0, 0.98, 1.03]
    # a where that matches both settings cannot be tested
    # (readings=None: the claim as written, with no reading's select merged over it)
    data = tmp_path / "e5_unbiased_estimator.json"
    v = verdict_of(tmp_path, "C6", data, select={"where": {}, "draws": "largest"}, readings=None)
    assert v["verdict"] == INCONCLUSIVE and "2 settings match" in v["reason"]


def test_init_means_step_zero(tmp_path):
    section = {**SECTIONS["e1_gradient_variability"], "checkpoints": [3, 5]}
    metrics = {"checkpoints": [{**e1_metrics(0.07)["checkpoints"][1], "step": s} for s in (3, 5)]}
    v = verdict_of(
        tmp_path,
        "C2",
        plant(tmp_path, "e1_gradient_variability", [metrics] * 3, section),
        select={"where": {"batch_size": 8}, "checkpoint": "init"},
        readings=None,
    )
    assert v["verdict"] == INCONCLUSIVE and "no checkpoint at step 0" in v["reason"]


def test_editing_the_region_changes_the_verdict(tmp_path):
    data = plant(tmp_path, "e1_gradient_variability", [e1_metrics(c) for c in (0.28, 0.29, 0.27)])
    assert verdict_of(tmp_path, "C2", data)["verdict"] == FAIL
    assert verdict_of(tmp_path, "C2", data, acceptance="[0.2, 0.35]")["verdict"] == PASS


def test_verdict_json_fields(tmp_path):
    v = verdict_of(tmp_path, "C8", plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3))
    for key in (
        "claim",
        "statement",
        "expected",
        "acceptance",
        "measured",
        "verdict",
        "reason",
        "figure",
        "data_files",
        "config",
        "scale",
        "environment",
        "timing",
    ):
        assert key in v
    assert set(v["measured"]) >= {"point", "low", "high", "n", "per_seed"}
    assert len(v["data_files"][0]["sha256"]) == 64
    assert v["environment"]["git_commits"] == ["abc"] and "verdict_git_commit" in v["environment"]


def test_aggregate_refuses_runs_from_another_config(tmp_path):
    data = plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    runs = [r["path"] for r in json.loads(data.read_text())["runs"]]
    changed = {**SECTIONS["e6_pogp_verification"], "eps": 1e-3}
    with pytest.raises(aggregation.ProvenanceError, match="different configuration"):
        aggregate("e6_pogp_verification", changed, "cpu", CODE, runs, str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_aggregate_refuses_runs_from_other_code_or_corpus(tmp_path):
    section, out = SECTIONS["e6_pogp_verification"], str(tmp_path / "x.json")
    runs = write_runs(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    with pytest.raises(aggregation.ProvenanceError, match="different measurement code"):
        aggregate("e6_pogp_verification", section, "cpu", "f" * 64, runs, out)
    runs = write_runs(
        tmp_path,
        "e6_pogp_verification",
        [e6_metrics(0.0)] * 3,
        tokens=lambda seed: {"path": "t.pt", "sha256": str(seed)},
    )
    with pytest.raises(aggregation.ProvenanceError, match="3 different token caches"):
        aggregate("e6_pogp_verification", section, "cpu", CODE, runs, out)
    assert not (tmp_path / "x.json").exists()


def test_aggregate_refuses_missing_seeds(tmp_path):
    data = plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    runs = [r["path"] for r in json.loads(data.read_text())["runs"]][:2]
    with pytest.raises(aggregation.ProvenanceError, match="do not match"):
        aggregate("e6_pogp_verification", SECTIONS["e6_pogp_verification"], "cpu", CODE, runs, str(tmp_path / "x.json"))


def _grouped(tmp_path, runs: list[str], name: str) -> str:
    """The jobs of one seed each merged into one job file of all their seeds, as a job of
    several seeds writes it (paper_checks.runner.run_experiment)."""
    jobs = [json.loads(Path(r).read_text()) for r in runs]
    seeds = [s for job in jobs for s in job["seeds"]]
    timing = {"seeds": {k: v for job in jobs for k, v in job["timing"]["seeds"].items()}}
    merged = {**jobs[0], "seeds": seeds, "runs": [r for job in jobs for r in job["runs"]], "timing": timing}
    path = tmp_path / name
    path.write_text(json.dumps(merged))
    return str(path)


def test_aggregation_reads_a_record_per_seed_whatever_the_grouping(tmp_path):
    """Seeds grouped in one job file aggregate to the data of one file per seed (timing and
    file checksums apart); a seed found twice, or a file whose records are not its seeds',
    is refused.  Catches an aggregation that reads one record per file or double-counts."""
    section = SECTIONS["e6_pogp_verification"]
    runs = write_runs(tmp_path, "e6_pogp_verification", [e6_metrics(d) for d in (0.0, 1e-6, 3e-6)])
    single, grouped = tmp_path / "single.json", tmp_path / "grouped.json"
    aggregate("e6_pogp_verification", section, "cpu", CODE, runs, str(single))
    together = [_grouped(tmp_path, runs[:2], "base-seeds0_1.json"), runs[2]]
    aggregate("e6_pogp_verification", section, "cpu", CODE, together, str(grouped))
    a, b = json.loads(single.read_text()), json.loads(grouped.read_text())
    assert a["experiment_data"] == b["experiment_data"]
    assert [(r["setting"], r["seed"]) for r in a["runs"]] == [(r["setting"], r["seed"]) for r in b["runs"]]
    with pytest.raises(aggregation.ProvenanceError, match="has two records"):
        aggregate("e6_pogp_verification", section, "cpu", CODE, together + [runs[0]], str(tmp_path / "x.json"))
    content = json.loads(Path(together[0]).read_text())
    Path(together[0]).write_text(json.dumps({**content, "seeds": [1, 0]}))
    with pytest.raises(aggregation.ProvenanceError, match="not a measurement file"):
        aggregate("e6_pogp_verification", section, "cpu", CODE, together, str(tmp_path / "x.json"))


# --- the training experiments' claims -------------------------------------------------------

TRAINING = {
    "block_size": 16,
    "batch_size": 2,
    "steps": 4,
    "eval_every": 2,
    "eval_batches": 2,
    "tune_steps": 2,
    "seeds": [0, 1, 2],
}
SECTIONS.update(
    {
        "e2_kd_ratio": {
            **TRAINING, "model": "micro", "kd": 0.01, "cos_draws": 2, "lr_grid": {"sgd": [1.0], "random": [1.0]},
            "sweep": {"kd": [0.001, 0.003, 0.01, 0.03, 0.1]}, "seeds": list(range(10)),
        },
        "e3_momentum_comparison": {
            **TRAINING, "model": "micro", "n_workers": 4, "k_random": 8, "beta": 0.9, "cold_start_steps": 1,
            "lr_grid": {},
        },
        "e4_adc_energy": {
            **TRAINING, "model": "micro", "k": 4, "ranks": [8, 32], "warm_start": "random", "warm_steps": 2,
            "alpha": 1e-3, "qr_every": 5, "lr_grid": {},
        },
        "e7_byzantine": {
            **TRAINING, "model": "micro", "strategy": "momentum", "n_workers": 10, "beta": 0.9, "cold_start_steps": 1,
            "fractions": [0, 0.1, 0.2, 0.3], "attacks": ["sign_flip"], "taus": [0.1], "tolerance": 0.8, "lr_grid": {},
            "sweep": {"strategy": ["momentum"]}, "seeds": list(range(10)),
        },
    }
)  # fmt: skip
CURVE = [[0, 5.0], [4, 4.9]]


def e2_metrics(kd_ratio, decreases):
    """Planted E2 runs: per K/D setting, one metrics dict per seed.  cos = ratio * sqrt(K/D)."""
    out = {}
    for kd in SECTIONS["e2_kd_ratio"]["sweep"]["kd"]:
        out[f"kd-{kd:g}"] = [
            {
                "kd": kd, "k": 10, "dim": 1000, "cosines": [r * kd**0.5], "cos_mean": r * kd**0.5, "sqrt_kd": kd**0.5,
                "cos_theory": kd**0.5, "loss_decrease": {"random": d, "sgd": 0.5}, "fraction_of_sgd": d / 0.5,
                "curves": {"random": CURVE, "sgd": CURVE},
                "lr": {"random": 0.01, "sgd": 1.0}, "stopped": {},
            }
            for r, d in zip(kd_ratio, decreases[kd])
        ]  # fmt: skip
    return out


# ten seeds (the median's interval at the family's alpha = 0.005 needs eight); SGD decreases by
# 0.5 on every seed, so a decrease d is the fraction 2 d of SGD's
SPREAD = [0.001 * (i - 4.5) for i in range(10)]
NOISE = SPREAD  # about none of SGD's decrease
SIGNAL = [0.5 + x for x in SPREAD]  # about all of it
ALIGNED = [1.0 + x for x in SPREAD]  # C1 (a)'s ratio: 99 % interval [0.997, 1.003]


@pytest.mark.parametrize(
    "ratios, trains_from, expected, words",
    [
        (ALIGNED, 0.01, PASS, "part a: PASS"),  # every seed crosses half of SGD's between 0.003 and 0.01
        (ALIGNED, 0.001, FAIL, "part b: FAIL"),  # at SGD's from the grid's smallest K/D: below the region
        (ALIGNED, None, FAIL, "part b: FAIL"),  # nowhere up to 0.1: above
        ([0.7, 1.1] * 5, 0.01, INCONCLUSIVE, "part a: INCONCLUSIVE"),
        ([0.5 + x for x in SPREAD], 0.01, FAIL, "part a: FAIL"),
    ],
)
def test_c1(tmp_path, ratios, trains_from, expected, words):
    grid = SECTIONS["e2_kd_ratio"]["sweep"]["kd"]
    decreases = {kd: SIGNAL if trains_from is not None and kd >= trains_from else NOISE for kd in grid}
    v = verdict_of(tmp_path, "C1", plant(tmp_path, "e2_kd_ratio", e2_metrics(ratios, decreases)))
    assert v["verdict"] == expected and words in v["reason"], v["reason"]
    assert [p["part"] for p in v["parts"]] == ["a", "b"]
    if trains_from == 0.01:  # the median crossing, interpolated between the grid's 0.003 and 0.01
        assert 0.003 < v["parts"][1]["measured"]["point"] < 0.01


def e3_metrics(momentum_alignment, random_alignment, momentum_decrease, sgd_decrease):
    def arm(alignment, decrease, scalars):
        return {
            "lr": 1.0,
            "curve": CURVE,
            "loss_decrease": decrease,
            "stopped": None,
            "alignment": alignment,
            "scalars_per_step": scalars,
            "scalars_per_worker_per_step": scalars / 4,
            "bytes_per_step": 4 * scalars,
        }

    arms = {
        "random_k64": arm(0.01, 0.1, 8), "random_k1": arm(random_alignment, 0.01, 1),
        "momentum": arm(momentum_alignment, momentum_decrease, 4),
        "momentum_alg3": arm(momentum_alignment, momentum_decrease / 2, 4),
        "sgd": arm(float("nan"), sgd_decrease, 4000),
    }  # fmt: skip
    return {"arms": arms, "dim": 1000, "random_alignment_theory": 0.025}


@pytest.mark.parametrize(
    "momentum, expected",
    [([0.18, 0.17, 0.19], PASS), ([0.005, 0.006, 0.004], FAIL), ([0.04, 0.08, 0.1], INCONCLUSIVE)],
)
def test_c3(tmp_path, momentum, expected):
    v = verdict_of(
        tmp_path, "C3", plant(tmp_path, "e3_momentum_comparison", [e3_metrics(m, 0.001, 0.35, 1.0) for m in momentum])
    )
    assert v["verdict"] == expected, v["reason"]
    # the primary reading judges the momentum alignment itself against the paper's 0.18 (no
    # D in it); the ratio over random K = 1 (not K = 64) at our D is reported beside it
    assert v["measured"]["per_seed"] == momentum
    assert v["details"]["ratio_at_our_D"]["point"] == pytest.approx(sum(m / 0.001 for m in momentum) / 3)
    assert v["details"]["predicted_for_paper"]["D"] == 16_058_112


@pytest.mark.parametrize(
    "momentum_decrease, expected",
    # PASS at the family's alpha = 0.005 with three seeds needs a spread small against the
    # region's half-width 0.05 (t = 9.92): [0.339, 0.361]
    [([0.35, 0.348, 0.352], PASS), ([0.01, 0.02, 0.015], FAIL), ([0.2, 0.28, 0.36], INCONCLUSIVE)],
)
def test_c4(tmp_path, momentum_decrease, expected):
    v = verdict_of(
        tmp_path,
        "C4",
        plant(tmp_path, "e3_momentum_comparison", [e3_metrics(0.1, 0.001, d, 1.0) for d in momentum_decrease]),
    )
    assert v["verdict"] == expected, v["reason"]
    assert v["measured"]["per_seed"] == pytest.approx(momentum_decrease)  # Theorem 3's variant, over SGD's 1.0


def test_a_run_measured_at_the_next_lower_rate_is_flagged_not_dropped(tmp_path):
    """A run that diverged at its tuned rate and was measured at the next lower one (the
    pre-registered rerun) counts, and the verdict's measurement names it with both rates.
    Catches a rerun that goes unreported, or one that makes the claim untestable."""
    runs = [e3_metrics(0.1, 0.001, d, 1.0) for d in [0.35, 0.348, 0.352]]
    runs[1]["arms"]["momentum"]["diverged_at"] = {"lr": 3.0, "stopped": DIVERGED}
    v = verdict_of(tmp_path, "C4", plant(tmp_path, "e3_momentum_comparison", runs))
    assert v["verdict"] == PASS, v["reason"]
    assert "rerun at the next lower rate after diverging: momentum seed 1: lr 3 -> 1" in v["measured"]["label"]


def test_c4_is_a_ratio_of_means_not_a_mean_of_ratios(tmp_path):
    """One seed whose SGD barely learns (0.01) makes its per-seed ratio 35: the mean of the
    per-seed ratios (11.9) would FAIL far above [0.30, 0.40]; the ratio of the mean decreases,
    0.35 / 0.67 = 0.52, with Fieller's interval, is what C4 judges (and reports the old
    statistic beside it).  Catches a C4 that averages per-seed ratios (issue 25)."""
    runs = [e3_metrics(0.1, 0.001, 0.35, sgd) for sgd in (1.0, 1.0, 0.01)]
    v = verdict_of(tmp_path, "C4", plant(tmp_path, "e3_momentum_comparison", runs))
    assert v["measured"]["point"] == pytest.approx(0.35 / 0.67)
    assert v["details"]["mean_of_per_seed_ratios"]["point"] == pytest.approx((0.35 + 0.35 + 35) / 3)
    assert v["parts"][0]["measured"]["per_seed"] == pytest.approx([0.35, 0.35, 35.0])  # the dots: per-seed ratios


def e4_metrics(trend, advantage):
    def arm(energy_trend, decrease):
        return {
            "lr": 0.1,
            "warm_lr": 0.01,
            "curve": CURVE,
            "loss_decrease": decrease,
            "stopped": None,
            "energy": [0.1, 0.1 + energy_trend],
            "energy_trend": energy_trend,
        }

    return {
        "warm_start": "random",
        "dim": 1000,
        "arms": {
            "adc_r8": arm(-1.0, 0.0),
            "adc_r32": arm(trend, 0.2 + advantage),
            "adc_off": {**arm(float("nan"), 0.2), "energy": []},
        },
    }


ADVANTAGE = [0.05, 0.052, 0.048]  # ADC-on's advantage: 99 % interval [0.0385, 0.0615], above 0.01


@pytest.mark.parametrize(
    "trends, advantages, expected, words",
    [
        ([0.1, 0.12, 0.11], ADVANTAGE, PASS, "part a: PASS"),
        ([-0.1, -0.12, -0.11], ADVANTAGE, FAIL, "part a: FAIL"),
        ([0.1, 0.12, 0.11], [-a for a in ADVANTAGE], FAIL, "part b: FAIL"),
        # the mean trend lies above the minimum effect 0.01 but its interval reaches below it
        ([0.1, -0.05, 0.02], ADVANTAGE, INCONCLUSIVE, "reaches across"),
        # a flat trend FAILs against the minimum effect (under "(0, inf)" it could not)
        ([0.001, -0.001, 0.0], ADVANTAGE, FAIL, "part a: FAIL"),
    ],
)
def test_c5(tmp_path, trends, advantages, expected, words):
    v = verdict_of(
        tmp_path, "C5", plant(tmp_path, "e4_adc_energy", [e4_metrics(t, a) for t, a in zip(trends, advantages)])
    )
    assert v["verdict"] == expected and words in v["reason"], v["reason"]
    assert v["parts"][0]["measured"]["per_seed"] == trends  # rank 32, not rank 8 (trend -1)


def e7_metrics(largest, clean=0.5):
    rows = [
        {
            "aggregator": "trimmed_0.1",
            "attack_set": "none",
            "attack": "none",
            "fraction": 0.0,
            "loss_decrease": clean,
            "stopped": None,
            "relative": 1.0,
            "tolerated": True,
        }
    ]
    rows += [
        {
            "aggregator": "trimmed_0.1",
            "attack_set": "paper",
            "attack": "sign_flip",
            "fraction": f,
            "loss_decrease": clean if f <= largest else 0.0,
            "stopped": None,
            "relative": 1.0 if f <= largest else 0.0,
            "tolerated": f <= largest,
        }
        for f in (0.1, 0.2, 0.3)
    ]
    return {
        "strategy": "momentum",
        "lr": 1.0,
        "rows": rows,
        "largest_tolerated": {"paper": {"trimmed_0.1": largest}},
        "dim": 1000,
    }


@pytest.mark.parametrize(
    "largest, clean, expected, words",
    [
        # ten seeds: the median's order-statistic interval at the family's alpha = 0.005 needs
        # at least eight (2^-8 <= 0.005); with three it has no bounds
        ([0.2] * 10, 0.5, PASS, "lies inside"),
        ([0.3] * 10, 0.5, FAIL, "above"),  # tolerates 30 %: the claimed failure at 30 % does not happen
        ([0.0] * 10, 0.5, FAIL, "below"),
        ([0.1] * 5 + [0.3] * 5, 0.5, INCONCLUSIVE, "reaches across"),
        ([0.2] * 10, 0.0, INCONCLUSIVE, "not significantly above 0"),  # a clean run that does not learn
    ],
)
def test_c7(tmp_path, largest, clean, expected, words):
    v = verdict_of(tmp_path, "C7", plant(tmp_path, "e7_byzantine", [e7_metrics(f, clean) for f in largest]))
    assert v["verdict"] == expected and words in v["reason"], v["reason"]


DIVERGED = "loss 14.2 above 2 x the initial 5.7 at step 37"


def _diverge_second_seed(experiment, runs):
    """The PASS data of each training claim with one run of seed 1 stopped by divergence,
    as a job writes it: the stopped run's loss decrease is NaN, which JSON holds as null."""
    if experiment == "e2_kd_ratio":
        run = runs["kd-0.01"][1]
        run["stopped"] = {"random": DIVERGED}
        run["loss_decrease"]["random"] = run["fraction_of_sgd"] = None
    elif experiment == "e3_momentum_comparison":  # C3 reads the momentum arm, C4 it and SGD
        runs[1]["arms"]["momentum"].update(stopped=DIVERGED, loss_decrease=None)
    elif experiment == "e4_adc_energy":
        runs[1]["arms"]["adc_r32"].update(stopped=DIVERGED, loss_decrease=None)
    else:  # the clean run (row 0): an attacked run that diverged is a measured "not tolerated"
        runs[1]["rows"][0].update(stopped=DIVERGED, loss_decrease=None, relative=None, tolerated=False)
    return runs


@pytest.mark.parametrize(
    "claim, experiment, runs",
    [
        (
            "C1",
            "e2_kd_ratio",
            lambda: e2_metrics(
                ALIGNED, {kd: SIGNAL if kd >= 0.01 else NOISE for kd in SECTIONS["e2_kd_ratio"]["sweep"]["kd"]}
            ),
        ),
        ("C3", "e3_momentum_comparison", lambda: [e3_metrics(m, 0.001, 0.35, 1.0) for m in [0.18, 0.17, 0.19]]),
        ("C4", "e3_momentum_comparison", lambda: [e3_metrics(0.1, 0.001, d, 1.0) for d in [0.35, 0.348, 0.352]]),
        ("C5", "e4_adc_energy", lambda: [e4_metrics(t, a) for t, a in zip([0.1, 0.12, 0.11], ADVANTAGE)]),
        ("C7", "e7_byzantine", lambda: [e7_metrics(f) for f in [0.2] * 10]),
    ],
)
def test_a_diverged_run_makes_the_claim_inconclusive(tmp_path, claim, experiment, runs):
    """Data that passes, except that one run stopped early on divergence: the claim is
    INCONCLUSIVE and says which run stopped and why, never PASS or FAIL on partial data.
    Catches a statistic that averages over what a diverged run left behind."""
    v = verdict_of(tmp_path, claim, plant(tmp_path, experiment, _diverge_second_seed(experiment, runs())))
    assert v["verdict"] == INCONCLUSIVE and "stopped early" in v["reason"] and DIVERGED in v["reason"], v["reason"]


@pytest.mark.parametrize(
    "claim, experiment, runs, arm",
    [
        (
            "C4",
            "e3_momentum_comparison",
            lambda: [e3_metrics(0.1, 0.001, d, 1.0) for d in [0.35, 0.348, 0.352]],
            "momentum_alg3",
        ),
        (
            "C5",
            "e4_adc_energy",
            lambda: [e4_metrics(t, a) for t, a in zip([0.1, 0.12, 0.11], ADVANTAGE)],
            "adc_r8",
        ),
    ],
)
def test_a_diverged_arm_the_claim_does_not_read_leaves_its_verdict(tmp_path, claim, experiment, runs, arm):
    """C4 reads Theorem 3's arm and SGD, C5 the selected rank and ADC-off: another arm that
    diverged is reported but does not make the claim untestable.  Catches a rule that
    gives up on any stop in the experiment (as this one did on the default run, where
    Algorithm 3 diverged on two seeds)."""
    planted = runs()
    planted[1]["arms"][arm].update(stopped=DIVERGED, loss_decrease=None)
    v = verdict_of(tmp_path, claim, plant(tmp_path, experiment, planted))
    assert v["verdict"] == PASS, v["reason"]


@pytest.mark.parametrize(
    "claim, experiment, runs, arm",
    [
        ("C4", "e3_momentum_comparison", lambda: [e3_metrics(0.1, 0.001, d, 1.0) for d in [0.35, 0.348, 0.352]], "sgd"),
        ("C5", "e4_adc_energy", lambda: [e4_metrics(t, a) for t, a in zip([0.1, 0.12, 0.11], ADVANTAGE)], "adc_r32"),
        ("C7", "e7_byzantine", lambda: [e7_metrics(f) for f in [0.2] * 10], "clean"),
    ],
)
def test_a_tuned_rate_at_the_end_of_its_grid_makes_the_claim_inconclusive(tmp_path, claim, experiment, runs, arm):
    """PASS data whose run records say that the tuning of an arm the claim reads chose the
    last rate it tried (at_edge): INCONCLUSIVE, naming the arm and its rate, since the arm may
    have been judged below its best rate.  The same flag on an arm the claim does not read
    leaves the PASS.  Catches at_edge recorded and never read (issue 25)."""
    section = SECTIONS[experiment]
    # the same for a tuning in which every rate diverged, even after going below the grid
    for flag in ("at_edge", "none_trains"):
        edge = {"tuned": {arm: {"lr": 3.0, flag: True}, "other_arm": {"lr": 1.0, "at_edge": False}}}
        v = verdict_of(tmp_path, claim, plant_with(tmp_path, experiment, runs(), section, **edge))
        assert v["verdict"] == INCONCLUSIVE and f"tuned rate of {arm} (" in v["reason"], v["reason"]
    if claim != "C7":  # (every tuned rate of E7, the clean run's and the warm-up's, is read)
        unread = {"tuned": {"random_k64": {"lr": 3.0, "at_edge": True}}}
        v = verdict_of(tmp_path, claim, plant_with(tmp_path, experiment, runs(), section, **unread))
        assert v["verdict"] == PASS, v["reason"]


def plant_with(tmp_path, experiment, per_seed_metrics, section, **fields):
    """plant, with `fields` over every run record's entries (e.g. its tuning record)."""
    runs = write_runs(tmp_path, experiment, per_seed_metrics, section, **fields)
    out = tmp_path / f"{experiment}.json"
    aggregate(experiment, section, "cpu", CODE, runs, str(out))
    return out


def test_an_attacked_run_that_diverged_was_not_tolerated(tmp_path):
    """C7: a run that diverged under attack at 30 % is a measured failure to tolerate it,
    so the verdict stands (PASS: tolerates 20 %, not 30 %), not INCONCLUSIVE."""
    runs = [e7_metrics(0.2) for _ in range(10)]
    for run in runs:
        run["rows"][3].update(stopped=DIVERGED, loss_decrease=None, relative=None, tolerated=False)
    v = verdict_of(tmp_path, "C7", plant(tmp_path, "e7_byzantine", runs))
    assert v["verdict"] == PASS and DIVERGED in json.dumps(v["details"]["stopped_runs"]), v["reason"]
