"""The torchrun entry point: one process per HoloGrad worker, rank 0 also the coordinator.

    torchrun --standalone --nproc-per-node 4 --max-restarts 1 -m holograd.distributed.train \
        --config run.yaml --tokens resources/tokens/embedded-bpe300.pt \
        --out result.json --run-dir run/

Placement (holograd.distributed.placement): on CPUs, gloo; on a machine with G GPUs, local
rank r on cuda:(r mod G), NCCL when every rank has a GPU of its own, else gloo, so that four
workers run on one GPU as on four.  Every rank builds the same initial theta from the seed,
so nothing but proofs and verdicts is ever sent (holograd.distributed.protocol); the ranks
compare a SHA-256 of theta at the start, at every checkpoint and at the end (32 bytes each),
and stop if it differs.

Recovery: rank 0 saves the protocol state (strategy, verifier ledger, records) to
run-dir/checkpoint.pt every checkpoint_every steps.  When a process dies, torchrun stops
the others and (with --max-restarts >= 1) starts all of them again; they load the
checkpoint and go on, ending at the same theta as an uninterrupted run.  A multi-node run
needs run-dir on a filesystem every node sees.  Logs: run-dir/logs/rank<r>.log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from holograd.commitments import commit_params
from holograd.data import SampleSet, load_token_cache, save_atomically
from holograd.devices import DeviceError, cuda_problem
from holograd.directions import generator_backend
from holograd.distributed.config import RunConfig
from holograd.distributed.placement import Placement, agree_backend, place
from holograd.distributed.protocol import Protocol, summary
from holograd.experiments.setup import environment
from holograd.files import write_json
from holograd.models import build_model

log = logging.getLogger("holograd.distributed")


class TorchExchange:
    """The protocol's messages on torch.distributed: proofs by all_gather (every rank sends
    its buffer and receives everyone's), the verdict by broadcast from the verifier."""

    def __init__(self, rank: int, world_size: int, device: torch.device):
        self.rank, self.world_size = rank, world_size
        self.wire = device if dist.get_backend() == "nccl" else torch.device("cpu")  # NCCL moves CUDA tensors only
        self.sent_bytes = 0

    def gather(self, submit) -> list:
        mine = submit(self.rank).to(self.wire)
        out = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(out, mine)
        self.sent_bytes += mine.numel() * mine.element_size()
        return out

    def decide(self, verify, source: int):
        if self.rank == source:
            encoded = verify().to(self.wire)
            self.sent_bytes += encoded.numel() * encoded.element_size()
        else:
            encoded = torch.empty(2 + self.world_size, dtype=torch.int32, device=self.wire)
        dist.broadcast(encoded, src=source)
        return encoded.to("cpu")

    def agree(self, model: torch.nn.Module, what: str) -> str:
        """Check that every rank holds the same theta (SHA-256 of the weights); its hex digest."""
        digest = commit_params(model)
        mine = torch.frombuffer(bytearray(digest), dtype=torch.uint8).to(self.wire)
        out = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(out, mine)
        self.sent_bytes += mine.numel()
        if any(not torch.equal(o, mine) for o in out):
            raise RuntimeError(f"theta differs between ranks {what}: the protocol's determinism is broken")
        return digest.hex()


def _placement(name: str, local_rank: int, local_world: int) -> Placement:
    """This rank's device and proposed backend (holograd.distributed.placement.place), from the
    CUDA devices this process sees, its own GPU checked by a first kernel (holograd.devices:
    DeviceError if it cannot be used); CUDA is not touched for a CPU run."""
    if name != "auto" and torch.device(name).type != "cuda":
        return place(name, local_rank, local_world, 0)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    placement = place(name, local_rank, local_world, gpus, None if gpus else cuda_problem())
    if placement.device.type == "cuda" and (problem := cuda_problem(placement.device.index)) is not None:
        raise DeviceError(f"rank {local_rank}'s {placement.device} cannot be used: {problem}")
    return placement


def _identity(cfg: RunConfig, tokens: str) -> str:
    return json.dumps({"config": cfg.as_dict(), "tokens": Path(tokens).name}, sort_keys=True)


def _setup_logging(run_dir: Path, rank: int) -> None:
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    handlers = [logging.FileHandler(run_dir / "logs" / f"rank{rank}.log")]
    if rank == 0:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s rank{rank} %(message)s", handlers=handlers, force=True)


