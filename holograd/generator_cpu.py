"""The direction generator on the CPU: one compiled, correctly rounded loop per tile (numba).

Evaluates the definition in holograd.directions' docstring entry by entry -- hash, m, q, the
PPND7 inverse normal CDF with its bit-built logarithm, and trunc(fl(z^2) 2^28) for the
fixed-point norm -- in one pass that writes each z once into a caller's tile buffer.
numba compiles it with LLVM, which ships in numba's wheel (no system compiler at run time):

- float32 +, -, *, / and sqrt compile to the IEEE instructions (sqrtps, divps, ...), which
  are correctly rounded; LLVM contracts a*b + c into a fused multiply-add only when allowed
  to (fastmath, never set here), so every operation rounds on its own, as the definition says;
- the 32-bit hash is computed in 64-bit integers and masked to 32 bits after every step
  (numba widens int32 arithmetic), and the two float/bit reinterpretations are LLVM bitcasts
  (`_float_bits`, `_bits_float`);
- both branches of the inverse CDF are computed for every entry and one is selected, so the
  loop has no data-dependent branch and LLVM vectorises it.

Every entry is a pure function of (keys, i), so the result does not depend on the tile's
width, on how rows are split among threads, or on the thread count.  tests/test_generator.py
checks every one of the 2^24 inverse-CDF inputs and generated tiles bit for bit against a
numpy reference of the definition (tests/generator_reference.py).

Compiled code is cached beside this module (numba's `cache=True`), so a pipeline job does not
compile it again; the first call in a fresh checkout compiles it (a few seconds).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from holograd import direction_constants as k

_M32 = 0xFFFFFFFF


@intrinsic
def _float_bits(typingctx, value):
    """The int32 with the same bits as a float32 (LLVM bitcast)."""
    if value != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


@intrinsic
def _bits_float(typingctx, value):
    """The float32 with the same bits as an int32 (LLVM bitcast)."""
    if value != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


def _unsigned(word: int) -> int:
    return word & _M32


# The definition's constants as numba freezes them into the compiled code.
_C1, _C2, _C3 = (np.uint32(_unsigned(c)) for c in (k.C1, k.C2, k.C3))
_CN0, _CN1, _CN2, _CN3 = (np.float32(v) for v in k.CENTRAL_NUM)
_CD0, _CD1, _CD2, _CD3 = (np.float32(v) for v in k.CENTRAL_DEN)
_TN0, _TN1, _TN2, _TN3 = (np.float32(v) for v in k.TAIL_NUM)
_TD0, _TD1, _TD2 = (np.float32(v) for v in k.TAIL_DEN)
_L0, _L1, _L2, _L3, _L4 = (np.float32(v) for v in k.LOG_SERIES)
_LN2, _SHIFT, _CUT, _TAIL_SHIFT = (np.float32(v) for v in (k.LN2, k.CENTRAL_SHIFT, k.TAIL_CUT, k.TAIL_SHIFT))
_Q_SCALE, _Q_OFFSET, _FIXED_POINT = np.float32(2.0**-24), np.float32(2.0**-25), np.float32(k.FIXED_POINT)
_ONE, _TWO, _HALF = np.float32(1.0), np.float32(2.0), np.float32(0.5)
_S8, _S11, _S15, _S17 = np.int32(8), np.uint32(11), np.uint32(15), np.uint32(17)
_S23, _MANTISSA, _BIAS = np.int32(23), np.int32(0x7FFFFF), np.int32(127)
_SQRT2_OFFSET, _ONE_BITS = np.int32(0x800000 - 0x3504F3), np.int32(0x3F800000)


@njit(inline="always", error_model="numpy")
def _offset_of(i, k0, k1, k2):
    """q = (2m + 1) / 2^25 from the keyed hash x of index i, m = x >> 8 (arithmetic).

    Every step is cast back to uint32: numba widens 32-bit arithmetic, and the cast keeps the
    low 32 bits, i.e. arithmetic modulo 2^32 (LLVM then computes it in 32-bit lanes)."""
    x = np.uint32(i) ^ k0
    x = x ^ (x >> _S17)
    x = np.uint32(x * _C1)
    x = x ^ (x >> _S11)
    x = np.uint32(x + k1)
    x = np.uint32(x * _C2)
    x = x ^ (x >> _S15)
    x = x ^ k2
    x = np.uint32(x * _C3)
    m = np.int32(x) >> _S8  # the signed word, shifted arithmetically: m in [-2^23, 2^23)
    return np.float32(m) * _Q_SCALE + _Q_OFFSET


@njit(inline="always", error_model="numpy")
def _log(p):
    """log p for a positive normal float32 p: exponent and mantissa from p's bits, then
    log m = 2 atanh((m - 1) / (m + 1)) summed to the 9th power."""
    bits = _float_bits(p)  # int32 throughout (each step cast back: numba widens int32 arithmetic)
    mantissa = np.int32(bits & _MANTISSA)
    big = np.int32(np.int32(mantissa + _SQRT2_OFFSET) >> _S23)  # 1 iff m >= sqrt(2)
    e = np.int32(np.int32(np.int32(bits >> _S23) - _BIAS) + big)
    m1 = _bits_float(np.int32(mantissa | np.int32(_ONE_BITS - np.int32(big << _S23)))) - _ONE
    s = m1 / (m1 + _TWO)
    u = s * s
    series = (((_L0 * u + _L1) * u + _L2) * u + _L3) * u + _L4
    return (series * s) * _TWO + np.float32(e) * _LN2


@njit(inline="always", error_model="numpy")
def _inverse_normal_cdf(q):
    """Phi^-1(1/2 + q) by PPND7: the central branch for |q| <= 0.425, else the tail."""
    r = _SHIFT - q * q
    central = ((((_CN0 * r + _CN1) * r + _CN2) * r + _CN3) * q) / (((_CD0 * r + _CD1) * r + _CD2) * r + _CD3)
    abs_q = abs(q)
    t = np.sqrt(-_log(_HALF - abs_q)) - _TAIL_SHIFT
    tail = (((_TN0 * t + _TN1) * t + _TN2) * t + _TN3) / ((_TD0 * t + _TD1) * t + _TD2)
    signed_tail = -tail if q < 0 else tail
    return central if abs_q <= _CUT else signed_tail


@njit(nogil=True, cache=True, error_model="numpy")
def _fill_row(k0, k1, k2, start, out):
    """out[c] = z_{start + c} of one seed's keys; returns sum_c trunc(fl(z^2) 2^28)."""
    acc = np.int64(0)
    for c in range(out.size):
        z = _inverse_normal_cdf(_offset_of(start + c, k0, k1, k2))
        out[c] = z
        acc += np.int64((z * z) * _FIXED_POINT)
    return acc


