"""Pipeline benchmark: the wall time of a whole Snakemake run, and where it went per job.

    python benchmarks/bench_pipeline.py [--config default|smoke|PATH] [--cores N]
                                        [--target results/RESULTS_SUMMARY.md] [--out PATH]

The run happens in a fresh copy of the repository's tracked files (a temporary directory),
so it measures a run from scratch, token caches included, and leaves `results/` of this
checkout untouched.  Reported:

- wall seconds of `snakemake --cores N TARGET` (what a user waits for), and the number of jobs;
- the per-job table from the tuning and measurement jobs' `benchmark:` files (seconds, max
  RSS), summed by experiment, with the slowest jobs (benchmarks/job_times.py);
- the share of the wall time the heavy jobs could explain on N cores (job seconds / N): the
  rest is Snakemake itself, token caches and the light jobs (aggregation, claims, figures).

Targets (issue 7): the default config <= 600 s on 2 cores, the smoke config <= 90 s, any
job's max RSS <= 2 GB.  The JSON records them and whether they were met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from job_times import job_table, summarise

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paper_checks.provenance import GIT_COMMIT_VARIABLE, git_commit  # noqa: E402

CONFIGS = {"default": None, "smoke": "config/smoke.yaml"}
TARGET_SECONDS = {"default": 600.0, "smoke": 90.0}
TARGET_MAX_RSS_MB = 2000.0


def tracked_copy(destination: Path) -> None:
    """The repository's files (tracked, and new ones git does not ignore), as they are in the
    working tree, under destination: what a fresh checkout with these edits would hold."""
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listed, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def run_pipeline(workdir: Path, config: str | None, cores: int, target: str, log: Path) -> float:
    """Wall seconds of one snakemake run in workdir; raises SystemExit naming the log if it fails."""
    command = [sys.executable, "-m", "snakemake", target, "--cores", str(cores)]
    if config:
        command += ["--configfile", config]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        GIT_COMMIT_VARIABLE: git_commit(ROOT),  # the copy has no .git: results record this checkout's commit
    }
    start = time.perf_counter()
    with open(log, "w") as out:
        result = subprocess.run(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed (exit {result.returncode}); see {log}")
    return wall


def count_jobs(log: Path) -> int:
    """Jobs Snakemake ran, from its console log ('N of N steps (100%) done')."""
    done = [line for line in log.read_text().splitlines() if "steps (100%) done" in line]
    return int(done[-1].split(" of ")[0]) if done else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default="default", help="default, smoke, or a config file (relative to the repository)"
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target", default="results/RESULTS_SUMMARY.md")
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default benchmarks/out/pipeline-<config>.json)"
    )
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    name = args.config if args.config in CONFIGS else Path(args.config).stem
    config = CONFIGS.get(args.config, args.config)
    out = args.out or ROOT / "benchmarks" / "out" / f"pipeline-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".log")

    with tempfile.TemporaryDirectory(prefix="holograd-bench-") as tmp:
        workdir = Path(tmp)
        tracked_copy(workdir)
        wall = run_pipeline(workdir, config, args.cores, args.target, log)
        jobs = job_table(workdir / "results")
        summary = summarise(jobs, args.top)

    whole_run = args.target == "results/RESULTS_SUMMARY.md"
    target = TARGET_SECONDS.get(name) if whole_run else None
    result = {
        "config": name,
        "target": args.target,
        "cores": args.cores,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "wall_seconds": wall,
        "snakemake_jobs": count_jobs(log),
        "heavy_jobs": summary,
        "heavy_share_of_wall": summary["job_seconds"] / args.cores / wall,
        "targets": {
            "wall_seconds": target,
            "wall_met": None if target is None else wall <= target,
            "max_rss_mb": TARGET_MAX_RSS_MB,
            "max_rss_met": summary["max_rss_mb"] <= TARGET_MAX_RSS_MB,
        },
    }
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"{name} config, target {args.target}, {args.cores} cores: {wall:.0f} s wall, {result['snakemake_jobs']} jobs"
    )
    print(pd.DataFrame(summary["by_experiment"]).to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"\nslowest {args.top} jobs:")
    print(
        pd.DataFrame(summary["slowest"])
        .drop(columns=["device"])
        .to_string(index=False, float_format=lambda x: f"{x:.1f}")
    )
    print(
        f"\ntuning and measurement jobs: {summary['jobs']}, {summary['job_seconds']:.0f} s of job time "
        f"(= {result['heavy_share_of_wall']:.0%} of the wall time on {args.cores} cores), "
        f"largest max RSS {summary['max_rss_mb']:.0f} MB"
    )
    if target is not None:
        print(
            f"target: <= {target:.0f} s wall: {'met' if result['targets']['wall_met'] else 'MISSED'}; "
            f"max RSS <= {TARGET_MAX_RSS_MB:.0f} MB: {'met' if result['targets']['max_rss_met'] else 'MISSED'}"
        )
    print(f"wrote {out} (snakemake's output: {log})")


if __name__ == "__main__":
    main()
