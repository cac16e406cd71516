"""Seeded random directions: Dir(s) = z / ||z||, z ~ N(0, I_D) (HoloGrad §3).

A worker's proof is a_j = <g_B, v_j> with v_j = Dir(s_j); the coordinator rebuilds every
v_j from its public seed s_j alone.  That only works if the direction is a pure function of
(seed, D): the same in any process, in any run, whatever other seeds are drawn beside it,
and on any device, so that a verifier on one kind of hardware can check a worker on another.

The generator
-------------
torch's own CPU and CUDA generators give different streams for the same seed, and its
transcendental functions (erfinv, log, ...) are not correctly rounded, so they may differ in
the last bits between devices and even between runs.  The directions are therefore made by a
*counter-based* generator written only with operations that IEEE 754 defines exactly
(int32 arithmetic, bit manipulation, and +, -, *, /, sqrt, one tensor op at a time):

    keys (k0, k1, k2)  = BLAKE2b(seed)                       three 32-bit words per seed
    x                  = mix(i, k0, k1, k2)                  32-bit keyed hash of the index i
    m                  = x >> 8                               24 signed bits, in [-2^23, 2^23)
    q                  = (2m + 1) / 2^25                      p - 1/2 for p = uniform in (0, 1), exact
    z_i                = Phi^-1(1/2 + q)                      inverse normal CDF: z_i ~ N(0, 1)

`mix` is an xorshift-multiply hash of the triple32 family (constants from C. Wellons'
hash-prospector) with the three key words injected between its rounds, so each seed selects
its own pseudo-random permutation of the index space.  Phi^-1 is PPND7, the single-precision
rational approximation of Wichura's AS 241 (relative error about 1e-7), with a logarithm built
from the float's exponent bits and a series in the tails (|q| > 0.425).  Every step is
correctly rounded, so z, ||z|| and v are bit-identical on every IEEE device, CPU or CUDA.

Because z_i depends on i and the seed only, any slice of z can be produced on its own:
projection and reconstruction stream over column chunks of the K x D direction matrix and
never hold more than `chunk_elements` of its entries.  ||z||^2 is accumulated exactly, in
int64 fixed point (z_i^2 truncated to multiples of 2^-28, an error below 4e-9 relative), so
it does not depend on the chunking, on K, on the order of summation or on the device; then
v_i = z_i * fl32(1 / ||z||).

No device-native generator is offered: on a 2-core CPU this generator runs at a good
fraction of `torch.randn`'s speed (see benchmarks/bench_core.py), and on a GPU it is a few
dozen element-wise kernels, so a native stream would give up portability for little speed.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

DEFAULT_CHUNK_ELEMENTS = 1 << 18
"""Default upper bound on the entries of the direction matrix held at once.  The generator's
scratch tensors take about 37 bytes per entry, so about 10 MB per thread and device."""

MAX_DIM = 2**31 - 1
"""Directions are indexed by int32 counters."""

_SEED_LIMIT = 2**64
_MIN_CHUNK_WIDTH = 1024  # keep column chunks wide enough for vectorised element-wise ops


def _int32(word: int) -> int:
    """A 32-bit word as the signed int32 value with the same bit pattern."""
    word &= 0xFFFFFFFF
    return word - (1 << 32) if word >= 1 << 31 else word


# Multipliers of the triple32 hash (C. Wellons, hash-prospector), as int32 bit patterns.
_C1 = _int32(0xED5AD4BB)
_C2 = _int32(0xAC4C1B51)
_C3 = _int32(0x31848BAB)


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
        words.append([_int32(int.from_bytes(digest[4 * i : 4 * i + 4], "little")) for i in range(3)])
    return torch.tensor(words, dtype=torch.int32, device=device)


def _f32(*values: float) -> tuple[float, ...]:
    """Constants rounded to float32 once, so that every backend multiplies by the same number
    (computing a float32 op in double and rounding gives the same result for +, -, *, /, sqrt)."""
    return tuple(torch.tensor(values, dtype=torch.float32).tolist())


# Coefficients of PPND7, the single-precision inverse normal CDF of Wichura's algorithm AS 241
# (Applied Statistics 37, 1988), accurate to about 1 part in 10^7; highest power first.
_CENTRAL_NUM = _f32(59.109374720, 159.29113202, 50.434271938, 3.3871327179)
_CENTRAL_DEN = _f32(67.187563600, 78.757757664, 17.895169469, 1.0)
_TAIL_NUM = _f32(0.17023821103, 1.3067284816, 2.7568153900, 1.4234372777)
_TAIL_DEN = _f32(0.12021132975, 0.73700164250, 1.0)
_LOG_SERIES = _f32(1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0)
(_LN2, _CENTRAL_SHIFT, _TAIL_CUT, _TAIL_SHIFT) = _f32(math.log(2.0), 0.180625, 0.425, 1.6)
_TAIL_CUT_BITS = int(torch.tensor(_TAIL_CUT, dtype=torch.float32).view(torch.int32))
_SIGN_BIT = -(2**31)
_FIXED_POINT = 2.0**28  # ||z||^2 is summed in int64 units of 2^-28
_MAX_SCRATCH = 1 << 22  # tiles up to this many entries reuse scratch memory


class _Scratch(threading.local):
    """Named scratch tensors, reused from tile to tile (one set per thread and device).

    A fresh CPU allocation of a tile costs more in page faults than the arithmetic done in
    it, so the streaming loops work in place in these buffers; they are only as large as
    the largest tile seen (at most _MAX_SCRATCH entries each).
    """

    def __init__(self):
        self.cache: dict[tuple, Tensor] = {}

    def __call__(self, name: str, shape: tuple[int, int], dtype: torch.dtype, device: torch.device) -> Tensor:
        n = shape[0] * shape[1]
        if n > _MAX_SCRATCH:
            return torch.empty(shape, dtype=dtype, device=device)
        key = (name, dtype, device)
        buf = self.cache.get(key)
        if buf is None or buf.numel() < n:
            buf = self.cache[key] = torch.empty(n, dtype=dtype, device=device)
        return buf[:n].view(shape)


def _fresh(name: str, shape: tuple[int, int], dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.empty(shape, dtype=dtype, device=device)


_SCRATCH = _Scratch()


def _xorshift_(x: Tensor, shift: int, tmp: Tensor) -> None:
    """x ^= x >>> shift (logical shift: torch shifts int32 arithmetically, so mask the sign bits)."""
    torch.bitwise_right_shift(x, shift, out=tmp)
    tmp.bitwise_and_((1 << (32 - shift)) - 1)
    x.bitwise_xor_(tmp)


def _horner(x: Tensor, coeffs: tuple[float, ...], out: Tensor) -> Tensor:
    """out = c0 x^n + c1 x^(n-1) + ... + cn, one correctly rounded op at a time (no fused multiply-add)."""
    torch.mul(x, coeffs[0], out=out)
    for c in coeffs[1:-1]:
        out.add_(c).mul_(x)
    return out.add_(coeffs[-1])


def _log_(p: Tensor, out: Tensor, ints: tuple[Tensor, Tensor]) -> Tensor:
    """out = log p for positive normal float32 p, from exact bit manipulation and a series.

    p = 2^e m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172,
    summed to s^9 (truncation error < 1e-9).  e and the choice of m come from p's bits by
    integer ops.  Overwrites p and the two int32 scratch tensors.
    """
    mantissa, big = ints
    bits = p.view(torch.int32)
    torch.bitwise_and(bits, 0x7FFFFF, out=mantissa)
    torch.add(mantissa, 0x800000 - 0x3504F3, out=big).bitwise_right_shift_(23)  # 1 iff m >= sqrt(2)
    e = bits.bitwise_right_shift_(23).sub_(127).add_(big)  # p's storage now holds e
    mantissa.bitwise_or_(big.bitwise_left_shift_(23).neg_().add_(0x3F800000))  # exponent of m: 0 or -1
    e_float = big.view(torch.float32).copy_(e)
    m = mantissa.view(torch.float32)
    s = m.sub_(1.0).div_(torch.add(m, 2.0, out=p))  # (m - 1) / (m + 1), m already shifted by -1
    series = _horner(torch.mul(s, s, out=p), _LOG_SERIES, out)
    return series.mul_(s).mul_(2.0).add_(e_float.mul_(_LN2))


def _gaussian_tile(keys: Tensor, start: int, stop: int, scratch=_fresh) -> Tensor:
    """z_i for start <= i < stop and each seed's keys (see the module docstring), as (K, W) float32.

    Works in place in tensors from `scratch`; the result lives in its "z" tensor.
    """
    shape, device = (keys.size(0), stop - start), keys.device
    x, tmp = scratch("x", shape, torch.int32, device), scratch("tmp", shape, torch.int32, device)

    # 32-bit keyed hash of the index: x = mix(i, k0, k1, k2); m = x >> 8.
    index = torch.arange(start, stop, dtype=torch.int32, device=device)
    torch.bitwise_xor(index.unsqueeze(0), keys[:, 0:1], out=x)
    _xorshift_(x, 17, tmp)
    x.mul_(_C1)
    _xorshift_(x, 11, tmp)
    x.add_(keys[:, 1:2])
    x.mul_(_C2)
    _xorshift_(x, 15, tmp)
    x.bitwise_xor_(keys[:, 2:3])
    x.mul_(_C3)
    x.bitwise_right_shift_(8)  # arithmetic: m in [-2^23, 2^23)
    q = scratch("q", shape, torch.float32, device).copy_(x).mul_(2.0**-24).add_(2.0**-25)  # (2m + 1) / 2^25, exact
    return _inverse_normal_cdf(q, scratch)


def _inverse_normal_cdf(q: Tensor, scratch=_fresh) -> Tensor:
    """Phi^-1(1/2 + q) for float32 q = (2m + 1) / 2^25, |q| < 1/2, by PPND7 (AS 241).

    |q| <= 0.425: z = q A(r) / B(r), r = 0.180625 - q^2 (positive coefficients: no
    cancellation in float32).  Otherwise, with the tail probability p = 1/2 - |q| >= 2^-25 and
    t = sqrt(-log p) - 1.6: z = sign(q) C(t) / D(t).  AS 241's third branch (sqrt(-log p) > 5)
    cannot occur at this resolution.  Both branches are computed everywhere and selected with
    bit operations: no data-dependent shapes and no comparison kernels, the same ops on any
    device.  Overwrites q; the result lives in scratch's "z" tensor.
    """
    shape, device, f32, i32 = tuple(q.shape), q.device, torch.float32, torch.int32
    x, tmp, central_mask = (scratch(n, shape, i32, device) for n in ("x", "tmp", "mask"))
    a, b, c, z = (scratch(n, shape, f32, device) for n in ("a", "b", "c", "z"))
    r = torch.mul(q, q, out=a).neg_().add_(_CENTRAL_SHIFT)
    central = _horner(r, _CENTRAL_NUM, out=b).mul_(q).div_(_horner(r, _CENTRAL_DEN, out=c))
    abs_q = torch.abs(q, out=a)
    # Non-negative floats order like their bit patterns: all ones where |q| <= 0.425, else 0.
    torch.sub(abs_q.view(i32), _TAIL_CUT_BITS + 1, out=central_mask).bitwise_right_shift_(31)
    p = abs_q.neg_().add_(0.5)  # exact
    t = _log_(p, out=c, ints=(x, tmp)).neg_().sqrt_().sub_(_TAIL_SHIFT)
    tail = _horner(t, _TAIL_NUM, out=a).div_(_horner(t, _TAIL_DEN, out=x.view(f32)))  # |z|, positive
    tail_bits = tail.view(i32).bitwise_or_(torch.bitwise_and(q.view(i32), _SIGN_BIT, out=x))  # sign(q) |z|
    choice = torch.bitwise_xor(central.view(i32), tail_bits, out=tmp).bitwise_and_(central_mask)
    torch.bitwise_xor(tail_bits, choice, out=z.view(i32))  # central where the mask is set, tail elsewhere
    return z


def gaussian_block(keys: Tensor, start: int, stop: int) -> Tensor:
    """Entries z_i, start <= i < stop, of the Gaussian vectors of the given seed keys.

    keys: int32 (K, 3) from `seed_keys`.  Returns a new float32 (K, stop - start) tensor on
    keys' device, each entry N(0, 1) and a pure function of (seed, i), bit-identical on
    every device.
    """
    return _gaussian_tile(keys, start, stop)


def _sumsq(z: Tensor, scratch=_fresh) -> Tensor:
    """sum_i z_i^2 per row as int64 multiples of 2^-28: exact, so independent of order and device."""
    sq = scratch("sq", z.shape, torch.int64, z.device)
    return sq.copy_(torch.mul(z, z, out=scratch("a", z.shape, torch.float32, z.device)).mul_(_FIXED_POINT)).sum(dim=1)


def _inverse_norm(sumsq: Tensor) -> Tensor:
    """1 / ||z|| in float64 from the fixed-point sum (correctly rounded sqrt and division)."""
    return 1.0 / torch.sqrt(sumsq.to(torch.float64) / _FIXED_POINT)


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


def _stream(keys: Tensor, dim: int, chunk_elements: int) -> Iterator[tuple[slice, slice, Tensor]]:
    """(rows, columns, z[rows, columns]) for every tile of the K x D Gaussian matrix, column
    chunks outermost.  Each z lives in scratch memory until the next tile is produced."""
    rows, cols = _tiles(len(keys), dim, chunk_elements)
    for c0, c1 in _spans(dim, cols):
        for r0, r1 in _spans(len(keys), rows):
            yield slice(r0, r1), slice(c0, c1), _gaussian_tile(keys[r0:r1], c0, c1, _SCRATCH)


def inverse_norms(
    seeds: Sequence[int] | Tensor,
    dim: int,
    *,
    device: torch.device | str | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """1 / ||z_j|| for each seed, float64 (K,), streaming over chunks of the direction matrix."""
    dim, chunk = check_dim(dim), _check_chunk(chunk_elements)
    keys = seed_keys(seeds, device)
    sumsq = torch.zeros(len(keys), dtype=torch.int64, device=keys.device)
    for rows, _, z in _stream(keys, dim, chunk):
        sumsq[rows] += _sumsq(z, _SCRATCH)
    return _inverse_norm(sumsq)


def random_directions(
    seeds: Sequence[int] | Tensor,
    dim: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Unit directions v_j = Dir(s_j) = z_j / ||z_j|| as the rows of a dense (K, dim) tensor.

    Materialises K x dim entries (generated tile by tile, so nothing larger is allocated):
    use `project`/`reconstruct` when that is too large.  The directions are defined in
    float32; another dtype is a cast of them.
    """
    dim = check_dim(dim)
    keys = seed_keys(seeds, device)
    k = len(keys)
    out = torch.empty(k, dim, dtype=torch.float32, device=keys.device)
    sumsq = torch.zeros(k, dtype=torch.int64, device=keys.device)
    for rows, cols, z in _stream(keys, dim, DEFAULT_CHUNK_ELEMENTS):
        sumsq[rows] += _sumsq(out[rows, cols].copy_(z), _SCRATCH)
    return out.mul_(_inverse_norm(sumsq).to(torch.float32).unsqueeze(1)).to(dtype)


