"""Triton kernels of the seeded direction generator (holograd.directions), bit-identical to its definition.

The generator, as the module docstring of holograd.directions defines it, for a seed's key
words (k0, k1, k2) (BLAKE2b of the seed) and an index i (uint32, wrapping arithmetic):

    x = i ^ k0;  x ^= x >>> 17;  x *= 0xED5AD4BB;  x ^= x >>> 11;  x += k1;  x *= 0xAC4C1B51;
    x ^= x >>> 15;  x ^= k2;  x *= 0x31848BAB                      keyed triple32-style hash
    m = int32(x) >> 8                                            arithmetic shift: [-2^23, 2^23)
    q = fl(m * 2^-24) + 2^-25                                    (2m + 1) / 2^25, exact
    central = (A(r) * q) / B(r),  r = 0.180625 - q*q             PPND7, |q| <= 0.425
    tail    = +-C(t) / D(t),      t = sqrt(-log(1/2 - |q|)) - 1.6 PPND7, |q| > 0.425, sign of q
    log p   = 2 s S(s^2) + e ln 2, s = (m' - 1) / ((m' - 1) + 2)  p = 2^e m', m' in [sqrt(1/2), sqrt(2))
    z_i     = central if |q| <= 0.425 else tail                  both branches computed, then selected
    ||z||^2 = sum_i trunc(fl(fl(z_i * z_i) * 2^28)) / 2^28        exact int64 fixed point

with A, B, C, D, S evaluated in Horner order, c0 x^n first.  Every float operation is a
correctly rounded IEEE float32 operation, evaluated one at a time: `tl.div_rn` and `tl.sqrt_rn`
(Triton's `/` and `tl.sqrt` are approximate on CUDA), no fused multiply-add (every launch passes
`enable_fp_fusion=False`, which also gives ptxas `--fmad=false`), integer hashing in uint32
with logical shifts and the shift of m on the signed word.  No intermediate is subnormal (|q| >=
2^-25, |s| >= 2^-25 or s = 0, |z| >= 2^-24), so flush-to-zero cannot change a result.  So
`gaussian` equals the numpy reference (tests/generator_reference.py) and the CPU generator
bit for bit.

Functions (torch tensors in and out, all on one device):

- `gaussian(keys, start, stop)`: the float32 entries z_i, start <= i < stop, (K, stop - start).
- `project_partials(grad, keys)`: <grad, z_j> (float64) and the fixed-point ||z_j||^2 (int64)
  of every seed, generated and consumed in registers (z never written to memory); grad may be
  the (R, D) gradients of R runs, each entry generated once for all of them.
- `sumsq(keys, dim)`: the fixed-point ||z_j||^2 alone.
- `reconstruct(coef, keys, dim)`: sum_j coef_j z_j, again without writing z; coef may be the
  (R, K) coefficients of R runs.

Several runs at once: a (RUNS, BLOCK) tile holds the runs' accumulators beside the one z of the
block, so each run's arithmetic is its own run's, entry by entry.  The reconstruction's sums are
element-wise, hence each run's bit for bit on every device; the projection's lane reduction of a
(RUNS, BLOCK) tile is bit for bit the single run's under the interpreter (the tests), while a
compiled kernel may order the lanes of a taller tile otherwise (benchmarks/gpu_bit_identity.py
compares them on a GPU).

Determinism: the kernels use no atomics and the launch configuration (block sizes, warps,
splits) is fixed by the module or derived from K and D alone, never autotuned.  Each program
writes its own partial results; torch sums them afterwards, in the same order in every run.
The sums of squares are exact integers, so they are identical on every device; the dot products
and the reconstruction are rounded float sums, the same from run to run for a given device.

CUDA tensors run the compiled kernels; CPU tensors run the same kernel source under Triton's
interpreter (numpy, correctly rounded float32), which is how the tests check the kernels
without a GPU.  Both variants are built lazily from undecorated kernel functions, each with its
own global namespace, so they coexist in one process whatever TRITON_INTERPRET says.  triton
is imported only then: this module imports without it.
"""

from __future__ import annotations

import functools
import os
import re
import types
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from holograd import direction_constants as _k

if TYPE_CHECKING:  # the kernels' globals are supplied by _kernels(), which imports triton
    import triton.language as tl

