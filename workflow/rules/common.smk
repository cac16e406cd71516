# Helpers of the workflow: config validation, the claim catalog, and functions that name
# each rule's inputs and its slice of the configuration.

import os
import sys
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(workflow.basedir).parent
# The workflow imports the project's packages from the repository itself (as every script
# does through scripts/_project.py), so nothing needs the project installed.
sys.path.insert(0, str(REPO))

from holograd.files import read_json
from holograd.numerics import PINNED, pin_cpu_numerics
from paper_checks.catalog import (
    CLAIMS_FILE,
    EXPERIMENTS_FILE,
    PUBLISHED_FILE,
    family_size,
    load_claims,
    load_experiments,
    load_published,
)
from paper_checks.configuration import check_config
from paper_checks.failures import failed_jobs, not_run_reasons
from paper_checks.hashing import config_hash, content_sha256, source_hash
from paper_checks import sweeps
from paper_checks.preregistration import last_commit_of
from paper_checks.provenance import GIT_COMMIT_VARIABLE, git_commit

# One line naming the offending key (Snakemake's validate prints the whole schema), then
# Snakemake's validate to fill in the schema's defaults.
check_config(config)
validate(config, schema="../schemas/config.schema.yaml", set_default=True)

# The commit every result records, read here where Snakemake runs and handed to every job,
# also to those on remote machines, which receive the tracked files but not .git.
os.environ.setdefault(GIT_COMMIT_VARIABLE, git_commit(REPO))
# Every job's CPU arithmetic pinned to AVX2 (holograd/numerics.py): its files are then the
# same on any x86-64 machine with AVX2.  Set here, before any job starts, and handed to
# remote jobs; each job's script sets them again before it computes.
pin_cpu_numerics()


envvars:
    GIT_COMMIT_VARIABLE,
    *PINNED,


def check_device_before_jobs():
    """Where this machine runs the jobs (local execution), check once, before the first job,
    that it can give them the configured device (`python -m holograd.device_check`, in a process
    of its own): with `device: cuda` and no usable GPU or Triton kernels, the run stops here
    with one line instead of failing every job in turn (the profiles keep going after a
    failed job).  Remote jobs are checked where they run, each at its start."""
    import subprocess

    device = config["device"]
    if not device.startswith("cuda") or not workflow.local_exec:
        return
    command = [sys.executable, "-m", "holograd.device_check", device]
    if config["allow_cpu_generator"]:
        command.append("--allow-cpu-generator")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
        ),
    }
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [
            f"exit status {result.returncode}"
        ]
        raise WorkflowError(f"no job started: {lines[-1]}")
    logger.info(f"device check: {result.stdout.strip()}")


onstart:
    check_device_before_jobs()


EXPERIMENTS = load_experiments(EXPERIMENTS_FILE)
CLAIMS = load_claims(CLAIMS_FILE, EXPERIMENTS)
# The confirmatory family: the parts of every claim's primary reading in claims.yaml (whatever
# the config runs), each decided at alpha / FAMILY_SIZE (paper_checks/verdict.py).
FAMILY_SIZE = family_size(CLAIMS)
# The authors' published numbers, checked against the claims when the workflow starts; the
# summary reads the file itself (an input of write_summary: editing it reruns the summary).
load_published(PUBLISHED_FILE, CLAIMS)
PUBLISHED = os.path.relpath(PUBLISHED_FILE, REPO)
CONFIGURED = [key for key in EXPERIMENTS if key in config["experiments"]]
ACTIVE_CLAIMS = [c for c in CLAIMS if c["experiment"] in CONFIGURED]
FIGURE_OF = {EXPERIMENTS[key]["figure"]: key for key in CONFIGURED}


wildcard_constraints:
    experiment="|".join(CONFIGURED) or "none",
    claim="|".join(c["id"] for c in ACTIVE_CLAIMS) or "none",
    figure="|".join(FIGURE_OF) or "none",
    seed=r"\d+",
    group=sweeps.GROUP_PATTERN,
    vocab=r"\d+",


# --- data -------------------------------------------------------------------------------


def token_cache(vocab_size=None):
    """The token cache of the configured corpus (one file per dataset/tokenizer pair)."""
    data = config["data"]
    if data["corpus"] == "embedded":
        return f"resources/tokens/embedded-bpe{vocab_size or data['vocab_size']}.pt"
    return "resources/tokens/wikitext2-gpt2.pt"


def token_cache_of(wildcards):
    """An experiment's token cache: its own vocab_size, if it sets one, else the data's."""
    return token_cache(section(wildcards.experiment).get("vocab_size"))


# --- experiments ------------------------------------------------------------------------


def section(experiment):
    return config["experiments"][experiment]


