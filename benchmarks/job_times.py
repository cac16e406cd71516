"""Where a pipeline run spent its time: the per-job table from Snakemake's `benchmark:` files.

    python benchmarks/job_times.py [--results results] [--out benchmarks/out/job_times.json] [--top 10]

Every tuning and measurement job writes results/benchmarks/{tuning,runs}/...tsv, and E8's
job results/benchmarks/systems/...tsv (wall seconds, max RSS).  This prints the jobs summed
by experiment, the slowest jobs, and the total in job-hours, with the device the measurement
jobs ran on (from their run files).  On a GPU run of the paper config (workflow/profiles/vastai
or slurm, one GPU per job) the total is the GPU-hours the run used; after the first jobs of a
run, the per-experiment means times the job counts of a dry run estimate the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def job_table(results: Path) -> pd.DataFrame:
    """One row per job: stage (tuning/runs/systems), experiment, setting, seeds (the group's, or
    one seed in the layout of one file per seed), runs (how many seeds), seconds, max RSS (MB),
    device."""
    rows = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        stage, experiment, *rest = tsv.relative_to(results / "benchmarks").with_suffix("").parts
        # runs/<experiment>/<setting>/seeds0_1_2 (or seed<s>), tuning/<experiment>/<setting>, systems/<experiment>
        setting, group = (rest[0], rest[1]) if stage == "runs" else ((rest or [""])[0], "")
        bench = pd.read_csv(tsv, sep="\t").iloc[-1]  # a rerun appends a row: the latest counts
        run_file = results / "runs" / experiment / setting / f"{group}.json"
        content = json.loads(run_file.read_text()) if stage == "runs" and run_file.is_file() else {}
        record = (content.get("runs") or [content])[0] if content else {}
        seeds = group.removeprefix("seeds").removeprefix("seed").replace("_", " ")
        rows.append(
            {
                "stage": stage,
                "experiment": experiment,
                "setting": setting,
                "seeds": seeds,
                "runs": len(seeds.split()) if stage == "runs" else 0,
                "seconds": float(bench["s"]),
                "max_rss_mb": float(bench["max_rss"]),
                "device": record.get("environment", {}).get("device", ""),
            }
        )
    if not rows:
        raise SystemExit(f"no benchmark files under {results / 'benchmarks'}: run the pipeline first")
    return pd.DataFrame(rows)


def summarise(jobs: pd.DataFrame, top: int) -> dict:
    by_experiment = (
        jobs.groupby(["experiment", "stage"])
        .agg(
            jobs=("seconds", "size"),
            seconds=("seconds", "sum"),
            mean_seconds=("seconds", "mean"),
            max_rss_mb=("max_rss_mb", "max"),
            runs=("runs", "sum"),
        )
        .reset_index()
    )
    # a measurement job's seconds per seed it ran: what seeds_per_job changes
    by_experiment["seconds_per_run"] = by_experiment["seconds"] / by_experiment["runs"].where(by_experiment["runs"] > 0)
    return {
        "jobs": len(jobs),
        "job_seconds": float(jobs["seconds"].sum()),
        "job_hours": float(jobs["seconds"].sum() / 3600),
        "max_rss_mb": float(jobs["max_rss_mb"].max()),
        "devices": sorted(d for d in jobs["device"].unique() if d),
        "by_experiment": by_experiment.to_dict("records"),
        "slowest": jobs.nlargest(top, "seconds").to_dict("records"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/job_times.json"))
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    jobs = job_table(args.results)
    summary = summarise(jobs, args.top)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(pd.DataFrame(summary["by_experiment"]).to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"\nslowest {args.top} jobs:")
    print(jobs.nlargest(args.top, "seconds").to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(
        f"\n{summary['jobs']} jobs, {summary['job_seconds']:.0f} s = {summary['job_hours']:.2f} job-hours, "
        f"largest max RSS {summary['max_rss_mb']:.0f} MB, on {', '.join(summary['devices']) or 'unknown'}"
    )


if __name__ == "__main__":
    main()
