"""Each experiment's analysis: one module per experiment, each exporting EXPERIMENT
(paper_checks.experiment.Experiment), named by paper_checks/experiments.yaml's `analysis`."""
