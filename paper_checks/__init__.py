"""The paper's claims as data, and the rules that turn measurements into verdicts.

- `claims.yaml`       every claim: statement, section, experiment, statistic, expected value,
                      acceptance region (editing it is the one way to change what is tested);
- `experiments.yaml`  every experiment: title, module, figure, the paper's own setting;
- `catalog`           loads and validates both files (no torch: the workflow reads it);
- `regions`           acceptance regions written as intervals, e.g. "[0.04, 0.10]";
- `verdict`           the verdict rule shared by every claim;
- `statistics`        per claim, the statistic taken from its experiment's data;
- `provenance`        hashes, environment, atomic writes;
- `figures`, `summary` the figures and results/RESULTS_SUMMARY.md.
"""