BLOCK = 1024
"""Columns (direction entries) handled together by one vector of every kernel."""

NUM_WARPS = 8
"""Warps per program: 4 entries per thread for BLOCK = 1024."""

PROJECT_SPAN_BLOCKS = 8
"""project_partials / sumsq: column blocks per program (a span of 8192 columns), accumulated lane
by lane before one reduction, so the partial buffers hold K x ceil(D / 8192) values."""

PROJECT_ROWS = 4
"""project_partials / sumsq: seeds per program (grid: column spans x ceil(K / 4))."""

RECONSTRUCT_PROGRAMS = 2048
"""reconstruct: with fewer column blocks than this, the K seeds are split into up to
ceil(K / RECONSTRUCT_MIN_ROWS) groups summed separately (a function of K and D only)."""

RECONSTRUCT_MIN_ROWS = 8

MAX_INDEX = 2**31
"""Indices are int32 counters: 0 <= start <= stop <= 2^31."""

_MAX_GRID_Y = 65535  # CUDA's limit on the second grid dimension


def _u32(word: int) -> int:
    return word & 0xFFFFFFFF


# The generator's constants, from holograd.direction_constants (the one definition), as the
# kernels use them: hash multipliers as uint32 values, float32 coefficients as Python floats.
_HC1, _HC2, _HC3 = (_u32(word) for word in (_k.C1, _k.C2, _k.C3))
_CN0, _CN1, _CN2, _CN3 = _k.CENTRAL_NUM
_CD0, _CD1, _CD2, _CD3 = _k.CENTRAL_DEN
_TN0, _TN1, _TN2, _TN3 = _k.TAIL_NUM
_TD0, _TD1, _TD2 = _k.TAIL_DEN
_LS0, _LS1, _LS2, _LS3, _LS4 = _k.LOG_SERIES
_LN2, _CENTRAL_SHIFT, _TAIL_CUT, _TAIL_SHIFT, _FIXED_POINT = (
    _k.LN2,
    _k.CENTRAL_SHIFT,
    _k.TAIL_CUT,
    _k.TAIL_SHIFT,
    _k.FIXED_POINT,
)
_CONSTANTS = (
    "_HC1 _HC2 _HC3 _CN0 _CN1 _CN2 _CN3 _CD0 _CD1 _CD2 _CD3 _TN0 _TN1 _TN2 "
    "_TN3 _TD0 _TD1 _TD2 _LS0 _LS1 _LS2 _LS3 _LS4 _LN2 _CENTRAL_SHIFT _TAIL_CUT _TAIL_SHIFT _FIXED_POINT"
).split()


# ---------------------------------------------------------------------------------------------
# Kernel source.  Plain functions: _kernels() wraps copies of them as triton JIT functions or as
# interpreted functions, with the constants above and `tl` in their global namespace.  They use
# only builtins of triton.language (tl.full, not the jit-decorated tl.zeros; tl.reduce with the
# module's own _add, not tl.sum): triton's own jit-decorated helpers are of one kind only, fixed
# when triton is imported, so a kernel of the other kind cannot call them.
# ---------------------------------------------------------------------------------------------


def _add(a, b):
    # the combine function of every reduction (the interpreter substitutes triton's own adder)
    return a + b


def _poly3(x, c0, c1, c2):
    return (x * c0 + c1) * x + c2


def _poly4(x, c0, c1, c2, c3):
    return ((x * c0 + c1) * x + c2) * x + c3


def _poly5(x, c0, c1, c2, c3, c4):
    return (((x * c0 + c1) * x + c2) * x + c3) * x + c4


def _log_positive(p):
    # log p for positive normal float32 p: p = 2^e m', m' in [sqrt(1/2), sqrt(2)), from p's bits.
    bits = p.to(tl.int32, bitcast=True)
    mantissa = bits & 0x7FFFFF
    big = (mantissa + (0x800000 - 0x3504F3)) >> 23
    e = (bits >> 23) - 127 + big
    m = (mantissa | (0x3F800000 - (big << 23))).to(tl.float32, bitcast=True)
    m1 = m - 1.0
    s = tl.div_rn(m1, m1 + 2.0)
    series = _poly5(s * s, _LS0, _LS1, _LS2, _LS3, _LS4)
    return series * s * 2.0 + e.to(tl.float32) * _LN2


