"""The measurements behind the paper's claims, one module per experiment.

Every experiment module offers the function that a measurement job (paper_checks.runner)
calls, and a training experiment (one built on arms.Bench) the tuning job's too:

    run(cfg, seed, cache, device[, tuned], *, checkpoint=None) -> dict
                                    one (setting, seed) job: its metrics (`tuned`: the
                                    learning rates its tuning job chose)
    tuning_arms(cfg) -> dict[str, list[str]]
                                    the arms whose rates a setting tunes, in the order a
                                    one-job tuning runs them, each with the arms whose tuned
                                    records it needs (a warm-up's rate, ...)
    tune_arm(cfg, cache, device, arm, tuned, *, checkpoint=None) -> dict
                                    one arm's rate(s), on a seed of their own (`tuned`: the
                                    records of the arms it needs); one tuning job per arm
    assemble_tuning(cfg, tuned) -> dict
                                    the setting's learning rates from every arm's record (the
                                    `tuned` that run receives; untuned mirrors get their rate)
    tune(cfg, cache, device, *, checkpoint=None) -> dict
                                    the same in one job: arms.tune_all over tuning_arms

`cfg` is the experiment's configuration for one setting (a sweep value already filled in);
`cache` is a verified `holograd.data.TokenCache`; `checkpoint` is the job's saved progress
(holograd.checkpoint.Checkpoint, opened by the job runner; None: nothing is saved), which a
training experiment's runs resume from.  Aggregating the jobs of an experiment is
paper_checks' business (paper_checks.experiments).  The modules import only the parts of
`holograd` they use, so that the pipeline can tell from their imports which experiments a
change to the library invalidates.

| module                | experiment | claim  |
|-----------------------|------------|--------|
| gradient_variability  | E1         | C2     |
| kd_ratio              | E2         | C1     |
| momentum_comparison   | E3         | C3, C4 |
| adc_energy            | E4         | C5     |
| unbiased_estimator    | E5         | C6     |
| pogp_verification     | E6         | C8     |
| byzantine             | E7         | C7     |

`arms` holds what the training experiments share (the fair bench of arms, tuning), `setup`
the device, the samples and the scale record of a job.
"""
