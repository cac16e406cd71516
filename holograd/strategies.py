"""Training strategies behind one step interface: the baseline and the three HoloGrad variants.

    strategy.step(batches, t) -> StepMetrics      (updates the model in place)

| strategy          | batches/step | what crosses the network per step          | update g_hat                          |
|-------------------|--------------|--------------------------------------------|---------------------------------------|
| SGD               | 1            | D gradient entries                         | g (optionally heavy-ball momentum)    |
| HoloGradRandom    | 1            | K scalars (+ seeds)                        | (D/K) sum_j a_j v_j,  v_j = Dir(s_j)  |
| HoloGradADC       | 1            | K scalars (+ seeds)                        | (r/K) sum_j a_j U z_j/||z_j||         |
| MomentumCentric   | N (workers)  | N scalars                                  | abar * m_hat (Theorem 3)              |

A proof a = <g_B, v> is computed either as the worker would, by a forward-mode JVP per
direction (proof_path="jvp"), or, to simulate many workers that share a batch cheaply, as a
dot product with one backprop gradient (proof_path="backprop"; equal in exact arithmetic).
Every step also measures the true gradient g of its data, to report ||g|| and cos(g_hat, g)
(with proof_path="jvp" and track_gradient=False this extra backward pass is skipped and the
two metrics are NaN).

Proof seeds are s_{t,j} = SHA-256(S0 || H(theta_t) || H(B_t) || t || j) with S0 the strategy's
seed; H(theta_t) costs a pass over the weights and is replaced by the empty string unless
commit_theta=True (the seeds stay fresh per step and batch either way).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from holograd.adc import DirectionCodebook
from holograd.aggregation import AGGREGATORS, aggregate, check_trim
from holograd.byzantine import ATTACKS, attack, byzantine_indices, check_fraction
from holograd.commitments import commit_batch, commit_params, step_seeds
from holograd.derivatives import directional_derivative, flat_grad, lm_loss, worker_gradients
from holograd.directions import DEFAULT_CHUNK_ELEMENTS, derive_seed, project, project_reconstruct, random_directions, reconstruct
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


class Strategy(ABC):
    """Shared machinery: the flat parameter space, proof seeds, proofs and the update."""

    name = "strategy"

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
        _positive("learning rate", lr)
        if proof_path not in PROOF_PATHS:
            raise ValueError(f"unknown proof_path {proof_path!r}; choose one of {list(PROOF_PATHS)}")
        self.model, self.space, self.lr, self.seed = model, ParamSpace(model), float(lr), int(seed)
        self.proof_path, self.track_gradient = proof_path, track_gradient or proof_path == "backprop"
        self.byzantine, self.commit_theta, self.chunk_elements = byzantine, commit_theta, chunk_elements

    @property
    def batches_per_step(self) -> int:
        return 1

    @property
    def dim(self) -> int:
        return self.space.dim

    @abstractmethod
    def step(self, batches: Sequence, t: int) -> StepMetrics:
        """Update the model in place from the step's batches (batches_per_step of them)."""

    # --- state, for checkpoints (holograd.checkpoint) ---------------------------------------

    def state_dict(self) -> dict:
        """A snapshot of everything a later step depends on: the weights, plus a subclass's
        own state (momentum, codebook, ...).  Proof seeds and directions are functions of
        (seed, step, j), so no random generator state is needed."""
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state_dict() snapshot, bit for bit."""
        self.model.load_state_dict(state["model"])

    # --- helpers -------------------------------------------------------------------------

    def _check_batches(self, batches: Sequence) -> None:
        if len(batches) != self.batches_per_step:
            raise ValueError(f"{self.name} takes {self.batches_per_step} batch(es) per step, got {len(batches)}")

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

    def _jvp_scalars(self, batch, tangents: Iterable[Tensor]) -> Tensor:
        """Proofs by forward-mode JVP, one per tangent (the worker's reference computation).

        Tangents may be a generator, so that only one direction is held at a time."""
        return torch.stack([directional_derivative(self.model, batch, v, self.space)[1] for v in tangents]).detach()

    def _corrupt(self, scalars: Tensor, t: int) -> Tensor:
        return self.byzantine.corrupt(scalars, t) if self.byzantine else scalars

    def _apply(self, g_hat: Tensor) -> None:
        """theta <- theta - lr g_hat."""
        self.space.add_(g_hat, alpha=-self.lr)

    def _metrics(self, t: int, loss: float, g: Tensor | None, g_hat: Tensor, scalars: int, **kw) -> StepMetrics:
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


class SGD(Strategy):
    """The full-gradient baseline: theta <- theta - lr u, u = g (or u = mu u + g with momentum)."""

    name = "sgd"

    def __init__(self, model: nn.Module, lr: float, *, momentum: float = 0.0, **kw):
        super().__init__(model, lr, **kw)
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


class HoloGradRandom(Strategy):
    """K proofs on random full-space directions of the step's batch; g_hat = (scale/K) sum a_j v_j.

    Every proof enters the synthesis: the K scalars are projections on K different directions,
    not K estimates of one number, so a trimmed mean has no meaning here (dropping the largest
    |a_j| would shrink g_hat and bias it; measured E<g_hat, g>/||g||^2 = 0.51 at K = 20,
    tau = 0.1).  Robust aggregation belongs to Momentum-Centric, where it does apply.
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
        **kw,
    ):
        super().__init__(model, lr, **kw)
        self.k = _count("K", k)
        self.scale, self.variance_correction = scale, variance_correction

    def _random_update(self, batches: Sequence, t: int) -> tuple[float, Tensor | None, Tensor]:
        """(loss, g, g_hat) of one random-direction step (also ADC's warm-up)."""
        batch = batches[0]
        seeds = self._proof_seeds(batches, t, self.k)
        loss, g = self._gradient(batch)
        if self.proof_path == "backprop" and self.byzantine is None:  # nothing alters the scalars: one pass
            _, g_hat = project_reconstruct(g, seeds, scale=self.scale, chunk_elements=self.chunk_elements)
            if self.variance_correction:
                g_hat *= variance_correction(self.k, self.dim)
            return loss, g, g_hat
        if self.proof_path == "backprop":
            scalars, inv = project(g, seeds, chunk_elements=self.chunk_elements, return_inv_norms=True)
        else:
            vs = (random_directions([s], self.dim, device=self.space.device, dtype=self.space.dtype)[0] for s in seeds)
            scalars, inv = self._jvp_scalars(batch, vs), None
        scalars = self._corrupt(scalars, t)
        g_hat = reconstruct(scalars, seeds, self.dim, scale=self.scale, inv_norms=inv, chunk_elements=self.chunk_elements)
        if self.variance_correction:
            g_hat *= variance_correction(self.k, self.dim)
        return loss, g, g_hat

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        self._check_batches(batches)
        loss, g, g_hat = self._random_update(batches, t)
        self._apply(g_hat)
        return self._metrics(t, loss, g, g_hat, scalars=self.k)


