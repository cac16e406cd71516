"""Seeded random directions: Dir(s) = z / ||z||, z ~ N(0, I_D) (HoloGrad §3).

A worker's proof is a_j = <g_B, v_j> with v_j = Dir(s_j); the coordinator rebuilds every
v_j from its public seed s_j alone.  That only works if the direction is a pure function of
(seed, D): the same in any process, in any run, whatever other seeds are drawn beside it,
and on any device, so that a verifier on one kind of hardware can check a worker on another.

The generator
-------------
torch's own CPU and CUDA generators give different streams for the same seed, and its
element-wise functions are not correctly rounded (not even sqrt, on the CPU), so they may
differ in the last bits between devices.  The directions are therefore made by a
*counter-based* generator defined only with operations that IEEE 754 defines exactly
(int32 arithmetic, bit manipulation, and correctly rounded +, -, *, /, sqrt, one at a time):

    keys (k0, k1, k2)  = BLAKE2b(seed)                       three 32-bit words per seed
    x                  = mix(i, k0, k1, k2)                  32-bit keyed hash of the index i
    m                  = x >> 8                               24 signed bits, in [-2^23, 2^23)
    q                  = (2m + 1) / 2^25                      p - 1/2 for p = uniform in (0, 1), exact
    z_i                = Phi^-1(1/2 + q)                      inverse normal CDF: z_i ~ N(0, 1)

`mix` is an xorshift-multiply hash of the triple32 family (constants from C. Wellons'
hash-prospector) with the three key words injected between its rounds, so each seed selects
its own pseudo-random permutation of the index space.  Phi^-1 is PPND7, the single-precision
rational approximation of Wichura's AS 241 (relative error about 1e-7), with a logarithm built
from the float's exponent bits and a series in the tails (|q| > 0.425).  The constants live in
holograd.direction_constants.  Every step is correctly rounded, so z, ||z|| and v are
bit-identical on every IEEE device, CPU or CUDA.

Because z_i depends on i and the seed only, any slice of z can be produced on its own:
projection and reconstruction stream over segments of the K x D direction matrix and never
hold more than `chunk_elements` of its entries.  ||z||^2 is accumulated exactly, in int64
fixed point (z_i^2 truncated to multiples of 2^-28, an error below 4e-9 relative), so it does
not depend on the chunking, on K, on the order of summation or on the device; then
1/||z|| is formed in float64 by numpy's correctly rounded sqrt and division, and
v_i = z_i * fl32(1 / ||z||).

Two kernels evaluate the definition, each in one pass that never writes a direction it does
not have to:

- CPU: holograd.generator_cpu, compiled by numba (LLVM, shipped in numba's wheel): one
  vectorised loop per segment of a direction, fused with the dot product (`project`) or the
  weighted sum (`reconstruct`); threads (torch's intra-op thread count) share the rows or the
  columns, which changes no entry.
- CUDA: holograd.generator_triton, Triton kernels with `div_rn`/`sqrt_rn` and no FMA
  contraction, fusing generation with the projection and the reconstruction so that v is
  never written to memory.

tests/test_generator.py checks the CPU kernel bit for bit against a numpy reference of the
definition (tests/generator_reference.py) on all 2^24 inverse-CDF inputs, and
tests/test_generator_triton.py the Triton kernels (interpreted on the CPU; compiled, on a GPU).
On CUDA the kernels are checked once per device (they must load, run and give the definition's
bits on a first block); where they cannot, a process stops with GeneratorUnavailable unless
HOLOGRAD_ALLOW_CPU_GENERATOR=1 lets it generate on the CPU and copy (`generator_backend` says
which kernel ran; every run file records it).  Other devices get tiles generated on the CPU
and copied.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from holograd import generator_cpu, generator_triton
from holograd.devices import GENERATOR_FALLBACK, first_line
from holograd.direction_constants import FIXED_POINT, int32_word

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ELEMENTS = 1 << 18
"""Default upper bound on the entries of the direction matrix held at once (1 MB of float32):
the tiles of `random_directions`, `inverse_norms` and `project_reconstruct`'s row blocks.  The
fused CPU kernels hold less: one segment of 4,096 entries per thread."""

MAX_DIM = 2**31 - 1
"""Directions are indexed by int32 counters."""

_SEED_LIMIT = 2**64
_MIN_CHUNK_WIDTH = 1024  # keep column chunks wide enough for vectorised element-wise ops
_SEGMENT = 4096  # entries of one direction the CPU kernels generate at a time (16 KB: fits in L1)


def check_seeds(seeds: Sequence[int] | Tensor) -> list[int]:
    """Seeds as a list of Python ints in [0, 2^64); raises ValueError naming a bad one."""
    if isinstance(seeds, Tensor):
        seeds = seeds.reshape(-1).tolist()
    out = []
    for s in seeds:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise ValueError(f"direction seed must be an integer, got {s!r}")
        s = int(s)
        if not 0 <= s < _SEED_LIMIT:
            raise ValueError(f"direction seed must lie in [0, 2**64), got {s}")
        out.append(s)
    if not out:
        raise ValueError("at least one direction seed is needed")
    return out


def check_dim(dim: int) -> int:
    """D as a Python int in [1, 2^31 - 1]; raises ValueError otherwise."""
    if isinstance(dim, bool) or not hasattr(dim, "__index__") or not 1 <= int(dim) <= MAX_DIM:
        raise ValueError(f"direction dimension must be an integer in [1, {MAX_DIM}], got {dim!r}")
    return int(dim)


def _check_chunk(chunk_elements: int) -> int:
    if isinstance(chunk_elements, bool) or not hasattr(chunk_elements, "__index__") or chunk_elements < 1:
        raise ValueError(f"chunk_elements must be a positive integer, got {chunk_elements!r}")
    return int(chunk_elements)


def derive_seed(label: str, seed: int, index: int = 0) -> int:
    """A direction seed for a purpose `label`, a run seed and an index: SHA-256(label|seed|index)[:8].

    Seeds of different labels are unrelated, so e.g. a codebook's initial basis never
    coincides with a step's proof directions.
    """
    return int.from_bytes(hashlib.sha256(f"holograd|{label}|{seed}|{index}".encode()).digest()[:8], "little")


def derive_seeds(label: str, seed: int, count: int) -> list[int]:
    """derive_seed(label, seed, i) for i = 0 .. count - 1."""
    return [derive_seed(label, seed, i) for i in range(count)]


def seed_keys(seeds: Sequence[int] | Tensor, device: torch.device | str | None = None) -> Tensor:
    """Key words (k0, k1, k2) of each seed: BLAKE2b-96 of the seed's 8 little-endian bytes.

    Returns an int32 tensor of shape (K, 3) on `device`.
    """
    words = []
    for s in check_seeds(seeds):
        digest = hashlib.blake2b(s.to_bytes(8, "little"), digest_size=12, person=b"holograd.dir").digest()
        words.append([int32_word(int.from_bytes(digest[4 * i : 4 * i + 4], "little")) for i in range(3)])
    return torch.tensor(words, dtype=torch.int32, device=device)


def _cpu_keys(keys: Tensor) -> np.ndarray:
    """Key words as the numba kernel takes them: uint32 (K, 3), contiguous, on the CPU."""
    return np.ascontiguousarray(keys.cpu().numpy().view(np.uint32))


def _generator_threads() -> int:
    """Threads of the CPU generator: torch's intra-op thread count (a job sets it to its own)."""
    return max(1, torch.get_num_threads())


