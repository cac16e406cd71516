"""Stage 2a, config `tuning_jobs: per_setting`: one (experiment, setting) tuning job, every
tuned arm in turn (the same tuning file as the per-arm jobs and their assembly)."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.gpu_slots import claim_gpus
from paper_checks.joblog import setup_logging
from paper_checks.runner import checkpoint_file, tune_experiment

setup_logging(snakemake.log.log, snakemake.threads)
# the job's GPUs (config resources' `gpu`): ones no other running job holds (paper_checks.gpu_slots)
with claim_gpus(snakemake.resources.gpu):
    tune_experiment(
        module=snakemake.params.module,
        experiment=snakemake.wildcards.experiment,
        setting=snakemake.wildcards.setting,
        config=snakemake.params.config,
        code=snakemake.params.code,
        tokens=snakemake.input.tokens,
        output=snakemake.output[0],
        # read from the config, not the rule's params: how often progress is saved does not
        # change the results, so changing it must not rerun the job
        checkpoint=checkpoint_file(snakemake.output[0]),
        checkpoint_every=snakemake.config["checkpoint_every"],
        allow_cpu_generator=snakemake.config["allow_cpu_generator"],
    )