@njit(nogil=True, cache=True, error_model="numpy")
def fill_tile(keys, start, out, sumsq):
    """out[j, c] = z_{start + c} of key row j (keys: uint32 (K, 3), out: float32 (K, W) with
    contiguous rows); sumsq[j] = sum_c trunc(fl(z^2) 2^28), int64."""
    for j in range(out.shape[0]):
        sumsq[j] = _fill_row(keys[j, 0], keys[j, 1], keys[j, 2], start, out[j])


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def _dot(z, g):
    """sum_c z_c g_c in float64, summed in the order the vectorised loop chooses (fixed for a
    compiled kernel; the generated entries themselves never pass through this function)."""
    acc = 0.0
    for c in range(z.size):
        acc += np.float64(z[c]) * np.float64(g[c])
    return acc


@njit(nogil=True, cache=True, error_model="numpy")
def project_rows(keys, grad, width, dots, sumsq):
    """For each key row j: dots[j] = <grad, z_j> (float64) and sumsq[j] its fixed-point sum of
    squares, generating z_j a segment of `width` entries at a time into one reused buffer.
    Column segments are the outer loop, so a segment of grad stays in cache for every row."""
    dim, buffer = grad.size, np.empty(width, dtype=np.float32)
    dots[:] = 0.0
    sumsq[:] = 0
    for c0 in range(0, dim, width):
        c1 = min(dim, c0 + width)
        segment = buffer[: c1 - c0]
        for j in range(keys.shape[0]):
            sumsq[j] += _fill_row(keys[j, 0], keys[j, 1], keys[j, 2], c0, segment)
            dots[j] += _dot(segment, grad[c0:c1])


@njit(nogil=True, cache=True, error_model="numpy")
def reconstruct_columns(keys, coef, start, out, width):
    """out[c] += sum_j coef[j] z_j[start + c], the rows j added in order (one product and one
    rounded sum each), generating each segment of `width` entries into one reused buffer."""
    buffer = np.empty(width, dtype=np.float32)
    for c0 in range(0, out.size, width):
        c1 = min(out.size, c0 + width)
        segment, target = buffer[: c1 - c0], out[c0:c1]
        for j in range(keys.shape[0]):
            _fill_row(keys[j, 0], keys[j, 1], keys[j, 2], start + c0, segment)
            weight = coef[j]
            for c in range(segment.size):
                target[c] += weight * segment[c]


@njit(nogil=True, cache=True)
def dot_rows(z, grad, dots):
    """dots[j] = <z[j], grad> in float64."""
    for j in range(z.shape[0]):
        dots[j] = _dot(z[j], grad)


