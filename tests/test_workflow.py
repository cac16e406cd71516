"""The Snakemake workflow, as snakemake-workflows test theirs: lint, format, dry runs, a full
run of the smoke config, the report, and which jobs an edit reruns.

The full run happens once per test session, in a scratch copy of the repository, through a
submitting executor (conftest.py's `smoke_run`, tested as such in test_executors.py), so
edits made to test reruns never touch the working tree.
"""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from pipeline import FAKE_KEY, ROOT, SMOKE, SNAKEMAKE, TARGET, copy_repository, planned_outputs, snakemake

from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS


def test_lint_and_format():
    lint = snakemake(ROOT, "--lint", check=False)
    assert lint.returncode == 0 and "Lints for" not in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "workflow"], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_python_is_ruff_clean(command):
    """`ruff check` and `ruff format --check` on the whole tree, as pyproject.toml configures
    them: a commit that leaves lint or formatting behind fails the suite (and CI)."""
    result = subprocess.run([sys.executable, "-m", "ruff", *command, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml", "config/smoke.yaml"])
def test_dry_run(configfile):
    # the target goes before --configfile, which takes several values (FACTS.md)
    out = snakemake(ROOT, "-n", "--forceall", TARGET, "--configfile", configfile).stdout
    assert "write_summary" in out and "run_experiment" in out


def test_configfile_replaces_the_default(tmp_path):
    """--configfile must not be merged into config/config.yaml (its sweeps would leak in)."""
    repo = copy_repository(tmp_path)
    smoke = repo / "config" / "smoke.yaml"
    sweep = "    sweep:\n      k: [1, 16]          # C6's readings k1 and as-stated\n"
    assert sweep in smoke.read_text()
    smoke.write_text(smoke.read_text().replace(sweep, ""))
    outputs = planned_outputs(repo, "--forceall", *SMOKE, TARGET)
    assert not any("k-1/" in o for o in outputs)  # config.yaml sweeps k over [1, 16]; this smoke copy does not
    assert "results/runs/e5_unbiased_estimator/base/seeds0_1.json" in outputs


def test_bad_config_stops_with_the_key(tmp_path):
    repo = copy_repository(tmp_path)
    smoke = (repo / "config" / "smoke.yaml").read_text()
    (repo / "config" / "smoke.yaml").write_text(smoke.replace("k: 16", "k: 0"))
    result = snakemake(repo, "-n", *SMOKE, TARGET, check=False)
    assert result.returncode != 0
    assert (
        "config error at experiments.e5_unbiased_estimator.k: 0 is less than the minimum of 1"
        in result.stderr + result.stdout
    )
    (repo / "config" / "smoke.yaml").write_text(smoke)
    claims = repo / "paper_checks" / "claims.yaml"
    claims.write_text(claims.read_text().replace('acceptance: "[0.04, 0.10]"', 'acceptance: "[0.10, 0.04]"'))
    result = snakemake(repo, "-n", *SMOKE, TARGET, check=False)
    assert (
        result.returncode != 0
        and "claim C2: acceptance region '[0.10, 0.04]' is empty" in result.stderr + result.stdout
    )


def test_unreachable_dataset_fails_in_one_line(tmp_path):
    """WikiText-2 offline: the job stops with one console line pointing at the embedded
    default, the traceback goes to the job's log, and no token cache is left behind."""
    import os

    repo = copy_repository(tmp_path)
    smoke = repo / "config" / "smoke.yaml"
    smoke.write_text(smoke.read_text().replace("corpus: embedded", "corpus: wikitext2"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "1", *SMOKE, "resources/tokens/wikitext2-gpt2.pt"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("DataUnavailableError: ")]
    assert len(lines) == 1 and "corpus: embedded" in lines[0], result.stderr[-3000:]
    assert "Traceback" in (repo / "logs" / "data" / "wikitext2-gpt2.log").read_text()
    assert not list((repo / "resources").rglob("*.pt"))


CLAIMS = [f"C{i}" for i in range(1, 9)]
DATA = [
    "e1_gradient_variability",
    "e2_kd_ratio",
    "e3_momentum_comparison",
    "e4_adc_energy",
    "e5_unbiased_estimator",
    "e6_pogp_verification",
    "e7_byzantine",
]
FIGURES = [
    "gradient_variability",
    "kd_ratio_sweep",
    "momentum_vs_random",
    "adc_captured_energy",
    "unbiased_estimator",
    "pogp_verification",
    "byzantine_tolerance",
]


def test_smoke_outputs(smoke_run):
    repo = smoke_run
    summary = (repo / TARGET).read_text()
    for claim in CLAIMS:
        verdict = json.loads((repo / "results" / "claims" / f"{claim}.json").read_text())
        assert verdict["verdict"] in (PASS, FAIL, INCONCLUSIVE)
        assert f"| {claim} |" in summary and (repo / verdict["figure"]).is_file()
        assert verdict["measured"]["n"] == 2 and verdict["data_files"][0]["sha256"]
    for name in DATA:
        assert (repo / "results" / "data" / f"{name}.json").is_file()
    for name in FIGURES:
        assert (repo / "results" / "figures" / f"{name}.png").stat().st_size > 10_000
    assert list((repo / "results" / "benchmarks" / "runs").rglob("*.tsv"))
    # every training setting's learning rates come from its own tuning job, recorded in the runs
    tuning = json.loads((repo / "results" / "tuning" / "e3_momentum_comparison" / "base.json").read_text())
    job = json.loads((repo / "results" / "runs" / "e3_momentum_comparison" / "base" / "seeds0_1.json").read_text())
    run = job["runs"][0]
    assert {name: t["lr"] for name, t in tuning["tuned"].items()} == {
        name: a["lr"] for name, a in run["metrics"]["arms"].items()
    }
    # properties that hold at any scale: same-device recomputation is exact, and the
    # wrong-scale control is rejected
    c8 = json.loads((repo / "results" / "claims" / "C8.json").read_text())
    assert c8["verdict"] == PASS and c8["measured"]["point"] == 0.0
    c6 = json.loads((repo / "results" / "claims" / "C6.json").read_text())
    assert c6["details"]["negative_control"]["verdict"] == FAIL


def test_report(smoke_run):
    """Snakemake's HTML report: one category per claim holding its figure and verdict file,
    the experiment figures, the summary and the configuration of the run, each with a caption."""
    snakemake(smoke_run, "--report", "report.zip", *SMOKE, TARGET)
    with zipfile.ZipFile(smoke_run / "report.zip") as report:
        names = report.namelist()
        html = report.read(next(n for n in names if n.endswith("report.html"))).decode()
        # the run had fake credentials in its environment (conftest.py): none is in the report
        assert not [n for n in names if FAKE_KEY.encode() in report.read(n)]
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", html).group(1))
    for claim in CLAIMS:
        assert sorted(categories[claim]["Other"]) == [f"results/claims/{claim}.json", f"results/claims/{claim}.png"]
    assert len(categories["Experiments"]["Other"]) == len(FIGURES)
    assert sorted(categories["Summary"]["Other"]) == [
        "results/RESULTS_SUMMARY.html",
        "results/RESULTS_SUMMARY.md",
        "results/config.yaml",
        "results/figures/verdicts.png",
    ]
    for attached in ("C3.json", "config.yaml", "RESULTS_SUMMARY.md", "momentum_vs_random.png"):
        assert any(n.endswith("/" + attached) for n in names), attached
    # the claim's caption carries its statement (RST-escaped: "|cos|" must not become a substitution)
    assert "The momentum direction is about 180 times better aligned" in html and "mean |cos(m_hat_t, g_t)|" in html
    config = yaml.safe_load((smoke_run / "results" / "config.yaml").read_text())
    assert (
        config["experiments"].keys()
        == yaml.safe_load((smoke_run / "config" / "smoke.yaml").read_text())["experiments"].keys()
    )


def test_nothing_to_do_after_a_run(smoke_run):
    assert planned_outputs(smoke_run, *SMOKE, TARGET) == []


def _edited(path: Path, old: str, new: str):
    """Context: replace text in a file, restore it afterwards."""

    class Edit:
        def __enter__(self):
            self.text = path.read_text()
            assert old in self.text, f"{old!r} not in {path}"
            path.write_text(self.text.replace(old, new, 1))

        def __exit__(self, *exc):
            path.write_text(self.text)

    return Edit()


def test_claim_edit_reruns_only_that_claim(smoke_run):
    with _edited(
        smoke_run / "paper_checks" / "claims.yaml", 'acceptance: "[0.04, 0.10]"', 'acceptance: "[0.04, 0.12]"'
    ):
        # the claim, its experiment's figure (which draws the acceptance region) and the summary
        assert planned_outputs(smoke_run, *SMOKE, TARGET) == [
            "results/RESULTS_SUMMARY.md",
            "results/claims/C2.json",
            "results/figures/gradient_variability.png",
        ]


def test_experiment_config_edit_reruns_only_that_experiment(smoke_run):
    with _edited(smoke_run / "config" / "smoke.yaml", "draws: [1, 4, 16]", "draws: [1, 4, 32]"):
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert outputs == [
        "results/RESULTS_SUMMARY.md",
        "results/claims/C6.json",
        "results/config.yaml",
        "results/data/e5_unbiased_estimator.json",
        "results/figures/unbiased_estimator.png",
        "results/runs/e5_unbiased_estimator/k-1/seeds0_1.json",
        "results/runs/e5_unbiased_estimator/k-16/seeds0_1.json",
    ]


E5_SEEDS = """      alignment: {dim: 1000, k: 64, estimates: 50}
    seeds: [0, 1]"""


def test_a_seed_added_reruns_the_job_of_its_group_only(smoke_run):
    """seeds_per_job: null holds every seed of a setting in one job, so a third seed reruns each
    E5 setting's job; with seeds_per_job: 2 (the same files for two seeds) it adds one job per
    setting and reruns none.  Either way nothing of another experiment runs again."""
    smoke = smoke_run / "config" / "smoke.yaml"
    third = E5_SEEDS.replace("[0, 1]", "[0, 1, 2]")
    after = [
        "results/RESULTS_SUMMARY.md",
        "results/claims/C6.json",
        "results/config.yaml",
        "results/data/e5_unbiased_estimator.json",
        "results/figures/unbiased_estimator.png",
    ]
    with _edited(smoke, E5_SEEDS, third):
        assert planned_outputs(smoke_run, *SMOKE, TARGET) == sorted(
            [*after, "results/runs/e5_unbiased_estimator/k-1/seeds0_1_2.json",
             "results/runs/e5_unbiased_estimator/k-16/seeds0_1_2.json"]
        )  # fmt: skip
    with _edited(smoke, "seeds_per_job: null", "seeds_per_job: 2"):
        # the same jobs and files: only the config's copy and the summary that shows it
        assert planned_outputs(smoke_run, *SMOKE, TARGET) == ["results/RESULTS_SUMMARY.md", "results/config.yaml"]
        with _edited(smoke, E5_SEEDS, third):
            assert planned_outputs(smoke_run, *SMOKE, TARGET) == sorted(
                [*after, "results/runs/e5_unbiased_estimator/k-1/seeds2.json",
                 "results/runs/e5_unbiased_estimator/k-16/seeds2.json"]
            )  # fmt: skip


def test_distributed_config_edit_reruns_only_e8(smoke_run):
    with _edited(smoke_run / "config" / "smoke.yaml", "options: {k: 4}", "options: {k: 2}"):
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert outputs == [
        "results/RESULTS_SUMMARY.md",
        "results/config.yaml",
        "results/figures/distributed_protocol.png",
        "results/systems/e8_distributed_protocol.json",
    ]


def test_later_stage_edits_rerun_no_measurement(smoke_run):
    """Measurements depend on their measurement modules and the runner only: editing the
    summary or its template reruns the summary; editing one experiment's analysis module reruns
    that experiment's aggregation, figure and claims (and the summary), nothing of the others
    and no measurement; editing the confidence intervals reruns every later stage."""
    pc = smoke_run / "paper_checks"
    for edit in (pc / "summary.py", pc / "templates" / "summary.md.j2"):
        with _edited(edit, "results", "results "):
            assert planned_outputs(smoke_run, *SMOKE, TARGET) == ["results/RESULTS_SUMMARY.md"], edit
    with _edited(pc / "experiments" / "unbiased_estimator.py", '"""', '"""Edited. '):
        assert planned_outputs(smoke_run, *SMOKE, TARGET) == [
            "results/RESULTS_SUMMARY.md",
            "results/claims/C6.json",
            "results/data/e5_unbiased_estimator.json",
            "results/figures/unbiased_estimator.png",
        ]
    measurements = ("results/runs/", "results/tuning/", "results/systems/", "resources/")
    for module in ("intervals.py", "plotting.py"):  # every later stage, E8's figure too
        with _edited(pc / module, '"""', '"""Edited. '):
            outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
        assert "results/data/e1_gradient_variability.json" in outputs and "results/claims/C8.json" in outputs
        assert not [o for o in outputs if o.startswith(measurements)], module
    with _edited(pc / "experiments" / "distributed_protocol.py", '"""', '"""Edited. '):  # E8's figure and section
        assert planned_outputs(smoke_run, *SMOKE, TARGET) == [
            "results/RESULTS_SUMMARY.md",
            "results/figures/distributed_protocol.png",
        ]


E8 = "results/systems/e8_distributed_protocol.json"


def _rerun_experiments(outputs: list[str]) -> set[str]:
    return {o.split("/")[2] for o in outputs if o.startswith(("results/runs/", "results/tuning/"))}


def test_library_edits_rerun_the_experiments_that_import_them(smoke_run):
    lib = smoke_run / "holograd"
    training = {"e2_kd_ratio", "e3_momentum_comparison", "e4_adc_energy", "e7_byzantine"}
    with _edited(lib / "adc.py", '"""', '"""Edited. '):  # the strategies, hence every training experiment
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert _rerun_experiments(outputs) == training
    assert "results/claims/C5.json" in outputs and "results/claims/C2.json" not in outputs
    assert E8 in outputs  # the distributed protocol runs the strategies too
    with _edited(lib / "pogp.py", '"""', '"""Edited. '):
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert _rerun_experiments(outputs) == {"e6_pogp_verification"}
    assert "results/claims/C8.json" in outputs and "results/claims/C2.json" not in outputs
    with _edited(lib / "directions.py", '"""', '"""Edited. '):  # everything that generates directions; E1 does not
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert _rerun_experiments(outputs) == {"e5_unbiased_estimator", "e6_pogp_verification"} | training
    with _edited(
        lib / "experiments" / "byzantine.py", '"""', '"""Edited. '
    ):  # one experiment's module: that experiment
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert _rerun_experiments(outputs) == {"e7_byzantine"} and "results/claims/C7.json" in outputs
    assert E8 not in outputs
    with _edited(lib / "distributed" / "protocol.py", '"""', '"""Edited. '):  # the protocol: E8 alone
        outputs = planned_outputs(smoke_run, *SMOKE, TARGET)
    assert _rerun_experiments(outputs) == set() and E8 in outputs
