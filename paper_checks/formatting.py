"""How numbers read in the summary: one format for a value and one for an estimate; a run's software in a phrase."""

from __future__ import annotations


def num(x) -> str:
    """A value to 4 significant digits; "—" for a missing one (JSON null)."""
    return "—" if x is None else f"{x:.4g}"


def measured(m: dict) -> str:
    """An estimate: "point [low, high], n = ..." ("(no CI)" where the interval is undefined)."""
    ci = f" [{num(m['low'])}, {num(m['high'])}]" if m.get("low") is not None else " (no CI)"
    return f"{num(m['point'])}{ci}, n = {m['n']}"


def software_line(environment: dict) -> str:
    """A run's software in one phrase: torch, CUDA (none for a CPU build), Triton, numba."""
    return ", ".join(
        f"{name} {environment.get(key) or 'none'}"
        for name, key in (("torch", "torch"), ("CUDA", "cuda"), ("Triton", "triton"), ("numba", "numba"))
    )
