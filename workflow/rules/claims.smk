# Stage 4: one verdict per claim, from its own entry of paper_checks/claims.yaml and its
# experiment's data file.


rule evaluate_claim:
    input:
        data=claim_data,
    output:
        # In the report (snakemake --report): one category per claim, its figure and verdict.
        verdict=report(
            "results/claims/{claim}.json",
            caption="../report/claim_verdict.rst",
            category="{claim}",
            labels={"claim": "{claim}", "file": "verdict (JSON)"},
        ),
        figure=report(
            "results/claims/{claim}.png",
            caption="../report/claim_figure.rst",
            category="{claim}",
            labels={"claim": "{claim}", "file": "figure"},
        ),
    log:
        "logs/claims/{claim}.log",
    conda:
        "../envs/holograd.yaml"
    params:
        claim=claim_entry,
        experiment=claim_experiment,
        code=claim_code,
        family=FAMILY_SIZE,
    script:
        "../scripts/evaluate_claim.py"
