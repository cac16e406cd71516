# Stages 2-3: one job per (experiment, setting, seed), then one aggregation and one figure
# per experiment.  The experiment's two modules (paper_checks/experiments.yaml) do the work:
# its measurement module runs the jobs, its analysis module aggregates and plots.


rule tune_experiment:
    input:
        tokens=token_cache_of,
    output:
        "results/tuning/{experiment}/{setting}.json",
    log:
        log="logs/tuning/{experiment}/{setting}.log",
        # the benchmark file again, among the logs: executors that bring back only outputs
        # and logs from a remote machine (Vast.ai's SSH transfer) bring it back too
        benchmark="results/benchmarks/tuning/{experiment}/{setting}.tsv",
    benchmark:
        "results/benchmarks/tuning/{experiment}/{setting}.tsv"
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


rule run_experiment:
    input:
        unpack(run_inputs),
    output:
        "results/runs/{experiment}/{setting}/seed{seed}.json",
    log:
        log="logs/runs/{experiment}/{setting}/seed{seed}.log",
        # the benchmark file again, among the logs: executors that bring back only outputs
        # and logs from a remote machine (Vast.ai's SSH transfer) bring it back too
        benchmark="results/benchmarks/runs/{experiment}/{setting}/seed{seed}.tsv",
    benchmark:
        "results/benchmarks/runs/{experiment}/{setting}/seed{seed}.tsv"
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