@njit(nogil=True, cache=True, error_model="numpy")
def accumulate_rows(coef, z, out):
    """out[c] += sum_j coef[j] z[j, c], the rows added in order."""
    for j in range(z.shape[0]):
        weight, row = coef[j], z[j]
        for c in range(out.size):
            out[c] += weight * row[c]


@njit(nogil=True, cache=True, error_model="numpy")
def inverse_cdf(q, out):
    """out = Phi^-1(1/2 + q) entry by entry (for the exhaustive test of the inverse CDF)."""
    for i in range(q.size):
        out[i] = _inverse_normal_cdf(q[i])


_POOL: ThreadPoolExecutor | None = None
_MIN_SPLIT = 4096  # columns per thread below which splitting costs more than it saves


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of at least `threads` workers, made once per process and grown when needed."""
    global _POOL
    if _POOL is None or _POOL._max_workers < threads:
        _POOL = ThreadPoolExecutor(threads, thread_name_prefix="holograd-directions")
    return _POOL


def _run(parts: list[tuple], kernel) -> None:
    """kernel(*part) for every part, on the pool's threads when there is more than one."""
    if len(parts) == 1:
        kernel(*parts[0])
        return
    for future in [_pool(len(parts)).submit(kernel, *part) for part in parts]:
        future.result()


def _splits(n: int, threads: int, minimum: int = 1) -> list[tuple[int, int]]:
    """[a, b) ranges splitting range(n) into at most `threads` parts of at least `minimum`."""
    count = max(1, min(threads, n // minimum))
    bounds = [n * t // count for t in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


def fill(keys: np.ndarray, start: int, out: np.ndarray, sumsq: np.ndarray, threads: int = 1) -> None:
    """out[j, c] = z_{start + c} of keys[j] and sumsq[j] = its fixed-point sum of squares.

    keys: (K, 3) uint32, the seeds' key words; out: (K, W) float32 with contiguous rows;
    sumsq: (K,) int64.  `threads` threads share the rows (the columns, for fewer rows than
    threads): every entry is computed on its own, so the split changes nothing in the result.
    """
    rows, width = out.shape
    if rows >= threads or width < 2 * _MIN_SPLIT:
        _run([(keys[a:b], start, out[a:b], sumsq[a:b]) for a, b in _splits(rows, threads)], fill_tile)
        return
    columns = _splits(width, threads, _MIN_SPLIT)
    partial = np.zeros((len(columns), rows), dtype=np.int64)
    _run([(keys, start + a, out[:, a:b], part) for (a, b), part in zip(columns, partial)], fill_tile)
    sumsq[:] = partial.sum(axis=0)


def project(keys: np.ndarray, grad: np.ndarray, width: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(dots, sumsq): <grad, z_j> in float64 and the fixed-point sum of squares of every key
    row j over the whole of grad (float32 or float64, contiguous), without ever holding more
    than `width` entries of a direction per thread.  Threads share the rows, so each row's
    sum runs in the same order whatever the thread count."""
    rows = keys.shape[0]
    dots, sumsq = np.empty(rows, dtype=np.float64), np.empty(rows, dtype=np.int64)
    parts = [(keys[a:b], grad, width, dots[a:b], sumsq[a:b]) for a, b in _splits(rows, threads)]
    _run(parts, project_rows)
    return dots, sumsq


def reconstruct(keys: np.ndarray, coef: np.ndarray, out: np.ndarray, width: int, threads: int = 1) -> None:
    """out[i] += sum_j coef[j] z_j[i] over every column i of out (float32 or float64, coef the
    same dtype), the rows added in order.  Threads share the columns: each column's sum is the
    same whatever the split."""
    parts = [(keys, coef, a, out[a:b], width) for a, b in _splits(out.size, threads, _MIN_SPLIT)]
    _run(parts, reconstruct_columns)


def dots(z: np.ndarray, grad: np.ndarray, threads: int = 1) -> np.ndarray:
    """<z[j], grad> in float64 for every row of z; threads share the rows."""
    out = np.empty(z.shape[0], dtype=np.float64)
    _run([(z[a:b], grad, out[a:b]) for a, b in _splits(z.shape[0], threads)], dot_rows)
    return out


def accumulate(coef: np.ndarray, z: np.ndarray, out: np.ndarray, threads: int = 1) -> None:
    """out[i] += sum_j coef[j] z[j, i], the rows added in order; threads share the columns."""
    _run([(coef, z[:, a:b], out[a:b]) for a, b in _splits(out.size, threads, _MIN_SPLIT)], accumulate_rows)


def inverse_cdf_of(q: np.ndarray) -> np.ndarray:
    """Phi^-1(1/2 + q) of float32 offsets q = (2m + 1) / 2^25, as the generator computes it."""
    q = np.ascontiguousarray(q, dtype=np.float32)
    out = np.empty_like(q)
    inverse_cdf(q, out)
    return out
