"""The constants of the direction generator's definition (holograd.directions' docstring), in
one place for every implementation: the numba CPU kernel, the Triton CUDA kernel and the
numpy reference of the tests.

Floating-point constants are rounded to float32 once, here, so that every implementation
multiplies by the same number.
"""

from __future__ import annotations

import math

import numpy as np


def int32_word(word: int) -> int:
    """A 32-bit word as the signed int32 value with the same bit pattern."""
    word &= 0xFFFFFFFF
    return word - (1 << 32) if word >= 1 << 31 else word


def _f32(*values: float) -> tuple[float, ...]:
    """Constants rounded to float32 (as Python floats holding the float32 value exactly)."""
    return tuple(float(np.float32(v)) for v in values)


# Multipliers of the triple32 hash (C. Wellons, hash-prospector), as int32 bit patterns.
C1 = int32_word(0xED5AD4BB)
C2 = int32_word(0xAC4C1B51)
C3 = int32_word(0x31848BAB)

# Coefficients of PPND7, the single-precision inverse normal CDF of Wichura's algorithm AS 241
# (Applied Statistics 37, 1988), accurate to about 1 part in 10^7; highest power first.
CENTRAL_NUM = _f32(59.109374720, 159.29113202, 50.434271938, 3.3871327179)
CENTRAL_DEN = _f32(67.187563600, 78.757757664, 17.895169469, 1.0)
TAIL_NUM = _f32(0.17023821103, 1.3067284816, 2.7568153900, 1.4234372777)
TAIL_DEN = _f32(0.12021132975, 0.73700164250, 1.0)
# The series of log m = 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...), highest power first.
LOG_SERIES = _f32(1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0)
(LN2, CENTRAL_SHIFT, TAIL_CUT, TAIL_SHIFT) = _f32(math.log(2.0), 0.180625, 0.425, 1.6)
TAIL_CUT_BITS = int(np.float32(TAIL_CUT).view(np.int32))
FIXED_POINT = 2.0**28  # ||z||^2 is summed in int64 units of 2^-28
