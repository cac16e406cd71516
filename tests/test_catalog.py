"""claims.yaml / experiments.yaml validation, settings of a sweep, config checks and the
source hashes that decide which jobs a library change reruns."""

import shutil

import pytest
import yaml

from holograd.validation import SCHEMA_DIR
from paper_checks.catalog import CLAIMS_FILE, EXPERIMENTS_FILE, CatalogError, load_claims, load_experiments
from paper_checks.configuration import ConfigError, check_config
from paper_checks.hashing import ROOT, config_hash, module_closure, source_hash
from paper_checks.regions import Region
from paper_checks.sweeps import resolve, setting_names, sweep_of


def test_shipped_catalog_loads():
    experiments = load_experiments()
    claims = load_claims(experiments=experiments)
    assert {c["id"] for c in claims} >= {"C2", "C6", "C8"}
    assert all(c["experiment"] in experiments for c in claims)


def _write_claims(tmp_path, mutate):
    doc = yaml.safe_load(CLAIMS_FILE.read_text())
    mutate(doc["claims"][0])
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.update(acceptance="[0.10, 0.04]"), "is empty"),
        (lambda c: c.update(acceptance="about 0.07"), "not an interval"),
        (lambda c: c.update(experiment="e9_unknown"), "claim C1: experiment: unknown experiment 'e9_unknown'"),
        (lambda c: c.pop("statistic"), "claim C1: 'statistic' is a required property"),
        (lambda c: c.update(expectd=0.07), "claim C1: Additional properties are not allowed ('expectd'"),
        (lambda c: c.update(expected="0.07"), "claim C1: expected: '0.07' is not of type 'number'"),
        (lambda c: c.update(select=[1]), "claim C1: select: [1] is not of type 'object'"),
        (lambda c: c["select"].update(max_kdd=0.1), "claim C1: select: Additional properties are not allowed"),
        # the first claim (C1) has a second part; its fields are checked the same way
        (
            lambda c: c["also_requires"][0].update(acceptance="[0.03, 0.003]"),
            "part b: acceptance region '[0.03, 0.003]' is empty",
        ),
        (lambda c: c["also_requires"][0].pop("expected"), "claim C1 part b: 'expected' is a required property"),
        (lambda c: c["also_requires"][0].update(strickt=True), "claim C1 part b: Additional properties"),
        # a one-sided region must say where its finite end comes from (else a flat quantity
        # could never FAIL); so must a reading that makes the region one-sided
        (
            lambda c: c["also_requires"][0].update(acceptance="(0, inf)"),
            "claim C1 part b: the one-sided acceptance region '(0, inf)' needs a minimum_effect",
        ),
        (
            lambda c: c["readings"][1].update(acceptance="[0.9, inf)"),
            "claim C1 reading tuned-tenth-sgd: acceptance: the one-sided acceptance region '[0.9, inf)' needs",
        ),
        (lambda c: c.update(minimum_effect=""), "claim C1: minimum_effect: '' should be non-empty"),
        # every claim says at which model size the paper states its number (issue 25)
        (lambda c: c.pop("paper_dim"), "claim C1: 'paper_dim' is a required property"),
        (lambda c: c["paper_dim"].update(D="16M"), "claim C1: paper_dim.D: '16M' is not of type"),
    ],
)
def test_bad_claims_are_one_line_errors(tmp_path, mutate, message):
    with pytest.raises(CatalogError) as err:
        load_claims(_write_claims(tmp_path, mutate))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_one_sided_regions_carry_their_minimum_effect_and_the_family_is_fixed_by_the_file():
    """Every one-sided region of the shipped claims has its minimum effect (a finite end above
    0, so that 0 FAILs), and the confirmatory family is the primary readings' parts: one per
    claim plus each `also_requires` (C1, C5 and C6 have two parts: eleven decisions)."""
    from paper_checks.catalog import family_size, readings_of

    claims = load_claims()
    for claim in claims:
        for reading in readings_of(claim):
            for part in [reading["claim"], *reading["claim"].get("also_requires", [])]:
                region = Region.parse(part["acceptance"])
                if region.one_sided:
                    assert part.get("minimum_effect") and region.below(0.0), (claim["id"], reading["id"])
    assert family_size(claims) == len(claims) + sum(len(c.get("also_requires", [])) for c in claims) == 11
    assert family_size([{"id": "C1"}, {"id": "C2", "also_requires": [{}, {}]}]) == 4


