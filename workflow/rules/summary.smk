# Stage 5: results/RESULTS_SUMMARY.md, every claim (NOT RUN ones too) and every experiment.


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