class HoloGradADC(HoloGradRandom):
    """K proofs on subspace directions v_j = U z_j/||z_j|| of a learned codebook; scale r.

    warm_start "random": the first warm_steps steps are HoloGrad-Random steps whose g_hat
    trains the codebook; "bootstrap": the first warm_steps steps are true-gradient SGD steps
    (not verifiable) and U starts from the SVD of their gradients; "none": ADC from step 0.
    The codebook learns from every g_hat after the warm start too (Oja step each step).

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
        if warm_lr is not None and not warm_lr > 0:
            raise ValueError(f"warm_lr must be > 0, got {warm_lr}")
        self.warm_lr = lr if warm_lr is None else float(warm_lr)
        if warm_start not in ("random", "bootstrap", "none"):
            raise ValueError(f"unknown warm_start {warm_start!r}; choose random, bootstrap or none")
        if warm_steps < 0:
            raise ValueError(f"warm_steps must be >= 0, got {warm_steps}")
        self.warm_start, self.warm_steps = warm_start, 0 if warm_start == "none" else int(warm_steps)
        self.codebook_options = dict(alpha=alpha, alpha_schedule=alpha_schedule, qr_every=qr_every, normalize_update=normalize_update)
        self.codebook = DirectionCodebook(
            self.dim, rank, seed=self.seed, device=self.space.device, dtype=self.space.dtype, **self.codebook_options
        )
        self.history: list[Tensor] = []

    def state_dict(self) -> dict:
        return {**super().state_dict(), "codebook": self.codebook.state_dict(), "history": [g.clone() for g in self.history]}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.codebook.load_state_dict(state["codebook"])
        self.history = [g.to(self.space.device) for g in state["history"]]

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        self._check_batches(batches)
        if t < self.warm_steps and self.warm_start == "bootstrap":
            loss, g = flat_grad(self.model, batches[0], self.space)
            self.history.append(g)
            self.space.add_(g, alpha=-self.warm_lr)
            return self._metrics(t, loss.item(), g, g, scalars=self.dim, energy=self.codebook.captured_energy(g), phase="bootstrap")
        if t < self.warm_steps:  # random-direction warm-up
            loss, g, g_hat = self._random_update(batches, t)
            energy = self.codebook.captured_energy(g) if g is not None else None  # gamma_t of U_t, as below
            self.codebook.update(g_hat)
            self.space.add_(g_hat, alpha=-self.warm_lr)
            return self._metrics(t, loss, g, g_hat, scalars=self.k, energy=energy, phase="warmup")
        if self.history:  # end of the bootstrap: U from the gradient history
            self.codebook = DirectionCodebook.from_gradients(
                self.history, self.codebook.rank, seed=self.seed, **self.codebook_options
            )
            self.history = []
        loss, g, g_hat = self._subspace_update(batches, t)
        energy = self.codebook.captured_energy(g) if g is not None else None
        self.codebook.update(g_hat)
        self._apply(g_hat)
        return self._metrics(t, loss, g, g_hat, scalars=self.k, energy=energy)

    def _subspace_update(self, batches: Sequence, t: int) -> tuple[float, Tensor | None, Tensor]:
        batch = batches[0]
        seeds = self._proof_seeds(batches, t, self.k)
        loss, g = self._gradient(batch)
        if self.proof_path == "backprop":
            scalars = self.codebook.project(g, seeds)
        else:
            scalars = self._jvp_scalars(batch, (self.codebook.directions([s])[0] for s in seeds))
        scalars = self._corrupt(scalars, t)
        g_hat = self.codebook.reconstruct(scalars, seeds, scale=self.scale)
        if self.variance_correction:
            g_hat *= variance_correction(self.k, self.codebook.rank)
        return loss, g, g_hat


class MomentumCentric(Strategy):
    """N workers, each with its own minibatch, project onto the coordinator's momentum direction.

        a_i = <g_{B_i}, m_hat_t>,  abar = Agg({a_i}),  g_hat = abar m_hat_t        (Theorem 3)
        g_hat = abar sigma_t m_hat_t, sigma_{t+1} = 0.9 sigma_t + 0.1 ||g_hat||    (Algorithm 3)
        theta <- theta - lr g_hat,  m <- beta m + (1 - beta) g_hat

    The first cold_start_steps steps (and any step with m = 0) use a fresh random direction
    Dir(s_t) in place of m_hat.  Since g_hat is parallel to m_hat, the momentum's direction
    changes only during the cold start; afterwards the update moves along a fixed line.

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
        **kw,
    ):
        super().__init__(model, lr, **kw)
        self.n_workers = _count("number of workers", n_workers)
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

    def step(self, batches: Sequence, t: int) -> StepMetrics:
        self._check_batches(batches)
        m_norm = self.momentum.norm().item()
        cold = t < self.cold_start_steps or m_norm == 0.0
        if cold:
            seed = self._proof_seeds(batches, t, 1)[0]
            d = random_directions([seed], self.dim, device=self.space.device, dtype=self.space.dtype)[0]
        else:
            d = self.momentum / m_norm
        if self.proof_path == "backprop":  # the N workers' gradients in one vectorised pass
            losses, grads = worker_gradients(self.model, batches, self.space)
            scalars, g = grads @ d, grads.mean(dim=0)  # g: gradient of the union batch (equal sizes)
            loss = losses.mean().item()
        else:  # each worker's proof by its own forward-mode JVP
            scalars = torch.stack([self._jvp_scalars(batch, [d])[0] for batch in batches])
            per_worker = [self._gradient(batch) for batch in batches]
            loss = sum(l for l, _ in per_worker) / len(batches)
            g = torch.stack([g_i for _, g_i in per_worker]).mean(dim=0) if self.track_gradient else None
        a = self._corrupt(scalars, t)
        abar = aggregate(a, self.aggregator, self.tau)
        if self.variant == "theorem3":
            g_hat = abar * d
        else:
            g_hat = abar * self.sigma * d
            self.sigma = 0.9 * self.sigma + 0.1 * g_hat.norm().item()
        self._apply(g_hat)
        self.momentum.mul_(self.beta).add_(g_hat, alpha=1.0 - self.beta)
        extra = {"direction_cosine": cosine(d, g) if g is not None else float("nan")}
        return self._metrics(t, loss, g, g_hat, scalars=self.n_workers, phase="cold" if cold else "main", extra=extra)


STRATEGIES: dict[str, type[Strategy]] = {
    "sgd": SGD,
    "random": HoloGradRandom,
    "adc": HoloGradADC,
    "momentum": MomentumCentric,
}


def make_strategy(name: str, model: nn.Module, **options) -> Strategy:
    """Build a strategy by name ("sgd", "random", "adc", "momentum") from config options."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    try:
        return STRATEGIES[name](model, **options)
    except TypeError as exc:  # an unknown or missing option, named by Python
        raise ValueError(f"bad options for strategy {name!r}: {exc}") from exc
