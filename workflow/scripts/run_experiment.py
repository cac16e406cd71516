"""Stage 2: one (experiment, setting, group of seeds) job."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.gpu_slots import claim_gpus
from paper_checks.joblog import setup_logging
from paper_checks.runner import checkpoint_file, run_experiment
from paper_checks.sweeps import group_seeds

setup_logging(snakemake.log[0], snakemake.threads)
# the job's GPUs (config resources' `gpu`): ones no other running job holds (paper_checks.gpu_slots)
with claim_gpus(snakemake.resources.gpu):
    run_experiment(
        module=snakemake.params.module,
        experiment=snakemake.wildcards.experiment,
        setting=snakemake.wildcards.setting,
        seeds=group_seeds(snakemake.wildcards.group),
        config=snakemake.params.config,
        code=snakemake.params.code,
        tokens=snakemake.input.tokens,
        tuning=snakemake.input.get("tuning"),
        output=snakemake.output[0],
        # read from the config, not the rule's params: how often progress is saved does not
        # change the results, so changing it must not rerun the job
        checkpoint=checkpoint_file(snakemake.output[0]),
        checkpoint_every=snakemake.config["checkpoint_every"],
        allow_cpu_generator=snakemake.config["allow_cpu_generator"],
    )