def seed_groups(experiment):
    """The groups of seeds of an experiment's settings, one measurement job each (config
    `seeds_per_job`, paper_checks.sweeps.seed_groups)."""
    return sweeps.seed_groups(section(experiment)["seeds"], config["seeds_per_job"])


def run_files(wildcards):
    """Every measurement file of an experiment: one per setting and group of seeds."""
    s = section(wildcards.experiment)
    return [
        f"results/runs/{wildcards.experiment}/{setting}/{sweeps.group_name(seeds)}.json"
        for setting in sweeps.setting_names(s)
        for seeds in seed_groups(wildcards.experiment)
    ]


def run_inputs(wildcards):
    """A measurement job reads the token cache, and its setting's tuning if it has one."""
    inputs = {"tokens": token_cache_of(wildcards)}
    if EXPERIMENTS[wildcards.experiment].get("tuned"):
        inputs["tuning"] = (
            f"results/tuning/{wildcards.experiment}/{wildcards.setting}.json"
        )
    return inputs


@cache
def tuning_arms(experiment, setting):
    """{arm: the arms whose tuned rates it needs} of a tuned setting, from its measurement
    module (paper_checks.runner.tuning_arms): one tuning job per arm."""
    from paper_checks.runner import tuning_arms as arms_of

    job = sweeps.job_config(section(experiment), setting, config["device"])
    return arms_of(EXPERIMENTS[experiment]["module"], job)


def tuning_arm_files(wildcards):
    """The tuning files of every tuned arm of a setting, which its tuning file is assembled from."""
    w = wildcards
    return [
        f"results/tuning/{w.experiment}/{w.setting}/{arm}.json"
        for arm in tuning_arms(w.experiment, w.setting)
    ]


def tuning_arm_inputs(wildcards):
    """A tuning job reads the token cache and the tuning files of the arms it needs."""
    w = wildcards
    arms = tuning_arms(w.experiment, w.setting)
    if w.arm not in arms:
        raise ValueError(
            f"{w.experiment} {w.setting}: {w.arm!r} is not a tuned arm; the tuned arms are {list(arms)}"
        )
    return {
        "tokens": token_cache_of(wildcards),
        "needs": [
            f"results/tuning/{w.experiment}/{w.setting}/{arm}.json"
            for arm in arms[w.arm]
        ],
    }


def job_config_of(wildcards):
    """A job's slice of the config (sweeps.job_config): its setting's configuration and the device."""
    return sweeps.job_config(
        section(wildcards.experiment), wildcards.setting, config["device"]
    )


# What a tuning or measurement job asks its executor for (config `resources`, documented in
# the schema): the built-in values, then `resources.default`, then the experiment's own keys.
JOB_RESOURCES = {
    "threads": 1,
    "gpu": 0,
    "gpu_model": "",
    "mem_mb": 2000,
    "disk_mb": 4000,
    "runtime": 30,
}


def job_resources(experiment):
    chosen = config.get("resources", {})
    return {**JOB_RESOURCES, **chosen.get("default", {}), **chosen.get(experiment, {})}


def job_threads(wildcards):
    return job_resources(wildcards.experiment)["threads"]


def job_resource(key, experiment=None):
    """A resource as Snakemake takes it: a function of the job's wildcards (of the given
    experiment's, for a rule without an experiment wildcard)."""

    def of_job(wildcards):
        return job_resources(experiment or wildcards.experiment)[key]

    return of_job


def job_runtime(wildcards):
    """A measurement job's wall-time limit: `runtime` once per seed it runs, one after another."""
    seeds = sweeps.group_seeds(wildcards.group)
    return job_resources(wildcards.experiment)["runtime"] * len(seeds)


def job_mem_mb(experiment=None):
    """Memory as Snakemake takes it: it grows with the attempt, so a retry after running out
    of memory can succeed."""

    def of_job(wildcards, attempt):
        return job_resources(experiment or wildcards.experiment)["mem_mb"] * attempt

    return of_job


def experiment_module(wildcards):
    return EXPERIMENTS[wildcards.experiment]["module"]


@cache
def experiment_code(experiment):
    """Hash of the sources a measurement depends on: the experiment's measurement module,
    the job runner and every project module they import (a change elsewhere, its analysis
    module included, reruns no measurement)."""
    return source_hash(EXPERIMENTS[experiment]["module"], "paper_checks.runner")


@cache
def analysis_code(stage, experiment):
    """Hash of the sources a stage after the measurements depends on: the stage's module
    and the experiment's analysis module, with what they import (editing one experiment's
    analysis reruns that experiment's aggregation, figure and claims only)."""
    return source_hash(stage, EXPERIMENTS[experiment]["analysis"])


def run_code(wildcards):
    return experiment_code(wildcards.experiment)


def aggregation_code(wildcards):
    return analysis_code("paper_checks.aggregation", wildcards.experiment)


