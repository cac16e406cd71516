"""What a distributed HoloGrad run is: one flat mapping, checked on load (a bad key or value
stops the run with a one-line error naming it, before any process starts training).

    workers: 4                 # processes = HoloGrad workers; rank 0 is also the coordinator
    model: micro               # holograd.models preset
    block_size: 16
    batch_size: 4
    steps: 40
    strategy: random           # random | adc | momentum (the verifiable strategies)
    lr: 0.05
    options: {k: 8}            # the strategy's own options (holograd.strategies)
    seed: 0                    # S0: model initialisation and proof seeds
    data_seed: 0
    byzantine: {ranks: [3], attack: sign_flip, scale: null}
    pogp: {p: 0.25, eps: 1.0e-4, seed: 0, verifier: 0}
    eval_every: 10             # held-out loss every 10 steps (coordinator only)
    eval_batches: 4
    checkpoint_every: 5        # rank 0 saves the protocol state every 5 steps
    threads: 1                 # torch threads per process
    device: auto               # auto: one GPU per process (cuda:LOCAL_RANK) if CUDA is present
    fault: null                # testing: {rank: 2, step: 13} SIGKILLs that rank once, at that step
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from holograd.byzantine import ATTACKS

VERIFIABLE = ("random", "adc", "momentum")


def strategy_option_names(name: str) -> set[str]:
    """The keyword options a strategy takes: those of its constructor and its bases'
    (holograd.strategies), less what the protocol sets itself."""
    from holograd.strategies import STRATEGIES

    names = set()
    for cls in STRATEGIES[name].__mro__:
        if "__init__" in vars(cls):
            names |= {p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY}
    return names - {"proof_path", "track_gradient", "byzantine", "seed"}


@dataclass(frozen=True)
class ByzantineRanks:
    """Ranks that submit attacked proofs (holograd.byzantine.attack on their own slots)."""

    ranks: tuple[int, ...] = ()
    attack: str = "sign_flip"
    scale: float | None = None


@dataclass(frozen=True)
class PoGP:
    """The verifier: rank `verifier` recomputes a sampled fraction p of each step's proofs
    and rejects those farther than eps from its own value (holograd.pogp)."""

    p: float = 0.0
    eps: float = 1e-4
    seed: int = 0
    verifier: int = 0


@dataclass(frozen=True)
class Fault:
    """Fault injection for the recovery test: `rank` kills itself (SIGKILL) at `step`, on the
    first attempt only (torchrun's restart count 0)."""

    rank: int
    step: int


@dataclass(frozen=True)
class RunConfig:
    workers: int
    model: str
    block_size: int
    batch_size: int
    steps: int
    strategy: str
    lr: float
    options: dict = field(default_factory=dict)
    seed: int = 0
    data_seed: int = 0
    byzantine: ByzantineRanks = ByzantineRanks()
    pogp: PoGP = PoGP()
    eval_every: int = 0
    eval_batches: int = 4
    checkpoint_every: int = 0
    threads: int = 1
    device: str = "auto"
    fault: Fault | None = None

    def __post_init__(self):
        def fail(message: str):
            raise ValueError(f"distributed config: {message}")

        for name in ("workers", "block_size", "batch_size", "threads", "eval_batches"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                fail(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("steps", "eval_every", "checkpoint_every", "seed", "data_seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                fail(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.strategy not in VERIFIABLE:
            fail(f"strategy must be one of {list(VERIFIABLE)} (SGD sends gradients, not proofs), got {self.strategy!r}")
        for key in ("proof_path", "track_gradient", "byzantine", "seed"):
            if key in self.options:
                fail(f"options.{key} is set by the protocol (proofs by JVP, Byzantine ranks, S0 = seed), not by the strategy's options")
        unknown = sorted(set(self.options) - strategy_option_names(self.strategy))
        if unknown:
            fail(f"unknown option(s) {unknown} for strategy {self.strategy!r}; known: {sorted(strategy_option_names(self.strategy))}")
        if self.strategy == "adc" and self.options.get("warm_start") == "bootstrap":
            fail("ADC's bootstrap warm-up sends gradients, not proofs; use warm_start random or none")
        if self.strategy == "momentum" and self.options.get("n_workers", self.workers) < 1:
            fail("options.n_workers must be >= 1")
        byz = self.byzantine
        if byz.attack not in ATTACKS:
            fail(f"byzantine.attack must be one of {list(ATTACKS)}, got {byz.attack!r}")
        if any(not 0 <= r < self.workers for r in byz.ranks) or len(set(byz.ranks)) != len(byz.ranks):
            fail(f"byzantine.ranks must be distinct ranks in [0, {self.workers}), got {list(byz.ranks)}")
        if len(byz.ranks) == self.workers:
            fail("byzantine.ranks names every worker: no honest proof would remain")
        pogp = self.pogp
        if not 0.0 <= pogp.p <= 1.0 or pogp.eps < 0:
            fail(f"pogp.p must lie in [0, 1] and pogp.eps be >= 0, got p={pogp.p}, eps={pogp.eps}")
        if not 0 <= pogp.verifier < self.workers or pogp.verifier in byz.ranks:
            fail(f"pogp.verifier must be an honest rank in [0, {self.workers}), got {pogp.verifier}")
        if self.fault is not None and not (0 <= self.fault.rank < self.workers and 0 <= self.fault.step < self.steps):
            fail(f"fault must name a rank < {self.workers} and a step < {self.steps}, got {self.fault}")

    @property
    def strategy_options(self) -> dict:
        """The strategy's options, with Momentum-Centric's workers defaulting to one per process."""
        if self.strategy == "momentum":
            return {"n_workers": self.workers, **self.options}
        return dict(self.options)

    @classmethod
    def from_mapping(cls, raw: dict) -> RunConfig:
        """Build from a parsed YAML/JSON mapping; unknown keys are errors."""
        if not isinstance(raw, dict):
            raise ValueError(f"distributed config: expected a mapping, got {type(raw).__name__}")
        nested = {"byzantine": ByzantineRanks, "pogp": PoGP, "fault": Fault}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"distributed config: unknown key(s) {unknown}; known: {sorted(known)}")
        values = dict(raw)
        for key, kind in nested.items():
            if values.get(key) is None:
                continue
            sub = values[key]
            allowed = {f.name for f in dataclasses.fields(kind)}
            if not isinstance(sub, dict) or set(sub) - allowed:
                raise ValueError(f"distributed config: {key} takes the keys {sorted(allowed)}, got {sub!r}")
            if key == "byzantine" and "ranks" in sub:
                sub = {**sub, "ranks": tuple(sub["ranks"])}
            values[key] = kind(**sub)
        try:
            return cls(**values)
        except TypeError as exc:  # a missing key, named by Python
            raise ValueError(f"distributed config: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        return cls.from_mapping(yaml.safe_load(Path(path).read_text()))

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["byzantine"]["ranks"] = list(self.byzantine.ranks)
        return d
