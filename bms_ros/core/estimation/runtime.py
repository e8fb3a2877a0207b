"""Pack-level quantities from per-cell SoC: pack SoC (weakest cells), remaining charge and energy, time to
empty and to full."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from bms_ros.core.chemistry import Chemistry

NAN = math.nan


class _Cov(Protocol):
    def __getitem__(self, ij: tuple[int, int], /) -> float: ...


def pack_soc(cell_soc: np.ndarray, cell_cov: np.ndarray | _Cov, cap_ah: np.ndarray) -> tuple[float, float]:
    """Pack SoC and its 1-sigma from cell SoCs (covariance ``cell_cov``: an array, or anything that gives
    ``cov[i, j]``, such as the filter's factorised ``CellEkf.soc_cov``) and capacities.

    D = min_i soc_i C_i is the charge the string delivers until its first cell is empty, F = min_i
    (1 - soc_i) C_i the charge it takes until its first cell is full; SoC = D / (D + F): 0 when the first cell
    reaches empty, 1 when the first cell reaches full.
    """
    s = np.minimum(np.maximum(cell_soc, 0.0), 1.0)
    dq = s * cap_ah
    fq = (1.0 - s) * cap_ah
    i, j = int(np.argmin(dq)), int(np.argmin(fq))
    d, f = dq[i], fq[j]
    den = d + f
    if den <= 0:
        return 0.0, math.sqrt(max(float(cell_cov[i, i]), 0.0))
    soc = d / den
    # gradient of D/(D+F) with respect to soc_i (via D) and soc_j (via F)
    # (two non-zero entries at most: the quadratic form in scalars, no n x n product)
    gi = float(cap_ah[i] * f / den**2)
    gj = float(cap_ah[j] * d / den**2)
    if i == j:
        var = (gi + gj) ** 2 * float(cell_cov[i, i])
    else:
        var = gi * gi * float(cell_cov[i, i]) + 2.0 * gi * gj * float(cell_cov[i, j]) + gj * gj * float(cell_cov[j, j])
    return float(soc), math.sqrt(max(var, 0.0))


class EnergyTable:
    """Integral of the OCV over SoC, for energy between two SoCs (25 degC curve)."""

    def __init__(self, chem: Chemistry, points: int = 201):
        self.soc = np.linspace(0.0, 1.0, points)
        v = chem.ocv(self.soc)
        self.cum = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(self.soc))))

    def wh(self, s_from: np.ndarray, s_to: np.ndarray, cap_ah: np.ndarray) -> np.ndarray:
        """Energy (Wh) per cell from SoC ``s_from`` down to ``s_to``."""
        return (np.interp(s_from, self.soc, self.cum) - np.interp(s_to, self.soc, self.cum)) * cap_ah


def remaining(
    chem: Chemistry,
    energy: EnergyTable,
    cell_soc: np.ndarray,
    cap_ah: np.ndarray,
    r_cell_ohm: np.ndarray,
    i_avg: float,
    temp_c: float,
) -> tuple[float, float, float]:
    """(charge_ah, energy_wh, charge_to_full_ah) of the string.

    The usable charge ends when the first cell's terminal voltage reaches empty at the average load:
    OCV(soc_cut) - |I| R = empty_v; at rest (or charging) that is OCV = empty_v, i.e. soc = 0.
    """
    s = np.minimum(np.maximum(cell_soc, 0.0), 1.0)
    i_dis = max(-i_avg, 0.0)
    s_cut = chem.soc_from_ocv(chem.empty_v + i_dis * r_cell_ohm, temp_c) if i_dis > 0 else np.zeros_like(s)
    usable = np.maximum(s - s_cut, 0.0) * cap_ah
    charge = float(usable.min())
    to_full = float(((1.0 - s) * cap_ah).min())
    wh = float(energy.wh(s, np.maximum(s - charge / cap_ah, 0.0), cap_ah).sum())
    return charge, wh, to_full


def times(charge_ah: float, to_full_ah: float, i_avg: float, min_current: float) -> tuple[float, float]:
    """(time_to_empty_s, time_to_full_s) at the average current; NaN when not discharging / charging."""
    tte = charge_ah / -i_avg * 3600.0 if i_avg < -min_current else NAN
    ttf = to_full_ah / i_avg * 3600.0 if i_avg > min_current else NAN
    return tte, ttf