def project(
    grad: Tensor,
    seeds: Sequence[int] | Tensor,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    return_inv_norms: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Proof scalars a_j = <grad, v_j> for every seed (the worker's message, HoloGrad §3).

    grad: (D,) on any device; returns (K,) in grad's dtype.  Streams over tiles of at most
    `chunk_elements` direction entries.  With `return_inv_norms`, also returns 1/||z_j||
    (float64), which `reconstruct` accepts to skip its norm pass.
    """
    if grad.dim() != 1 or not grad.is_floating_point():
        raise ValueError(
            f"project expects a flat floating-point gradient of shape (D,), got {grad.dtype} {tuple(grad.shape)}"
        )
    dim, chunk = check_dim(grad.numel()), _check_chunk(chunk_elements)
    keys = seed_keys(seeds, grad.device)
    k = len(keys)
    work = _work_dtype(grad.dtype)
    dots = torch.zeros(k, dtype=torch.float64, device=grad.device)
    sumsq = torch.zeros(k, dtype=torch.int64, device=grad.device)
    for rows, cols, z in _stream(keys, dim, chunk):
        sumsq[rows] += _sumsq(z, _SCRATCH)
        dots[rows] += (z.to(work) @ grad[cols].to(work)).to(torch.float64)
    inv = _inverse_norm(sumsq)
    scalars = (dots * inv).to(grad.dtype)
    return (scalars, inv) if return_inv_norms else scalars


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
    scalars' device, streaming over tiles of at most `chunk_elements` direction entries.
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
    coef = (scalars.to(torch.float64) * inv_norms.to(device) * (scale / k)).to(work)  # (K,)
    out = torch.zeros(dim, dtype=work, device=device)
    for rows, cols, z in _stream(seed_keys(seeds, device), dim, chunk):
        out[cols] += coef[rows] @ z.to(work)
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
    the coordinator and nothing alters the scalars in between.  Directions are generated a
    block of whole rows at a time (at most `chunk_elements` entries), so a row's norm is
    known before the row is used.  When one row alone is larger than the chunk (D >
    chunk_elements), it falls back to `project` and `reconstruct`, which stream over column
    tiles and generate every direction twice: the chunk bound holds for any K and D.
    """
    if grad.dim() != 1 or not grad.is_floating_point():
        raise ValueError(
            "project_reconstruct expects a flat floating-point gradient of shape (D,), "
            f"got {grad.dtype} {tuple(grad.shape)}"
        )
    dim, chunk = check_dim(grad.numel()), _check_chunk(chunk_elements)
    if dim > chunk:
        scalars, inv = project(grad, seeds, chunk_elements=chunk, return_inv_norms=True)
        return scalars, reconstruct(scalars, seeds, dim, scale=scale, inv_norms=inv, chunk_elements=chunk)
    keys = seed_keys(seeds, grad.device)
    k, work = len(keys), _work_dtype(grad.dtype)
    factor = (float(dim) if scale is None else float(scale)) / k
    g = grad.to(work)
    scalars = torch.empty(k, dtype=torch.float64, device=grad.device)
    out = torch.zeros(dim, dtype=work, device=grad.device)
    for r0, r1 in _spans(k, chunk // dim):
        z = _gaussian_tile(keys[r0:r1], 0, dim, _SCRATCH)  # whole rows, float32
        inv = _inverse_norm(_sumsq(z, _SCRATCH))
        z = z.to(work)
        a = (z @ g).to(torch.float64) * inv
        scalars[r0:r1] = a
        out += (a * inv * factor).to(work) @ z
    return scalars.to(grad.dtype), out.to(grad.dtype)