def _generate(index, k0, k1, k2):
    # z for uint32 indices and one seed's uint32 key words.
    x = index ^ k0
    x = x ^ (x >> 17)
    x = x * _HC1
    x = x ^ (x >> 11)
    x = x + k1
    x = x * _HC2
    x = x ^ (x >> 15)
    x = x ^ k2
    x = x * _HC3
    m = x.to(tl.int32, bitcast=True) >> 8
    q = m.to(tl.float32) * 5.9604644775390625e-08 + 2.98023223876953125e-08  # (2m + 1) / 2^25
    r = _CENTRAL_SHIFT - q * q
    central = tl.div_rn(_poly4(r, _CN0, _CN1, _CN2, _CN3) * q, _poly4(r, _CD0, _CD1, _CD2, _CD3))
    abs_q = tl.abs(q)
    log_p = _log_positive(0.5 - abs_q)
    t = tl.sqrt_rn(0.0 - log_p) - _TAIL_SHIFT
    tail = tl.div_rn(_poly4(t, _TN0, _TN1, _TN2, _TN3), _poly3(t, _TD0, _TD1, _TD2))
    tail = tl.where(q < 0.0, 0.0 - tail, tail)
    return tl.where(abs_q <= _TAIL_CUT, central, tail)


def _key_words(keys_ptr, row):
    base = keys_ptr + row * 3
    k0 = tl.load(base).to(tl.uint32, bitcast=True)
    k1 = tl.load(base + 1).to(tl.uint32, bitcast=True)
    k2 = tl.load(base + 2).to(tl.uint32, bitcast=True)
    return k0, k1, k2


def _gaussian_kernel(keys_ptr, out_ptr, start, width, BLOCK: tl.constexpr):
    # grid (column blocks, rows): out[row, c] = z_{start + c} of the row's seed.
    row = tl.program_id(1)
    off = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = off < width
    k0, k1, k2 = _key_words(keys_ptr, row)
    z = _generate((off + start).to(tl.uint32), k0, k1, k2)
    tl.store(out_ptr + row.to(tl.int64) * width + off, z, mask=mask)


