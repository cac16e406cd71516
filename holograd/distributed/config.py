"""What a distributed HoloGrad run is: one flat mapping, checked on load against
workflow/schemas/distributed_run.schema.yaml (the schema the pipeline config's
`distributed.run` refers to) and then by the few rules a schema cannot say; a bad key or
value stops the run with a one-line error naming it, before any process starts training.

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
    device: auto               # rank r on cuda:(r mod GPUs) if CUDA is usable, else the CPU (placement.py)
    fault: null                # testing: {rank: 2, step: 13} SIGKILLs that rank once, at that step
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from holograd.validation import SCHEMA_DIR, dotted, validate

SCHEMA_FILE = SCHEMA_DIR / "distributed_run.schema.yaml"
VERIFIABLE = ("random", "adc", "momentum")  # the schema's `strategy` values
PROTOCOL_OPTIONS = ("proof_path", "track_gradient", "byzantine", "seed")  # set by the protocol, not by `options`


def strategy_option_names(name: str) -> set[str]:
    """The keyword options a strategy takes (holograd.strategies.strategy_options: its
    constructor's and its bases'), less what the protocol sets itself."""
    from holograd.strategies import STRATEGIES, strategy_options

    keyword = {n for n, p in strategy_options(STRATEGIES[name]).items() if p.kind is p.KEYWORD_ONLY}
    return keyword - set(PROTOCOL_OPTIONS)


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
    """One distributed run (the module's docstring shows every key); build it with
    `from_mapping` or `load`, which check it."""

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

    def _violation(self) -> tuple[str, str] | None:
        """(field, what is wrong) for the first rule the schema cannot say that this run
        breaks (ranks and steps against `workers` and `steps`, the strategy's option names),
        or None."""
        byz, pogp = self.byzantine, self.pogp
        for key in PROTOCOL_OPTIONS:
            if key in self.options:
                why = "proofs by JVP, Byzantine ranks, S0 = seed"
                return f"options.{key}", f"set by the protocol ({why}), not by the strategy's options"
        known = strategy_option_names(self.strategy)
        unknown = sorted(set(self.options) - known)
        if unknown:
            return "options", f"unknown option(s) {unknown} for strategy {self.strategy!r}; known: {sorted(known)}"
        if any(r >= self.workers for r in byz.ranks):
            return "byzantine.ranks", f"must be ranks in [0, {self.workers}), got {list(byz.ranks)}"
        if len(byz.ranks) == self.workers:
            return "byzantine.ranks", "names every worker: no honest proof would remain"
        if pogp.verifier >= self.workers or pogp.verifier in byz.ranks:
            return "pogp.verifier", f"must be an honest rank in [0, {self.workers}), got {pogp.verifier}"
        if self.fault is not None and not (self.fault.rank < self.workers and self.fault.step < self.steps):
            return "fault", f"must name a rank < {self.workers} and a step < {self.steps}, got {self.fault}"
        return None

    @property
    def strategy_options(self) -> dict:
        """The strategy's options, with Momentum-Centric's workers defaulting to one per process."""
        if self.strategy == "momentum":
            return {"n_workers": self.workers, **self.options}
        return dict(self.options)

    @classmethod
    def from_mapping(cls, raw: dict, source: str | Path | None = None) -> RunConfig:
        """Build from a parsed YAML/JSON mapping, checked against the schema (unknown keys are
        errors) and then by the rules it cannot say; a violation raises ValueError, one line
        naming the file (`source`, if given) and the key."""
        prefix = f"{source}: " if source is not None else ""
        validate(raw, SCHEMA_FILE, lambda path: f"{prefix}distributed config error at {dotted(path)}")
        values = dict(raw)
        if "byzantine" in raw:
            byzantine = raw["byzantine"]
            values["byzantine"] = ByzantineRanks(**{**byzantine, "ranks": tuple(byzantine.get("ranks", ()))})
        if "pogp" in raw:
            values["pogp"] = PoGP(**raw["pogp"])
        if raw.get("fault") is not None:
            values["fault"] = Fault(**raw["fault"])
        cfg = cls(**values)
        violation = cfg._violation()
        if violation is not None:
            raise ValueError(f"{prefix}distributed config error at {violation[0]}: {violation[1]}")
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read and check a run file (YAML or JSON); errors name the file."""
        return cls.from_mapping(yaml.safe_load(Path(path).read_text()), source=path)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["byzantine"]["ranks"] = list(self.byzantine.ranks)
        return d