def run(cfg: RunConfig, tokens: str, out: Path, run_dir: Path) -> None:
    rank, world, local_rank = (
        int(os.environ["RANK"]),
        int(os.environ["WORLD_SIZE"]),
        int(os.environ.get("LOCAL_RANK", 0)),
    )
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0))
    if world != cfg.workers:
        raise ValueError(
            f"the config asks for {cfg.workers} workers but torchrun started {world} processes "
            "(--nproc-per-node x nodes)"
        )
    _setup_logging(run_dir, rank)
    torch.set_num_threads(cfg.threads)
    placement = _placement(cfg.device, local_rank, local_world)
    device = placement.device
    if device.type == "cuda":
        torch.cuda.set_device(device)
    generator_backend(device)  # on CUDA, stops here if the Triton kernels cannot run
    # torchrun's store outlives a failed attempt, and with it the addresses that the dead
    # processes published; a prefix per attempt keeps the new processes from dialling them
    store, _, _ = next(dist.rendezvous("env://"))
    store = dist.PrefixStore(f"holograd/attempt{restarts}", store)
    backend = agree_backend(store, rank, world, placement.backend)
    if rank == 0:
        log.info("placement: %s; backend %s (agreed by all %d ranks)", placement.reason, backend, world)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timedelta(minutes=10))
    try:
        exchange = TorchExchange(rank, world, device)
        (run_dir / "pids").mkdir(parents=True, exist_ok=True)
        (run_dir / "pids" / f"rank{rank}").write_text(f"{os.getpid()}\n")
        cache = load_token_cache(tokens)
        train, valid = (
            SampleSet(cache.splits["train"], cfg.block_size),
            SampleSet(cache.splits["validation"], cfg.block_size),
        )
        model = build_model(cfg.model, cache.vocab_size, cfg.block_size, seed=cfg.seed, device=device)
        protocol = Protocol(cfg, model, train, valid, device)
        first = _resume(protocol, run_dir / "checkpoint.pt", _identity(cfg, tokens))
        dist.barrier()  # every rank has read the checkpoint before rank 0 may replace it
        exchange.agree(model, f"at step {first}")
        log.info(
            "%s with %d workers on %s (%s), D = %d, steps %d..%d, restart %d",
            cfg.strategy,
            world,
            device,
            backend,
            protocol.strategy.dim,
            first,
            cfg.steps,
            restarts,
        )
        start = time.perf_counter()
        for t in range(first, cfg.steps):
            if cfg.fault is not None and (rank, t, restarts) == (cfg.fault.rank, cfg.fault.step, 0):
                log.warning("fault injection: rank %d kills itself at step %d", rank, t)
                logging.shutdown()
                os.kill(os.getpid(), signal.SIGKILL)
            record = protocol.step(t, exchange, observe=rank == 0)
            if rank == 0 and (t % max(1, cfg.steps // 10) == 0 or t == cfg.steps - 1):
                eta = (time.perf_counter() - start) / (t + 1 - first) * (cfg.steps - t - 1)
                log.info(
                    "step %d/%d loss %.4f kept %d/%d active %d checked %d rejected %d eta %.0fs",
                    t + 1,
                    cfg.steps,
                    record["loss"],
                    record["kept"],
                    record["proofs"],
                    record["active_workers"],
                    record["checked"],
                    record["rejected"],
                    eta,
                )
            if cfg.checkpoint_every and (t + 1) % cfg.checkpoint_every == 0 and t + 1 < cfg.steps:
                exchange.agree(model, f"after step {t}")
                if rank == 0:
                    save_atomically(
                        {"identity": _identity(cfg, tokens), "step": t + 1, "state": protocol.state_dict()},
                        run_dir / "checkpoint.pt",
                    )
        theta = exchange.agree(model, "at the end")
        if rank == 0:
            result = summary(protocol, world) | {
                "config": cfg.as_dict(),
                "backend": backend,
                "device": str(device),
                "placement": placement.reason,
                "environment": {
                    **environment(device),
                    "gpus_visible": torch.cuda.device_count() if device.type == "cuda" else 0,
                },
                "theta_sha256": theta,
                "restarts": restarts,
                "bytes_sent_by_rank0_this_attempt": exchange.sent_bytes,
                "timing": {
                    "wall_seconds_this_attempt": round(time.perf_counter() - start, 3),
                    "steps_this_attempt": cfg.steps - first,
                },
            }
            write_json(result, out)
            (run_dir / "checkpoint.pt").unlink(missing_ok=True)
            log.info(
                "wrote %s: theta %s..., %d proof bytes per worker per step against %d for all-reduce",
                out,
                theta[:16],
                result["communication"]["proof_bytes_per_worker_per_step"],
                4 * protocol.strategy.dim,
            )
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _resume(protocol: Protocol, path: Path, identity: str) -> int:
    """Load the saved state if it belongs to this run; the step to go on from."""
    if not path.exists():
        return 0
    saved = torch.load(path, map_location=protocol.device, weights_only=True)
    if saved.get("identity") != identity:
        log.warning("ignoring %s: it belongs to another run; starting over", path)
        return 0
    protocol.load_state_dict(saved["state"])
    log.info("resuming from %s at step %d", path, saved["step"])
    return int(saved["step"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="run configuration (YAML; holograd.distributed.config)")
    parser.add_argument("--tokens", required=True, help="token cache (holograd.data.prepare_token_cache)")
    parser.add_argument("--out", required=True, type=Path, help="result JSON, written by rank 0")
    parser.add_argument("--run-dir", required=True, type=Path, help="checkpoint, logs and pid files")
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        parser.error("start it with torchrun (see holograd.distributed.launch), which sets RANK and WORLD_SIZE")
    try:
        cfg = RunConfig.load(args.config)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    run(cfg, args.tokens, args.out, args.run_dir)


if __name__ == "__main__":
    main()
