"""An experiment's settings (the points of its sweep) and the configuration of each job.

An experiment's config section may hold `sweep: {param: [v1, v2, ...]}` (one parameter);
each value is a setting named "<param>-<value>", whose configuration is the section with
that value filled in.  Without a sweep the one setting is "base".  A job's configuration
leaves out `seeds` and `sweep`, so adding a sweep value adds jobs and reruns none.

The seeds of a setting run in groups, one measurement job per group (config `seeds_per_job`):
the seeds in their configured order, cut into consecutive groups of seeds_per_job, the job
named by its seeds ("seeds0_1_2").  So appending seeds to a list whose last group is full
adds jobs and reruns none; changing a seed, or seeds_per_job, reruns the groups it changes.
"""

from __future__ import annotations

import json
import re

BASE = "base"
GROUP_PATTERN = r"seeds\d+(?:_\d+)*"
"""The name of a group of seeds: "seeds" and the seeds joined by "_" (seeds0_1_2)."""


def setting_names(section: dict) -> list[str]:
    sweep = section.get("sweep") or {}
    if not sweep:
        return [BASE]
    (param, values), *rest = sweep.items()
    if rest:
        raise ValueError(f"a sweep varies one parameter, got {sorted(sweep)}")
    return [_name(param, v) for v in values]


def _name(param: str, value) -> str:
    """ "k-16", "kd-0.001", "warm_start-random": a value as JSON, a string as itself."""
    return f"{param}-{value if isinstance(value, str) else json.dumps(value)}"


def resolve(section: dict, setting: str) -> dict:
    """The configuration of one setting: the section without seeds/sweep, the sweep value in."""
    cfg = {k: v for k, v in section.items() if k not in ("seeds", "sweep")}
    if setting == BASE:
        if section.get("sweep"):
            raise ValueError("setting 'base' does not exist in a swept experiment")
        return cfg
    param = setting.partition("-")[0]
    values = [v for v in (section.get("sweep") or {}).get(param, []) if _name(param, v) == setting]
    if not values:
        raise ValueError(f"unknown setting {setting!r}; the settings are {setting_names(section)}")
    cfg[param] = values[0]
    return cfg


def sweep_of(section: dict, setting: str) -> dict:
    """{param: value} of a swept setting, {} for "base"."""
    if setting == BASE:
        return {}
    param = setting.partition("-")[0]
    return {param: resolve(section, setting)[param]}


def job_config(section: dict, setting: str, device: str) -> dict:
    """What one job (a setting's tuning, or one of its seeds) runs with, and what its
    provenance hash covers: the setting's configuration and the device."""
    return {"experiment": resolve(section, setting), "device": device}


def experiment_config(section: dict, device: str) -> dict:
    """What an experiment's data file (and each of its verdicts) was made from, as hashed."""
    return {"experiment": section, "device": device}


def seed_groups(seeds: list[int], per_job: int | None) -> list[list[int]]:
    """The seeds cut into consecutive groups of `per_job` (the last may be shorter), in their
    configured order; per_job None: one group of every seed."""
    if per_job is None:
        return [list(seeds)]
    if isinstance(per_job, bool) or int(per_job) != per_job or per_job < 1:
        raise ValueError(f"seeds_per_job must be a positive integer or null, got {per_job!r}")
    return [list(seeds[i : i + per_job]) for i in range(0, len(seeds), per_job)]


def group_name(seeds: list[int]) -> str:
    """ "seeds0_1_2": the name of the job (and file) of a group of seeds."""
    if not seeds:
        raise ValueError("a group of seeds needs at least one seed")
    return "seeds" + "_".join(str(int(s)) for s in seeds)


def group_seeds(name: str) -> list[int]:
    """The seeds of a group's name (the inverse of group_name)."""
    if not re.fullmatch(GROUP_PATTERN, name):
        raise ValueError(f"{name!r} is not the name of a group of seeds (seeds0_1_2, ...)")
    return [int(s) for s in name.removeprefix("seeds").split("_")]
