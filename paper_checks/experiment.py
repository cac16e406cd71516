"""What an experiment's analysis exports (the helpers analyses share are in paper_checks.analysis).

An experiment lives in two modules (named in paper_checks/experiments.yaml): its measurement,
`holograd/experiments/<name>.py`, and its analysis, `paper_checks/experiments/<name>.py`,
which exports one object

    EXPERIMENT = Experiment(aggregate=..., plot=..., claims={"C6": Claim(measure=..., describe=...)})

- `aggregate(runs, section)`: the run records of every (setting, seed) -> the experiment's
  data (per setting, each statistic's per-seed values with their mean and 95 % CI);
- `plot(data, claims, path)`: the experiment's figure, drawn from its data file and its
  claims' entries of claims.yaml (expected values and acceptance regions are read, never typed);
- `work(model, cfg)`: what its jobs cost for one setting, by the work model of
  benchmarks/estimate_suite.py: [(stage, setting label, seconds)];
- per claim the experiment serves, `measure(data, select, region)` -> a Measurement (what the
  verdict rule averages), `describe(details)` -> the claim's lines in the summary and, if it
  has any, `controls(details)` -> further rows of its verdict figure.

Its config section is described by workflow/schemas/config.schema.yaml (which the workflow
checks when it starts, without importing any analysis).

The framework (aggregation, evaluation, summary, the workflow's rules) iterates over these
objects; it holds no branch for any experiment or claim.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paper_checks.intervals import LEVEL, Estimate, mean_ci, median_ci, ratio_of_means_ci, worst_case
from paper_checks.regions import Region


@dataclass
class Measurement:
    """A claim's statistic as read from the data: the per-seed values the verdict rule reduces
    (their mean with its Student-t CI, or the worst case), what they are, details worth
    reporting, and why the data cannot test the claim if it cannot (-> INCONCLUSIVE)."""

    values: list[float]
    seeds: list[int]
    label: str
    details: dict = field(default_factory=dict)
    untestable: str | None = None
    # "mean": mean with Student-t CI; "median": median with its order-statistic interval, for a
    # statistic of few values; "ratio": the ratio of the means of `pairs` (numerators,
    # denominators per seed) with Fieller's interval, `values` then the per-seed ratios shown;
    # "worst": the worst case (intervals.worst_case)
    reduce: str = "mean"
    fixed: Estimate | None = None  # an estimate that is no reduction of per-seed values
    pairs: tuple[list, list] | None = None
    # an estimate computed from the data at each level (a bracket inverted from tests at that
    # level), for a statistic that is none of the reductions above; `values` are then shown
    at_level: Callable[[float], Estimate] | None = None

    def estimate(self, level: float = LEVEL) -> Estimate:
        """The reduction of the per-seed values, its interval at `level`."""
        if self.fixed is not None:
            return self.fixed
        if self.at_level is not None:
            return self.at_level(level)
        if self.reduce == "worst":
            return worst_case(self.values)
        if self.reduce == "ratio":
            return ratio_of_means_ci(*self.pairs, level)
        return median_ci(self.values, level) if self.reduce == "median" else mean_ci(self.values, level)


class SelectionError(LookupError):
    """The claim selects a setting or checkpoint that the run does not have."""


@dataclass(frozen=True)
class Claim:
    """How one claim is read from its experiment's data.

    measure(data, select, region): the claim's Measurement (one per part, for a claim with
        parts) from the data file, its `select` entry of claims.yaml and the acceptance
        region of its first part (to judge a negative control by the same rule);
    describe(details): the claim's lines in the summary, from the verdict's details;
    controls(details): further rows of the claim's figure beside a part's measurement, each
        (label, per-seed values, estimate) -- a negative control, say."""

    measure: Callable[[dict, dict, Region], Measurement | list[Measurement]]
    describe: Callable[[dict], list[str]] = lambda details: []
    controls: Callable[[dict], list[tuple[str, list, dict]]] = lambda details: []


@dataclass(frozen=True)
class Experiment:
    """An experiment's analysis: see the module docstring."""

    aggregate: Callable[[list[dict], dict], dict]
    plot: Callable[[dict, dict[str, dict], str | Path], None]
    work: Callable[..., list[tuple[str, str, float]]]
    claims: Mapping[str, Claim] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemsCheck:
    """A check beside the claims, with no verdict (E8, the protocol across processes): its
    figure from the job's result, and its section of the summary (its job is stage 2's,
    paper_checks/systems_runner.py)."""

    plot: Callable[[dict, str | Path], None]
    describe: Callable[..., list[str]]


def load_analysis(module: str) -> Experiment:
    """The EXPERIMENT object of an analysis module (experiments.yaml's `analysis`)."""
    return _exported(module, "EXPERIMENT", Experiment)


def load_systems_check(module: str) -> SystemsCheck:
    """The CHECK object of a systems check's module."""
    return _exported(module, "CHECK", SystemsCheck)


def _exported(module: str, name: str, kind: type):
    obj = getattr(importlib.import_module(module), name, None)
    if not isinstance(obj, kind):
        raise TypeError(f"{module} must define {name} = {kind.__name__}(...), got {type(obj).__name__}")
    return obj