def _project_kernel(
    keys_ptr,
    grad_ptr,
    dots_ptr,
    sumsq_ptr,
    n_rows,
    dim,
    n_spans,
    n_runs,
    run_stride,
    HAS_GRAD: tl.constexpr,
    WORK_F64: tl.constexpr,
    ROWS: tl.constexpr,
    RUNS: tl.constexpr,
    SPAN_BLOCKS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    # grid (column spans, row groups): partial <grad_r, z_row> of each of the n_runs gradients
    # (rows of grad, RUNS >= n_runs a power of two) and fixed-point sum z_row^2 over the span's
    # SPAN_BLOCKS * BLOCK columns, written to [run, row, span] and [row, span] of the partial
    # buffers.  Each z is generated once for every run; each run's lanes accumulate as one run's.
    span = tl.program_id(0)
    lanes = tl.arange(0, BLOCK)
    runs = tl.arange(0, RUNS)
    live_runs = runs < n_runs
    first = span.to(tl.int64) * (SPAN_BLOCKS * BLOCK)
    for r in range(ROWS):
        row = tl.program_id(1) * ROWS + r
        live = row < n_rows
        safe_row = tl.minimum(row, n_rows - 1)
        k0, k1, k2 = _key_words(keys_ptr, safe_row)
        sq = tl.full([BLOCK], 0, tl.int64)
        if WORK_F64:
            acc = tl.full([RUNS, BLOCK], 0.0, tl.float64)
        else:
            acc = tl.full([RUNS, BLOCK], 0.0, tl.float32)
        for b in range(SPAN_BLOCKS):
            off = first + b * BLOCK + lanes
            mask = off < dim
            z = _generate(off.to(tl.uint32), k0, k1, k2)
            sq += tl.where(mask, (z * z * _FIXED_POINT).to(tl.int64), 0)
            if HAS_GRAD:
                both = live_runs[:, None] & mask[None, :]
                g = tl.load(grad_ptr + runs[:, None].to(tl.int64) * dim + off[None, :], mask=both, other=0.0)
                if WORK_F64:
                    prod = z.to(tl.float64)[None, :] * g.to(tl.float64)
                else:
                    prod = z[None, :] * g.to(tl.float32)
                acc += tl.where(both, prod, 0.0)
        slot = safe_row.to(tl.int64) * n_spans + span
        tl.store(sumsq_ptr + slot, tl.reduce(sq, 0, _add), mask=live)
        if HAS_GRAD:
            row_of_runs = tl.full([RUNS], 0, tl.int32) + row  # the row, once per run (a mask of the tile's shape)
            slots = runs.to(tl.int64) * run_stride + slot
            tl.store(dots_ptr + slots, tl.reduce(acc, 1, _add), mask=live_runs & (row_of_runs < n_rows))


def _reconstruct_kernel(
    keys_ptr,
    coef_ptr,
    out_ptr,
    n_rows,
    rows_per_split,
    dim,
    n_runs,
    WORK_F64: tl.constexpr,
    RUNS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    # grid (column blocks, splits): out[split, run, c] = sum over the split's rows j, in order, of
    # coef[run, j] z_j[c], for the n_runs coefficient rows (RUNS >= n_runs a power of two): each
    # z_j generated once for every run, each run's sum the one run's, entry by entry.
    off = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = off < dim
    index = off.to(tl.uint32)
    runs = tl.arange(0, RUNS)
    live_runs = runs < n_runs
    split = tl.program_id(1)
    first = split * rows_per_split
    last = tl.minimum(first + rows_per_split, n_rows)
    if WORK_F64:
        acc = tl.full([RUNS, BLOCK], 0.0, tl.float64)
    else:
        acc = tl.full([RUNS, BLOCK], 0.0, tl.float32)
    for row in range(first, last):
        k0, k1, k2 = _key_words(keys_ptr, row)
        c = tl.load(coef_ptr + runs.to(tl.int64) * n_rows + row, mask=live_runs, other=0.0)
        z = _generate(index, k0, k1, k2)
        if WORK_F64:
            acc += c[:, None] * z.to(tl.float64)[None, :]
        else:
            acc += c[:, None] * z[None, :]
    target = out_ptr + (split.to(tl.int64) * n_runs + runs[:, None]) * dim + off[None, :]
    tl.store(target, acc, mask=live_runs[:, None] & mask[None, :])


_SOURCES = (
    _add,
    _poly3,
    _poly4,
    _poly5,
    _log_positive,
    _generate,
    _key_words,
    _gaussian_kernel,
    _project_kernel,
    _reconstruct_kernel,
)


# ---------------------------------------------------------------------------------------------
# Building and launching.
# ---------------------------------------------------------------------------------------------


MIN_TRITON = (3, 0)
"""The oldest Triton the kernels run on: `tl.div_rn`, `tl.sqrt_rn`, bitcasts, `tl.reduce` and the
`enable_fp_fusion` launch option all exist from 3.0 (torch 2.4 brings it; torch 2.3 pins 2.3.1).
Releases before 3.6 lower division and square root with flush-to-zero (`div.rn.ftz`), which
changes no result (no intermediate is subnormal, see above); every CUDA process checks its first
block against the CPU kernel anyway (holograd.directions.generator_backend).  The CPU tests,
which run the kernels under Triton's interpreter beside compiled ones, need 3.7, or 3.6 with
numpy < 2.4 (older interpreters leak their patches into later compilations)."""


def triton_version(text: str) -> tuple[int, int]:
    """(major, minor) of a version string such as '3.6.0' or '3.1.0+git1234'."""
    numbers = [int(part) for part in re.findall(r"\d+", text)[:2]]
    return (numbers + [0, 0])[0], (numbers + [0, 0])[1]


def _import_triton():
    try:
        import triton
        import triton.language as tl_module
    except Exception as exc:  # ImportError, or a broken installation
        raise RuntimeError(
            f"holograd.generator_triton needs the 'triton' package (pip install triton), which is not importable: {exc}"
        ) from exc
    found = getattr(triton, "__version__", "0")
    if triton_version(found) < MIN_TRITON:
        wanted = ".".join(map(str, MIN_TRITON))
        raise RuntimeError(
            f"holograd.generator_triton needs triton >= {wanted} (found {found}; torch >= 2.4 brings it)"
        )
    return triton, tl_module


def is_available() -> bool:
    """Whether a recent enough triton can be imported (the kernels need it on any device)."""
    try:
        _import_triton()
    except RuntimeError:
        return False
    return True


@functools.lru_cache(maxsize=2)
def _kernels(interpret: bool) -> types.SimpleNamespace:
    """The kernels, compiled for the GPU (`interpret=False`) or run by Triton's interpreter.

    `triton.jit` picks one of the two from TRITON_INTERPRET when it decorates a function, so
    instead each undecorated source function is copied into a fresh global namespace and
    wrapped by JITFunction or InterpretedFunction there; the helpers they call resolve to
    wrappers of the same kind.  The constants are `tl.constexpr` globals for the compiler and
    plain numbers for the interpreter (which evaluates the Python directly).
    """
    triton, tl_module = _import_triton()
    if interpret:
        from triton.runtime.interpreter import InterpretedFunction as wrap  # no public way to ask for it
    else:
        wrap = triton.jit  # a JITFunction (unless TRITON_INTERPRET=1, when nothing is compiled)

    constants = {name: globals()[name] for name in _CONSTANTS}
    scope: dict = {"__name__": __name__, "__builtins__": __builtins__, "tl": tl_module, "triton": triton}
    scope.update(constants if interpret else {k: tl_module.constexpr(v) for k, v in constants.items()})
    built = {}
    for fn in _SOURCES:
        copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__qualname__, copy.__doc__ = fn.__qualname__, fn.__doc__
        # the annotation "tl.constexpr" (a string, under `from __future__ import annotations`) as
        # the class itself: the interpreters of triton < 3.2 recognise only the name "constexpr"
        copy.__annotations__ = {
            name: tl_module.constexpr if ann == "tl.constexpr" else ann for name, ann in fn.__annotations__.items()
        }
        scope[fn.__name__] = built[fn.__name__.lstrip("_")] = wrap(copy)
    if interpret:
        # the interpreter sums with numpy when the combine function is triton's own adder, and
        # otherwise calls _add once per element (about 4x slower); the same sums either way
        scope["_add"] = getattr(tl_module.standard, "_sum_combine", scope["_add"])
    return types.SimpleNamespace(**built)


def _interpret(device: torch.device) -> bool:
    """CPU tensors go to the interpreter; CUDA tensors to the compiler unless TRITON_INTERPRET=1."""
    if device.type == "cuda":
        return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
    if device.type == "cpu":
        return True
    raise ValueError(f"holograd.generator_triton runs on CUDA (or on the CPU, interpreted), not on {device}")


def _launch(kernel, grid: tuple[int, ...], *args, num_warps: int, **constexprs) -> None:
    kernel[grid](*args, **constexprs, num_warps=num_warps, enable_fp_fusion=False)


def _check_keys(keys: Tensor) -> Tensor:
    if keys.dtype != torch.int32 or keys.dim() != 2 or keys.size(1) != 3 or keys.size(0) < 1:
        raise ValueError(f"keys must be an int32 tensor of shape (K, 3), K >= 1, got {keys.dtype} {tuple(keys.shape)}")
    return keys.contiguous()


def _check_dim(dim: int) -> int:
    """D as a Python int in [1, 2^31 - 1] (holograd.directions.MAX_DIM); ValueError otherwise."""
    if isinstance(dim, bool) or not hasattr(dim, "__index__") or not 1 <= int(dim) <= MAX_INDEX - 1:
        raise ValueError(f"direction dimension must be an integer in [1, {MAX_INDEX - 1}], got {dim!r}")
    return int(dim)


def _check_block(block: int) -> int:
    if block < 16 or block & (block - 1):
        raise ValueError(f"block must be a power of two >= 16, got {block}")
    return block


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _work_f64(dtype: torch.dtype) -> bool:
    """Products are formed in float64 for float64 inputs and in float32 otherwise (bf16/fp16/fp32)."""
    return dtype == torch.float64


def gaussian(keys: Tensor, start: int, stop: int, *, block: int = BLOCK, num_warps: int = NUM_WARPS) -> Tensor:
    """z_i, start <= i < stop, of every seed: float32 (K, stop - start) on keys' device.

    keys: int32 (K, 3) from holograd.directions.seed_keys.  Bit-identical to
    holograd.directions.gaussian_block and to the numpy reference.
    """
    keys = _check_keys(keys)
    start, stop, block = int(start), int(stop), _check_block(block)
    if not 0 <= start <= stop <= MAX_INDEX:
        raise ValueError(f"need 0 <= start <= stop <= 2**31, got start={start}, stop={stop}")
    width = stop - start
    out = torch.empty(keys.size(0), width, dtype=torch.float32, device=keys.device)
    if width == 0:
        return out
    kernel = _kernels(_interpret(keys.device)).gaussian_kernel
    for r0 in range(0, keys.size(0), _MAX_GRID_Y):
        r1 = min(keys.size(0), r0 + _MAX_GRID_Y)
        grid = (_cdiv(width, block), r1 - r0)
        _launch(kernel, grid, keys[r0:r1], out[r0:r1], start, width, num_warps=num_warps, BLOCK=block)
    return out


def _runs(n: int) -> int:
    """RUNS of a launch: the power of two >= n (a tile's row count must be one)."""
    return 1 << max(0, n - 1).bit_length()


def _partials(
    grads: Tensor | None, keys: Tensor, dim: int, block: int, span_blocks: int, rows: int, num_warps: int
) -> tuple[Tensor | None, Tensor]:
    """The (R, K, n_spans) and (K, n_spans) partial buffers of project_partials (dots None
    without gradients; grads (R, D))."""
    k, device = keys.size(0), keys.device
    n_spans = _cdiv(dim, block * span_blocks)
    n_runs = 1 if grads is None else grads.size(0)
    work_f64 = grads is not None and _work_f64(grads.dtype)
    sumsq_part = torch.empty(k, n_spans, dtype=torch.int64, device=device)
    dots_part = None
    if grads is not None:
        dots_part = torch.empty(n_runs, k, n_spans, dtype=torch.float64 if work_f64 else torch.float32, device=device)
    kernel = _kernels(_interpret(device)).project_kernel
    groups = _cdiv(k, rows)
    for g0 in range(0, groups, _MAX_GRID_Y):
        g1 = min(groups, g0 + _MAX_GRID_Y)
        r0, r1 = g0 * rows, min(k, g1 * rows)
        _launch(
            kernel,
            (n_spans, g1 - g0),
            keys[r0:r1],
            keys if grads is None else grads,  # unused without a gradient
            sumsq_part[r0:r1] if dots_part is None else dots_part[:, r0:r1],
            sumsq_part[r0:r1],
            r1 - r0,
            dim,
            n_spans,
            n_runs,
            k * n_spans,
            num_warps=num_warps,
            HAS_GRAD=grads is not None,
            WORK_F64=work_f64,
            ROWS=rows,
            RUNS=_runs(n_runs),
            SPAN_BLOCKS=span_blocks,
            BLOCK=block,
        )
    return dots_part, sumsq_part


def project_partials(
    grad: Tensor,
    keys: Tensor,
    *,
    block: int = BLOCK,
    span_blocks: int = PROJECT_SPAN_BLOCKS,
    rows: int = PROJECT_ROWS,
    num_warps: int = NUM_WARPS,
) -> tuple[Tensor, Tensor]:
    """(<grad, z_j> as float64 (K,), sum_i trunc(fl(z_ji^2) 2^28) as int64 (K,)) for every seed.

    grad: (D,) float32, bfloat16, float16 or float64 on keys' device, or (R, D): the gradients
    of R runs that use the same seeds, whose dots come back as (R, K), each direction entry
    generated once for all R (each run's dots are its own call's under the interpreter; see
    the module docstring for the compiled kernels).  The products z_i g_i are formed in float64
    for a float64 gradient and in float32 otherwise (as the CPU path does); each program
    accumulates them lane by lane over its span of columns and reduces the lanes once, giving a
    partial per (run, seed, span) in that dtype; the partials are summed in float64.  The sums
    of squares are exact (equal to the CPU generator's on every device); the dots are
    deterministic for a given device.  The proof scalar is dots * fl64(1 / ||z||).
    """
    if grad.dim() not in (1, 2) or not grad.is_floating_point():
        raise ValueError(
            f"project_partials expects flat floating-point gradients (D,) or (R, D), got {grad.dtype} "
            f"{tuple(grad.shape)}"
        )
    keys = _check_keys(keys)
    if keys.device != grad.device:
        raise ValueError(f"grad and keys must be on one device, got {grad.device} and {keys.device}")
    grads = grad if grad.dim() == 2 else grad.unsqueeze(0)
    dim = _check_dim(grads.size(1))
    dots_part, sumsq_part = _partials(grads.contiguous(), keys, dim, _check_block(block), span_blocks, rows, num_warps)
    dots = dots_part.to(torch.float64).sum(dim=2)
    return (dots if grad.dim() == 2 else dots[0]), sumsq_part.sum(dim=1)


def sumsq(
    keys: Tensor,
    dim: int,
    *,
    block: int = BLOCK,
    span_blocks: int = PROJECT_SPAN_BLOCKS,
    rows: int = PROJECT_ROWS,
    num_warps: int = NUM_WARPS,
) -> Tensor:
    """sum_i trunc(fl(z_ji^2) 2^28), 0 <= i < dim, as int64 (K,): the exact fixed-point ||z_j||^2."""
    keys = _check_keys(keys)
    _, sumsq_part = _partials(None, keys, _check_dim(dim), _check_block(block), span_blocks, rows, num_warps)
    return sumsq_part.sum(dim=1)


def reconstruct_splits(k: int, dim: int, block: int = BLOCK) -> int:
    """How many groups of seeds reconstruct sums separately: 1 unless the D / block column
    programs are too few to fill a GPU; a function of K and D only (deterministic)."""
    n_blocks = _cdiv(dim, block)
    return max(1, min(_cdiv(k, RECONSTRUCT_MIN_ROWS), _cdiv(RECONSTRUCT_PROGRAMS, n_blocks)))


def reconstruct(coef: Tensor, keys: Tensor, dim: int, *, block: int = BLOCK, num_warps: int = NUM_WARPS) -> Tensor:
    """out_i = sum_j coef_j z_j[i], 0 <= i < dim: (dim,) in coef's dtype (float32 or float64).

    coef: (K,) on keys' device, the work dtype's coefficients (1 / ||z_j|| and the scale
    already folded in), or (R, K) for R runs that use the same seeds, giving (R, dim) with each
    z_j generated once for all R and each run's entries its own call's, bit for bit (the same
    products and sums, entry by entry).  Each program owns a block of columns and adds
    fl(coef_j z_j) for its seeds in order j = 0, 1, ...; with several splits
    (reconstruct_splits) the split sums are then added in order, entry by entry.  Deterministic
    for a given device.
    """
    keys = _check_keys(keys)
    k = keys.size(0)
    if coef.dim() not in (1, 2) or coef.size(-1) != k or coef.dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"coef must be float32 or float64 of shape ({k},) or (R, {k}), got {coef.dtype} {tuple(coef.shape)}"
        )
    if coef.device != keys.device:
        raise ValueError(f"coef and keys must be on one device, got {coef.device} and {keys.device}")
    dim, block = _check_dim(dim), _check_block(block)
    coefs = (coef if coef.dim() == 2 else coef.unsqueeze(0)).contiguous()
    n_runs = coefs.size(0)
    splits = reconstruct_splits(k, dim, block)
    rows_per_split = _cdiv(k, splits)
    splits = _cdiv(k, rows_per_split)
    out = torch.empty(splits, n_runs, dim, dtype=coef.dtype, device=coef.device)
    kernel = _kernels(_interpret(keys.device)).reconstruct_kernel
    _launch(
        kernel,
        (_cdiv(dim, block), splits),
        keys,
        coefs,
        out,
        k,
        rows_per_split,
        dim,
        n_runs,
        num_warps=num_warps,
        WORK_F64=_work_f64(coef.dtype),
        RUNS=_runs(n_runs),
        BLOCK=block,
    )
    total = out[0]
    for part in out[1:]:  # the splits added in order, entry by entry (torch's sum may order them by shape)
        total = total + part
    return total if coef.dim() == 2 else total[0]
