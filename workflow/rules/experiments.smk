# Stages 2-3: one job per (experiment, setting, group of seeds), then one aggregation and one figure
# per experiment.  The experiment's two modules (paper_checks/experiments.yaml) do the work:
# its measurement module runs the jobs, its analysis module aggregates and plots.


# Tuning, config `tuning_jobs`: per_arm, one job per tuned arm of a setting (the module's
# tuning_arms), after the arms whose rates it needs, so that arms tune in parallel, and the
# setting's file assembled from them; per_setting, one job tuning every arm in turn.
if config["tuning_jobs"] == "per_arm":

    ruleorder: assemble_tuning > tune_setting

else:

    ruleorder: tune_setting > assemble_tuning


rule tune_experiment:
    input:
        unpack(tuning_arm_inputs),
    output:
        "results/tuning/{experiment}/{setting}/{arm}.json",
    log:
        log="logs/tuning/{experiment}/{setting}/{arm}.log",
        # the benchmark file again, among the logs: executors that bring back only outputs
        # and logs from a remote machine (Vast.ai's SSH transfer) bring it back too
        benchmark="results/benchmarks/tuning/{experiment}/{setting}/{arm}.tsv",
    benchmark:
        "results/benchmarks/tuning/{experiment}/{setting}/{arm}.tsv"
    wildcard_constraints:
        setting="[^/]+",
        arm="[^/]+",
    # first among the ready jobs: every measurement job of a tuned setting waits for tuning
    priority: 1
    conda:
        "../envs/holograd.yaml"
    threads: job_threads
    resources:
        gpu=job_resource("gpu"),
        gpu_model=job_resource("gpu_model"),
        mem_mb=job_mem_mb(),
        disk_mb=job_resource("disk_mb"),
        runtime=job_resource("runtime"),
    params:
        config=job_config_of,
        module=experiment_module,
        code=run_code,
    script:
        "../scripts/tune_experiment.py"


rule assemble_tuning:
    input:
        tokens=token_cache_of,
        arms=tuning_arm_files,
    output:
        "results/tuning/{experiment}/{setting}.json",
    log:
        "logs/tuning/{experiment}/{setting}.log",
    wildcard_constraints:
        setting="[^/]+",
    localrule: True
    conda:
        "../envs/holograd.yaml"
    params:
        config=job_config_of,
        module=experiment_module,
        code=run_code,
    script:
        "../scripts/assemble_tuning.py"


rule tune_setting:
    input:
        tokens=token_cache_of,
    output:
        "results/tuning/{experiment}/{setting}.json",
    log:
        log="logs/tuning/{experiment}/{setting}.log",
        # the benchmark file again, among the logs (see tune_experiment)
        benchmark="results/benchmarks/tuning/{experiment}/{setting}.tsv",
    benchmark:
        "results/benchmarks/tuning/{experiment}/{setting}.tsv"
    wildcard_constraints:
        setting="[^/]+",
    priority: 1
    conda:
        "../envs/holograd.yaml"
    threads: job_threads
    resources:
        gpu=job_resource("gpu"),
        gpu_model=job_resource("gpu_model"),
        mem_mb=job_mem_mb(),
        disk_mb=job_resource("disk_mb"),
        runtime=job_resource("runtime"),
    params:
        config=job_config_of,
        module=experiment_module,
        code=run_code,
    script:
        "../scripts/tune_setting.py"


# One job per setting and group of seeds (config `seeds_per_job`): the group's runs one after
# another in one process, one file holding a record per seed.
rule run_experiment:
    input:
        unpack(run_inputs),
    output:
        "results/runs/{experiment}/{setting}/{group}.json",
    log:
        log="logs/runs/{experiment}/{setting}/{group}.log",
        # the benchmark file again, among the logs: executors that bring back only outputs
        # and logs from a remote machine (Vast.ai's SSH transfer) bring it back too
        benchmark="results/benchmarks/runs/{experiment}/{setting}/{group}.tsv",
    benchmark:
        "results/benchmarks/runs/{experiment}/{setting}/{group}.tsv"
    conda:
        "../envs/holograd.yaml"
    threads: job_threads
    resources:
        gpu=job_resource("gpu"),
        gpu_model=job_resource("gpu_model"),
        mem_mb=job_mem_mb(),
        disk_mb=job_resource("disk_mb"),
        runtime=job_runtime,
    params:
        config=job_config_of,
        module=experiment_module,
        code=run_code,
    script:
        "../scripts/run_experiment.py"


rule aggregate_experiment:
    input:
        runs=run_files,
    output:
        "results/data/{experiment}.json",
    log:
        "logs/data/{experiment}.log",
    conda:
        "../envs/holograd.yaml"
    params:
        section=experiment_section,
        device=config["device"],
        run_code=run_code,
        analysis=experiment_analysis,
        code=aggregation_code,
    script:
        "../scripts/aggregate_experiment.py"


rule plot_experiment:
    input:
        data_file_of_figure,
        # A figure may draw the authors' published numbers beside ours.
        published=PUBLISHED,
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/experiment_figure.rst",
            category="Experiments",
            labels=figure_labels,
        ),
    log:
        "logs/figures/{figure}.log",
    conda:
        "../envs/holograd.yaml"
    params:
        analysis=analysis_of_figure,
        claims=claims_of_figure,
        code=figure_code,
    script:
        "../scripts/plot_experiment.py"
