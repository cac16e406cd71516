"""How far a last-bit change of the CPU arithmetic moves a measured statistic, against the
statistic's spread across seeds (issue 25).

A finished run's measurement job of one (experiment, setting) is run again for some of its
seeds, with that run's tuned rates, twice: under the pipeline's pin (holograd/numerics.py:
ATen's and MKL's AVX2 paths), which must give the run's own records bit for bit (the control:
the rerun is the job), and under the machine's defaults (ATen's widest kernels, MKL's own
dispatch), whose sums round differently.  Per arm and statistic it reports each seed's
difference default - pinned beside the standard deviation of the statistic across all the
run's seeds: a ratio near 0 means the pin guards only the files' bits, a ratio near 1 means
a last-bit change moves the statistic as much as a new seed does.

    python benchmarks/bench_last_bits.py RUN_DIR --experiment e3_momentum_comparison \\
        --setting default --seeds 0 1 2 --statistics loss_decrease alignment

RUN_DIR is the root of a repository copy whose `results/` the pipeline wrote (its runs,
tuning files and token caches are read, nothing in it is written).  Only the rates are taken
from the run: tuning under the other arithmetic is not repeated (it would add the choice of
rate to what moves; `choose_rate` is what keeps that choice off the last bits).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from holograd.numerics import PINNED  # noqa: E402
from paper_checks.catalog import load_experiments  # noqa: E402
from paper_checks.runner import run_records  # noqa: E402

RERUN = """
import json, sys, torch
from paper_checks.runner import run_experiment
arguments = json.loads(sys.argv[1])
torch.set_num_threads(arguments.pop("threads"))
run_experiment(**arguments)
print(torch.backends.cpu.get_cpu_capability())
"""


def job_file(run_dir: Path, experiment: str, setting: str) -> Path:
    """The run's one measurement file of the setting (every seed in one job: the default)."""
    found = sorted((run_dir / "results" / "runs" / experiment / setting).glob("seeds*.json"))
    if len(found) != 1:
        raise SystemExit(f"expected one measurement file for {experiment}/{setting} in {run_dir}, found {found}")
    return found[0]


def rerun(run_dir: Path, records: list[dict], experiment: str, seeds: list[int], env: dict, threads: int) -> tuple:
    """(records, CPU capability) of the setting's job rerun for `seeds` in a process with `env`."""
    first = records[0]
    tuning = run_dir / "results" / "tuning" / experiment / f"{first['setting']}.json"
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "seeds.json"
        arguments = {
            "module": load_experiments()[experiment]["module"],
            "experiment": experiment,
            "setting": first["setting"],
            "seeds": seeds,
            "config": first["config"],
            "code": first["code_sha256"],
            "tokens": str(run_dir / first["tokens"]["path"]),
            "output": str(output),
            "tuning": str(tuning) if tuning.exists() else None,
            "threads": threads,
        }
        env = {**env, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", RERUN, json.dumps(arguments)], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"the rerun failed:\n{done.stderr[-3000:]}")
        return run_records(output), done.stdout.split()[-1]


def statistic(record: dict, arm: str, name: str) -> float:
    value = record["metrics"]["arms"][arm][name]
    return math.nan if value is None else float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--setting", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--statistics", nargs="+", default=["loss_decrease", "alignment"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads, as the pipeline's jobs")
    parser.add_argument("--out", type=Path, help="write the table as JSON here too")
    args = parser.parse_args()

    records = run_records(job_file(args.run_dir, args.experiment, args.setting))
    by_seed = {r["seed"]: r for r in records}
    missing = [s for s in args.seeds if s not in by_seed]
    if missing:
        raise SystemExit(f"the run has no seeds {missing} for {args.setting} (it has {sorted(by_seed)})")
    plain = {k: v for k, v in os.environ.items() if k not in PINNED}
    pinned, pinned_capability = rerun(
        args.run_dir, records, args.experiment, args.seeds, {**plain, **PINNED}, args.threads
    )
    widest, widest_capability = rerun(args.run_dir, records, args.experiment, args.seeds, plain, args.threads)
    control = all(p["metrics"] == by_seed[p["seed"]]["metrics"] for p in pinned)
    print(f"pinned rerun ({pinned_capability}) equals the run's records: {control}")
    print(f"other arithmetic: {widest_capability}, MKL_CBWR unset\n")
    rows = []
    print("| arm | statistic | sd across the run's seeds | default - pinned per seed | largest / sd |")
    print("|---|---|---|---|---|")
    for arm in records[0]["metrics"]["arms"]:
        for name in args.statistics:
            spread = [statistic(r, arm, name) for r in records]
            sd = statistics.stdev(spread) if all(math.isfinite(v) for v in spread) else math.nan
            diffs = [statistic(w, arm, name) - statistic(p, arm, name) for w, p in zip(widest, pinned)]
            largest = max((abs(d) for d in diffs), default=math.nan)
            ratio = largest / sd if sd and math.isfinite(sd) else math.nan
            rows.append({"arm": arm, "statistic": name, "sd": sd, "differences": diffs, "largest_over_sd": ratio})
            shown = ", ".join(f"{d:+.3g}" for d in diffs)
            print(f"| {arm} | {name} | {sd:.3g} | {shown} | {ratio:.3g} |")
    if args.out:
        content = {
            "experiment": args.experiment,
            "setting": args.setting,
            "seeds": args.seeds,
            "control_identical": control,
            "capabilities": {"pinned": pinned_capability, "default": widest_capability},
            "rows": rows,
        }
        args.out.write_text(json.dumps(content, indent=1))


if __name__ == "__main__":
    main()
