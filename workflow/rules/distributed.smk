# E8, the systems check (no claim): the protocol across real processes with torchrun,
# exchanging only proofs and verdicts (holograd.distributed).  Runs when the config has a
# `distributed` section; its numbers and figure go into the summary beside the claims.


rule distributed_protocol:
    input:
        tokens=distributed_tokens,
    output:
        SYSTEMS_RESULT,
    log:
        log=f"logs/systems/{SYSTEMS_CHECK}.log",
        # among the logs too, for executors that bring back only outputs and logs
        benchmark=f"results/benchmarks/systems/{SYSTEMS_CHECK}.tsv",
    benchmark:
        f"results/benchmarks/systems/{SYSTEMS_CHECK}.tsv"
    conda:
        "../envs/holograd.yaml"
    # one process per worker: Snakemake scales this down to --cores on a small machine
    threads: distributed_threads
    resources:
        gpu=distributed_gpus,
        gpu_model=job_resource("gpu_model", SYSTEMS_CHECK),
        mem_mb=job_mem_mb(SYSTEMS_CHECK),
        disk_mb=job_resource("disk_mb", SYSTEMS_CHECK),
        runtime=job_resource("runtime", SYSTEMS_CHECK),
    params:
        section=distributed_section,
        device=config["device"],
        code=DISTRIBUTED_CODE,
    script:
        "../scripts/run_distributed.py"


rule plot_distributed_protocol:
    input:
        SYSTEMS_RESULT,
    output:
        report(
            SYSTEMS_FIGURE,
            caption="../report/distributed_figure.rst",
            category="Systems",
        ),
    log:
        "logs/figures/distributed_protocol.log",
    conda:
        "../envs/holograd.yaml"
    params:
        analysis=SYSTEMS_ANALYSIS,
        code=SYSTEMS_FIGURE_CODE,
    script:
        "../scripts/plot_distributed.py"
