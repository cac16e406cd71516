# Stage 4: one verdict per claim, from its own entry of paper_checks/claims.yaml and its
# experiment's data file.


rule evaluate_claim:
    input:
        data=claim_data,
    output:
        verdict="results/claims/{claim}.json",
        figure=report(
            "results/claims/{claim}.png",
            caption="../report/claim_figure.rst",
            category="Claims",
            subcategory="{claim}",
            labels={"claim": "{claim}"},
        ),
    log:
        "logs/claims/{claim}.log",
    conda:
        "../envs/holograd.yaml"
    params:
        claim=claim_entry,
        experiment=claim_experiment,
        code=CLAIM_CODE,
    script:
        "../scripts/evaluate_claim.py"