def _segment(chunk_elements: int) -> int:
    """Entries of a direction each generator thread holds at once when it streams."""
    return max(1, min(chunk_elements, _SEGMENT))


def _cpu_block(keys: Tensor, start: int, stop: int) -> tuple[Tensor, Tensor]:
    """(z, sumsq) of columns start..stop of every seed, generated on the CPU (new tensors)."""
    z = np.empty((len(keys), stop - start), dtype=np.float32)
    sumsq = np.empty(len(keys), dtype=np.int64)
    generator_cpu.fill(_cpu_keys(keys), start, z, sumsq, _generator_threads())
    return torch.from_numpy(z), torch.from_numpy(sumsq)


_CHECK_SEEDS = (0, 2**64 - 1)
_CHECK_ENTRIES = 8192  # both PPND7 branches: about 15 % of entries fall in the tails


class GeneratorUnavailable(RuntimeError):
    """The fused Triton kernels cannot generate directions on a CUDA device here (one line why)."""


@functools.cache
def _triton_problem(index: int) -> str | None:
    """Why the Triton kernels cannot generate directions on cuda:`index`, or None when they
    can: they must import (triton installed, recent enough), compile, launch, and give the
    definition's bits on a first block of two seeds (compared with the CPU kernel)."""
    try:
        keys = seed_keys(_CHECK_SEEDS, torch.device("cuda", index))
        got = generator_triton.gaussian(keys, 0, _CHECK_ENTRIES).cpu()
    except Exception as exc:  # noqa: BLE001 - an import, a version check, compilation or a launch
        return f"{type(exc).__name__}: {first_line(exc)}"
    want, _ = _cpu_block(keys.cpu(), 0, _CHECK_ENTRIES)
    differ = int((got.view(torch.int32) != want.view(torch.int32)).sum())
    if differ:
        return f"their first {want.numel()} entries differ from the definition in {differ} places"
    return None


