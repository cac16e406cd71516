# Stage 5: results/RESULTS_SUMMARY.md, every claim under every reading (NOT RUN ones too),
# the authors' published numbers beside ours and every experiment; beside it the claims x
# readings table as reStructuredText, which the report's landing page includes
# (report/workflow.rst); and the configuration the run used.


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
        summary=report(
            "results/RESULTS_SUMMARY.md",
            caption="../report/summary.rst",
            category="Summary",
        ),
        # the summary readable inside the report (figures embedded)
        summary_html=report(
            "results/RESULTS_SUMMARY.html",
            caption="../report/summary.rst",
            category="Summary",
        ),
        table="results/readings_table.rst",
        # the first screen for the report's landing page (report/workflow.rst)
        overview="results/overview.rst",
        # every (claim, reading, part) as a row, for pandas (paper_checks.verdict_table)
        verdicts_csv="results/verdicts.csv",
        verdicts_json="results/verdicts.json",
        verdicts_figure=report(
            "results/figures/verdicts.png",
            caption="../report/verdicts_figure.rst",
            category="Summary",
        ),
    log:
        "logs/summary.log",
    conda:
        "../envs/holograd.yaml"
    params:
        catalog=summary_catalog(),
        systems_check=SYSTEMS_ANALYSIS,
        code=SUMMARY_CODE,
        # the commit that pre-registered the claims' rules (claims.yaml's last change)
        preregistered=last_commit_of(CLAIMS_FILE, REPO),
    script:
        "../scripts/write_summary.py"


# A run with failed jobs ends here (after every job that does not depend on them, as the
# profiles set keep-going): the summary still lists every claim, NOT RUN ones with the
# failure that stopped them (summary_after_failure, rules/common.smk).
onerror:
    summary_after_failure(log)
