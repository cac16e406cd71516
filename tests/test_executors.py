"""The pipeline on other machines: the executor profiles in workflow/profiles/ and a real run
of the smoke DAG through a submitting executor (snakemake-executor-plugin-cluster-generic)
whose jobs, like rented machines, see only the shipped files (tests/fake_cluster.py).
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest
import yaml
from pipeline import FAKE_KEY, ROOT, SMOKE, TARGET, snakemake, tracked_copy
from test_workflow import CLAIMS

from paper_checks.verdict import FAIL, INCONCLUSIVE, PASS

# A Python path entry whose sitecustomize makes every network connection fail loudly, so a
# command that reaches for the network (an API, a package index) cannot pass unnoticed.
NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """The environment without cloud credentials, with the network refused."""
    site = tmp_path_factory.mktemp("offline")
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAST", "SNAKEMAKE_VASTAI", "AWS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "network access attempted" in probe.stderr  # the refusal is in force
    return env


def test_profiles_keep_a_plain_run_local():
    default = yaml.safe_load((ROOT / "workflow/profiles/default/config.yaml").read_text())
    assert "executor" not in default  # local execution
    for name, plugin in (("vastai", "vastai"), ("slurm", "slurm")):
        profile = yaml.safe_load((ROOT / f"workflow/profiles/{name}/config.yaml").read_text())
        assert profile["executor"] == plugin and profile["retries"] >= 1
        assert not any(
            "key" in k or "token" in k or "password" in k for k in profile
        )  # credentials come from the environment


def test_remote_jobs_get_the_project_dependencies():
    """The Vast.ai image has torch and nothing else of ours: the profile's precommand installs
    exactly pyproject's other dependencies (Snakemake is installed by the plugin itself).
    Catches a dependency added to pyproject.toml but not to the remote machines."""
    profile = yaml.safe_load((ROOT / "workflow/profiles/vastai/config.yaml").read_text())
    words = shlex.split(profile["precommand"])
    assert words[:4] == ["python", "-m", "pip", "install"]
    installed = {w for w in words[4:] if not w.startswith("-")}
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    # torch comes with the image, snakemake with the plugin; markdown-it-py renders the summary,
    # a local rule that never runs on a rented machine
    local = ("torch", "snakemake", "markdown-it-py")
    expected = {d for d in dependencies if re.split(r"[<>=!~ \[]", d)[0] not in local}
    assert installed == expected
    # Snakemake tries each profile value as a file name in the profile's folder: one over 255
    # characters makes that an OSError ("File name too long") and no run starts
    assert len(profile["precommand"]) < 255


@pytest.mark.parametrize("profile", ["vastai", "slurm"])
def test_remote_dry_run_needs_no_credentials_and_no_network(profile, offline_env):
    result = snakemake(
        ROOT,
        "-n",
        "--workflow-profile",
        f"workflow/profiles/{profile}",
        "--configfile",
        "config/paper.yaml",
        "--",
        TARGET,
        env=offline_env,
    )
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    assert int(counts["run_experiment"]) > 0 and int(counts["tune_experiment"]) > 0


def test_vastai_run_without_a_key_stops_before_any_job_and_names_the_variable(tmp_path, offline_env):
    repo = tracked_copy(tmp_path / "repo")
    home = tmp_path / "home"  # no ~/.config/vastai/vast_api_key either
    home.mkdir()
    result = snakemake(
        repo,
        "--workflow-profile",
        "workflow/profiles/vastai",
        *SMOKE,
        TARGET,
        check=False,
        env={**offline_env, "HOME": str(home)},
    )
    assert result.returncode != 0
    last = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()][-1]
    assert "VAST_API_KEY" in last, last
    assert not (repo / "results").exists() and not (repo / "resources").exists()


def test_smoke_dag_runs_through_a_submitting_executor(cluster_smoke_run):
    repo, queue, result = cluster_smoke_run
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "cluster-generic" in result.stderr + result.stdout  # really submitted, not run locally
    jobs = [d for d in queue.iterdir() if (d / "state").is_file()]
    rules = sorted(
        json.loads(re.search(r"^# properties = (.*)$", (d / "jobscript.sh").read_text(), re.MULTILINE).group(1))["rule"]
        for d in jobs
    )
    # only tuning (one job per setting in the smoke config) and measurement jobs (and E8's run)
    # were submitted; everything else is a local rule
    assert set(rules) == {"tune_setting", "run_experiment", "distributed_protocol"}
    assert all((d / "state").read_text() == "success" for d in jobs)
    assert rules.count("run_experiment") == len(list((repo / "results" / "runs").rglob("seeds*.json")))
    for claim in CLAIMS:
        verdict = json.loads((repo / "results" / "claims" / f"{claim}.json").read_text())
        assert verdict["verdict"] in (PASS, FAIL, INCONCLUSIVE)


def test_remote_jobs_bring_back_their_logs_and_benchmark_files(cluster_smoke_run):
    """Only outputs and logs come back from a job's machine; the benchmark file is among the
    logs, so it comes back too (without that, Snakemake reports it missing and fails the job)."""
    repo, _, _ = cluster_smoke_run
    runs = sorted((repo / "results" / "runs").rglob("seeds*.json"))
    for run in runs:
        relative = run.relative_to(repo / "results" / "runs").with_suffix("")
        bench = repo / "results" / "benchmarks" / "runs" / relative.with_suffix(".tsv")
        assert bench.is_file() and bench.read_text().startswith("s\t")
        assert (repo / "logs" / "runs" / relative.with_suffix(".log")).stat().st_size > 0


def test_credentials_in_the_environment_reach_no_file(cluster_smoke_run):
    """The run had VAST_API_KEY and AWS_SECRET_ACCESS_KEY set (jobs inherit the environment);
    no result, log, benchmark, job script or Snakemake record contains them, on the
    submitting side or on the jobs' machines.  Catches a rule, script or
    provenance record that copies the environment into what it writes."""
    repo, queue, _ = cluster_smoke_run
    written = [p for p in [*repo.rglob("*"), *queue.rglob("*")] if p.is_file() and ".git" not in p.parts]
    assert len(written) > 100
    assert [str(p.relative_to(repo)) for p in written if FAKE_KEY.encode() in p.read_bytes()] == []


def test_job_times_table_covers_every_remote_job(cluster_smoke_run, tmp_path):
    """benchmarks/job_times.py (the per-job table the README's GPU-hour estimate comes from)
    finds one benchmark row per tuning and measurement job of the run."""
    repo, queue, _ = cluster_smoke_run
    out = tmp_path / "job_times.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "job_times.py"),
            "--results",
            str(repo / "results"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    summary = json.loads(out.read_text())
    assert summary["jobs"] == len([d for d in queue.iterdir() if (d / "state").is_file()])
    assert summary["job_seconds"] > 0 and summary["devices"] == ["cpu (" + os.uname().machine + ")"]