def _fallback_allowed() -> bool:
    return os.environ.get(GENERATOR_FALLBACK, "0") not in ("", "0")


@functools.cache
def _warn_fallback(index: int, problem: str) -> None:
    log.warning(
        "the Triton kernels cannot run on cuda:%d (%s); %s=1: generating directions on the CPU and copying them",
        index,
        problem,
        GENERATOR_FALLBACK,
    )


def generator_backend(device: torch.device | str) -> str:
    """Which kernel generates directions for tensors on `device`: "numba" on the CPU, "triton"
    on CUDA, and "numba, copied to <device>" elsewhere (or on CUDA when the Triton kernels
    cannot run and HOLOGRAD_ALLOW_CPU_GENERATOR=1).  On CUDA the kernels are checked once per
    device and process; if they cannot run, and no fallback is allowed, GeneratorUnavailable."""
    device = torch.device(device)
    if device.type == "cpu":
        return "numba"
    if device.type != "cuda":
        return f"numba, copied to {device.type}"
    index = device.index if device.index is not None else torch.cuda.current_device()
    problem = _triton_problem(index)
    if problem is None:
        return "triton"
    if not _fallback_allowed():
        raise GeneratorUnavailable(
            f"the direction generator's Triton kernels cannot run on cuda:{index}: {problem} "
            f"(set {GENERATOR_FALLBACK}=1 to generate on the CPU and copy, hundreds of times slower)"
        )
    _warn_fallback(index, problem)
    return f"numba, copied to cuda:{index} ({problem})"


def _on_cuda(device: torch.device) -> bool:
    """Whether to generate with the fused Triton kernels (a CUDA device whose kernels passed
    their check); raises GeneratorUnavailable where they cannot run and no fallback is allowed."""
    return device.type == "cuda" and generator_backend(device) == "triton"


def gaussian_block(keys: Tensor, start: int, stop: int) -> Tensor:
    """Entries z_i, start <= i < stop, of the Gaussian vectors of the given seed keys.

    keys: int32 (K, 3) from `seed_keys`.  Returns a new float32 (K, stop - start) tensor on
    keys' device, each entry N(0, 1) and a pure function of (seed, i), bit-identical on
    every device.
    """
    if _on_cuda(keys.device):
        return generator_triton.gaussian(keys, start, stop)
    z, _ = _cpu_block(keys, start, stop)
    return z.to(keys.device)


