"""Stage 1: tokenise the configured corpus into a checksummed token cache."""

import _project  # noqa: F401  (the repository on sys.path)

from paper_checks.joblog import setup_logging

setup_logging(snakemake.log[0])

from holograd.data import prepare_token_cache  # noqa: E402

prepare_token_cache(
    snakemake.params.corpus,
    snakemake.output.cache,
    vocab_size=int(snakemake.wildcards.get("vocab", 1024)),
    tokenizer_path=snakemake.output.get("tokenizer"),
)
