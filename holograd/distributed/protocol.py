"""One step of the HoloGrad protocol among W workers, whatever carries their messages.

    plan     = strategy.plan(batches, t)             every rank: same theta_t, batch ids, seeds
    owners   = assign(plan.size, W, slashed)         slot j -> the (j mod W')-th unslashed worker
    proofs   = exchange.gather(submit)               worker r proves its slots by JVP and sends
                                                     (slot index, scalar) pairs; a Byzantine
                                                     rank sends attacked scalars instead
    verdict  = exchange.decide(verify, verifier)     the verifier recomputes a sampled fraction
                                                     p of the proofs; |a - a*| > eps rejects
    slashed |= verdict.workers                       a rejected worker's proofs are dropped,
                                                     now and in every later step
    strategy.conclude(plan, a, kept)                 every rank: synthesise g_hat from the
                                                     seeds and the kept scalars, update theta

Only proofs and the verdict cross the network, as fixed-size integer tensors (a proof is an
int32 slot index and its float32 scalar's bits, 8 bytes; a verdict is 2 + W int32), and the
exchange counts the bytes it sends.  `InProcess` runs every worker's part in one process
(the single-process simulation); holograd.distributed.train runs them on torch.distributed.
Given the same config, both compute the same scalars in the same order and end at the same
theta bit for bit; with no Byzantine rank and no rejection, that is also the theta of
`strategy.step` with proof_path="jvp" (tests/test_distributed.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from holograd.byzantine import attack
from holograd.data import SampleSet
from holograd.directions import derive_seed
from holograd.distributed.config import RunConfig
from holograd.pogp import PoGPVerifier, Proof, VerifierStats
from holograd.strategies import ProofPlan, VerifiableStrategy, make_strategy
from holograd.training import eval_batches, mean_loss, step_batches

PAD = -1
"""Slot index of an unused row of a submission buffer."""


def assign(n_slots: int, world_size: int, slashed: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """owners[j]: the worker proving slot j, round robin over the workers not slashed."""
    active = [r for r in range(world_size) if r not in slashed]
    if not active:
        raise RuntimeError("every worker has been slashed: no one is left to prove")
    return [active[j % len(active)] for j in range(n_slots)]


def capacity(owners: Sequence[int], world_size: int) -> int:
    """Rows of every worker's submission buffer: the most slots any worker holds."""
    return max((owners.count(r) for r in range(world_size)), default=0)


# --- the wire format -------------------------------------------------------------------------


def pack(slots: Sequence[int], values: Tensor, rows: int) -> Tensor:
    """(rows, 2) int32: slot index and the float32 bits of its scalar; unused rows PAD."""
    out = torch.full((rows, 2), PAD, dtype=torch.int32)
    if slots:
        out[: len(slots), 0] = torch.tensor(list(slots), dtype=torch.int32)
        out[: len(slots), 1] = values.detach().to("cpu", torch.float32).contiguous().view(torch.int32)
    return out


def unpack(buffers: Sequence[Tensor], n_slots: int) -> Tensor:
    """The scalars a_0 .. a_{n-1} in slot order from every worker's buffer (bits unchanged)."""
    rows = torch.cat([b.to("cpu") for b in buffers])
    rows = rows[rows[:, 0] != PAD]
    if sorted(rows[:, 0].tolist()) != list(range(n_slots)):
        raise RuntimeError(f"the gathered proofs do not cover slots 0..{n_slots - 1} exactly once")
    scalars = torch.empty(n_slots, dtype=torch.float32)
    scalars[rows[:, 0].long()] = rows[:, 1].contiguous().view(torch.float32)
    return scalars


@dataclass(frozen=True)
class Verdict:
    """What the verifier decided about one step: proofs checked and rejected, and the workers
    whose proofs were rejected."""

    checked: int = 0
    rejected: int = 0
    workers: frozenset[int] = frozenset()

    def encode(self, world_size: int) -> Tensor:
        flags = [int(r in self.workers) for r in range(world_size)]
        return torch.tensor([self.checked, self.rejected, *flags], dtype=torch.int32)

    def add_to(self, stats: VerifierStats) -> None:
        """Count this verdict in the ledger that every rank keeps."""
        stats.checked += self.checked
        stats.accepted += self.checked - self.rejected
        stats.rejected += self.rejected
        stats.slashed |= self.workers

    @classmethod
    def decode(cls, encoded: Tensor) -> Verdict:
        values = encoded.to("cpu").tolist()
        return cls(values[0], values[1], frozenset(r for r, flag in enumerate(values[2:]) if flag))