def _inverse_norm(sumsq: Tensor) -> Tensor:
    """1 / ||z|| in float64 from the fixed-point sums, on sumsq's device.

    Computed with numpy's float64 sqrt and division, which are correctly rounded (torch's
    CPU sqrt is not), so the norm is the same number whichever device generated z.
    """
    norms = np.sqrt(sumsq.cpu().numpy().astype(np.float64) / FIXED_POINT)
    return torch.from_numpy(1.0 / norms).to(sumsq.device)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """Products are formed in float64 for float64 inputs and in float32 otherwise (bf16/fp16)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _tiles(k: int, dim: int, chunk_elements: int) -> tuple[int, int]:
    """Rows and columns of one tile of the K x D matrix, rows * cols <= chunk_elements."""
    cols = min(dim, max(min(chunk_elements, _MIN_CHUNK_WIDTH), chunk_elements // k))
    rows = max(1, min(k, chunk_elements // cols))
    return rows, cols


def _spans(n: int, step: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, step):
        yield start, min(n, start + step)


def _stream(keys: Tensor, dim: int, chunk_elements: int) -> Iterator[tuple[slice, slice, Tensor, Tensor]]:
    """(rows, columns, z[rows, columns], its rows' fixed-point sums of squares) for every tile
    of the K x D Gaussian matrix, column chunks outermost, generated on the CPU.  Each tile
    lives in one buffer, reused for the next tile."""
    rows, cols = _tiles(len(keys), dim, chunk_elements)
    words, threads = _cpu_keys(keys), _generator_threads()
    buffer, sums = np.empty(rows * cols, dtype=np.float32), np.empty(rows, dtype=np.int64)
    for c0, c1 in _spans(dim, cols):
        for r0, r1 in _spans(len(keys), rows):
            z, sumsq = buffer[: (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0), sums[: r1 - r0]
            generator_cpu.fill(words[r0:r1], c0, z, sumsq, threads)
            yield slice(r0, r1), slice(c0, c1), torch.from_numpy(z), torch.from_numpy(sumsq)


def _sumsq(keys: Tensor, dim: int, chunk_elements: int) -> Tensor:
    """sum_i trunc(fl(z_i^2) 2^28) of every seed: exact int64, the same on every device."""
    if _on_cuda(keys.device):
        return generator_triton.sumsq(keys, dim)
    sumsq = torch.zeros(len(keys), dtype=torch.int64)
    for rows, _, _, tile_sumsq in _stream(keys, dim, chunk_elements):
        sumsq[rows] += tile_sumsq
    return sumsq.to(keys.device)


def inverse_norms(
    seeds: Sequence[int] | Tensor,
    dim: int,
    *,
    device: torch.device | str | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """1 / ||z_j|| for each seed, float64 (K,), streaming over chunks of the direction matrix."""
    dim, chunk = check_dim(dim), _check_chunk(chunk_elements)
    return _inverse_norm(_sumsq(seed_keys(seeds, device), dim, chunk))


def random_directions(
    seeds: Sequence[int] | Tensor,
    dim: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Unit directions v_j = Dir(s_j) = z_j / ||z_j|| as the rows of a dense (K, dim) tensor.

    Materialises K x dim entries: use `project`/`reconstruct` when that is too large.  The
    directions are defined in float32; another dtype is a cast of them.
    """
    dim = check_dim(dim)
    keys = seed_keys(seeds, device)
    if _on_cuda(keys.device):
        z = generator_triton.gaussian(keys, 0, dim)
        # the fixed-point sum from z itself (two correctly rounded products, a truncation and an
        # exact integer sum), not a second generation pass
        sumsq = (z * z).mul_(FIXED_POINT).to(torch.int64).sum(dim=1)
    else:
        z, sumsq = _cpu_block(keys, 0, dim)
        z = z.to(keys.device)
    return z.mul_(_inverse_norm(sumsq).to(device=z.device, dtype=torch.float32).unsqueeze(1)).to(dtype)


def _check_gradient(grad: Tensor, name: str) -> None:
    if grad.dim() != 1 or not grad.is_floating_point():
        raise ValueError(
            f"{name} expects a flat floating-point gradient of shape (D,), got {grad.dtype} {tuple(grad.shape)}"
        )


def project(
    grad: Tensor,
    seeds: Sequence[int] | Tensor,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    return_inv_norms: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Proof scalars a_j = <grad, v_j> = <grad, z_j> / ||z_j|| for every seed (the worker's
    message, HoloGrad §3).

    grad: (D,) on any device; returns (K,) in grad's dtype.  On the CPU, streams over tiles of
    at most `chunk_elements` direction entries (the dot products by BLAS); on a CUDA device,
    one fused kernel generates each entry, multiplies and sums it where it is made, and never
    writes a direction to memory.  With `return_inv_norms`, also returns 1/||z_j|| (float64),
    which `reconstruct` accepts to skip its norm pass.
    """
    _check_gradient(grad, "project")
    dim, chunk = check_dim(grad.numel()), _check_chunk(chunk_elements)
    keys = seed_keys(seeds, grad.device)
    work = _work_dtype(grad.dtype)
    if _on_cuda(grad.device):
        dots, sumsq = generator_triton.project_partials(grad, keys)
    elif grad.device.type == "cpu":
        g = grad.detach().to(work).contiguous().numpy()
        dots, sumsq = generator_cpu.project(_cpu_keys(keys), g, _segment(chunk), _generator_threads())
        dots, sumsq = torch.from_numpy(dots), torch.from_numpy(sumsq)
    else:  # another device: tiles generated on the CPU, multiplied where grad lives
        g, k = grad.to(work), len(keys)
        dots = torch.zeros(k, dtype=torch.float64, device=grad.device)
        sumsq = torch.zeros(k, dtype=torch.int64)
        for rows, cols, z, tile_sumsq in _stream(keys, dim, chunk):
            sumsq[rows] += tile_sumsq
            dots[rows] += (z.to(device=grad.device, dtype=work) @ g[cols]).to(torch.float64)
    inv = _inverse_norm(sumsq).to(grad.device)
    scalars = (dots * inv).to(grad.dtype)
    return (scalars, inv) if return_inv_norms else scalars


def _coefficients(scalars: Tensor, inv_norms: Tensor, scale: float, k: int) -> Tensor:
    """The reconstruction's coefficients a_j (scale / K) / ||z_j||, formed in float64 and
    rounded once to the work dtype (scalars (K,) or (R, K))."""
    return (scalars.to(torch.float64) * inv_norms * (scale / k)).to(_work_dtype(scalars.dtype))


def reconstruct(
    scalars: Tensor,
    seeds: Sequence[int] | Tensor,
    dim: int,
    *,
    scale: float | None = None,
    inv_norms: Tensor | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Synthesised update g_hat = (scale / K) * sum_j a_j v_j (HoloGrad §3, Theorem 1).

    With scale = D (the default) and v_j uniform on the unit sphere, E[g_hat] = g: the
    scale-corrected estimator, since E[v v^T] = I / D.  Returns (dim,) in scalars' dtype on
    scalars' device, streaming over tiles of at most `chunk_elements` direction entries on
    the CPU, with one fused kernel (no direction in memory) on a CUDA device.
    """
    dim, chunk = check_dim(dim), _check_chunk(chunk_elements)
    seeds = check_seeds(seeds)
    if scalars.dim() != 1 or scalars.numel() != len(seeds):
        raise ValueError(
            f"reconstruct needs one scalar per seed: got {tuple(scalars.shape)} scalars for {len(seeds)} seeds"
        )
    if not scalars.is_floating_point():
        raise ValueError(f"proof scalars must be floating point, got {scalars.dtype}")
    device, k = scalars.device, len(seeds)
    if inv_norms is None:
        inv_norms = inverse_norms(seeds, dim, device=device, chunk_elements=chunk)
    scale = float(dim) if scale is None else float(scale)
    work = _work_dtype(scalars.dtype)
    coef = _coefficients(scalars, inv_norms.to(device), scale, k)  # (K,)
    keys = seed_keys(seeds, device)
    if _on_cuda(device):
        return generator_triton.reconstruct(coef, keys, dim).to(scalars.dtype)
    out = torch.zeros(dim, dtype=work, device=device)
    if device.type == "cpu":
        words, threads = _cpu_keys(keys), _generator_threads()
        generator_cpu.reconstruct(words, coef.contiguous().numpy(), out.numpy(), _segment(chunk), threads)
    else:  # another device: tiles generated on the CPU, multiplied where the scalars live
        for rows, cols, z, _ in _stream(keys, dim, chunk):
            out[cols] += coef[rows] @ z.to(device=device, dtype=work)
    return out.to(scalars.dtype)


def project_reconstruct(
    grad: Tensor,
    seeds: Sequence[int] | Tensor,
    *,
    scale: float | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Tensor, Tensor]:
    """(a, g_hat): the proofs a_j = <grad, v_j> and g_hat = (scale / K) sum_j a_j v_j, with
    every direction generated once instead of twice.

    The same quantities as `project` followed by `reconstruct` (up to float rounding: sums
    run in another order), for a simulation in which one process plays both the workers and
    the coordinator and nothing alters the scalars in between.  grad (D,) gives a (K,) and
    g_hat (D,); grad (R, D), the gradients of R runs that use the same seeds at a step (the
    rates of a tuning grid, the arms of a comparison), gives a (R, K) and g_hat (R, D), each
    run's bit-identical to its own call, with every direction entry generated once for all R.

    On the CPU, directions are generated a block of whole rows at a time (at most
    `chunk_elements` entries), so a row's norm is known before the row is used.  On a CUDA
    device the fused kernels (which never hold a direction in memory) project and then
    reconstruct, each over a tile of the R runs, so every entry is generated twice for all R.
    When one row alone is larger than the chunk (D > chunk_elements) on the CPU, it is
    `project` followed by `reconstruct` run by run.
    """
    if grad.dim() == 2 and grad.is_floating_point():
        runs = grad
    else:
        _check_gradient(grad, "project_reconstruct")
        runs = grad.unsqueeze(0)
    dim, chunk = check_dim(runs.size(1)), _check_chunk(chunk_elements)
    if _on_cuda(runs.device):
        scalars, out = _project_reconstruct_cuda(runs, seeds, scale)
    elif dim > chunk or runs.device.type != "cpu":
        results = [_project_then_reconstruct(g, seeds, scale, chunk) for g in runs]
        scalars, out = torch.stack([a for a, _ in results]), torch.stack([u for _, u in results])
    else:
        scalars, out = _project_reconstruct_cpu(runs, seeds, scale, chunk)
    return (scalars, out) if grad.dim() == 2 else (scalars[0], out[0])


def _project_reconstruct_cuda(runs: Tensor, seeds, scale: float | None) -> tuple[Tensor, Tensor]:
    """`project` then `reconstruct` of R runs' gradients (R, D) on CUDA, each by one launch of
    the fused kernels with a tile of R runs: every direction entry generated once per kernel
    for all R (twice in all, as for one run), each run's numbers its own calls'."""
    keys, dim = seed_keys(seeds, runs.device), runs.size(1)
    dots, sumsq = generator_triton.project_partials(runs, keys)  # (R, K) float64, (K,)
    inv = _inverse_norm(sumsq).to(runs.device)
    scalars = (dots * inv).to(runs.dtype)
    coef = _coefficients(scalars, inv, float(dim) if scale is None else float(scale), len(keys))
    return scalars, generator_triton.reconstruct(coef, keys, dim).to(runs.dtype)


def _project_then_reconstruct(grad: Tensor, seeds, scale: float | None, chunk: int) -> tuple[Tensor, Tensor]:
    scalars, inv = project(grad, seeds, chunk_elements=chunk, return_inv_norms=True)
    return scalars, reconstruct(scalars, seeds, grad.numel(), scale=scale, inv_norms=inv, chunk_elements=chunk)


def _project_reconstruct_cpu(runs: Tensor, seeds, scale: float | None, chunk: int) -> tuple[Tensor, Tensor]:
    """project_reconstruct of R runs' gradients (R, D) on the CPU: each block of rows of the
    direction matrix generated once, then, run by run, a = <g_r, v_j> and g_hat_r += the
    block's share: the operations of a single run, in its order, for every run."""
    keys = seed_keys(seeds)
    (n_runs, dim), k = runs.shape, len(keys)
    work, threads = _work_dtype(runs.dtype), _generator_threads()
    factor = (float(dim) if scale is None else float(scale)) / k
    grads = runs.detach().to(work).contiguous().numpy()  # (R, D)
    scalars = torch.empty(n_runs, k, dtype=torch.float64)
    out = torch.zeros(n_runs, dim, dtype=work)
    targets = out.numpy()
    for r0, r1 in _spans(k, chunk // dim):
        z, sumsq = _cpu_block(keys[r0:r1], 0, dim)  # whole rows, float32
        inv = _inverse_norm(sumsq)
        z = z.numpy() if work == torch.float32 else z.numpy().astype(np.float64)
        for run in range(n_runs):
            a = torch.from_numpy(generator_cpu.dots(z, grads[run], threads)) * inv
            scalars[run, r0:r1] = a
            generator_cpu.accumulate((a * inv * factor).to(work).numpy(), z, targets[run], threads)
    return scalars.to(runs.dtype), out.to(runs.dtype)
