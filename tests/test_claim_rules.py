"""Each claim rule on planted measurements: it must be able to PASS, FAIL and come out
INCONCLUSIVE.  Planted per-seed values go through the real stages (run files with
provenance -> aggregation.aggregate -> evaluation.evaluate_claim), so a rule that ignored its
data, read the wrong field or could not fail would be caught here."""

import json

import pytest

from paper_checks import aggregation, evaluation, runner
from paper_checks.catalog import load_claims, load_experiments
from paper_checks.settings import config_hash, setting_names
from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

EXPERIMENTS = load_experiments()
CLAIMS = {c["id"]: c for c in load_claims(experiments=EXPERIMENTS)}
SCALE = {"model": "micro", "D": 1000, "corpus": "embedded", "tokenizer": "bpe", "vocab_size": 300, "block_size": 16, "batch_size": 8, "steps": 0}
ENV = {"torch": "x", "python": "3", "device": "cpu (test)", "threads": 1, "git_commit": "abc"}
CODE = "c0de" * 16  # the measurement code's hash that aggregation expects
TOKENS = {"path": "tokens.pt", "sha256": "70" * 32}

SECTIONS = {
    "e1_gradient_variability": {"model": "micro", "block_size": 16, "batch_size": 8, "n_batches": 4, "checkpoints": [0, 5], "sgd_lr": 0.5, "seeds": [0, 1, 2]},
    "e5_unbiased_estimator": {"model": "micro", "block_size": 16, "batch_size": 4, "k": 16, "draws": [1, 4], "control_scale": 0.5, "chunk_elements": 4096, "seeds": [0, 1, 2]},
    "e6_pogp_verification": {
        "model": "micro", "block_size": 16, "batch_size": 2, "n_proofs": 2, "eps": 1e-4,
        "cheating": {"p": [0.5], "q": [0.5], "m": 4, "trials": 10, "offset": 0.01}, "seeds": [0, 1, 2],
    },
}  # fmt: skip


def e1_metrics(cosine):
    point = {"mean_pairwise_cosine": cosine, "pairwise_cosines": [cosine] * 6, "variance_ratio": 1 - cosine, "loo_reconstruction_cosine": 0.3, "grad_norm_mean": 1.0}
    return {"checkpoints": [{**point, "step": 0, "mean_pairwise_cosine": 0.5}, {**point, "step": 5}]}


def e5_metrics(r, control_r):
    def arm(x):
        return {"r": x, "relative_error": x**0.5, "bias_along_g": 0.0}

    return {"grad_norm": 1.0, "points": [{"draws": n, "directions": 16 * n, "theory_relative_error": 1.0, "estimator": arm(r), "control": arm(control_r)} for n in (1, 4)]}


def e6_metrics(max_diff):
    proofs = {"worker": [0.01, 0.02], "verifier": [0.01 + max_diff, 0.02], "verifier_threads": [0.01, 0.02], "backprop": [0.01, 0.02], "float64": [0.01, 0.02]}
    cheaters = [{"p": 0.5, "q": 0.5, "m": 4, "invalid_per_step": 2, "trials": 10, "caught": 7, "theory": 0.75, "false_rejections": 0}]
    diffs = {"verifier": max_diff, "verifier_threads": 0.0, "backprop": 1e-9, "float64": 1e-9}
    return {"proofs": proofs, "max_abs_diff": diffs, "median_abs_a": 0.015, "recommended_eps": 1e-7, "cheaters": cheaters}


def write_runs(tmp_path, experiment, per_seed_metrics, section=None, **fields) -> list[str]:
    """Planted run files with valid provenance (fields override record entries).
    per_seed_metrics: one metrics dict per seed, or {setting: [...]} to plant per setting."""
    section = section or SECTIONS[experiment]
    runs = []
    for setting in setting_names(section):
        metrics_of_seeds = per_seed_metrics[setting] if isinstance(per_seed_metrics, dict) else per_seed_metrics
        for seed, metrics in zip(section["seeds"], metrics_of_seeds):
            config = runner.job_config(section, setting, "cpu")
            record = {
                "experiment": experiment, "setting": setting, "seed": seed, "config": config, "config_sha256": config_hash(config),
                "code_sha256": CODE, "tokens": TOKENS, "scale": SCALE, "environment": ENV, "metrics": metrics, "wall_seconds": 1.0,
            }  # fmt: skip
            record.update({k: v(seed) if callable(v) else v for k, v in fields.items()})
            path = tmp_path / f"{setting}-seed{seed}.json"
            path.write_text(json.dumps(record))
            runs.append(str(path))
    return runs


def plant(tmp_path, experiment, per_seed_metrics, section=None):
    """Planted run files aggregated by the real stage; returns the data file."""
    section = section or SECTIONS[experiment]
    runs = write_runs(tmp_path, experiment, per_seed_metrics, section)
    out = tmp_path / f"{experiment}.json"
    aggregation.aggregate(experiment, section, "cpu", CODE, runs, str(out))
    return out


