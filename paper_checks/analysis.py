"""What every experiment's analysis uses: runs grouped by setting, per-seed values summarised
over seeds, the arms of a training comparison, and the setting, checkpoint or point of the
data that a claim's `select` names."""

from __future__ import annotations

from paper_checks.experiment import SelectionError
from paper_checks.intervals import mean_ci

# --- helpers of aggregation -----------------------------------------------------------------


def by_setting(runs: list[dict]) -> dict[str, list[dict]]:
    """Runs grouped by setting, each group sorted by seed."""
    settings: dict[str, list[dict]] = {}
    for r in runs:
        settings.setdefault(r["setting"], []).append(r)
    return {name: sorted(rs, key=lambda r: r["seed"]) for name, rs in settings.items()}


def sweep_seeds(rs: list[dict]) -> dict:
    """What every setting of an experiment's data begins with: its sweep value and its seeds."""
    return {"sweep": rs[0]["sweep"], "seeds": [r["seed"] for r in rs]}


def over_seeds(values: list[float]) -> dict:
    """{"per_seed": values, point, low, high, n}: the values and their mean with 95 % CI."""
    return {"per_seed": values, **mean_ci(values).as_dict()}


def training_arms(
    rs: list[dict], statistics: tuple[str, ...], series: dict[str, str], same: tuple[str, ...] = ()
) -> dict:
    """Every arm of a training comparison (training_arm), by name, in the runs' order."""
    return {name: training_arm(rs, name, statistics, series, same) for name in rs[0]["metrics"]["arms"]}


def training_arm(
    rs: list[dict], name: str, statistics: tuple[str, ...], series: dict[str, str], same: tuple[str, ...] = ()
) -> dict:
    """One arm of a training comparison across the seeds' runs: its tuned rate(s), each of
    `statistics` per seed with mean and 95 % CI, each of `series` (output key: run key) per
    seed, the values in `same` (equal for every seed), the runs that stopped early, and
    whether its tuned rate lies at an end of the rates its tuning tried (rate_at_edge)."""
    per = [r["metrics"]["arms"][name] for r in rs]
    return {
        "lr": per[0]["lr"],
        **{key: per[0][key] for key in same},
        **{key: over_seeds([p[key] for p in per]) for key in statistics},
        **{out: {str(r["seed"]): p[key] for r, p in zip(rs, per)} for out, key in series.items()},
        "stopped": [p["stopped"] for p in per if p["stopped"]],
        "rate_at_edge": rate_at_edge(rs[0].get("tuned"), name),
        # runs that diverged at the tuned rate and were measured at the next lower one
        "rerun_at_lower_rate": [
            rerun_entry(r["seed"], p["diverged_at"], p["lr"]) for r, p in zip(rs, per) if p.get("diverged_at")
        ],
    }


def rerun_entry(seed: int, diverged_at: dict, lr: float) -> str:
    """One run measured at the next lower rate: "seed s: lr a -> b"."""
    return f"seed {seed}: lr {diverged_at['lr']:g} -> {lr:g}"


def rerun_flag(reruns: list[str]) -> str:
    """ " (rerun at the next lower rate after diverging: ...)", the verdict's flag of the
    pre-registered reruns it read; "" if there were none."""
    return f" (rerun at the next lower rate after diverging: {'; '.join(reruns)})" if reruns else ""


def rerun_note(arms: dict, names: list[str]) -> str:
    """rerun_flag of the reruns of the arms a claim reads (training_arm's rerun_at_lower_rate)."""
    return rerun_flag([f"{arm} {why}" for arm in names for why in arms[arm].get("rerun_at_lower_rate", [])])


def rate_at_edge(tuned: dict | None, arm: str) -> bool:
    """Whether the arm's tuned rate (that of the arm it mirrors, for an untuned control) lies
    at an end of the rates its tuning tried, after the grid's extensions, or every rate it
    tried diverged: a rate the tuning did not bracket, so the arm may be judged at a rate
    below or above its best."""
    record = (tuned or {}).get(arm) or {}
    if "mirrors" in record:
        record = (tuned or {}).get(record["mirrors"]) or {}
    return bool(record.get("at_edge") or record.get("none_trains"))


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
        f"{len(matches)} settings match {wanted} ({', '.join(n for n, _ in matches)}); "
        "name one in claims.yaml's select.where"
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


def stopped(arms: dict, names: list[str]) -> str | None:
    """Why the claim cannot be judged from the arms it reads: a run of one stopped early
    (diverged), "runs stopped early (arm: reason; ...)", or the tuned rate of one lies at an end
    of its grid, "the tuned rate of arm (lr) lies at an end of the rates its tuning tried";
    else None.  Arms the claim does not read do not matter to it."""
    stopped = [f"{arm}: {why}" for arm in names for why in arms[arm]["stopped"]]
    edge = [f"{arm} ({arms[arm]['lr']:g})" for arm in names if arms[arm].get("rate_at_edge")]
    reasons = [f"runs stopped early ({'; '.join(stopped)})"] if stopped else []
    if edge:
        reasons.append(f"the tuned rate of {', '.join(edge)} lies at an end of the rates its tuning tried")
    return "; ".join(reasons) or None
