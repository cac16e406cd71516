"""The measurements behind the paper's claims, one module per experiment.

Every experiment module offers the same two functions, which the pipeline calls:

    run(cfg, seed, cache, device) -> dict      one (setting, seed) job: its metrics
    aggregate(runs, cfg) -> dict               all jobs of the experiment: per-seed values,
                                               means and 95 % confidence intervals

`cfg` is the experiment's configuration for one setting (a sweep value already filled in);
`cache` is a verified `holograd.data.TokenCache`.  The modules import only the parts of
`holograd` they use, so that the pipeline can tell from their imports which experiments a
change to the library invalidates.

| module                | experiment | claim |
|-----------------------|------------|-------|
| gradient_variability  | E1         | C2    |
| unbiased_estimator    | E5         | C6    |
| pogp_verification     | E6         | C8    |
"""
