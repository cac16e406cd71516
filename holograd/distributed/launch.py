"""Start a distributed HoloGrad run with torchrun (torch.distributed.run) on this machine.

    python -m holograd.distributed.launch --config run.yaml --tokens cache.pt \
        --out result.json --run-dir run/ [--max-restarts 1]

starts `workers` processes (from the config) with a standalone rendezvous; a process that
dies makes torchrun restart all of them, up to --max-restarts times, from the last
checkpoint.  Several machines: run torchrun itself on each node with a shared rendezvous,

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \
        --rdzv-id RUN --max-restarts 1 -m holograd.distributed.train --config ... (as above)

with workers = nodes x processes per node and run-dir on a filesystem every node sees.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from holograd.distributed.config import RunConfig

log = logging.getLogger("holograd.distributed")
ROOT = Path(__file__).resolve().parents[2]


def torchrun_command(
    config: str | Path, tokens: str | Path, out: str | Path, run_dir: str | Path, workers: int, max_restarts: int = 1
) -> list[str]:
    """The torchrun command line of a single-machine run with `workers` processes."""
    return [
        sys.executable, "-m", "torch.distributed.run",
        "--standalone", f"--nproc-per-node={workers}", f"--max-restarts={max_restarts}",
        "-m", "holograd.distributed.train",
        "--config", str(config), "--tokens", str(tokens), "--out", str(out), "--run-dir", str(run_dir),
    ]  # fmt: skip


def launch(
    config: str | Path, tokens: str | Path, out: str | Path, run_dir: str | Path, max_restarts: int = 1, log_file=None
) -> None:
    """Run the config's workers on this machine; raises if the run fails for good."""
    cfg = RunConfig.load(config)  # a bad config stops here, before any process starts
    command = torchrun_command(config, tokens, out, run_dir, cfg.workers, max_restarts)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.setdefault("OMP_NUM_THREADS", str(cfg.threads))  # torchrun would otherwise warn and pick 1
    log.info("starting %s", " ".join(command))
    result = subprocess.run(command, env=env, stdout=log_file, stderr=subprocess.STDOUT if log_file else None)
    if result.returncode != 0:
        raise RuntimeError(
            f"the distributed run failed (torchrun exit status {result.returncode}); see {Path(run_dir) / 'logs'}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--max-restarts", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        launch(args.config, args.tokens, args.out, args.run_dir, args.max_restarts)
    except (OSError, ValueError, RuntimeError) as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
