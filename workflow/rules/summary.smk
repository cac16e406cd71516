# Stage 5: results/RESULTS_SUMMARY.md, every claim (NOT RUN ones too) and every experiment,
# and the configuration the run used.


rule write_config:
    output:
        report(
            "results/config.yaml",
            caption="../report/config.rst",
            category="Summary",
        ),
    log:
        "logs/config.log",
    conda:
        "../envs/holograd.yaml"
    params:
        config=config,
        sources=[os.path.relpath(f) for f in workflow.configfiles],
        code=CONFIG_CODE,
    script:
        "../scripts/write_config.py"


rule write_summary:
    input:
        **summary_inputs(),
    output:
        report(
            "results/RESULTS_SUMMARY.md",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/summary.log",
    conda:
        "../envs/holograd.yaml"
    params:
        catalog=summary_catalog(),
        code=SUMMARY_CODE,
    script:
        "../scripts/write_summary.py"
