"""What of the estimator survives a restart: the saved-state dictionary, and its validation on load.

The dictionary is JSON-serialisable (``core.persistence`` writes it). ``parse_state`` checks every field's
type (never coerced: "0.5" is not a number, true is not 1) and range, and raises on anything wrong, so a
damaged or foreign file starts the estimator from defaults instead of from nonsense.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["STATE_VERSION", "parse_state"]

STATE_VERSION = 1
PENDING_KEYS = ("stamp", "cell_soc", "cell_soc_std", "current_offset_a", "current_offset_std")
# Plausible ranges of a saved state; beyond them the file is not this pack's (or is damaged)
CAPACITY_RANGE = (0.3, 1.5)          # learned capacity / design capacity
RESISTANCE_SCALE_RANGE = (0.2, 10.0)  # learned R0 / the chemistry's R0
SOC_RANGE = (-0.1, 1.1)               # the filter's SoC may lie a little outside 0..1
DESIGN_MATCH_REL = 1e-9               # relative tolerance of the saved design capacity (a float round trip)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_state(d: dict[str, Any], n: int, chemistry: str, design_ah: float) -> dict[str, Any]:
    """The validated contents of a ``state_dict()`` for a pack of ``n`` cells of ``chemistry`` and
    ``design_ah``; raises KeyError, TypeError or ValueError on anything invalid."""
    if not isinstance(d, dict):
        raise TypeError("not a mapping")
    number = _number
    if d.get("version") != STATE_VERSION or not number(d.get("version")):
        raise ValueError(f"version {d.get('version')!r}, expected {STATE_VERSION}")
    if d.get("cell_count") != n or not number(d.get("cell_count")):
        raise ValueError(f"saved for {d.get('cell_count')!r} cells, the pack has {n}")
    if d.get("chemistry") != chemistry:
        raise ValueError(f"saved for chemistry {d.get('chemistry')!r}, configured {chemistry!r}")

    def num(key: str, lo: float, hi: float) -> float:
        if not number(d[key]):
            raise TypeError(f"{key}: expected a number, got {type(d[key]).__name__} {d[key]!r:.60}")
        try:
            x = float(d[key])
        except OverflowError:
            raise ValueError(f"{key}: a number too large for a float") from None
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(f"{key} = {d[key]!r} is out of range [{lo}, {hi}]")
        return x

    def vec(key: str, lo: float, hi: float) -> np.ndarray:
        v = d[key]
        if not isinstance(v, list) or not all(number(x) for x in v):
            raise TypeError(f"{key}: expected a list of {n} numbers, got {type(v).__name__} {v!r:.60}")
        a = np.asarray(v, dtype=float)
        if a.shape != (n,) or not np.all(np.isfinite(a)) or np.any(a < lo) or np.any(a > hi):
            raise ValueError(f"{key} must be {n} numbers in [{lo}, {hi}]")
        return a

    stamp = d.get("stamp")
    if stamp is not None and not number(stamp):
        raise TypeError(f"stamp: expected a number or null, got {type(stamp).__name__} {stamp!r:.60}")
    st: dict[str, Any] = {"stamp": math.nan if stamp is None else float(stamp)}
    if not number(d["design_capacity_ah"]):
        raise TypeError(f"design_capacity_ah: expected a number, got {d['design_capacity_ah']!r:.60}")
    if abs(float(d["design_capacity_ah"]) - design_ah) > DESIGN_MATCH_REL * design_ah:
        raise ValueError(f"saved for a design capacity of {d['design_capacity_ah']} Ah, configured "
                         f"{design_ah} Ah")
    st["capacity_ah"] = num("capacity_ah", CAPACITY_RANGE[0] * design_ah, CAPACITY_RANGE[1] * design_ah)
    st["capacity_std"] = num("capacity_std", 0.0, design_ah)
    st["capacity_updates"] = int(num("capacity_updates", 0, 1e12))
    st["resistance_scale"] = vec("resistance_scale", *RESISTANCE_SCALE_RANGE)
    st["resistance_var"] = vec("resistance_var", 0.0, 1.0)
    st["cycle_count"] = num("cycle_count", 0.0, 1e7)
    st["discharged_ah"] = num("discharged_ah", 0.0, 1e12)
    if d.get("cell_soc") is None:
        st["cell_soc"] = None
    else:
        st["cell_soc"] = vec("cell_soc", *SOC_RANGE)
        st["cell_soc_std"] = vec("cell_soc_std", 0.0, 1.0)
        st["current_offset_a"] = num("current_offset_a", -design_ah, design_ah)
        st["current_offset_std"] = num("current_offset_std", 0.0, design_ah)
    return st
