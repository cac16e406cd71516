"""Tuning split into one job per arm (issue 18): the setting's tuning file assembled from its arms'
files holds exactly what the one-job tuning gave, and the DAG has one tuning job per tuned arm,
after the arms whose rates it needs."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml
from pipeline import ROOT, copy_repository, snakemake

from holograd.experiments import adc_energy as e4
from holograd.experiments import byzantine as e7
from holograd.experiments import kd_ratio as e2
from holograd.experiments import momentum_comparison as e3
from holograd.experiments.arms import Bench
from holograd.files import finite_or_null, read_json
from holograd.params import ParamSpace
from paper_checks import runner, sweeps
from paper_checks.catalog import load_experiments
from paper_checks.hashing import ProvenanceError

CPU = torch.device("cpu")
CODE = "test-code"
TRAIN = {"model": "micro", "block_size": 16, "batch_size": 2, "steps": 3, "eval_every": 1, "eval_batches": 1}


# --- the one-job tuning as it was before the split (commit a0d9511), the reference ----------


def legacy_e2(cfg, cache):
    bench = Bench(cfg, cache, CPU)
    dim = ParamSpace(bench.model(e2.TUNE_SEED)).dim
    return {
        name: bench.tune(arm, e2.rate_grid(cfg, name, dim), e2.TUNE_SEED, cfg["tune_steps"])
        for name, arm in e2.arms(cfg, dim).items()
        if name in e2.TUNED_ARMS
    }


def legacy_e3(cfg, cache):
    e3.check(cfg)
    bench = Bench(cfg, cache, CPU, workers=cfg["n_workers"])
    base = e3.arms({k: v for k, v in cfg.items() if k != "warmups"})
    tuned = {name: bench.tune(arm, cfg["lr_grid"][name], e3.TUNE_SEED, cfg["tune_steps"]) for name, arm in base.items()}
    if not e3.has_readings(cfg):
        return tuned
    rates = {name: t["lr"] for name, t in tuned.items()}
    for name, arm in e3.arms(cfg, rates).items():
        if name in tuned or name in e3.MIRRORS:
            continue
        tuned[name] = bench.tune(arm, cfg["lr_grid"][name], e3.TUNE_SEED, cfg["tune_steps"])
        if "warmup" in arm:
            tuned[name]["warmup_lr"] = arm["warmup"]["lr"]
    for name, source in e3.MIRRORS.items():
        tuned[name] = {"lr": rates[source], "mirrors": source}
    tuned["sgd_random_warmup"]["warmup_lr"] = rates[e3.WARM_RATE_OF["random"]]
    return tuned


def legacy_e4(cfg, cache):
    bench = Bench(cfg, cache, CPU)
    steps, grid = cfg["tune_steps"], cfg["lr_grid"]
    tuned, warm_lr = {}, None
    if cfg["warm_start"] == "bootstrap":
        tuned["warm_sgd"] = bench.tune(e4.warm_arm(cfg), grid["sgd"], e4.TUNE_SEED, steps)
        warm_lr = tuned["warm_sgd"]["lr"]
    off_lr = warm_lr if e4.off_warmup(cfg) else None
    tuned["adc_off"] = {**bench.tune(e4.adc_off(cfg, off_lr), grid["random"], e4.TUNE_SEED, steps), "warm_lr": off_lr}
    if cfg["warm_start"] in ("random", "svd"):
        warm_lr = tuned["adc_off"]["lr"]
    for name, arm in e4.arms(cfg, warm_lr).items():
        if arm["kind"] == "adc":
            tuned[name] = {**bench.tune(arm, grid["adc"], e4.TUNE_SEED, steps), "warm_lr": warm_lr}
    return tuned


def legacy_e7(cfg, cache):
    if e7.check_strategy(cfg) == "static":
        return {}
    bench = Bench(cfg, cache, CPU, workers=cfg["n_workers"])
    out, warm_lr = {}, None
    if cfg["strategy"] == "momentum_random_warmup":
        out["warmup"] = bench.tune(e7.warmup_arm(cfg), cfg["lr_grid"]["random"], e7.TUNE_SEED, cfg["tune_steps"])
        warm_lr = out["warmup"]["lr"]
    out["clean"] = bench.tune(e7.base_arm(cfg, warm_lr), e7.lr_grid(cfg), e7.TUNE_SEED, cfg["tune_steps"])
    return out


E3 = {
    **TRAIN,
    "tune_steps": 2,
    "n_workers": 2,
    "k_random": 4,
    "beta": 0.9,
    "cold_start_steps": 1,
    "warmups": {"random": {"steps": 1, "k": 4}, "sgd": {"steps": 1}},
    "lr_grid": {
        "sgd": [0.3],
        "random_k64": [0.03, 0.1],
        "random_k1": [1e-3],
        "momentum": [10.0],
        "momentum_alg3": [10.0],
        "momentum_random_warmup": [10.0],
        "momentum_sgd_warmup": [10.0],
        "momentum_oracle": [0.3],
        "momentum_authors_benchmark": [0.3],
    },
}
E4 = {
    **TRAIN,
    "tune_steps": 2,
    "k": 2,
    "ranks": [2, 4],
    "warm_steps": 1,
    "alpha": 1e-3,
    "qr_every": 5,
    "lr_grid": {"adc": [7.0], "random": [0.02, 0.06], "sgd": [0.3]},
}
E7 = {
    **TRAIN,
    "tune_steps": 2,
    "n_workers": 4,
    "beta": 0.9,
    "cold_start_steps": 1,
    "warmup": {"k": 4, "steps": 1},
    "lr_grid": {"random": [0.02, 0.06], "momentum": [10.0], "momentum_oracle": [0.3]},
}
CASES = {
    "e2": (
        "holograd.experiments.kd_ratio",
        legacy_e2,
        {**TRAIN, "tune_steps": 2, "kd": 0.01, "lr_grid": {"sgd": [0.3, 1.0], "random": [1.0]}},
    ),
    "e3": ("holograd.experiments.momentum_comparison", legacy_e3, E3),
    "e3_no_readings": (
        "holograd.experiments.momentum_comparison",
        legacy_e3,
        {k: v for k, v in E3.items() if k != "warmups"},
    ),
    **{
        f"e4_{warm}": ("holograd.experiments.adc_energy", legacy_e4, {**E4, "warm_start": warm})
        for warm in ("random", "bootstrap", "none")
    },
    **{
        f"e7_{strategy}": ("holograd.experiments.byzantine", legacy_e7, {**E7, "strategy": strategy})
        for strategy in ("momentum_random_warmup", "random", "static")
    },
}


ONE_JOB = ("e3", "e4_bootstrap", "e7_momentum_random_warmup")


def split_tuning(tmp_path, module: str, config: dict, tokens) -> dict:
    """The pipeline's way: one runner.tune_arm job per arm (each handed its dependencies'
    files, each with a checkpoint of its own), then runner.assemble_tuning."""
    files = {}
    for arm, needs in runner.tuning_arms(module, config).items():
        files[arm] = tmp_path / "results" / "tuning" / "x" / "s" / f"{arm}.json"
        runner.tune_arm(
            module=module,
            experiment="x",
            setting="s",
            arm=arm,
            config=config,
            code=CODE,
            tokens=str(tokens),
            needs=[str(files[n]) for n in needs],
            output=str(files[arm]),
            checkpoint=str(tmp_path / "checkpoints" / f"{arm}.pt"),
            checkpoint_every=1,
        )
        assert not (tmp_path / "checkpoints" / f"{arm}.pt").exists()  # removed once the arm's file is written
    output = tmp_path / "results" / "tuning" / "x" / "s.json"
    runner.assemble_tuning(
        module=module,
        experiment="x",
        setting="s",
        config=config,
        code=CODE,
        tokens=str(tokens),
        arms=[str(f) for f in files.values()],
        output=str(output),
    )
    return read_json(output)


@pytest.mark.parametrize("case", sorted(CASES))
def test_assembled_tuning_equals_the_one_job_tuning(case, tmp_path, token_cache, token_cache_file):
    """Key for key and value for value: the per-arm jobs' assembled file holds what the
    one-job tuning (before the split, and module.tune now) gives for the same config."""
    module, legacy, cfg = CASES[case]
    config = {"experiment": cfg, "device": "cpu"}
    record = split_tuning(tmp_path, module, config, token_cache_file)
    expected = json.loads(json.dumps(finite_or_null(legacy(cfg, token_cache))))  # as a tuning file holds it
    assert record["tuned"] == expected
    if case in ONE_JOB:  # the one-job form (module.tune, runner.tune_experiment) runs the same tune_arm calls
        one_job = tmp_path / "one_job.json"
        runner.tune_experiment(module, "x", "s", config, CODE, str(token_cache_file), str(one_job))
        assert read_json(one_job)["tuned"] == expected
    # the provenance runs read: this config and code, the token cache's checksum
    assert runner.read_tuning(str(tmp_path / "results/tuning/x/s.json"), config, CODE) == expected
    assert record["tokens"]["sha256"] == token_cache.meta["sha256"]
    with pytest.raises(ProvenanceError):
        runner.read_tuning(str(tmp_path / "results/tuning/x/s.json"), config, "other-code")


def test_an_arm_refuses_dependencies_of_another_configuration(tmp_path, token_cache_file):
    """A warmed arm's job checks the files it is handed: another config's or code's rates, or
    the wrong arms, are refused before any tuning run."""
    module, _, cfg = CASES["e7_momentum_random_warmup"]
    config = {"experiment": cfg, "device": "cpu"}
    warmup = tmp_path / "warmup.json"
    args = {"module": module, "experiment": "x", "setting": "s", "code": CODE, "tokens": str(token_cache_file)}
    runner.tune_arm(**args, arm="warmup", config=config, needs=[], output=str(warmup))
    other = {"experiment": {**cfg, "tune_steps": 3}, "device": "cpu"}
    with pytest.raises(ProvenanceError):
        runner.tune_arm(**args, arm="clean", config=other, needs=[str(warmup)], output=str(tmp_path / "c.json"))
    with pytest.raises(ValueError, match="needs the records of"):
        runner.tune_arm(**args, arm="clean", config=config, needs=[], output=str(tmp_path / "c.json"))
    with pytest.raises(ValueError, match="not a tuned arm"):
        runner.tune_arm(**args, arm="nope", config=config, needs=[], output=str(tmp_path / "c.json"))


def test_e3_warmed_arms_wait_for_the_rate_of_their_kind_of_step():
    """E3: the protocol arms and the oracle need no rate; a warmed arm needs the arm whose rate
    its warm-up runs at; the mirrored controls are no job (assemble_tuning gives their rate)."""
    needs = e3.tuning_arms(E3)
    assert needs == {
        "random_k64": [],
        "random_k1": [],
        "momentum": [],
        "momentum_alg3": [],
        "sgd": [],
        "momentum_random_warmup": ["random_k64"],
        "momentum_sgd_warmup": ["sgd"],
        "momentum_oracle": [],
        "momentum_authors_benchmark": ["sgd"],
    }
    assert not set(needs) & set(e3.MIRRORS) and set(needs) | set(e3.MIRRORS) == set(e3.arms(E3))


# --- the DAG ------------------------------------------------------------------------------


def _dry_run_jobs(stdout: str) -> list[dict]:
    """Every job of a dry run: its rule, inputs and outputs."""
    jobs = []
    for match in re.finditer(r"^(?:local)?rule (\w+):\n((?:[ \t]+.*\n?)*)", stdout, re.MULTILINE):
        fields = dict(re.findall(r"^\s+(input|output): (.+)$", match.group(2), re.MULTILINE))
        jobs.append(
            {
                "rule": match.group(1),
                "input": [p.strip() for p in fields.get("input", "").split(",") if p.strip()],
                "output": [p.strip() for p in fields.get("output", "").split(",") if p.strip()],
            }
        )
    return jobs


def test_the_dag_has_one_tuning_job_per_arm_after_the_arms_it_needs(tmp_path):
    """Smoke config with `tuning_jobs: per_arm` (the paper config's): every tuned setting's
    file is assembled (a local rule) from one tuning job per arm of the module's tuning_arms,
    each reading the files of the arms it needs and no other; settings with nothing to tune
    (E7's static) assemble from none."""
    repo = copy_repository(tmp_path / "repo")
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    catalog = load_experiments()
    tuned = [k for k in config["experiments"] if catalog[k].get("tuned")]
    settings = {  # the arms do not depend on the device
        (k, s): sweeps.job_config(config["experiments"][k], s, "cpu")
        for k in tuned
        for s in sweeps.setting_names(config["experiments"][k])
    }
    targets = [f"results/tuning/{k}/{s}.json" for k, s in settings]
    per_arm = ("--configfile", "config/smoke.yaml", "--config", "tuning_jobs=per_arm", "--")
    jobs = _dry_run_jobs(snakemake(repo, "-n", *per_arm, *targets).stdout)
    arm_jobs = {job["output"][0]: job for job in jobs if job["rule"] == "tune_experiment"}
    assembled = {job["output"][0]: job for job in jobs if job["rule"] == "assemble_tuning"}
    assert sorted(assembled) == sorted(targets)
    expected_arm_files = set()
    for (experiment, setting), job_config in settings.items():
        arms = runner.tuning_arms(catalog[experiment]["module"], job_config)
        folder = f"results/tuning/{experiment}/{setting}"
        files = [f"{folder}/{arm}.json" for arm in arms]
        expected_arm_files |= set(files)
        assert [p for p in assembled[f"{folder}.json"]["input"] if p.startswith("results/")] == files
        for arm, needs in arms.items():
            inputs = arm_jobs[f"{folder}/{arm}.json"]["input"]
            assert [p for p in inputs if p.startswith("results/")] == [f"{folder}/{n}.json" for n in needs]
    assert set(arm_jobs) == expected_arm_files
    e3_arms = runner.tuning_arms(
        catalog["e3_momentum_comparison"]["module"], settings["e3_momentum_comparison", "base"]
    )
    assert sum(not needs for needs in e3_arms.values()) >= 5  # E3's protocol arms tune side by side
    assert not runner.tuning_arms(catalog["e7_byzantine"]["module"], settings["e7_byzantine", "strategy-static"])


def test_per_setting_tuning_is_one_job_per_setting(tmp_path):
    """`tuning_jobs: per_setting` (the default and smoke configs'): one tune_setting job writes
    each setting's file, and no per-arm job or assembly is planned."""
    repo = copy_repository(tmp_path / "repo")
    targets = ["results/tuning/e3_momentum_comparison/base.json", "results/tuning/e7_byzantine/strategy-static.json"]
    jobs = _dry_run_jobs(snakemake(repo, "-n", "--configfile", "config/smoke.yaml", "--", *targets).stdout)
    tuning = sorted((job["rule"], job["output"][0]) for job in jobs if job["rule"] != "prepare_embedded_tokens")
    assert tuning == [("tune_setting", target) for target in sorted(targets)]


def test_per_arm_jobs_write_the_file_the_one_job_tuning_writes(tmp_path):
    """A real run of the per-arm rules (E7's warmed setting: the warm-up's arm, then the arm
    that needs its rate, then the local assembly) against the per-setting job's file for the
    same setting, key for key and value for value."""
    from pipeline import tracked_copy

    target = "results/tuning/e7_byzantine/strategy-momentum_random_warmup.json"
    repo = tracked_copy(tmp_path / "repo")
    smoke = ("--cores", "2", "--configfile", "config/smoke.yaml")
    snakemake(repo, *smoke, "--config", "tuning_jobs=per_arm", "--", target)
    assert sorted(p.name for p in (repo / target).with_suffix("").iterdir()) == ["clean.json", "warmup.json"]
    per_arm = read_json(repo / target)
    (repo / target).unlink()
    snakemake(repo, *smoke, "--", target)
    per_setting = read_json(repo / target)
    assert per_arm["tuned"] == per_setting["tuned"] and per_arm["config_sha256"] == per_setting["config_sha256"]
