"""What an experiment's analysis exports, and the helpers every analysis shares.

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
- per claim the experiment serves, `measure(data, select)` -> a Measurement (what the verdict
  rule averages) and `describe(details)` -> the claim's lines in the summary.

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

from paper_checks.intervals import Estimate, mean_ci, worst_case


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
    reduce: str = "mean"  # "mean": mean with Student-t CI; "worst": worst case (intervals.worst_case)
    fixed: Estimate | None = None  # an estimate that is no reduction of per-seed values

    def estimate(self) -> Estimate:
        if self.fixed is not None:
            return self.fixed
        return worst_case(self.values) if self.reduce == "worst" else mean_ci(self.values)


class SelectionError(LookupError):
    """The claim selects a setting or checkpoint that the run does not have."""


@dataclass(frozen=True)
class Claim:
    """How one claim is read from its experiment's data.  A `measure` that also takes the
    claim's acceptance region (to judge a negative control by the same rule) declares a third
    parameter `region`; a claim with parts returns one Measurement per part."""

    measure: Callable[..., Measurement | list[Measurement]]
    describe: Callable[[dict], list[str]] = lambda details: []


@dataclass(frozen=True)
class Experiment:
    """An experiment's analysis: see the module docstring."""

    aggregate: Callable[[list[dict], dict], dict]
    plot: Callable[[dict, dict[str, dict], str | Path], None]
    claims: Mapping[str, Claim] = field(default_factory=dict)
    work: Callable[..., list[tuple[str, str, float]]] | None = None


@dataclass(frozen=True)
class SystemsCheck:
    """A check beside the claims, with no verdict (E8, the protocol across processes): how its
    job runs, its figure from the job's result, and its section of the summary."""

    run: Callable[..., None]
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


# --- helpers of aggregation -----------------------------------------------------------------


def by_setting(runs: list[dict]) -> dict[str, list[dict]]:
    """Runs grouped by setting, each group sorted by seed."""
    settings: dict[str, list[dict]] = {}
    for r in runs:
        settings.setdefault(r["setting"], []).append(r)
    return {name: sorted(rs, key=lambda r: r["seed"]) for name, rs in settings.items()}


def over_seeds(values: list[float]) -> dict:
    """{"per_seed": values, point, low, high, n}: the values and their mean with 95 % CI."""
    return {"per_seed": values, **mean_ci(values).as_dict()}


def training_arm(
    rs: list[dict], name: str, statistics: tuple[str, ...], series: dict[str, str], same: tuple[str, ...] = ()
) -> dict:
    """One arm of a training comparison across the seeds' runs: its tuned rate(s), each of
    `statistics` per seed with mean and 95 % CI, each of `series` (output key: run key) per
    seed, the values in `same` (equal for every seed), and the runs that stopped early."""
    per = [r["metrics"]["arms"][name] for r in rs]
    return {
        "lr": per[0]["lr"],
        **{key: per[0][key] for key in same},
        **{key: over_seeds([p[key] for p in per]) for key in statistics},
        **{out: {str(r["seed"]): p[key] for r, p in zip(rs, per)} for out, key in series.items()},
        "stopped": [p["stopped"] for p in per if p["stopped"]],
    }


# --- helpers of claim statistics ------------------------------------------------------------


def find_setting(data: dict, select: dict) -> tuple[str, dict]:
    """The one setting whose configuration has every value of select["where"].

    No match, or more than one (a `where` too loose for the sweep), cannot be tested."""
    settings, where = data["settings"], select.get("where", {})
    matches = [(name, s) for name, s in settings.items() if all(s["config"].get(k) == v for k, v in where.items())]
    if len(matches) == 1:
        return matches[0]
    wanted = ", ".join(f"{k} = {v}" for k, v in where.items()) or "no condition"
    if not matches:
        have = {k: [s["config"].get(k) for s in settings.values()] for k in where}
        raise SelectionError(f"the run has no setting with {wanted} (it has {have})")
    raise SelectionError(
        f"{len(matches)} settings match {wanted} ({', '.join(n for n, _ in matches)}); name one in claims.yaml's select.where"
    )


def pick(items: list[dict], key: str, wanted, what: str) -> dict:
    """items[-1] for "last"/"largest", the one with key == 0 for "init", else key == wanted."""
    if wanted in ("last", "largest"):
        return items[-1]
    target = 0 if wanted == "init" else wanted
    for item in items:
        if item[key] == target:
            return item
    raise SelectionError(f"the run has no {what} {target} (it has {[i[key] for i in items]})")


def estimate_of(stat: dict) -> dict:
    """The estimate of an aggregated statistic, without its per-seed values."""
    return {k: stat[k] for k in ("point", "low", "high", "n")}


def stopped_arms(arms: dict, names: list[str]) -> str | None:
    """Why the claim cannot be judged if a run of one of the arms it reads stopped early
    (diverged): "runs stopped early (arm: reason; ...)", else None.  Arms the claim does not
    read do not matter to it."""
    stopped = [f"{arm}: {why}" for arm in names for why in arms[arm]["stopped"]]
    return f"runs stopped early ({'; '.join(stopped)})" if stopped else None
