"""Training strategies behind one step interface: the baseline and the three HoloGrad variants.

    strategy.step(batches, t) -> StepMetrics      (updates the model in place)
    step_together(strategies, batches, t)          (several runs; a step is begin, then the
                                                    direction work the runs share, then finish)

Two classes say what a strategy is:

    Strategy             every strategy: flat parameter space, learning rate, step, the state a
                         checkpoint saves (state_dict), the step's metrics          -> SGD
    VerifiableStrategy   a Strategy whose step is a round of proofs a = <g_B, v> that a verifier
                         can recompute: plan / prove / conclude, the parts that
                         holograd.distributed runs across processes
                                               -> HoloGradRandom, HoloGradADC, MomentumCentric

| strategy          | batches/step | what crosses the network per step         | update g_hat                          |
|-------------------|--------------|-------------------------------------------|---------------------------------------|
| SGD               | 1            | D gradient entries                        | g (optionally heavy-ball momentum)    |
| HoloGradRandom    | 1            | K scalars (+ seeds)                       | (D/K) sum_j a_j v_j,  v_j = Dir(s_j)  |
| HoloGradADC       | 1            | K scalars (+ seeds)                       | (r/K) sum_j a_j U z_j/||z_j||         |
| MomentumCentric   | N (workers)  | N scalars                                 | abar * m_hat (Theorem 3)              |

A proof a = <g_B, v> is computed either as the worker would, by a forward-mode JVP per
direction (proof_path="jvp"), or, to simulate many workers that share a batch cheaply, as a
dot product with one backprop gradient (proof_path="backprop"; equal in exact arithmetic).
Every step also measures the true gradient g of its data, to report ||g|| and cos(g_hat, g)
(with proof_path="jvp" and track_gradient=False this extra backward pass is skipped and the
two metrics are NaN).

Proof seeds are s_{t,j} = SHA-256(S0 || H(theta_t) || H(B_t) || t || j) with S0 the strategy's
seed; H(theta_t) costs a pass over the weights and is replaced by the empty string unless
commit_theta=True (the seeds stay fresh per step and batch either way).

`make_strategy(name, model, **options)` builds one by name from config options, checking the
options against its constructor before calling it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from holograd.adc import DirectionCodebook
from holograd.aggregation import AGGREGATORS, aggregate, check_trim, n_trimmed
from holograd.byzantine import ATTACKS, attack, byzantine_indices, check_fraction
from holograd.commitments import commit_batch, commit_params, step_seeds
from holograd.derivatives import directional_derivative, flat_grad, lm_loss, worker_gradients
from holograd.directions import (
    DEFAULT_CHUNK_ELEMENTS,
    derive_seed,
    project,
    project_reconstruct,
    random_directions,
    reconstruct,
)
from holograd.estimators import cosine, variance_correction
from holograd.params import ParamSpace

PROOF_PATHS = ("backprop", "jvp")


@dataclass
class StepMetrics:
    """What one step reports.  loss and g refer to theta_t, before the update."""

    step: int
    loss: float  # mean minibatch loss over the step's batches
    grad_norm: float  # ||g||, g the true gradient of the step's data (union of the workers' batches)
    cosine: float  # cos(g_hat, g)
    update_norm: float  # ||g_hat||
    scalars: int  # numbers sent to the coordinator this step (D for SGD)
    energy: float | None = None  # captured energy gamma_t of the ADC codebook
    phase: str = "main"  # warmup / bootstrap / cold phases are labelled
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d


@dataclass
class Projection:
    """The direction work of a random-direction step, left to its caller: the proofs
    a_j = <g, v_j> on the step's seeds and g_hat = (scale/K) sum_j a_j v_j (project_reconstruct),
    after which `finish(g_hat)` applies the update and reports the step.  Runs that use the
    same seeds at a step (the rates of a tuning grid, arms with the same seed and data) hand
    theirs to one project_reconstruct of their stacked gradients (step_together), which
    generates each direction entry once for all of them."""

    seeds: list[int]
    g: Tensor  # (D,) the run's gradient
    scale: float | None
    chunk_elements: int
    finish: Callable[[Tensor], StepMetrics]

    def shares_with(self) -> tuple:
        """What runs must agree on to share one project_reconstruct."""
        return (tuple(self.seeds), self.scale, self.chunk_elements, self.g.numel(), self.g.dtype, self.g.device)

    def then(self, after: Callable[[StepMetrics], StepMetrics]) -> Projection:
        """This projection, its finish followed by `after`."""
        finish = self.finish
        return dataclasses.replace(self, finish=lambda g_hat: after(finish(g_hat)))


Begun = StepMetrics | Projection
"""What Strategy.begin returns: a finished step, or one waiting for its Projection."""


def complete(begun: Begun) -> StepMetrics:
    """A begun step, finished: its projection computed for this run alone."""
    if isinstance(begun, StepMetrics):
        return begun
    _, g_hat = project_reconstruct(begun.g, begun.seeds, scale=begun.scale, chunk_elements=begun.chunk_elements)
    return begun.finish(g_hat)


def _then(begun: Begun, after: Callable[[StepMetrics], StepMetrics]) -> Begun:
    return after(begun) if isinstance(begun, StepMetrics) else begun.then(after)


def step_together(strategies: Sequence[Strategy], batches: Sequence[Sequence], t: int) -> list[StepMetrics]:
    """Step t of several independent runs (strategies[i] on batches[i]), each updated as its
    own `step` would update it, bit for bit.  The runs' projections that agree on their seeds
    (Projection.shares_with) are computed by one project_reconstruct of the stacked (R, D)
    gradients, each direction entry generated once for the R runs."""
    begun = [s.begin(b, t) for s, b in zip(strategies, batches)]
    groups: dict[tuple, list[int]] = {}
    for i, b in enumerate(begun):
        if isinstance(b, Projection):
            groups.setdefault(b.shares_with(), []).append(i)
    for members in groups.values():
        first = begun[members[0]]
        grads = torch.stack([begun[i].g for i in members])  # (R, D)
        _, g_hats = project_reconstruct(grads, first.seeds, scale=first.scale, chunk_elements=first.chunk_elements)
        for i, g_hat in zip(members, g_hats):
            begun[i] = begun[i].finish(g_hat.clone())
    return begun


@dataclass(frozen=True)
class Byzantine:
    """A fraction of proof slots (workers) replaced by an attack before aggregation."""

    fraction: float
    attack: str = "sign_flip"
    scale: float | None = None
    seed: int = 0

    def __post_init__(self):
        check_fraction(self.fraction)
        if self.attack not in ATTACKS:
            raise ValueError(f"unknown attack {self.attack!r}; choose one of {list(ATTACKS)}")

    def corrupt(self, scalars: Tensor, t: int) -> Tensor:
        idx = byzantine_indices(scalars.numel(), self.fraction, self.seed)
        return attack(scalars, idx, self.attack, seed=derive_seed("byzantine.step", self.seed, t), scale=self.scale)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass
class ProofPlan:
    """What the workers of step t are asked to prove: slot j is the directional derivative
    a_j = <g_{B_b(j)}, v_j> of the step's batch b(j) = batch_of[j] along direction v_j.

    Everything here is a function of the state every party holds (theta_t, the step's batch
    ids, the run's seed), so the coordinator, the workers and the verifier derive the same
    plan without exchanging it.  seeds: the direction seeds of the slots (HoloGrad-Random,
    ADC), or the one seed of a cold-start direction (Momentum-Centric); shared: the one
    direction all slots project on (Momentum-Centric), else None.
    """

    step: int
    seeds: list[int]
    batch_of: list[int]
    phase: str = "main"
    shared: Tensor | None = None

    @property
    def size(self) -> int:
        return len(self.batch_of)

    def seed_of(self, j: int) -> int:
        """The seed that names slot j's direction (a shared direction's seed, or 0 for m_hat)."""
        if len(self.seeds) == self.size:
            return self.seeds[j]
        return self.seeds[0] if self.seeds else 0


class Strategy(ABC):
    """Base of every training strategy: the model's flat parameter space, the learning rate,
    `step`, the state a checkpoint saves and the metrics a step reports.

    What crosses the network per step (gradients or proofs) is a subclass's business: SGD
    derives from this class alone; the strategies whose step can be verified derive from
    VerifiableStrategy.
    """

    name = "strategy"

    def __init__(self, model: nn.Module, lr: float):
        _positive("learning rate", lr)
        self.model, self.space, self.lr = model, ParamSpace(model), float(lr)
        self.last_update: Tensor | None = None  # the update direction of the last step (theta moved by -lr x it)
        self.last_gradient: Tensor | None = None  # the true gradient the last step measured, if it did

    @property
    def batches_per_step(self) -> int:
        return 1

    def batches_at(self, t: int) -> int:
        """The batches step t takes (batches_per_step; a warm-started strategy's warm-up may differ)."""
        return self.batches_per_step

    def absorb(self, update: Tensor, g: Tensor | None) -> None:
        """Take in a warm-up step taken by another strategy on this model (WarmStarted): its
        update direction and the true gradient it measured.  Nothing, unless the strategy has
        state that a warm-up builds (Momentum-Centric's m)."""
        return None

    @property
    def dim(self) -> int:
        return self.space.dim

    @abstractmethod
    def step(self, batches: Sequence, t: int) -> StepMetrics:
        """Update the model in place from the step's batches (batches_per_step of them)."""

    def begin(self, batches: Sequence, t: int) -> Begun:
        """Step t up to its direction work: the finished step, or a Projection that
        `complete` (alone) or step_together (with other runs) finishes.  The whole step,
        unless the strategy synthesises random-direction updates (HoloGradRandom)."""
        return self.step(batches, t)

    # --- state, for checkpoints (holograd.checkpoint) ---------------------------------------

    def state_dict(self) -> dict:
        """A snapshot of everything a later step depends on: the weights, plus a subclass's
        own state (momentum, codebook, ...).  No random generator state is needed: a
        verifiable strategy's proof seeds and directions are functions of (seed, step, j)."""
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict() snapshot, bit for bit."""
        self.model.load_state_dict(state["model"])

    # --- helpers -------------------------------------------------------------------------

    def _check_batches(self, batches: Sequence) -> None:
        if len(batches) != self.batches_per_step:
            raise ValueError(f"{self.name} takes {self.batches_per_step} batch(es) per step, got {len(batches)}")

    def _apply(self, g_hat: Tensor, lr: float | None = None) -> None:
        """theta <- theta - lr g_hat (the strategy's rate unless given); g_hat is kept as last_update."""
        self.space.add_(g_hat, alpha=-(self.lr if lr is None else lr))
        self.last_update = g_hat

    def _metrics(self, t: int, loss: float, g: Tensor | None, g_hat: Tensor, scalars: int, **kw) -> StepMetrics:
        self.last_gradient = g  # the true gradient the step measured (None when not tracked)
        nan = float("nan")
        return StepMetrics(
            step=t,
            loss=loss,
            grad_norm=g.norm().item() if g is not None else nan,
            cosine=cosine(g_hat, g) if g is not None else nan,
            update_norm=g_hat.norm().item(),
            scalars=scalars,
            **kw,
        )


class VerifiableStrategy(Strategy):
    """A strategy whose step is a round of proofs: workers send scalars a_j = <g_B, v_j> on
    directions named by seeds, which a verifier can recompute, and every party synthesises
    the same update from them.

    The step is the protocol's three parts, which holograd.distributed runs on separate
    processes and `step` runs in one:

        plan = strategy.plan(batches, t)                   # every party, identically
        a_j  = strategy.prove(plan, batches, j)            # the worker holding slot j (JVP)
        strategy.conclude(plan, a, kept=...)               # every party: synthesise, update

    seed: S0, the run's seed behind every proof seed; proof_path, track_gradient: how `step`
    computes the proofs and whether it measures the true gradient (module docstring);
    byzantine: attacked proof slots in the single-process step; commit_theta: H(theta_t) in
    the proof seeds; chunk_elements: the memory bound of streaming projection/reconstruction.
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        *,
        seed: int = 0,
        proof_path: str = "backprop",
        track_gradient: bool = True,
        byzantine: Byzantine | None = None,
        commit_theta: bool = False,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ):
        super().__init__(model, lr)
        if proof_path not in PROOF_PATHS:
            raise ValueError(f"unknown proof_path {proof_path!r}; choose one of {list(PROOF_PATHS)}")
        self.seed = int(seed)
        self.proof_path, self.track_gradient = proof_path, track_gradient or proof_path == "backprop"
        self.byzantine, self.commit_theta, self.chunk_elements = byzantine, commit_theta, chunk_elements

    # --- the protocol's parts --------------------------------------------------------------

    @abstractmethod
    def plan(self, batches: Sequence, t: int) -> ProofPlan:
        """The proofs step t asks for (see ProofPlan)."""

    @abstractmethod
    def direction(self, plan: ProofPlan, j: int) -> Tensor:
        """v_j, the direction of slot j, regenerated from the plan."""

    def prove(self, plan: ProofPlan, batches: Sequence, j: int) -> Tensor:
        """a_j = <g_B, v_j> by forward-mode JVP (one forward pass, no gradient): what the
        worker holding slot j computes, and what a verifier recomputes to check it."""
        batch = batches[plan.batch_of[j]]
        return directional_derivative(self.model, batch, self.direction(plan, j), self.space)[1].detach()

    @abstractmethod
    def synthesise(
        self, plan: ProofPlan, scalars: Tensor, kept: Sequence[int] | None = None, inv_norms: Tensor | None = None
    ) -> Tensor:
        """g_hat from the proofs of the slots in `kept` (all slots when None)."""

    def conclude(
        self,
        plan: ProofPlan,
        scalars: Tensor,
        *,
        kept: Sequence[int] | None = None,
        loss: float = float("nan"),
        g: Tensor | None = None,
        inv_norms: Tensor | None = None,
    ) -> StepMetrics:
        """Synthesise g_hat from the kept proofs and apply it (and the strategy's own state
        updates).  A step whose proofs were all dropped moves nothing ("skipped").
        loss and g only feed the metrics."""
        if kept is not None and len(kept) == 0:
            zero = torch.zeros(self.dim, device=self.space.device, dtype=self.space.dtype)
            return self._metrics(plan.step, loss, g, zero, scalars=0, phase="skipped")
        return self._update(plan, self.synthesise(plan, scalars, kept, inv_norms), loss, g)

    @abstractmethod
    def _update(self, plan: ProofPlan, g_hat: Tensor, loss: float, g: Tensor | None) -> StepMetrics:
        """Apply g_hat (and the strategy's own state updates) and report the step."""

    def _jvp_step(self, batches: Sequence, t: int) -> StepMetrics:
        """The protocol in one process: every slot proved by JVP, Byzantine slots attacked,
        all proofs kept."""
        plan = self.plan(batches, t)
        loss, g = self.observe(batches)
        scalars = torch.stack([self.prove(plan, batches, j) for j in range(plan.size)])
        return self.conclude(plan, self._corrupt(scalars, t), loss=loss, g=g)

    def observe(self, batches: Sequence) -> tuple[float, Tensor | None]:
        """The step's mean loss and true gradient g (mean over its batches), for the
        metrics only: no update depends on them."""
        if len(batches) == 1:
            return self._gradient(batches[0])
        per_batch = [self._gradient(batch) for batch in batches]
        loss = sum(loss_i for loss_i, _ in per_batch) / len(batches)
        g = torch.stack([g_i for _, g_i in per_batch]).mean(dim=0) if self.track_gradient else None
        return loss, g

    # --- helpers -------------------------------------------------------------------------

    def _proof_seeds(self, batches: Sequence, t: int, k: int) -> list[int]:
        theta_hash = commit_params(self.model) if self.commit_theta else b""
        ids = [i for b in batches for i in b.ids]
        return step_seeds(self.seed, theta_hash, commit_batch(ids), t, k)

    def _gradient(self, batch) -> tuple[float, Tensor | None]:
        """(L_B, g_B), or (L_B, None) when the gradient is not tracked on the JVP path."""
        if not self.track_gradient:
            with torch.no_grad():
                return lm_loss(self.model, batch).item(), None
        loss, g = flat_grad(self.model, batch, self.space)
        return loss.item(), g

    def _corrupt(self, scalars: Tensor, t: int) -> Tensor:
        return self.byzantine.corrupt(scalars, t) if self.byzantine else scalars


def _kept(
    plan: ProofPlan, scalars: Tensor, kept: Sequence[int] | None, inv_norms: Tensor | None
) -> tuple[list[int], Tensor, Tensor | None]:
    """The seeds, scalars (and inverse norms) of the kept slots; all of them when kept is None."""
    if kept is None:
        return plan.seeds, scalars, inv_norms
    index = torch.tensor(list(kept), dtype=torch.long, device=scalars.device)
    kept_inv_norms = None if inv_norms is None else inv_norms[index.to(inv_norms.device)]
    return [plan.seeds[j] for j in kept], scalars[index], kept_inv_norms


class SGD(Strategy):
    """The full-gradient baseline: theta <- theta - lr u, u = g (or u = mu u + g with momentum).

    It sends D gradient entries per step, which nobody can check short of recomputing the
    gradient: it is not a VerifiableStrategy and takes none of their options."""

    name = "sgd"

    def __init__(self, model: nn.Module, lr: float, *, momentum: float = 0.0):
        super().__init__(model, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD momentum must lie in [0, 1), got {momentum}")
        self.momentum, self.buffer = float(momentum), None

    def state_dict(self) -> dict:
        return {**super().state_dict(), "buffer": None if self.buffer is None else self.buffer.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.buffer = None if state["buffer"] is None else state["buffer"].to(self.space.device)

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        self._check_batches(batches)
        loss, g = flat_grad(self.model, batches[0], self.space)
        update = g
        if self.momentum:
            self.buffer = g.clone() if self.buffer is None else self.buffer.mul_(self.momentum).add_(g)
            update = self.buffer
        self._apply(update)
        return self._metrics(t, loss.item(), g, update, scalars=self.dim)


class HoloGradRandom(VerifiableStrategy):
    """K proofs on random full-space directions of the step's batch; g_hat = (scale/K) sum a_j v_j.

    By default every proof enters the synthesis: the K scalars are projections on K different
    directions, not K estimates of one number.  Options that read the paper (or the authors'
    code) other ways, each kept off by default:

    trim = tau        Algorithm 1's trimmed mean over the K proofs: the floor(tau K) largest and
                      smallest a_j are dropped and g_hat = (scale/K') sum_{j kept} a_j v_j over
                      the K' left.  It biases g_hat (dropping the largest |a_j| shrinks it:
                      measured E<g_hat, g>/||g||^2 = 0.51 at K = 20, tau = 0.1); E7 measures it.
    clip_norm = c     g_hat rescaled to norm c when it is longer (the authors' fixed-rate runs).
    collapse_seeds    a control, not a method: the K directions of a step all come from the
                      step's first seed, as with a generator that reads only the first 8 bytes
                      of seed strings like "step{t}_k{k}"; g_hat = D a v_t is then one random
                      direction, |cos(g_hat, g)| ~ sqrt(2/(pi D)) whatever K is.
    variance_correction multiplies g_hat by sqrt(K/D) (the paper's optional damping).
    """

    name = "random"

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        *,
        k: int,
        scale: float | None = None,
        variance_correction: bool = False,
        trim: float = 0.0,
        clip_norm: float | None = None,
        collapse_seeds: bool = False,
        **kw,
    ):
        super().__init__(model, lr, **kw)
        self.k = _count("K", k)
        self.scale, self.variance_correction = scale, variance_correction
        self.trim = check_trim(trim)
        if clip_norm is not None:
            _positive("clip_norm", clip_norm)
        self.clip_norm, self.collapse_seeds = clip_norm, bool(collapse_seeds)

    def plan(self, batches: Sequence, t: int) -> ProofPlan:
        """K slots on the step's one batch, direction j = Dir(s_{t,j}) (with collapse_seeds,
        Dir(s_{t,0}) for every j)."""
        seeds = self._proof_seeds(batches, t, self.k)
        if self.collapse_seeds:
            seeds = [seeds[0]] * self.k
        return ProofPlan(t, seeds, [0] * self.k)

    def trimmed(self, scalars: Tensor) -> list[int]:
        """The slots Algorithm 1's trimmed mean keeps: all but the floor(trim K) smallest and
        largest scalars (ties broken by slot, as a stable sort does)."""
        drop = n_trimmed(scalars.numel(), self.trim)
        order = torch.sort(scalars, stable=True).indices.tolist()
        return sorted(order[drop : len(order) - drop])

    def direction(self, plan: ProofPlan, j: int) -> Tensor:
        return random_directions([plan.seeds[j]], self.dim, device=self.space.device, dtype=self.space.dtype)[0]

    def synthesise(
        self, plan: ProofPlan, scalars: Tensor, kept: Sequence[int] | None = None, inv_norms: Tensor | None = None
    ) -> Tensor:
        """g_hat = (scale/K') sum_{j kept} a_j v_j over the K' kept slots (unbiased for any
        K'), times sqrt(K'/D) with variance_correction.  With `trim`, the slots kept are those
        the trimmed mean keeps among `kept` (all slots when None)."""
        if self.trim:
            among = range(plan.size) if kept is None else list(kept)
            index = torch.tensor(list(among), dtype=torch.long, device=scalars.device)
            kept = [among[i] for i in self.trimmed(scalars[index])]
        seeds, scalars, inv_norms = _kept(plan, scalars, kept, inv_norms)
        g_hat = reconstruct(
            scalars, seeds, self.dim, scale=self.scale, inv_norms=inv_norms, chunk_elements=self.chunk_elements
        )
        if self.variance_correction:
            g_hat *= variance_correction(len(seeds), self.dim)
        return self._clipped(g_hat)

    def _clipped(self, g_hat: Tensor) -> Tensor:
        """g_hat, rescaled to norm clip_norm when it is longer (no clipping by default)."""
        if self.clip_norm is not None:
            norm = g_hat.norm().item()
            if norm > self.clip_norm:
                g_hat *= self.clip_norm / norm
        return g_hat

    def _update(self, plan: ProofPlan, g_hat: Tensor, loss: float, g: Tensor | None) -> StepMetrics:
        self._apply(g_hat)
        return self._metrics(plan.step, loss, g, g_hat, scalars=self.k)

    def _backprop_step(self, plan: ProofPlan, batches: Sequence, t: int) -> Begun:
        """Slots proved as <g, v_j> from one backprop gradient (a random-direction step).
        When nothing alters the scalars between the proofs and the synthesis, both are one
        pass over the directions, left to the caller as a Projection."""
        loss, g = self._gradient(batches[0])
        if self.byzantine is None and not self.trim:
            finish = functools.partial(self._synthesised, plan, loss=loss, g=g)
            return Projection(plan.seeds, g, self.scale, self.chunk_elements, finish)
        scalars, inv = project(g, plan.seeds, chunk_elements=self.chunk_elements, return_inv_norms=True)
        return self.conclude(plan, self._corrupt(scalars, t), loss=loss, g=g, inv_norms=inv)

    def _synthesised(self, plan: ProofPlan, g_hat: Tensor, *, loss: float, g: Tensor) -> StepMetrics:
        """The update from g_hat = (scale/K) sum_j a_j v_j of a Projection (times sqrt(K/D) with
        variance_correction, clipped with clip_norm)."""
        if self.variance_correction:
            g_hat *= variance_correction(self.k, self.dim)
        return self._update(plan, self._clipped(g_hat), loss, g)

    def begin(self, batches: Sequence, t: int) -> Begun:
        self._check_batches(batches)
        if self.proof_path == "jvp":
            return self._jvp_step(batches, t)
        return self._backprop_step(self.plan(batches, t), batches, t)

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        return complete(self.begin(batches, t))


class HoloGradADC(HoloGradRandom):
    """K proofs on subspace directions v_j = U z_j/||z_j|| of a learned codebook; scale r.

    warm_start "random": the first warm_steps steps are HoloGrad-Random steps whose g_hat
    trains the codebook; "svd": the same random warm-up, its g_hat's buffered and U started
    from their SVD (the authors' code); "bootstrap": the first warm_steps steps are
    true-gradient SGD steps (not verifiable) and U starts from the SVD of their gradients;
    "none": ADC from step 0.  The codebook learns from every g_hat after the warm start too
    (Oja step each step).

    Each step reports gamma_t of U_t on the true gradient (`energy`, the paper's definition)
    and on the step's own estimate g_hat (`energy_estimate`, what the authors' code measures:
    an ADC step's g_hat lies in span(U_t), so it is 1 up to rounding by construction).

    warm_lr: the learning rate of the warm-up steps (None: lr, one rate as in the paper).  A
    warm-up step is a full-space step, random (||g_hat|| ~ sqrt(D/K) ||g||) or SGD, while an
    ADC step moves in span(U) with scale r and captures only gamma of the gradient, so the
    two phases may need rates orders of magnitude apart.
    """

    name = "adc"

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        *,
        k: int,
        rank: int = 32,
        alpha: float = 1e-3,
        alpha_schedule: str = "constant",
        qr_every: int = 100,
        normalize_update: bool = False,
        warm_start: str = "random",
        warm_steps: int = 0,
        warm_lr: float | None = None,
        **kw,
    ):
        super().__init__(model, lr, k=k, **kw)
        if self.trim or self.clip_norm is not None or self.collapse_seeds:
            raise ValueError("trim, clip_norm and collapse_seeds are HoloGrad-Random's: ADC's steps ignore them")
        if warm_lr is not None and not warm_lr > 0:
            raise ValueError(f"warm_lr must be > 0, got {warm_lr}")
        self.warm_lr = lr if warm_lr is None else float(warm_lr)
        if warm_start not in ("random", "svd", "bootstrap", "none"):
            raise ValueError(f"unknown warm_start {warm_start!r}; choose random, svd, bootstrap or none")
        if warm_steps < 0:
            raise ValueError(f"warm_steps must be >= 0, got {warm_steps}")
        self.warm_start, self.warm_steps = warm_start, 0 if warm_start == "none" else int(warm_steps)
        self.codebook_options = {
            "alpha": alpha,
            "alpha_schedule": alpha_schedule,
            "qr_every": qr_every,
            "normalize_update": normalize_update,
        }
        self.codebook = DirectionCodebook(
            self.dim, rank, seed=self.seed, device=self.space.device, dtype=self.space.dtype, **self.codebook_options
        )
        self.history: list[Tensor] = []

    def state_dict(self) -> dict:
        history = [g.clone() for g in self.history]
        return {**super().state_dict(), "codebook": self.codebook.state_dict(), "history": history}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.codebook.load_state_dict(state["codebook"])
        self.history = [g.to(self.space.device) for g in state["history"]]

    def plan(self, batches: Sequence, t: int) -> ProofPlan:
        """K slots on the step's batch: random directions during a random warm-up, codebook
        directions afterwards.  The first step after a bootstrap builds U from its gradients;
        a bootstrap step itself has no proofs to plan (RuntimeError: the protocol refuses a
        bootstrap warm-up when its config is read)."""
        if t < self.warm_steps and self.warm_start == "bootstrap":
            raise RuntimeError("ADC's bootstrap warm-up steps are SGD steps: they send gradients, not proofs")
        if t >= self.warm_steps and self.history:  # end of the bootstrap: U from the gradient history
            self.codebook = DirectionCodebook.from_gradients(
                self.history, self.codebook.rank, seed=self.seed, **self.codebook_options
            )
            self.history = []
        phase = "warmup" if t < self.warm_steps else "main"
        return ProofPlan(t, self._proof_seeds(batches, t, self.k), [0] * self.k, phase=phase)

    def direction(self, plan: ProofPlan, j: int) -> Tensor:
        if plan.phase == "warmup":
            return super().direction(plan, j)
        return self.codebook.directions([plan.seeds[j]])[0]

    def synthesise(
        self, plan: ProofPlan, scalars: Tensor, kept: Sequence[int] | None = None, inv_norms: Tensor | None = None
    ) -> Tensor:
        """g_hat = (r/K') U sum_{j kept} a_j z_j/||z_j|| (times sqrt(K'/r) with
        variance_correction); a random-direction g_hat during the warm-up."""
        if plan.phase == "warmup":
            return super().synthesise(plan, scalars, kept, inv_norms)
        seeds, scalars, _ = _kept(plan, scalars, kept, None)
        g_hat = self.codebook.reconstruct(scalars, seeds, scale=self.scale)
        if self.variance_correction:
            g_hat *= variance_correction(len(seeds), self.codebook.rank)
        return g_hat

    def _update(self, plan: ProofPlan, g_hat: Tensor, loss: float, g: Tensor | None) -> StepMetrics:
        """gamma_t of U_t, then the codebook learns from g_hat and theta moves (the warm-up
        at its own rate)."""
        energy = self.codebook.captured_energy(g) if g is not None else None
        extra = {"energy_estimate": self.codebook.captured_energy(g_hat)}
        if plan.phase == "warmup" and self.warm_start == "svd":
            self.history.append(g_hat.clone())  # U will start from the SVD of the warm-up's g_hat's
        else:
            self.codebook.update(g_hat)
        self._apply(g_hat, self.warm_lr if plan.phase == "warmup" else self.lr)
        return self._metrics(plan.step, loss, g, g_hat, scalars=self.k, energy=energy, phase=plan.phase, extra=extra)

    def begin(self, batches: Sequence, t: int) -> Begun:
        self._check_batches(batches)
        if t < self.warm_steps and self.warm_start == "bootstrap":
            loss, g = flat_grad(self.model, batches[0], self.space)
            self.history.append(g)
            self._apply(g, self.warm_lr)
            energy = self.codebook.captured_energy(g)
            return self._metrics(t, loss.item(), g, g, scalars=self.dim, energy=energy, phase="bootstrap")
        if self.proof_path == "jvp":
            return self._jvp_step(batches, t)
        plan = self.plan(batches, t)
        if plan.phase == "warmup":
            return self._backprop_step(plan, batches, t)
        loss, g = self._gradient(batches[0])
        scalars = self.codebook.project(g, plan.seeds)
        return self.conclude(plan, self._corrupt(scalars, t), loss=loss, g=g)


class MomentumCentric(VerifiableStrategy):
    """N workers, each with its own minibatch, project onto the coordinator's momentum direction.

        a_i = <g_{B_i}, m_hat_t>,  abar = Agg({a_i}),  g_hat = abar m_hat_t        (Theorem 3)
        g_hat = abar sigma_t m_hat_t, sigma_{t+1} = 0.9 sigma_t + 0.1 ||g_hat||    (Algorithm 3)
        theta <- theta - lr g_hat,  m <- beta m + (1 - beta) g_hat

    The first cold_start_steps steps (and any step with m = 0) use a fresh random direction
    Dir(s_t) in place of m_hat.  Since g_hat is parallel to m_hat, the momentum's direction
    changes only during the cold start; afterwards the update moves along a fixed line.

    Other readings of the paper, as options:
    - momentum_from="gradient": m <- beta m + (1 - beta) g with the true gradient g of the
      step's data (the paper's "why momentum works" paragraph; the authors' benchmark).  Not
      verifiable: the protocol never sends g, so the coordinator could not form this m.
    - a warm-up by another strategy (WarmStarted): its updates enter m through `absorb`,
      m <- beta m + (1 - beta) u, with u its g_hat (random warm-up) or g (SGD warm-up).

    On the backprop path the N workers' gradients come from one vectorised pass
    (`worker_gradients`: vmap over the stacked batches), each still its own batch's.
    """

    name = "momentum"

    def __init__(
        self,
        model: nn.Module,
        lr: float,
        *,
        n_workers: int,
        beta: float = 0.9,
        aggregator: str = "mean",
        tau: float = 0.1,
        cold_start_steps: int = 1,
        variant: str = "theorem3",
        sigma_init: float = 1.0,
        momentum_from: str = "estimate",
        **kw,
    ):
        super().__init__(model, lr, **kw)
        self.n_workers = _count("number of workers", n_workers)
        if momentum_from not in ("estimate", "gradient"):
            raise ValueError(f"unknown momentum_from {momentum_from!r}; choose estimate or gradient")
        if momentum_from == "gradient" and not self.track_gradient:
            raise ValueError("momentum_from='gradient' needs the true gradient: set track_gradient=True")
        self.momentum_from = momentum_from
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"momentum beta must lie in [0, 1), got {beta}")
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; choose one of {list(AGGREGATORS)}")
        if variant not in ("theorem3", "algorithm3"):
            raise ValueError(f"unknown Momentum-Centric variant {variant!r}; choose theorem3 or algorithm3")
        if cold_start_steps < 0:
            raise ValueError(f"cold_start_steps must be >= 0, got {cold_start_steps}")
        self.beta, self.aggregator, self.tau = float(beta), aggregator, check_trim(tau)
        self.cold_start_steps, self.variant, self.sigma = int(cold_start_steps), variant, float(sigma_init)
        self.momentum = torch.zeros(self.dim, device=self.space.device, dtype=self.space.dtype)

    @property
    def batches_per_step(self) -> int:
        return self.n_workers

    def state_dict(self) -> dict:
        return {**super().state_dict(), "momentum": self.momentum.clone(), "sigma": self.sigma}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.momentum, self.sigma = state["momentum"].to(self.space.device), float(state["sigma"])

    def absorb(self, update: Tensor, g: Tensor | None) -> None:
        """m <- beta m + (1 - beta) u: u = g_hat (the paper's Algorithm 3, and a warm-up's
        update), or u = g with momentum_from="gradient"."""
        source = update if self.momentum_from == "estimate" else g
        if source is None:
            raise RuntimeError("momentum_from='gradient' needs the step's true gradient, which was not measured")
        self.momentum.mul_(self.beta).add_(source, alpha=1.0 - self.beta)

    def plan(self, batches: Sequence, t: int) -> ProofPlan:
        """Slot i: worker i's own batch, all on one direction d: m_hat_t, or during the cold
        start (or while m = 0) a fresh random direction Dir(s_t)."""
        m_norm = self.momentum.norm().item()
        if t < self.cold_start_steps or m_norm == 0.0:
            seed = self._proof_seeds(batches, t, 1)[0]
            d = random_directions([seed], self.dim, device=self.space.device, dtype=self.space.dtype)[0]
            return ProofPlan(t, [seed], list(range(self.n_workers)), phase="cold", shared=d)
        return ProofPlan(t, [], list(range(self.n_workers)), shared=self.momentum / m_norm)

    def direction(self, plan: ProofPlan, j: int) -> Tensor:
        return plan.shared

    def synthesise(
        self, plan: ProofPlan, scalars: Tensor, kept: Sequence[int] | None = None, inv_norms: Tensor | None = None
    ) -> Tensor:
        """g_hat = Agg({a_i : i kept}) d (times sigma_t for Algorithm 3)."""
        if kept is not None:
            scalars = scalars[torch.tensor(list(kept), dtype=torch.long, device=scalars.device)]
        abar = aggregate(scalars, self.aggregator, self.tau)
        return abar * plan.shared if self.variant == "theorem3" else abar * self.sigma * plan.shared

    def _update(self, plan: ProofPlan, g_hat: Tensor, loss: float, g: Tensor | None) -> StepMetrics:
        if self.variant == "algorithm3":
            self.sigma = 0.9 * self.sigma + 0.1 * g_hat.norm().item()
        self._apply(g_hat)
        self.absorb(g_hat, g)
        extra = {"direction_cosine": cosine(plan.shared, g) if g is not None else float("nan")}
        return self._metrics(plan.step, loss, g, g_hat, scalars=self.n_workers, phase=plan.phase, extra=extra)

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        self._check_batches(batches)
        if self.proof_path == "jvp":  # each worker's proof by its own forward-mode JVP
            return self._jvp_step(batches, t)
        plan = self.plan(batches, t)
        losses, grads = worker_gradients(self.model, batches, self.space)  # the N workers in one vectorised pass
        scalars, g = grads @ plan.shared, grads.mean(dim=0)  # g: gradient of the union batch (equal sizes)
        return self.conclude(plan, self._corrupt(scalars, t), loss=losses.mean().item(), g=g)


class WarmStarted(Strategy):
    """A warm-up by one strategy, then another, on one model: the first `steps` steps are
    `warm`'s, the rest `main`'s.  Every warm-up step is handed to main.absorb (its update and
    the gradient it measured), so main starts from the state the warm-up built: Momentum-
    Centric's m accumulated from the warm-up's g_hat (a random warm-up, the authors'
    coordinator) or g (an SGD warm-up, the authors' momentum benchmark), say.

    Two arms with the same warm-up (same strategy, rate, seed and data) leave it at the same
    weights bit for bit, so a comparison after it starts from one point.  Warm-up steps are
    labelled phase "warmup"; each part keeps its own learning rate.
    """

    def __init__(self, main: Strategy, warm: Strategy, steps: int):
        if main.model is not warm.model:
            raise ValueError("a warm-up must train the same model as the strategy it warms up")
        super().__init__(main.model, main.lr)
        self.main, self.warm, self.steps = main, warm, _count("warm-up steps", steps)
        self.name = f"{main.name}+{warm.name}-warmup"

    @property
    def batches_per_step(self) -> int:
        return self.main.batches_per_step

    def batches_at(self, t: int) -> int:
        return self.warm.batches_at(t) if t < self.steps else self.main.batches_at(t)

    def begin(self, batches: Sequence, t: int) -> Begun:
        if t >= self.steps:
            return _then(self.main.begin(batches, t), self._after_main)
        return _then(self.warm.begin(batches, t), self._after_warm)

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        return complete(self.begin(batches, t))

    def _after_main(self, metrics: StepMetrics) -> StepMetrics:
        self.last_update, self.last_gradient = self.main.last_update, self.main.last_gradient
        return metrics

    def _after_warm(self, metrics: StepMetrics) -> StepMetrics:
        self.last_update, self.last_gradient = self.warm.last_update, self.warm.last_gradient
        self.main.absorb(self.last_update, self.last_gradient)
        metrics.phase = "warmup"
        return metrics

    def state_dict(self) -> dict:
        return {**super().state_dict(), "main": self.main.state_dict(), "warm": self.warm.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.main.load_state_dict(state["main"])
        self.warm.load_state_dict(state["warm"])


STRATEGIES: dict[str, type[Strategy]] = {
    "sgd": SGD,
    "random": HoloGradRandom,
    "adc": HoloGradADC,
    "momentum": MomentumCentric,
}


def strategy_class(name: str) -> type[Strategy]:
    """The class of the strategy called `name` ("sgd", "random", "adc", "momentum")."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[name]


def is_verifiable(name: str) -> bool:
    """Whether the strategy called `name` runs its step as proofs (a VerifiableStrategy)."""
    return issubclass(strategy_class(name), VerifiableStrategy)


def strategy_options(cls: type[Strategy]) -> dict[str, inspect.Parameter]:
    """The options a strategy's constructor takes after the model, by name: its own and,
    where it passes **kw on to its base, its bases' (the nearest declaration wins)."""
    options: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[2:]  # after self, model
        for p in parameters:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                options.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return options


def make_strategy(name: str, model: nn.Module, **options) -> Strategy:
    """Build a strategy by name ("sgd", "random", "adc", "momentum") from config options.

    The options are checked against the constructor first: an unknown or missing one is a
    one-line ValueError naming it.  Errors raised inside the constructor (a bad value, or a
    bug) propagate unchanged."""
    cls = strategy_class(name)
    allowed = strategy_options(cls)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for strategy {name!r}; allowed: {sorted(allowed)}")
    missing = sorted(k for k, p in allowed.items() if p.default is p.empty and k not in options)
    if missing:
        raise ValueError(f"missing option(s) {missing} for strategy {name!r}")
    return cls(model, **options)
