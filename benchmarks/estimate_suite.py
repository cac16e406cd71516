"""Estimate a config's tuning and measurement job time on this device: a work model times unit costs.

    python benchmarks/estimate_suite.py [--config config/paper.yaml] [--device cuda|cpu] [--out PATH]
    python benchmarks/estimate_suite.py --config config/paper.yaml --units h100 [--assume NAME=VALUE ...]

The work model counts, from the config alone, what every tuning and measurement job computes
(each experiment's `work`, in its analysis module paper_checks/experiments/<name>.py, follows
its measurement holograd/experiments/<name>.py with the units of WorkModel below):
forward+backward passes per (preset, batch), held-out forward passes, forward-mode JVPs,
direction entries generated (projection and synthesis, once per entry when a whole row fits
the config's `chunk_elements`, else twice), and steps of Momentum-Centric and ADC, whose cost
is measured whole.  The unit costs are measured here, on `--device`, at the config's own sizes
(GPT-2's 50,257-token vocabulary for WikiText-2), plus the start-up of a job process (importing
torch and transformers).

Validation: run on config/config.yaml on the CPU that ran the default pipeline, the estimate
is compared with the benchmark files of that run (`--measured results`).  Tuning grids are
counted as given: a grid the tuner extends costs more (each extension one more run), so the
estimate is a lower bound there.  Run on a GPU with config/paper.yaml, the total is the paper
suite's GPU-hours (every tuning and measurement job holds one GPU).

Without a GPU, `--units h100` derives the unit costs of one H100 SXM analytically (class
H100Units: every assumption a named constant, each overridable with `--assume NAME=VALUE`):
direction entries at the fused Triton kernels' instruction-bound rate, model passes from their
FLOPs and bytes at a stated fraction of peak with a floor of one dispatch per aten operator
(small models are launch-bound), Momentum-Centric and ADC steps from their constituent passes.
The CPU parts of a job (process start-up, seed hashing) are measured on this CPU and shown
apart.  Both modes also break every experiment's time down by kind of work (model passes,
direction generation, strategy steps, start-up) and estimate E8, the systems check, which the
work model does not count (its job holds `distributed.run.workers` GPUs).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from holograd.data import Batch  # noqa: E402
from holograd.derivatives import directional_derivative, flat_grad, lm_loss  # noqa: E402
from holograd.directions import DEFAULT_CHUNK_ELEMENTS, derive_seeds, project_reconstruct  # noqa: E402
from holograd.models import build_model, param_count  # noqa: E402
from holograd.params import ParamSpace  # noqa: E402
from holograd.strategies import make_strategy  # noqa: E402

GPT2_VOCAB = 50257


def timed(fn, device: str, repeats: int = 3) -> float:
    """Median seconds of fn() after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class UnitCosts:
    """Seconds of the operations the work model counts, measured once per shape on one device."""

    def __init__(self, device: str):
        self.device = device

    def _batches(self, vocab: int, block: int, batch: int, n: int = 1) -> list[Batch]:
        gen = torch.Generator().manual_seed(0)
        return [
            Batch(
                tuple(range(i * batch, (i + 1) * batch)),
                torch.randint(0, vocab, (batch, block + 1), generator=gen).to(self.device),
            )
            for i in range(n)
        ]

    def _model(self, preset: str, vocab: int, block: int, dtype=torch.float32):
        return build_model(preset, vocab, block, seed=0, device=self.device, dtype=dtype)

    @functools.cache
    def dim(self, preset: str, vocab: int, block: int) -> int:
        return param_count(preset, vocab, block)

    @functools.cache
    def forward_backward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        model, (b,) = self._model(preset, vocab, block), self._batches(vocab, block, batch)
        space = ParamSpace(model)
        return timed(lambda: flat_grad(model, b, space), self.device)

    @functools.cache
    def forward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        model, (b,) = self._model(preset, vocab, block), self._batches(vocab, block, batch)

        def evaluate():
            with torch.no_grad():
                lm_loss(model, b)

        return timed(evaluate, self.device)

    @functools.cache
    def jvp(self, preset: str, vocab: int, block: int, batch: int, float64: bool = False) -> float:
        dtype = torch.float64 if float64 else torch.float32
        model, (b,) = self._model(preset, vocab, block, dtype), self._batches(vocab, block, batch)
        space = ParamSpace(model)
        v = torch.randn(space.dim, device=self.device, dtype=dtype)
        return timed(lambda: directional_derivative(model, b, v / v.norm(), space), self.device)

    # Entries timed per call of project_reconstruct when its cost is fitted (see direction_costs):
    # enough that the per-entry part dominates the larger call (tenths of a second on a CPU core,
    # tens of milliseconds on an H100), few enough to time the paper's D quickly.
    FIT_ENTRIES = {"cpu": 1 << 25, "cuda": 1 << 33}

    def _time_directions(self, dim: int, chunk: int, k: int) -> float:
        """Seconds of one project_reconstruct call with K = k directions of dimension `dim`."""
        grad = torch.randn(dim, device=self.device)
        seeds = derive_seeds("estimate", 0, k)
        return timed(lambda: project_reconstruct(grad, seeds, chunk_elements=chunk), self.device, repeats=2)

    @functools.cache
    def direction_costs(self, dim: int, chunk: int) -> tuple[float, float]:
        """(seconds per call, seconds per counted entry) of projection + synthesis at D = dim,
        fitted to t(K) = per_call + per_entry x passes x K x D from two calls at D itself (K
        and K / 8, K as large as FIT_ENTRIES allows): the work model counts passes x K x D
        entries (one pass when a row fits the chunk, else two), so a call's fixed cost (seed
        hashing, launches, norms) is charged once per call, not spread over the entries of a
        few rows and multiplied by the paper's K = 33,200."""
        passes = 1 if dim <= chunk else 2
        k_hi = max(8, self.FIT_ENTRIES.get(self.device, 1 << 25) // dim)
        k_lo = k_hi // 8
        t_lo, t_hi = self._time_directions(dim, chunk, k_lo), self._time_directions(dim, chunk, k_hi)
        per_entry = max(t_hi - t_lo, 0.0) / (passes * (k_hi - k_lo) * dim)
        return max(t_lo - per_entry * passes * k_lo * dim, 0.0), per_entry

    def entry(self, dim: int, chunk: int) -> float:
        """Seconds per direction entry as the work model counts them (direction_costs)."""
        return self.direction_costs(dim, chunk)[1]

    def per_call(self, dim: int, chunk: int) -> float:
        """Seconds a projection + synthesis costs once per call, whatever its K (direction_costs)."""
        return self.direction_costs(dim, chunk)[0]

    @functools.cache
    def strategy_step(self, preset: str, vocab: int, block: int, batch: int, name: str, options: tuple) -> float:
        """One step of a strategy whose cost is not a sum of the units above (Momentum-Centric, ADC)."""
        strategy = make_strategy(name, self._model(preset, vocab, block), lr=1e-6, **dict(options))
        batches = self._batches(vocab, block, batch, strategy.batches_per_step)
        t = iter(range(10**9))
        return timed(lambda: strategy.step(batches, next(t)), self.device)

    @functools.cache
    def startup(self) -> float:
        """A job process's start: Python, torch and transformers imported (what every job pays)."""
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, transformers.models.gpt2.modeling_gpt2"], check=True)
        return time.perf_counter() - start


class EntryCount(UnitCosts):
    """Unit costs that make the work model count direction entries instead of seconds: one
    per entry generated, nothing for anything else (device-independent work)."""

    def __init__(self):
        super().__init__("cpu")

    def entry(self, dim: int, chunk: int) -> float:
        return 1.0

    def per_call(self, dim: int, chunk: int) -> float:
        return 0.0

    def forward_backward(self, *shape) -> float:
        return 0.0

    def forward(self, *shape) -> float:
        return 0.0

    def jvp(self, *shape, float64: bool = False) -> float:
        return 0.0

    def strategy_step(self, *args) -> float:
        return 0.0

    def startup(self) -> float:
        return 0.0


CATEGORIES = {
    "passes": ("forward_backward", "forward", "jvp"),
    "directions": ("entry", "per_call"),
    "steps": ("strategy_step",),
    "startup": ("startup",),
}
"""The kinds of work the per-experiment breakdown shows, by the UnitCosts methods that price them."""


class Only(UnitCosts):
    """The unit costs of `units` for one category of CATEGORIES, zero for the others: the work
    model run with each category in turn breaks a job's time down by kind of work."""

    def __init__(self, units: UnitCosts, category: str):
        super().__init__(units.device)
        self.units, self.methods = units, CATEGORIES[category]

    def _cost(self, method: str, *args, **kwargs) -> float:
        return getattr(self.units, method)(*args, **kwargs) if method in self.methods else 0.0

    def dim(self, *shape) -> int:
        return self.units.dim(*shape)

    def forward_backward(self, *shape) -> float:
        return self._cost("forward_backward", *shape)

    def forward(self, *shape) -> float:
        return self._cost("forward", *shape)

    def jvp(self, *shape, float64: bool = False) -> float:
        return self._cost("jvp", *shape, float64=float64)

    def entry(self, dim: int, chunk: int) -> float:
        return self._cost("entry", dim, chunk)

    def per_call(self, dim: int, chunk: int) -> float:
        return self._cost("per_call", dim, chunk)

    def strategy_step(self, *args) -> float:
        return self._cost("strategy_step", *args)

    def startup(self) -> float:
        return self._cost("startup")


class _OpCounter:
    """Counts the aten operators dispatched inside a `with` block (a TorchDispatchMode)."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        class Mode(TorchDispatchMode):
            count = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                Mode.count += 1
                return func(*args, **(kwargs or {}))

        self.mode = Mode

    def __enter__(self):
        self.active = self.mode()
        self.active.__enter__()
        return self

    def __exit__(self, *exc):
        self.active.__exit__(*exc)

    @property
    def count(self) -> int:
        return self.mode.count


@functools.cache
def op_counts(preset: str) -> dict[str, int]:
    """aten operators that one forward (loss only), forward+backward (flat_grad), forward-mode
    JVP (directional_derivative) and N-worker gradient pass (worker_gradients, vmap) of a preset
    dispatch, counted on a toy-sized CPU copy (vocabulary 64, context 8, batch 2): the count does
    not depend on the vocabulary, the context, the batch or N (checked), only on the layers.
    Each operator is one dispatch from Python or from the autograd engine, mostly one kernel."""
    from holograd.derivatives import worker_gradients

    model = build_model(preset, 64, 8, seed=0)
    space = ParamSpace(model)
    tokens = torch.randint(0, 64, (2, 9), generator=torch.Generator().manual_seed(0))
    v = torch.ones(space.dim) / math.sqrt(space.dim)
    passes = {
        "forward": lambda: lm_loss(model, tokens).detach(),
        "forward_backward": lambda: flat_grad(model, tokens, space),
        "jvp": lambda: directional_derivative(model, tokens, v, space),
        "workers": lambda: worker_gradients(model, [tokens, tokens], space),
    }
    counts = {}
    for name, fn in passes.items():
        with _OpCounter() as counter:
            if name == "forward":
                with torch.no_grad():
                    fn()
            else:
                fn()
        counts[name] = counter.count
    return counts


def measure_seed_seconds(k: int = 20_000) -> float:
    """CPU seconds per proof seed of a step on this CPU: its derivation (one SHA-256, as
    commitments.step_seeds) and its key words twice (BLAKE2b, seed_keys in project and in
    reconstruct)."""
    from holograd.directions import seed_keys

    start = time.perf_counter()
    seeds = derive_seeds("estimate-seeds", 0, k)
    seed_keys(seeds)
    seed_keys(seeds)
    return (time.perf_counter() - start) / k


class H100Units(UnitCosts):
    """Unit costs of one H100 SXM (80 GB HBM3), derived from the stated assumptions below,
    without a GPU.  Each constant is an assumption with its reason; `--assume NAME=VALUE`
    replaces one (e.g. SECONDS_PER_OP=1e-5 to see how launch-bound the suite is).

    A model pass costs max(its dispatch floor, its device time): the GPU runs asynchronously, so
    a pass takes as long as the slower of the CPU issuing its operators and the GPU executing
    them.  Device time = FLOPs at MATMUL_EFFICIENCY of peak + bytes at the achievable HBM rate
    (summed, not overlapped: conservative).  An entry of a direction costs one generation per
    kernel that makes it (the fused kernels never store z: projection generates every entry,
    synthesis generates it again), plus the CPU's seed hashing per row and a dispatch floor
    per call.  The CPU work of a job (start-up, seed hashing) is measured on this CPU unless
    STARTUP_SECONDS / SEED_SECONDS are given: it is CPU work on the GPU machine too, shown apart.
    """

    NAME = "H100 SXM (analytical)"

    # --- the direction generator (holograd/generator_triton.py) --------------------------------
    ISSUE_RATE = 132 * 4 * 32 * 1.98e9
    """Thread-instructions/s: 132 SMs x 4 warp schedulers x 32 lanes x 1.98 GHz boost (one warp
    instruction per scheduler per clock; fp32 and int32 ALUs share this issue bound)."""
    INSTRUCTIONS_PER_ENTRY = 150
    """Per entry and kernel: ~100 int32/fp32 operations of the source (hash ~12, both PPND7
    branches ~45, the log ~20, selection, multiply-add, int64 fixed-point square ~6), plus the
    expansion of the three correctly rounded div_rn and one sqrt_rn into ~10 instructions each."""
    ENTRIES_PER_SECOND = 2e11
    """Entries generated per second by one fused kernel: ISSUE_RATE / INSTRUCTIONS_PER_ENTRY =
    2.25e11, rounded down (the issue's 3e11 counts 100 operations at 2 FLOP per FMA lane-clock;
    these kernels run with FMA contraction off, and memory traffic is nil)."""
    DIRECTION_CALL_OPS = 30
    """aten operators around one project / reconstruct call (keys to the GPU, partial sums,
    norms, scaling, the result's dtype), each priced at SECONDS_PER_OP."""

    # --- model passes ------------------------------------------------------------------------
    FP32_FLOPS = 67e12
    """Peak fp32 FLOP/s without tensor cores (FMA = 2 FLOPs): torch keeps TF32 matmuls off by
    default and this repository never turns them on, so every GEMM is an SGEMM."""
    FP64_FLOPS = 34e12
    """Peak fp64 FLOP/s without tensor cores (E6's float64 JVP; DGEMM may use the 67 TFLOP/s
    fp64 tensor cores: conservative)."""
    MATMUL_EFFICIENCY = 0.35
    """Achieved fraction of peak for these small GEMMs (n_embd 64-512, 1,024-4,096 tokens per
    batch, K = n_embd for the LM head): cuBLAS reaches 60-80 % only on large square shapes."""
    HBM_BYTES_PER_SECOND = 2.5e12
    """Achievable memory bandwidth: 3.35 TB/s HBM3 peak, ~75 % for streaming element-wise kernels."""
    SECONDS_PER_OP = 5e-6
    """CPU time to dispatch one aten operator of an eager pass (Python module code, dispatcher,
    cudaLaunchKernel): 3-10 us on a server CPU; views count as operators too, so 5 us per
    counted operator errs high for the kernels alone."""
    ACTIVATION_PASSES = 84
    """Float32 tensors of B x T x n_embd each layer's forward writes or reads: attention and MLP
    projections ~20, the MLP's 4 n_embd intermediate through GELU's ~7 element-wise kernels ~56,
    layer norms and residual adds ~8."""
    ATTENTION_SCORE_PASSES = 8
    """Reads and writes of the B x heads x T x T scores per layer (eager attention: QK^T, scale,
    causal mask, softmax, AV)."""
    LOGIT_PASSES = 3
    """Reads and writes of the B x T x vocabulary float32 logits in a forward pass (LM head
    writes them, log_softmax reads and writes them)."""
    BACKWARD_FACTOR = 2.0
    """A backward pass: twice the forward's FLOPs (two GEMMs per forward GEMM) and about twice
    its bytes."""
    JVP_FACTOR = 3.0
    """A forward-mode JVP (torch.func.jvp, E6's proofs and E8's): primal plus tangent, each
    GEMM x W becomes x W, dx W and x dW, so ~3x the forward's FLOPs and bytes (its dispatch
    floor is counted: ~6.7x the forward's operators)."""

    # --- strategy steps ----------------------------------------------------------------------
    MOMENTUM_EXTRA_OPS = 40
    """aten operators of a Momentum-Centric step besides its vmapped gradients (the N x D
    matrix times m_hat, the mean, aggregation, update, momentum)."""
    MOMENTUM_VECTOR_PASSES = 12
    """Float32 D-vectors read or written per Momentum-Centric step besides the N x D gradients
    (which count 3 passes: written, multiplied, averaged)."""
    ADC_CODEBOOK_PASSES = 14
    """Reads and writes of the D x r codebook U per ADC step: U^T g (projection), U c
    (synthesis), U^T g and the Gram matrix in each of two captured_energy calls, the Oja update
    (U^T g_hat, outer product, add), column norms and the division."""
    ADC_EXTRA_OPS = 90
    """aten operators of an ADC step besides its forward+backward (coefficients, the codebook's
    products, two pinv of r x r, the Oja update and the column normalisation)."""
    ADC_SMALL_LINALG_SECONDS = 5e-4
    """One pinv(hermitian) of the r x r Gram matrix (cuSOLVER eigh of a 32-64 square matrix and
    its host synchronisation); two per step."""
    QR_EFFICIENCY = 0.05
    """Achieved fraction of fp32 peak of the tall-skinny QR (D x r, cuSOLVER geqrf + orgqr) that
    the codebook runs every qr_every = 100 steps."""
    QR_EVERY = 100
    """The codebook's QR period (holograd.adc default and both configs' qr_every)."""

    # --- CPU work on the GPU machine ---------------------------------------------------------
    CUDA_INIT_SECONDS = 3.0
    """Added to a job's measured start-up: CUDA context, cuBLAS handle, loading the Triton
    kernels from their cache (compiled once per machine)."""
    STARTUP_SECONDS: float | None = None
    """A job process's start (Python, torch, transformers imported); None: measured on this CPU."""
    SEED_SECONDS: float | None = None
    """CPU seconds per proof seed of a step (SHA-256 derivation, BLAKE2b keys twice); None:
    measured on this CPU."""

    def __init__(self, assume: dict[str, float] | None = None):
        super().__init__("cuda")
        for name, value in (assume or {}).items():
            if not name.isupper() or not hasattr(type(self), name):
                raise ValueError(f"unknown assumption {name!r}; known: {', '.join(self.assumptions())}")
            setattr(self, name, float(value))

    @classmethod
    def assumptions(cls) -> list[str]:
        """The names of the constants an `--assume` can replace."""
        return [n for n in dir(cls) if n.isupper() and n != "NAME"]

    def stated(self) -> dict[str, float | None]:
        """Every assumption's value as used (measured CPU costs filled in once asked for)."""
        return {n: getattr(self, n) for n in self.assumptions()}

    # --- model passes ------------------------------------------------------------------------

    def _layers(self, preset: str) -> tuple[int, int, int]:
        from holograd.models import PRESETS

        p = PRESETS[preset]
        return p.n_layer, p.n_head, p.n_embd

    def forward_flops(self, preset: str, vocab: int, block: int, batch: int) -> float:
        """2 x tokens x (matmul parameters: 12 n_embd^2 per layer + the LM head's vocab x n_embd)
        + the attention's QK^T and AV (4 x layers x B x T^2 x n_embd)."""
        layers, _, d = self._layers(preset)
        tokens = batch * block
        return 2.0 * tokens * (layers * 12 * d * d + vocab * d) + 4.0 * layers * batch * block * block * d

    def forward_bytes(self, preset: str, vocab: int, block: int, batch: int) -> float:
        """Weights once, activations, attention scores and logits (float32)."""
        layers, heads, d = self._layers(preset)
        tokens = batch * block
        return 4.0 * (
            self.dim(preset, vocab, block)
            + layers * (self.ACTIVATION_PASSES * tokens * d + self.ATTENTION_SCORE_PASSES * batch * heads * block**2)
            + self.LOGIT_PASSES * tokens * vocab
        )

    def _device_seconds(self, flops: float, nbytes: float, float64: bool = False) -> float:
        peak = self.FP64_FLOPS if float64 else self.FP32_FLOPS
        return flops / (peak * self.MATMUL_EFFICIENCY) + nbytes / self.HBM_BYTES_PER_SECOND

    def _pass(self, ops: int, flops: float, nbytes: float, float64: bool = False) -> float:
        return max(ops * self.SECONDS_PER_OP, self._device_seconds(flops, nbytes, float64))

    def forward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        shape = (preset, vocab, block, batch)
        return self._pass(op_counts(preset)["forward"], self.forward_flops(*shape), self.forward_bytes(*shape))

    def _backward_work(self, preset: str, vocab: int, block: int, batch: int) -> tuple[float, float]:
        """(FLOPs, bytes) of a forward + backward pass, gradients flattened (3 D-vector passes)."""
        shape = (preset, vocab, block, batch)
        factor = 1.0 + self.BACKWARD_FACTOR
        flops, nbytes = factor * self.forward_flops(*shape), factor * self.forward_bytes(*shape)
        return flops, nbytes + 3 * 4.0 * self.dim(preset, vocab, block)

    def forward_backward(self, preset: str, vocab: int, block: int, batch: int) -> float:
        flops, nbytes = self._backward_work(preset, vocab, block, batch)
        return self._pass(op_counts(preset)["forward_backward"], flops, nbytes)

    def jvp(self, preset: str, vocab: int, block: int, batch: int, float64: bool = False) -> float:
        shape = (preset, vocab, block, batch)
        width = 2.0 if float64 else 1.0
        flops = self.JVP_FACTOR * self.forward_flops(*shape)
        nbytes = self.JVP_FACTOR * width * self.forward_bytes(*shape)
        return self._pass(op_counts(preset)["jvp"], flops, nbytes, float64)

    # --- direction entries -------------------------------------------------------------------

    def seed_seconds(self) -> float:
        if self.SEED_SECONDS is None:
            self.SEED_SECONDS = measure_seed_seconds()
        return self.SEED_SECONDS

    def entry(self, dim: int, chunk: int) -> float:
        """Seconds per entry as the work model counts them (once per entry when a row fits the
        chunk, else twice): on CUDA every entry is generated twice (project_partials, then
        reconstruct), and each row's seed is hashed on the CPU."""
        passes = 1 if dim <= chunk else 2
        return (2 / passes) / self.ENTRIES_PER_SECOND + self.seed_seconds() / (passes * dim)

    def per_call(self, dim: int, chunk: int) -> float:
        """The dispatch floor of one projection + synthesis (two calls)."""
        return 2 * self.DIRECTION_CALL_OPS * self.SECONDS_PER_OP

    # --- strategy steps ----------------------------------------------------------------------

    def strategy_step(self, preset: str, vocab: int, block: int, batch: int, name: str, options: tuple) -> float:
        """Momentum-Centric: N workers' gradients in one vmapped pass (N forward+backward passes
        of device work, one pass of dispatches) and the N x D matrix; ADC: one forward+backward
        pass, the codebook's passes over U, its Gram matrices, pinv and amortised QR."""
        options = dict(options)
        d = self.dim(preset, vocab, block)
        ops = op_counts(preset)
        if name == "momentum":
            n = int(options["n_workers"])
            flops, nbytes = self._backward_work(preset, vocab, block, batch)
            nbytes = n * nbytes + 4.0 * d * (3 * n + self.MOMENTUM_VECTOR_PASSES)
            return self._pass(ops["workers"] + self.MOMENTUM_EXTRA_OPS, n * flops, nbytes)
        if name == "adc":
            k, r = int(options["k"]), int(options["rank"])
            flops, nbytes = self._backward_work(preset, vocab, block, batch)
            nbytes += self.ADC_CODEBOOK_PASSES * 4.0 * d * r
            flops += 2 * 2.0 * d * r * r  # U^T U in each captured_energy
            qr = 4.0 * d * r * r / (self.FP32_FLOPS * self.QR_EFFICIENCY) / self.QR_EVERY
            device = self._pass(ops["forward_backward"] + self.ADC_EXTRA_OPS, flops, nbytes)
            return device + qr + 2 * self.ADC_SMALL_LINALG_SECONDS + k * self.seed_seconds()
        raise ValueError(f"no analytical cost for a {name!r} step")

    def startup(self) -> float:
        if self.STARTUP_SECONDS is None:
            self.STARTUP_SECONDS = UnitCosts.startup(self)
        return self.STARTUP_SECONDS + self.CUDA_INIT_SECONDS


def settings(section: dict) -> list[dict]:
    """Every setting of an experiment section, resolved (as paper_checks.sweeps does)."""
    from paper_checks.sweeps import resolve, setting_names

    return [resolve(section, name) for name in setting_names(section)]


class WorkModel:
    """Seconds of every tuning and measurement job of a config, from the unit costs."""

    def __init__(self, config: dict, units: UnitCosts):
        self.config, self.u = config, units
        self.wikitext = config["data"]["corpus"] == "wikitext2"

    def vocab(self, cfg: dict) -> int:
        return GPT2_VOCAB if self.wikitext else cfg.get("vocab_size", self.config["data"]["vocab_size"])

    def shape(self, cfg: dict, batch: int | None = None) -> tuple:
        return (cfg["model"], self.vocab(cfg), cfg["block_size"], batch or cfg["batch_size"])

    def dim(self, cfg: dict) -> int:
        return self.u.dim(cfg["model"], self.vocab(cfg), cfg["block_size"])

    def directions(self, cfg: dict, k: int) -> float:
        """Generating and using K directions once for projection and synthesis."""
        d, chunk = self.dim(cfg), cfg.get("chunk_elements", DEFAULT_CHUNK_ELEMENTS)
        return (1 if d <= chunk else 2) * k * d * self.u.entry(d, chunk) + self.u.per_call(d, chunk)

    def dense_direction(self, cfg: dict) -> float:
        """Generating one whole direction at once (as PoGP's recomputation paths do)."""
        d = self.dim(cfg)
        chunk = max(d, DEFAULT_CHUNK_ELEMENTS)
        return d * self.u.entry(d, chunk) + self.u.per_call(d, chunk)

    def evals(self, cfg: dict, steps: int) -> float:
        """Held-out loss at t = 0, every eval_every steps and after the last step."""
        count = (math.ceil(steps / cfg["eval_every"]) + 1) * cfg["eval_batches"]
        return count * self.u.forward(*self.shape(cfg))

    def step(self, cfg: dict, arm: dict, union: int) -> float:
        """One step of an arm; single-batch arms see the union of `union` workers' batches."""
        shape = self.shape(cfg, union * cfg["batch_size"])
        kind = arm["kind"]
        if kind == "sgd":
            return self.u.forward_backward(*shape)
        if kind == "random":
            return self.u.forward_backward(*shape) + self.directions(cfg, arm["k"])
        if kind == "momentum":
            options = tuple(sorted((k, v) for k, v in arm.items() if k in ("n_workers", "variant")))
            return self.u.strategy_step(*self.shape(cfg), "momentum", options)
        options = (("k", arm["k"]), ("rank", arm["rank"]), ("warm_start", "none"))
        return self.u.strategy_step(*shape, "adc", options)

    def run(self, cfg: dict, arm: dict, steps: int, union: int = 1) -> float:
        """A training run: its steps plus its held-out evaluations."""
        if arm["kind"] == "adc" and arm.get("warm_start", "none") != "none":
            warm = min(steps, arm["warm_steps"])
            warm_arm = {"kind": "random", "k": arm["k"]} if arm["warm_start"] == "random" else {"kind": "sgd"}
            return (
                warm * self.step(cfg, warm_arm, union)
                + (steps - warm) * self.step(cfg, arm, union)
                + self.evals(cfg, steps)
            )
        return steps * self.step(cfg, arm, union) + self.evals(cfg, steps)

    def shared(self, cfg: dict, arm: dict, steps: int, runs: int) -> float:
        """What `runs` runs of a random-direction arm trained together save against `runs`
        runs alone: the generation of all but one run's directions, every step (runs with the
        same seeds at a step generate each entry once: holograd.strategies.step_together, on
        the CPU and on CUDA).  The runs' own products and sums are not counted as saved."""
        if arm["kind"] != "random":
            return 0.0
        return (runs - 1) * steps * self.directions(cfg, arm["k"])

    def tuning(self, cfg: dict, grids: list[tuple[dict, int]], union: int = 1) -> float:
        """A tuning job: every rate of every (arm, grid size) for tune_steps steps, a grid's
        rates trained together (their shared directions counted once)."""
        steps = cfg["tune_steps"]
        return self.u.startup() + sum(
            size * self.run(cfg, arm, steps, union) - self.shared(cfg, arm, steps, size) for arm, size in grids
        )

    # each experiment's jobs are counted by the `work` of its analysis (paper_checks/experiments/)

    def jobs(self) -> list[dict]:
        """Every tuning and measurement job: experiment, stage, setting, count, seconds each."""
        from paper_checks.catalog import load_experiments
        from paper_checks.experiment import load_analysis

        catalog, rows = load_experiments(), []
        for experiment, section in self.config["experiments"].items():
            work = load_analysis(catalog[experiment]["analysis"]).work
            from paper_checks.sweeps import seed_groups

            groups = seed_groups(section["seeds"], self.config.get("seeds_per_job"))
            for cfg in settings(section):
                for stage, label, seconds in work(self, cfg):
                    # a measurement job runs its group's seeds after one start-up (`work` counts one per seed)
                    count, total = (1, seconds) if stage == "tuning" else (len(groups), self.grouped(seconds, groups))
                    rows.append(
                        {
                            "experiment": experiment,
                            "stage": stage,
                            "setting": label,
                            "jobs": count,
                            "seconds_each": total / count,
                            "seconds": total,
                        }
                    )
        return rows

    def grouped(self, seconds_per_seed: float, groups: list[list[int]]) -> float:
        """The seconds of a setting's measurement jobs: each group's seeds after one start-up."""
        startup = self.u.startup()
        return sum(startup + len(group) * (seconds_per_seed - startup) for group in groups)


def systems(config: dict, units: UnitCosts) -> dict | None:
    """E8, the systems check, which the work model of the experiments does not count: the
    config's `distributed.run` on `workers` processes, one GPU each, for `steps` protocol steps.
    A step's wall time: each rank's ceil(N / workers) proofs by JVP on a dense direction, the
    verifier's p N recomputations (the other ranks wait), the coordinator's loss (a forward
    pass) and the synthesis of N directions; plus held-out evaluations.  Every process holds
    its GPU for the whole job, so GPU-seconds = workers x (wall + start-up).  None without a
    `distributed` section."""
    run = (config.get("distributed") or {}).get("run")
    if not run:
        return None
    model = WorkModel(config, units)
    options = run.get("options", {})
    cfg = {**run, "chunk_elements": options.get("chunk_elements", DEFAULT_CHUNK_ELEMENTS)}
    workers, shape = run["workers"], model.shape(cfg)
    slots = workers if run["strategy"] == "momentum" else int(options["k"])
    proof = units.jvp(*shape) + (0.0 if run["strategy"] == "momentum" else model.dense_direction(cfg))
    verified = run.get("pogp", {}).get("p", 0.0) * slots
    step = math.ceil(slots / workers) * proof + verified * proof + units.forward(*shape)
    if run["strategy"] != "momentum":
        step += model.directions(cfg, slots)
    evals = (
        (math.ceil(run["steps"] / run["eval_every"]) + 1) * run.get("eval_batches", 4) if run.get("eval_every") else 0
    )
    wall = run["steps"] * step + evals * units.forward(*shape)
    startup = units.startup()
    return {
        "experiment": "e8_distributed_protocol",
        "stage": "systems",
        "gpus": workers,
        "steps": run["steps"],
        "wall_seconds": wall + startup,
        "startup_seconds": workers * startup,
        "seconds": workers * (wall + startup),
    }


def _models(config: dict) -> list[dict]:
    """Every setting of every experiment (and E8's run): what names a model preset."""
    out = [cfg for section in config["experiments"].values() for cfg in settings(section)]
    run = (config.get("distributed") or {}).get("run")
    return out + ([run] if run else [])


def parse_assumptions(pairs: list[str]) -> dict[str, float]:
    """NAME=VALUE pairs of --assume as a mapping."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--assume takes NAME=VALUE, got {pair!r}")
        out[name.strip()] = float(value)
    return out


def load_config(path: Path) -> dict:
    """The config checked and with the schema's defaults filled in, as the pipeline sees it
    (without Snakemake, which a bare GPU image lacks)."""
    from holograd.validation import fill_defaults
    from paper_checks.configuration import SCHEMA_FILE, check_config

    config = yaml.safe_load(path.read_text())
    check_config(config)
    return fill_defaults(config, SCHEMA_FILE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "paper.yaml")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--measured", type=Path, default=None, help="a results/ folder of a run of this config, to compare with"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the config's resources.default.threads, as its jobs run)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--units",
        choices=("measured", "h100"),
        default="measured",
        help="measured: unit costs timed on --device; h100: derived for one H100 SXM from stated assumptions "
        "(no GPU needed; H100Units)",
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --units h100: replace one of H100Units' assumptions (repeatable)",
    )
    args = parser.parse_args()
    config = load_config(args.config)
    torch.set_num_threads(args.threads or config.get("resources", {}).get("default", {}).get("threads", 1))
    if args.units == "h100":
        units: UnitCosts = H100Units(parse_assumptions(args.assume))
        args.device = "h100"
    elif args.assume:
        raise SystemExit("--assume needs --units h100")
    else:
        units = UnitCosts(args.device)
    rows = WorkModel(config, units).jobs()
    for row, counted in zip(rows, WorkModel(config, EntryCount()).jobs(), strict=True):
        row["direction_entries"] = counted["seconds"]
    for category in CATEGORIES:
        for row, part in zip(rows, WorkModel(config, Only(units, category)).jobs(), strict=True):
            row[f"{category}_seconds"] = part["seconds"]

    import pandas as pd

    table = pd.DataFrame(rows)
    by = (
        table.groupby(["experiment", "stage"])
        .agg(
            jobs=("jobs", "sum"),
            seconds=("seconds", "sum"),
            direction_entries=("direction_entries", "sum"),
            **{f"{c}_seconds": (f"{c}_seconds", "sum") for c in CATEGORIES},
        )
        .reset_index()
    )
    if args.measured is not None:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from job_times import job_table

        measured = job_table(args.measured).groupby(["experiment", "stage"])["seconds"].sum().rename("measured_seconds")
        by = by.join(measured, on=["experiment", "stage"])
    total = float(table["seconds"].sum())
    e8 = systems(config, units)
    suite = total + (e8["seconds"] if e8 else 0.0)
    startup = float(table["startup_seconds"].sum()) + (e8["startup_seconds"] if e8 else 0.0)
    if args.units == "h100":
        device_name = H100Units.NAME
    else:
        device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    result = {
        "config": str(args.config),
        "device": args.device,
        "device_name": device_name,
        "units": args.units,
        "threads": torch.get_num_threads(),
        "jobs": rows,
        "by_experiment": by.to_dict("records"),
        "total_seconds": total,
        "total_hours": total / 3600,
        "systems": e8,
        "suite_seconds": suite,
        "suite_gpu_hours": suite / 3600,
        "suite_startup_seconds": startup,
        "suite_gpu_hours_without_startup": (suite - startup) / 3600,
    }
    if isinstance(units, H100Units):
        result["assumptions"] = units.stated()
        result["op_counts"] = {p: op_counts(p) for p in sorted({r["model"] for r in _models(config)})}
    if args.measured is not None:
        result["measured_total_seconds"] = float(by["measured_seconds"].sum())
    out = args.out or ROOT / "benchmarks" / "out" / f"estimate-{args.config.stem}-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.config} on {result['device_name']} ({torch.get_num_threads()} threads)")
    shown = by.rename(columns={f"{c}_seconds": c for c in CATEGORIES})
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.0f}" if abs(x) < 1e7 else f"{x:.2e}"))
    print(
        table.nlargest(8, "seconds")[["experiment", "stage", "setting", "jobs", "seconds_each", "seconds"]].to_string(
            index=False, float_format=lambda x: f"{x:.1f}"
        )
    )
    line = f"estimated tuning + measurement job time: {total:.0f} s = {total / 3600:.2f} job-hours"
    if args.measured is not None:
        line += f" (measured: {result['measured_total_seconds']:.0f} s)"
    print(line)
    hours = "GPU-hours" if args.device in ("cuda", "h100") else "job-hours"
    if e8:
        print(
            f"E8 (systems, {e8['gpus']} processes, one GPU each on a GPU machine, x {e8['wall_seconds']:.0f} s wall): "
            f"{e8['seconds']:.0f} process-seconds"
        )
    print(
        f"suite: {suite:.0f} s = {suite / 3600:.2f} {hours} on {result['device_name']}, of which process start-up "
        f"(CPU work) {startup:.0f} s; without it {result['suite_gpu_hours_without_startup']:.2f} {hours}"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