def experiment_analysis(wildcards):
    return EXPERIMENTS[wildcards.experiment]["analysis"]


def experiment_section(wildcards):
    return section(wildcards.experiment)


def data_file_of_figure(wildcards):
    return f"results/data/{FIGURE_OF[wildcards.figure]}.json"


def analysis_of_figure(wildcards):
    return EXPERIMENTS[FIGURE_OF[wildcards.figure]]["analysis"]


def figure_code(wildcards):
    return analysis_code("paper_checks.plotting", FIGURE_OF[wildcards.figure])


def figure_labels(wildcards):
    """The report's labels of an experiment figure: which experiment, which claims it serves."""
    key = FIGURE_OF[wildcards.figure]
    return {
        "experiment": f"{EXPERIMENTS[key]['id']}: {EXPERIMENTS[key]['title']}",
        "claims": ", ".join(c["id"] for c in ACTIVE_CLAIMS if c["experiment"] == key),
    }


def claims_of_figure(wildcards):
    """The figure's claims as claims.yaml states them (expected values, acceptance regions,
    what the claim and its readings select)."""
    return [
        {
            k: c[k]
            for k in (
                "id",
                "expected",
                "acceptance",
                "also_requires",
                "select",
                "readings",
            )
            if k in c
        }
        for c in ACTIVE_CLAIMS
        if c["experiment"] == FIGURE_OF[wildcards.figure]
    ]


# --- claims and summary -----------------------------------------------------------------


def claim_entry(wildcards):
    """The claim's own entry of claims.yaml (its parsed region left out: it is the text)."""
    claim = next(c for c in ACTIVE_CLAIMS if c["id"] == wildcards.claim)
    return {k: v for k, v in claim.items() if k != "region"}


def claim_experiment(wildcards):
    return EXPERIMENTS[claim_entry(wildcards)["experiment"]]


def claim_data(wildcards):
    return f"results/data/{claim_entry(wildcards)['experiment']}.json"


def claim_code(wildcards):
    return analysis_code(
        "paper_checks.evaluation", claim_entry(wildcards)["experiment"]
    )


# --- E8, the distributed protocol -------------------------------------------------------

# The systems check beside the claims: its name (of its result, log, benchmark and its key
# in the config's `resources`) and its module (job, figure, summary section).
SYSTEMS_CHECK = "e8_distributed_protocol"
SYSTEMS_ANALYSIS = "paper_checks.experiments.distributed_protocol"
SYSTEMS_RESULT = f"results/systems/{SYSTEMS_CHECK}.json"
SYSTEMS_FIGURE = "results/figures/distributed_protocol.png"


def distributed_tokens(wildcards):
    """E8's token cache: its own vocab_size, if it sets one, else the data's."""
    return token_cache(config["distributed"].get("vocab_size"))


def distributed_threads(wildcards):
    """One process per worker, each with the run's torch threads."""
    run = config["distributed"]["run"]
    return run["workers"] * run.get("threads", 1)


def distributed_section(wildcards):
    return config["distributed"]


def given_gpus():
    """The GPUs the run was given (`--resources gpu=N`), or None when it set no limit."""
    return workflow.global_resources.get("gpu").value


def distributed_gpus(wildcards):
    """E8's GPUs: its configured `gpu`, but at most what the run was given, since its ranks
    can share GPUs (holograd.distributed.placement).  A job asking for more than
    `--resources gpu=N` would stop the whole run when it became ready (Snakemake's
    validate_job); so on one GPU, E8's four ranks share it."""
    wanted, given = job_resources(SYSTEMS_CHECK)["gpu"], given_gpus()
    return wanted if given is None else min(wanted, given)


DISTRIBUTED_CODE = source_hash(
    "paper_checks.systems_runner", "holograd.distributed.train"
)
SYSTEMS_FIGURE_CODE = source_hash("paper_checks.plotting", SYSTEMS_ANALYSIS)


# The summary reads every analysis (each claim's lines) and its template.
SUMMARY_CODE = source_hash(
    "paper_checks.summary",
    SYSTEMS_ANALYSIS,
    *sorted({e["analysis"] for e in EXPERIMENTS.values()}),
    files=["paper_checks/templates/summary.md.j2"],
)
CONFIG_CODE = source_hash("paper_checks.configuration")


# Everything after the measurements is light and runs where Snakemake runs: a remote
# executor never rents a machine for it.  So does the data preparation, which needs the
# network once (the Hugging Face hub for WikiText-2); remote jobs get its token file as input.
localrules:
    prepare_embedded_tokens,
    prepare_wikitext2_tokens,
    aggregate_experiment,
    plot_experiment,
    evaluate_claim,
    write_config,
    write_summary,
    plot_distributed_protocol,


