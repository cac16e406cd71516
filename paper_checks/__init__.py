"""The paper's claims as data, and the rules that turn measurements into verdicts.

Data
- `claims.yaml`       every claim: statement, section, experiment, statistic, expected value,
                      acceptance region (editing it is the one way to change what is tested);
- `experiments.yaml`  every experiment: title, its measurement and analysis modules, figure,
                      the paper's own setting;
- `catalog`           loads both files and checks them against the JSON Schemas in
                      workflow/schemas/ (through holograd.validation; no torch: the workflow
                      reads them when it starts).

Each experiment's analysis
- `experiments/<name>.py`   aggregation over seeds, each claim's statistic, the figure, the
                      claim's lines in the summary (one EXPERIMENT object per module);
- `experiment`        the objects an analysis exports;
- `analysis`          the helpers analyses share (runs by setting, values over seeds, the
                      arms of a training comparison, the setting a claim selects).

The stages of the pipeline (one per rule; none holds a branch for any experiment or claim)
- `runner`            stage 2: one measurement job -> its metrics file with provenance;
- `aggregation`       stage 3: provenance check, then the experiment's aggregate;
- `evaluation`        stage 4: one claim's verdict by the rule in `verdict`;
- `summary`           stage 5: results/RESULTS_SUMMARY.md from templates/summary.md.j2;
- `configuration`     results/config.yaml, the configuration a run used.

What the stages share
- `verdict`, `regions`, `intervals`   the verdict rule, acceptance regions, confidence intervals;
- `sweeps`            an experiment's settings and each job's configuration;
- `hashing`, `provenance`   configuration, content and source hashes; the git commit;
- `plotting`, `formatting`  figure helpers and the verdict figure; how numbers read;
- `failures`, `joblog`      the summary after a failed run; a job's log.
"""