def verdict_of(tmp_path, claim_id, data_file, **overrides):
    claim = {**CLAIMS[claim_id], **overrides}
    claim = {k: v for k, v in claim.items() if k != "region"}
    out, fig = tmp_path / f"{claim_id}.json", tmp_path / f"{claim_id}.png"
    evaluation.evaluate_claim(claim, EXPERIMENTS[claim["experiment"]], str(data_file), str(out), str(fig))
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
        ([1.0, 0.98, 1.03], [0.26, 0.25, 0.24], PASS, "lies in"),
        ([2.0, 2.1, 1.9], [0.5, 0.52, 0.49], FAIL, "above"),
        ([1.3, 1.1, 1.5], [0.3, 0.3, 0.3], INCONCLUSIVE, "reaches into"),
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
    planted = {"k-1": [e5_metrics(r, 0.25) for r in (2.0, 2.1, 1.9)], "k-16": [e5_metrics(r, 0.25) for r in (1.0, 0.98, 1.03)]}
    v = verdict_of(tmp_path, "C6", plant(tmp_path, "e5_unbiased_estimator", planted, section))
    assert v["verdict"] == PASS and v["details"]["k"] == 16 and v["measured"]["per_seed"] == [1.0, 0.98, 1.03]
    # a where that matches both settings cannot be tested
    v = verdict_of(tmp_path, "C6", tmp_path / "e5_unbiased_estimator.json", select={"where": {}, "draws": "largest"})
    assert v["verdict"] == INCONCLUSIVE and "2 settings match" in v["reason"]


def test_init_means_step_zero(tmp_path):
    section = {**SECTIONS["e1_gradient_variability"], "checkpoints": [3, 5]}
    metrics = {"checkpoints": [{**e1_metrics(0.07)["checkpoints"][1], "step": s} for s in (3, 5)]}
    v = verdict_of(tmp_path, "C2", plant(tmp_path, "e1_gradient_variability", [metrics] * 3, section), select={"where": {"batch_size": 8}, "checkpoint": "init"})
    assert v["verdict"] == INCONCLUSIVE and "no checkpoint at step 0" in v["reason"]


def test_editing_the_region_changes_the_verdict(tmp_path):
    data = plant(tmp_path, "e1_gradient_variability", [e1_metrics(c) for c in (0.28, 0.29, 0.27)])
    assert verdict_of(tmp_path, "C2", data)["verdict"] == FAIL
    assert verdict_of(tmp_path, "C2", data, acceptance="[0.2, 0.35]")["verdict"] == PASS


def test_verdict_json_fields(tmp_path):
    v = verdict_of(tmp_path, "C8", plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3))
    for key in ("claim", "statement", "expected", "acceptance", "measured", "verdict", "reason", "figure", "data_files", "config", "scale", "environment", "wall_seconds"):
        assert key in v
    assert set(v["measured"]) >= {"point", "low", "high", "n", "per_seed"}
    assert len(v["data_files"][0]["sha256"]) == 64
    assert v["environment"]["git_commits"] == ["abc"] and "verdict_git_commit" in v["environment"]


def test_aggregate_refuses_runs_from_another_config(tmp_path):
    data = plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    runs = [r["path"] for r in json.loads(data.read_text())["runs"]]
    changed = {**SECTIONS["e6_pogp_verification"], "eps": 1e-3}
    with pytest.raises(aggregation.ProvenanceError, match="different configuration"):
        aggregation.aggregate("e6_pogp_verification", changed, "cpu", CODE, runs, str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_aggregate_refuses_runs_from_other_code_or_corpus(tmp_path):
    section, out = SECTIONS["e6_pogp_verification"], str(tmp_path / "x.json")
    runs = write_runs(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    with pytest.raises(aggregation.ProvenanceError, match="different measurement code"):
        aggregation.aggregate("e6_pogp_verification", section, "cpu", "f" * 64, runs, out)
    runs = write_runs(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3, tokens=lambda seed: {"path": "t.pt", "sha256": str(seed)})
    with pytest.raises(aggregation.ProvenanceError, match="3 different token caches"):
        aggregation.aggregate("e6_pogp_verification", section, "cpu", CODE, runs, out)
    assert not (tmp_path / "x.json").exists()


def test_aggregate_refuses_missing_seeds(tmp_path):
    data = plant(tmp_path, "e6_pogp_verification", [e6_metrics(0.0)] * 3)
    runs = [r["path"] for r in json.loads(data.read_text())["runs"]][:2]
    with pytest.raises(aggregation.ProvenanceError, match="do not match"):
        aggregation.aggregate("e6_pogp_verification", SECTIONS["e6_pogp_verification"], "cpu", CODE, runs, str(tmp_path / "x.json"))
