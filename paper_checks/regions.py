"""Acceptance regions written as intervals: "[0.04, 0.10]", "[0.2, 0.3)", "(0, inf)"."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_INTERVAL = re.compile(rf"^\s*([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])\s*$")


@dataclass(frozen=True)
class Region:
    """An interval of the real line; each end open or closed."""

    low: float
    high: float
    low_closed: bool = True
    high_closed: bool = True

    @classmethod
    def parse(cls, text: str) -> Region:
        """Read "[a, b]", "[a, b)", "(a, b]" or "(a, b)" (a, b numbers or +-inf); reject empty ones."""
        match = _INTERVAL.match(str(text))
        if not match:
            raise ValueError(f"acceptance region {text!r} is not an interval like '[0.04, 0.10]' or '(0, inf)'")
        left, low, high, right = match.groups()
        region = cls(float(low), float(high), left == "[", right == "]")
        if region.is_empty:
            raise ValueError(f"acceptance region {text!r} is empty")
        return region

    @property
    def is_empty(self) -> bool:
        if self.low > self.high:
            return True
        return self.low == self.high and not (self.low_closed and self.high_closed and math.isfinite(self.low))

    @property
    def one_sided(self) -> bool:
        """One end of the region lies at infinity ("(0, inf)")."""
        return math.isinf(self.low) or math.isinf(self.high)

    def contains(self, x: float) -> bool:
        above = x >= self.low if self.low_closed else x > self.low
        below = x <= self.high if self.high_closed else x < self.high
        return above and below

    def below(self, x: float) -> bool:
        """x lies below the region (to the left of its lower end)."""
        return x < self.low or (x == self.low and not self.low_closed)

    def above(self, x: float) -> bool:
        """x lies above the region (to the right of its upper end)."""
        return x > self.high or (x == self.high and not self.high_closed)

    def __str__(self) -> str:
        return f"{'[' if self.low_closed else '('}{self.low:g}, {self.high:g}{']' if self.high_closed else ')'}"