class InProcess:
    """Every worker's part run in this one process, one after the other: the single-process
    simulation.  Messages go through the same wire format and are counted the same way."""

    rank = 0

    def __init__(self, world_size: int):
        self.world_size = world_size

    def gather(self, submit: Callable[[int], Tensor]) -> list[Tensor]:
        return [submit(r) for r in range(self.world_size)]

    def decide(self, verify: Callable[[], Tensor], source: int) -> Tensor:
        return verify()


# --- the protocol's state and step -----------------------------------------------------------


def ledger_dict(stats: VerifierStats) -> dict:
    """The verifier's outcomes and the workers slashed so far, as the result reports them."""
    return {
        "checked": stats.checked,
        "accepted": stats.accepted,
        "rejected": stats.rejected,
        "slashed": sorted(stats.slashed),
    }


def protocol_strategy(cfg: RunConfig, model: torch.nn.Module) -> VerifiableStrategy:
    """The run's strategy, proving by JVP with S0 = cfg.seed; only a VerifiableStrategy has
    the plan / prove / conclude parts the protocol runs (RunConfig refuses the others first)."""
    strategy = make_strategy(
        cfg.strategy, model, lr=cfg.lr, seed=cfg.seed, proof_path="jvp", track_gradient=False, **cfg.strategy_options
    )
    if not isinstance(strategy, VerifiableStrategy):
        raise TypeError(f"strategy {cfg.strategy!r} sends gradients, not proofs: the protocol cannot run it")
    return strategy


