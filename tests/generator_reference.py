"""A correctly rounded reference of the direction generator (holograd.directions' docstring),
written with numpy float32 operations, one IEEE operation at a time.

numpy's float32 +, -, *, / and sqrt are the IEEE 754 correctly rounded operations on every
platform (numpy's float32 sqrt equals float64-sqrt-then-round on every input), and numpy does
not contract a * b + c into a fused multiply-add: each array operation is its own loop that
writes its rounded result.  So this module is the definition evaluated exactly as the module
docstring states it, slowly, against which the fused kernels are compared bit for bit.  It is
deliberately a transcription of the definition, not of either kernel.
"""

from __future__ import annotations

import numpy as np

from holograd import direction_constants as d
from holograd.directions import seed_keys

F32 = np.float32


def _c(value: float) -> np.float32:
    return F32(value)


def hash_index(index: np.ndarray, k0: int, k1: int, k2: int) -> np.ndarray:
    """x = mix(i, k0, k1, k2): the keyed triple32 hash, as uint32 (wrapping arithmetic)."""
    x = index.astype(np.uint32) ^ np.uint32(k0 & 0xFFFFFFFF)
    x ^= x >> np.uint32(17)
    x *= np.uint32(d.C1 & 0xFFFFFFFF)
    x ^= x >> np.uint32(11)
    x += np.uint32(k1 & 0xFFFFFFFF)
    x *= np.uint32(d.C2 & 0xFFFFFFFF)
    x ^= x >> np.uint32(15)
    x ^= np.uint32(k2 & 0xFFFFFFFF)
    x *= np.uint32(d.C3 & 0xFFFFFFFF)
    return x


def uniform_offsets(x: np.ndarray) -> np.ndarray:
    """q = (2m + 1) / 2^25 with m = x >> 8 (arithmetic shift of the signed word), float32, exact."""
    m = x.view(np.int32) >> np.int32(8)
    return (m.astype(F32) * F32(2.0**-24)) + F32(2.0**-25)


def _horner(x: np.ndarray, coeffs) -> np.ndarray:
    out = x * _c(coeffs[0])
    for c in coeffs[1:-1]:
        out = (out + _c(c)) * x
    return out + _c(coeffs[-1])


def log_positive(p: np.ndarray) -> np.ndarray:
    """log p for positive normal float32 p, from p's bits and the atanh series (docstring)."""
    bits = p.view(np.int32)
    mantissa = bits & np.int32(0x7FFFFF)
    big = (mantissa + np.int32(0x800000 - 0x3504F3)) >> np.int32(23)
    e = (bits >> np.int32(23)) - np.int32(127) + big
    m = (mantissa | (np.int32(0x3F800000) - (big << np.int32(23)))).view(F32)
    m1 = m - F32(1.0)
    s = m1 / (m1 + F32(2.0))
    series = _horner(s * s, d.LOG_SERIES)
    return ((series * s) * F32(2.0)) + (e.astype(F32) * _c(d.LN2))


def inverse_normal_cdf(q: np.ndarray) -> np.ndarray:
    """Phi^-1(1/2 + q) by PPND7 for float32 q = (2m + 1) / 2^25 (both branches, then selected)."""
    q = np.asarray(q, dtype=F32)
    r = _c(d.CENTRAL_SHIFT) - (q * q)
    central = (_horner(r, d.CENTRAL_NUM) * q) / _horner(r, d.CENTRAL_DEN)
    abs_q = np.abs(q)
    p = F32(0.5) - abs_q
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.sqrt(-log_positive(p)) - _c(d.TAIL_SHIFT)
        tail = _horner(t, d.TAIL_NUM) / _horner(t, d.TAIL_DEN)
    tail = np.where(q < 0, -tail, tail)
    return np.where(abs_q <= _c(d.TAIL_CUT), central, tail).astype(F32)


def gaussian(seed: int, start: int, stop: int) -> np.ndarray:
    """z_i, start <= i < stop, of one seed: float32."""
    ((k0, k1, k2),) = seed_keys([seed]).tolist()
    index = np.arange(start, stop, dtype=np.int64)
    return inverse_normal_cdf(uniform_offsets(hash_index(index, k0, k1, k2)))


def sumsq_fixed_point(z: np.ndarray) -> int:
    """sum_i trunc(fl(z_i^2) * 2^28), the exact int64 fixed-point ||z||^2."""
    return int(((z * z) * F32(2.0**28)).astype(np.int64).sum())


def inverse_norm(sumsq: int) -> float:
    """fl64(1 / fl64(sqrt(fl64(sumsq) / 2^28))), correctly rounded."""
    return float(np.float64(1.0) / np.sqrt(np.float64(sumsq) / np.float64(2.0**28)))


def direction(seed: int, dim: int) -> np.ndarray:
    """v = z * fl32(1 / ||z||), float32 (D,)."""
    z = gaussian(seed, 0, dim)
    return z * F32(inverse_norm(sumsq_fixed_point(z)))