def test_duplicate_claim_ids(tmp_path):
    doc = yaml.safe_load(CLAIMS_FILE.read_text())
    doc["claims"].append(doc["claims"][0])
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError, match="duplicate claim id"):
        load_claims(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda e: e.update(module="paper_checks.x"), "module: 'paper_checks.x' does not match"),
        (lambda e: e.update(analysis="holograd.x"), "analysis: 'holograd.x' does not match"),
        (lambda e: e.pop("figure"), "'figure' is a required property"),
        (lambda e: e["paper"].update(model="huge"), "paper.model: 'huge' is not one of"),
        (lambda e: e.update(tuned="yes"), "tuned: 'yes' is not of type 'boolean'"),
        (lambda e: e.update(figure="kd_ratio_sweep"), "figure: duplicate figure 'kd_ratio_sweep' (also e"),
    ],
)
def test_bad_experiments_are_one_line_errors(tmp_path, mutate, message):
    doc = yaml.safe_load(EXPERIMENTS_FILE.read_text())
    mutate(doc["e5_unbiased_estimator"])
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError) as err:
        load_experiments(path)
    assert f"{path}: experiment e5_unbiased_estimator: {message}" in str(err.value) and "\n" not in str(err.value)


def test_schemas_describe_every_field():
    """Every property of every schema (config, catalog, run file) says what it is (itself or
    the definition it refers to), and every record is closed (a misspelt key is an error)."""

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
            for key, sub in node.get("properties", {}).items():
                ref = sub.get("$ref", "")
                described = ref.startswith("#/$defs/") and "description" in schema["$defs"][ref[8:]]
                assert "description" in sub or described, f"{where}.{key}"
            for key, sub in node.items():
                if key != "if":  # a condition, not a field
                    walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}.{i}")

    for name in ("config", "claims", "experiments", "distributed_run", "published"):
        schema = yaml.safe_load((SCHEMA_DIR / f"{name}.schema.yaml").read_text())
        walk(schema, name)


def test_settings_of_a_sweep():
    section = {"k": 16, "draws": [1, 2], "seeds": [0, 1], "sweep": {"k": [1, 16]}}
    assert setting_names(section) == ["k-1", "k-16"]
    assert resolve(section, "k-1") == {"k": 1, "draws": [1, 2]}
    words = {"seeds": [0], "sweep": {"warm_start": ["random", "none"]}}  # strings name settings as themselves
    assert setting_names(words) == ["warm_start-random", "warm_start-none"]
    assert resolve(words, "warm_start-none") == {"warm_start": "none"}
    assert sweep_of(section, "k-16") == {"k": 16}
    assert setting_names({"k": 3, "seeds": [0]}) == ["base"] and sweep_of({}, "base") == {}
    with pytest.raises(ValueError, match="unknown setting"):
        resolve(section, "lr-0.1")
    # adding a seed or a sweep value changes no existing job's configuration
    assert config_hash(resolve({**section, "seeds": [0, 1, 2]}, "k-1")) == config_hash(resolve(section, "k-1"))
    assert config_hash(resolve({**section, "sweep": {"k": [1, 16, 64]}}, "k-1")) == config_hash(resolve(section, "k-1"))