class Protocol:
    """The state every rank holds (strategy, data, ledger, records) and its step."""

    def __init__(
        self, cfg: RunConfig, model: torch.nn.Module, train: SampleSet, valid: SampleSet | None, device: torch.device
    ):
        self.cfg, self.device = cfg, device
        self.strategy = protocol_strategy(cfg, model)
        self.samples, self.sampler = train, PoGPVerifier(cfg.pogp.p, cfg.pogp.eps, cfg.pogp.seed)
        self.held_out = (
            eval_batches(valid, cfg.eval_batches, cfg.batch_size, cfg.data_seed, device)
            if valid is not None and cfg.eval_every
            else []
        )
        self.ledger = VerifierStats()  # identical on every rank: each adds the broadcast verdicts
        self.records: list[dict] = []

    def batches(self, t: int) -> list:
        """The step's batches (worker w's is stream w), as training.train draws them."""
        return step_batches(
            self.samples,
            self.strategy.batches_per_step,
            t,
            batch_size=self.cfg.batch_size,
            data_seed=self.cfg.data_seed,
            device=self.device,
        )

    # --- the parties' parts ----------------------------------------------------------------

    def submit(self, plan: ProofPlan, batches: Sequence, owners: list[int], rank: int, rows: int) -> Tensor:
        """Worker `rank`'s message: its slots' proofs, attacked if it is Byzantine."""
        slots = [j for j, owner in enumerate(owners) if owner == rank]
        values = torch.stack([self.strategy.prove(plan, batches, j) for j in slots]) if slots else torch.empty(0)
        byz = self.cfg.byzantine
        if slots and rank in byz.ranks:  # it knows only its own honest scalars
            values = attack(
                values,
                list(range(len(slots))),
                byz.attack,
                seed=derive_seed(f"byzantine.rank{rank}", self.cfg.seed, plan.step),
                scale=byz.scale,
            )
        return pack(slots, values, rows)

    def verify(self, plan: ProofPlan, batches: Sequence, owners: list[int], scalars: Tensor) -> Tensor:
        """The verifier's verdict: each sampled proof recomputed and compared with eps."""
        checked, rejected, workers = 0, 0, set()
        for j, owner in enumerate(owners):
            proof = Proof(worker=owner, step=plan.step, index=j, seed=plan.seed_of(j), scalar=scalars[j].item())
            if not self.sampler.selects(proof):
                continue
            checked += 1
            if not self.sampler.accepts(proof, self.strategy.prove(plan, batches, j).item()):
                rejected += 1
                workers.add(owner)
        return Verdict(checked, rejected, frozenset(workers)).encode(self.cfg.workers)

    # --- one step --------------------------------------------------------------------------

    def step(self, t: int, exchange, observe: bool) -> dict:
        """Run step t through `exchange`; returns its record (loss only where observe)."""
        cfg, strategy = self.cfg, self.strategy
        eval_loss = (
            mean_loss(strategy.model, self.held_out) if observe and self.held_out and t % cfg.eval_every == 0 else None
        )
        batches = self.batches(t)
        plan = strategy.plan(batches, t)
        owners = assign(plan.size, cfg.workers, self.ledger.slashed)
        rows = capacity(owners, cfg.workers)
        buffers = exchange.gather(lambda rank: self.submit(plan, batches, owners, rank, rows))
        scalars = unpack(buffers, plan.size).to(strategy.space.device, strategy.space.dtype)
        verdict_bytes = 0
        if cfg.pogp.p > 0:
            encoded = exchange.decide(lambda: self.verify(plan, batches, owners, scalars), cfg.pogp.verifier)
            verdict_bytes = encoded.numel() * encoded.element_size()
            Verdict.decode(encoded).add_to(self.ledger)
        kept = [j for j, owner in enumerate(owners) if owner not in self.ledger.slashed]
        loss = strategy.observe(batches)[0] if observe else math.nan
        metrics = strategy.conclude(plan, scalars, kept=None if len(kept) == plan.size else kept, loss=loss)
        record = {
            "step": t,
            "loss": metrics.loss,
            "update_norm": metrics.update_norm,
            "phase": metrics.phase,
            "proofs": plan.size,
            "kept": len(kept),
            "active_workers": cfg.workers - len(self.ledger.slashed),
            "proof_bytes_per_worker": rows * 8,  # each rank's all_gather buffer
            "verdict_bytes": verdict_bytes,
            "checked": self.ledger.checked,
            "rejected": self.ledger.rejected,
        }
        if eval_loss is not None:
            record["eval_loss"] = eval_loss
        self.records.append(record)
        return record

    def final_eval(self) -> float | None:
        return mean_loss(self.strategy.model, self.held_out) if self.held_out else None

    # --- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "strategy": self.strategy.state_dict(),
            "ledger": ledger_dict(self.ledger),
            "records": list(self.records),
        }

    def load_state_dict(self, state: dict) -> None:
        self.strategy.load_state_dict(state["strategy"])
        self.ledger = VerifierStats(**{**state["ledger"], "slashed": set(state["ledger"]["slashed"])})
        self.records = list(state["records"])


def summary(protocol: Protocol, world_size: int) -> dict:
    """What a finished run reports: the records, bytes against all-reduce, the ledger."""
    records, dim = protocol.records, protocol.strategy.dim
    per_worker = [r["proof_bytes_per_worker"] for r in records]
    mean_bytes = sum(per_worker) / len(per_worker) if per_worker else 0.0
    return {
        "D": dim,
        "world_size": world_size,
        "records": records,
        "final_eval_loss": protocol.final_eval(),
        "communication": {
            "proof_bytes_per_worker_per_step": mean_bytes,
            "verdict_bytes_per_step": sum(r["verdict_bytes"] for r in records) / max(1, len(records)),
            "allreduce_bytes_per_worker_per_step": 4 * dim,
            "reduction": 4 * dim / mean_bytes if mean_bytes else None,
        },
        "verifier": ledger_dict(protocol.ledger),
    }


def simulate(
    cfg: RunConfig,
    model: torch.nn.Module,
    train: SampleSet,
    valid: SampleSet | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Protocol, dict]:
    """The whole run in this process (every worker in turn): the reference that the
    multi-process run must reproduce bit for bit."""
    protocol = Protocol(cfg, model, train, valid, torch.device(device))
    exchange = InProcess(cfg.workers)
    for t in range(cfg.steps):
        protocol.step(t, exchange, observe=True)
    return protocol, summary(protocol, cfg.workers)