def summary_inputs():
    return {
        "config": "results/config.yaml",
        "published": PUBLISHED,
        "claims": [f"results/claims/{c['id']}.json" for c in ACTIVE_CLAIMS],
        "data": [f"results/data/{k}.json" for k in CONFIGURED],
        "figures": [
            f"results/figures/{EXPERIMENTS[k]['figure']}.png" for k in CONFIGURED
        ],
        "systems": (
            [SYSTEMS_RESULT, SYSTEMS_FIGURE] if "distributed" in config else []
        ),
    }


def summary_catalog():
    """What the summary needs of the catalog: every claim (NOT RUN ones too) and experiment."""
    return {
        "claims": [{k: v for k, v in c.items() if k != "region"} for c in CLAIMS],
        "experiments": EXPERIMENTS,
    }


# --- after a failure --------------------------------------------------------------------


def judged_in_this_configuration(claim):
    """The claim's verdict file, if it exists and was judged from the current configuration,
    measurement code and analysis code (a verdict left from an earlier run is not)."""
    verdict, data = (
        f"results/claims/{claim['id']}.json",
        f"results/data/{claim['experiment']}.json",
    )
    if not (os.path.exists(verdict) and os.path.exists(data)):
        return None
    v, d = read_json(verdict), read_json(data)
    section_hash = config_hash(
        sweeps.experiment_config(section(claim["experiment"]), config["device"])
    )
    current = (
        v.get("config_sha256") == section_hash
        and d.get("code_sha256") == experiment_code(claim["experiment"])
        and v["data_files"][0]["sha256"] == content_sha256(data)
        and v.get("code_sha256")
        == analysis_code("paper_checks.evaluation", claim["experiment"])
    )
    return verdict if current else None


def systems_after_failure(failed):
    """E8's part of a summary after a failure: its result if this run's code made it, else
    why it is missing."""
    if "distributed" not in config:
        return {}
    if any(SYSTEMS_RESULT in job.outputs for job in failed):
        return {
            "systems_note": f"**NOT RUN**: its job failed (logs/systems/{SYSTEMS_CHECK}.log)."
        }
    if (
        os.path.exists(SYSTEMS_RESULT)
        and read_json(SYSTEMS_RESULT)["provenance"]["code_sha256"] == DISTRIBUTED_CODE
    ):
        return {
            "systems_file": SYSTEMS_RESULT,
            "systems_figure": (
                SYSTEMS_FIGURE if os.path.exists(SYSTEMS_FIGURE) else None
            ),
        }
    return {"systems_note": "**NOT RUN**: the run stopped before it."}


def summary_after_failure(snakemake_logs):
    """When jobs fail, a run that was to write the summary still writes it: the claims judged
    in this run, and every other claim NOT RUN with the failure that stopped it."""
    from paper_checks.summary import write_summary  # here: it imports every analysis

    targets = set(workflow.dag_settings.targets)
    if targets and not targets & {"all", "results/RESULTS_SUMMARY.md"}:
        return
    text = "\n".join(Path(p).read_text() for p in snakemake_logs if Path(p).is_file())
    failed = failed_jobs(text)
    token_users = {}
    for key in CONFIGURED:
        token_users.setdefault(token_cache(section(key).get("vocab_size")), []).append(
            key
        )
    reasons = not_run_reasons(failed, ACTIVE_CLAIMS, FIGURE_OF, token_users)
    verdicts = {}
    for claim in ACTIVE_CLAIMS:
        if claim["id"] not in reasons:
            verdicts[claim["id"]] = judged_in_this_configuration(claim)
            if verdicts[claim["id"]] is None:
                reasons[claim["id"]] = (
                    "not judged: the run stopped before it (run with --keep-going to finish the other claims)"
                )
    verdicts = {cid: path for cid, path in verdicts.items() if path}
    judged = {c["experiment"] for c in ACTIVE_CLAIMS if c["id"] in verdicts}
    write_summary(
        claims=summary_catalog()["claims"],
        experiments=EXPERIMENTS,
        verdicts=verdicts,
        data_files={k: f"results/data/{k}.json" for k in judged},
        figures={k: f"results/figures/{EXPERIMENTS[k]['figure']}.png" for k in judged},
        output="results/RESULTS_SUMMARY.md",
        config_file=(
            "results/config.yaml" if os.path.exists("results/config.yaml") else None
        ),
        not_run=reasons,
        published_file=PUBLISHED,
        failed=len(failed),
        systems_check=SYSTEMS_ANALYSIS,
        preregistered=last_commit_of(CLAIMS_FILE, REPO),
        **systems_after_failure(failed),
    )
    logger.warning(
        f"{len(failed)} job(s) failed; results/RESULTS_SUMMARY.md lists the claims they stopped as NOT RUN"
    )