def _config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda c: c["experiments"]["e5_unbiased_estimator"].update(k=0), "experiments.e5_unbiased_estimator.k"),
        (
            lambda c: c["experiments"]["e1_gradient_variability"].update(model="huge"),
            "experiments.e1_gradient_variability.model",
        ),
        (lambda c: c["experiments"]["e6_pogp_verification"].update(n_proofz=10), "'n_proofz' was unexpected"),
        (
            lambda c: c["experiments"]["e6_pogp_verification"].update(eps="small"),
            "experiments.e6_pogp_verification.eps",
        ),
        (lambda c: c["experiments"]["e6_pogp_verification"]["cheating"].update(p=[1.5]), "cheating.p.0"),
        (lambda c: c["experiments"]["e5_unbiased_estimator"].update(control_scale=1), "control_scale"),
        (
            lambda c: c["experiments"]["e5_unbiased_estimator"].update(draws=[4, 2]),
            "e5_unbiased_estimator.draws: must increase",
        ),
        (
            lambda c: c["experiments"]["e5_unbiased_estimator"].update(draws=[2, 2]),
            "e5_unbiased_estimator.draws: must increase",
        ),
        (
            lambda c: c["experiments"]["e6_pogp_verification"]["cheating"].update(offset=1e-5),
            "cheating.offset: must exceed eps",
        ),
        (lambda c: c["data"].update(corpus="c4"), "data.corpus"),
        (lambda c: c.update(devices="cpu"), "'devices' was unexpected"),
        (lambda c: c["experiments"]["e7_byzantine"].update(taus=[0.5]), "experiments.e7_byzantine.taus.0"),
        (lambda c: c["experiments"]["e7_byzantine"].update(fractions=[0, 1.5]), "experiments.e7_byzantine.fractions.1"),
        (lambda c: c["experiments"]["e6_pogp_verification"]["cheating"].update(q=[1.2]), "cheating.q.0"),
        (lambda c: c["experiments"]["e4_adc_energy"].update(ranks=[0, 8]), "experiments.e4_adc_energy.ranks.0"),
        (lambda c: c["experiments"]["e4_adc_energy"].update(warm_steps="10"), "experiments.e4_adc_energy.warm_steps"),
        (lambda c: c["experiments"]["e3_momentum_comparison"].update(max_loss_factor=1.0), "max_loss_factor"),
        (lambda c: c.update(checkpoint_every=-1), "checkpoint_every"),
        (lambda c: c["distributed"]["run"].update(workers=0), "distributed.run.workers: 0 is less than the minimum"),
        (lambda c: c["distributed"]["run"]["pogp"].update(q=1), "config error at distributed.run.pogp: Additional"),
    ],
)
def test_bad_config_names_the_key(mutate, where):
    config = _config()
    check_config(config)  # the shipped default is valid
    mutate(config)
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert where in str(err.value) and "\n" not in str(err.value)


def test_every_shipped_config_is_valid():
    for name in ("config.yaml", "smoke.yaml", "paper.yaml"):
        check_config(yaml.safe_load((ROOT / "config" / name).read_text()))


def test_import_closures_separate_the_experiments():
    e1 = module_closure(["holograd.experiments.gradient_variability"])
    e5 = module_closure(["holograd.experiments.unbiased_estimator"])
    e6 = module_closure(["holograd.experiments.pogp_verification"])
    assert "holograd.adc" not in e1 | e5 | e6  # no experiment here uses the codebook
    assert "holograd.directions" in e5 and "holograd.directions" in e6 and "holograd.directions" not in e1
    assert "holograd.pogp" in e6 and "holograd.pogp" not in e5
    assert "holograd.models" in e1 and "holograd.params" in e1  # followed through models -> params


def test_source_hash_follows_edits(tmp_path):
    for package in ("holograd", "paper_checks"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    module = "holograd.experiments.gradient_variability"
    before = source_hash(module, root=tmp_path)
    assert before == source_hash(module, root=ROOT)
    with open(tmp_path / "holograd" / "adc.py", "a") as f:
        f.write("\n# unrelated edit\n")
    assert source_hash(module, root=tmp_path) == before
    with open(tmp_path / "holograd" / "params.py", "a") as f:  # imported through models.py
        f.write("\n# edit\n")
    assert source_hash(module, root=tmp_path) != before
    with pytest.raises(ValueError, match="not a file of this project"):
        source_hash("holograd.nothing_here", root=tmp_path)
