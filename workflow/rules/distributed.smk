# E8, the systems check (no claim): the protocol across real processes with torchrun,
# exchanging only proofs and verdicts (holograd.distributed).  Runs when the config has a
# `distributed` section; its numbers and figure go into the summary beside the claims.


rule distributed_protocol:
    input:
        tokens=distributed_tokens,
    output:
        "results/systems/e8_distributed_protocol.json",
    log:
        log="logs/systems/e8_distributed_protocol.log",
        # among the logs too, for executors that bring back only outputs and logs
        benchmark="results/benchmarks/systems/e8_distributed_protocol.tsv",
    benchmark:
        "results/benchmarks/systems/e8_distributed_protocol.tsv"
    conda:
        "../envs/holograd.yaml"
    # one process per worker: Snakemake scales this down to --cores on a small machine
    threads: distributed_threads
    resources:
        gpu=job_resource("gpu", "e8_distributed_protocol"),
        gpu_model=job_resource("gpu_model", "e8_distributed_protocol"),
        mem_mb=job_mem_mb("e8_distributed_protocol"),
        disk_mb=job_resource("disk_mb", "e8_distributed_protocol"),
        runtime=job_resource("runtime", "e8_distributed_protocol"),
    params:
        section=lambda wc: config["distributed"],
        device=config["device"],
        code=DISTRIBUTED_CODE,
    script:
        "../scripts/run_distributed.py"


rule plot_distributed_protocol:
    input:
        "results/systems/e8_distributed_protocol.json",
    output:
        report(
            "results/figures/distributed_protocol.png",
            caption="../report/distributed_figure.rst",
            category="Systems",
        ),
    log:
        "logs/figures/distributed_protocol.log",
    conda:
        "../envs/holograd.yaml"
    params:
        code=FIGURE_CODE,
    script:
        "../scripts/plot_distributed.py"
