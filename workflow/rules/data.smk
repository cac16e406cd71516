# Stage 1: one token cache per dataset/tokenizer pair; every measurement job reads it.


rule prepare_embedded_tokens:
    output:
        cache="resources/tokens/embedded-bpe{vocab}.pt",
        tokenizer="resources/tokens/embedded-bpe{vocab}.tokenizer.json",
    log:
        "logs/data/embedded-bpe{vocab}.log",
    conda:
        "../envs/holograd.yaml"
    params:
        corpus="embedded",
        code=source_hash("holograd.data"),
    script:
        "../scripts/prepare_tokens.py"


rule prepare_wikitext2_tokens:
    output:
        cache="resources/tokens/wikitext2-gpt2.pt",
    log:
        "logs/data/wikitext2-gpt2.log",
    conda:
        "../envs/holograd.yaml"
    params:
        corpus="wikitext2",
        code=source_hash("holograd.data"),
    script:
        "../scripts/prepare_tokens.py"
