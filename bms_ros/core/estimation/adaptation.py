"""The equivalent circuit adapted to the pack from its own operation, and LFP's one-state hysteresis.

``PolarisationRls`` learns per cell a scale of each RC pair's resistance (R1, R2 relative to the chemistry's or
the user table's), the dynamic polarisation a team's datasheet does not give (ISSUE 13 item 1). It runs a copy of
the two RC pairs at the chemistry's resistances (``u1``, ``u2``: the overpotential per unit scale) and compares
the voltage *change* over a window of ``WINDOW_S`` seconds at steady current (a relaxation after a load, or the
RC pairs charging under a constant load) with the modelled change: the OCV change over the window comes from
the charge counted, so the SoC's own error cancels (a sag is never taken for missing charge here), and R0 drops
out because the current did not step. A two-parameter recursive least squares with forgetting, bounded to
``SCALE_RANGE``; its variance starts at the chemistry's ``ecm_uncertainty`` and tells the filter how much to
trust the modelled overpotential (the model-error inflation while the parameters are still uncertain).

``Hysteresis``: the OCV is the chemistry's curve plus ``hysteresis_v * h``, with ``h`` in [-1, 1] moving towards
+1 while charging and -1 while discharging, exponentially over ``hysteresis_soc`` of charge (a one-state
model). A rest does not move it, so a rested voltage still carries it: the rest anchor reads the SoC with it
removed and its uncertainty added (the rest bounds the SoC to the span the hysteresis allows).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from bms_ros.core.chemistry import Chemistry

__all__ = ["Hysteresis", "PolarisationRls"]

WINDOW_S = 60.0  # s: a window longer than the fast RC pair's reaction, short against the SoC's drift
STEADY_I_C = 0.02  # C: the current counts as steady over a window if it stayed within this ...
STEADY_I_REL = 0.05  # ... plus this fraction of it (the sensor's gain noise is about 1 %, 1-sigma)
MIN_PHI_V = 0.001  # V: a window whose modelled RC change is below this says nothing (RLS averages the rest)
SENSOR_STD_V = 0.002  # V, 1-sigma: one voltage reading's noise (two per window)
FIT_ERROR = 0.2  # a window's modelled change is right only to this fraction (time constants, diffusion)
OCV_SLOPE_ERROR = 0.3  # the OCV slope over the window is right to this fraction (the generic curve)
FORGETTING = 0.998  # per window: a memory of ~500 windows (the polarisation changes with age and SoC)
SCALE_RANGE = (0.2, 5.0)  # the learned scale stays within this factor of the chemistry's resistances
SCALE_VAR_FLOOR = 0.02**2  # least variance of a learned scale (the fit never becomes exact)
HYST_SATURATED_VAR = 0.25  # the hysteresis offset's variance, in hysteresis_v^2, once saturated (its size)


class PolarisationRls:
    """Per-cell scales ``k`` (2, n) of R1 and R2, their covariance ``p`` (2, 2, n), the unit-scale RC copies."""

    def __init__(self, n: int, chem: Chemistry):
        self.n = n
        self.chem = chem
        self.k = np.ones((2, n))
        self.p = np.zeros((2, 2, n))
        self.p[0, 0] = self.p[1, 1] = max(chem.ecm_uncertainty, 0.05) ** 2
        self.u = np.zeros((2, n))  # the RC voltages at scale 1 (V)
        self.updates = 0
        self._ref: tuple[float, np.ndarray, np.ndarray, np.ndarray, float] | None = None
        self._i_lo = self._i_hi = 0.0
        self._set_rel_var()
        self._a_cache: tuple = (math.nan, (0.0, 0.0), 1.0, 1.0, 0.0, 0.0)

    def _set_rel_var(self) -> None:
        """Relative variance of the modelled polarisation per cell (the larger pair's), kept in ``rel_var``."""
        self.rel_var = np.maximum(self.p[0, 0], self.p[1, 1]) / np.maximum(self.k.min(axis=0), SCALE_RANGE[0]) ** 2

    def step(
        self,
        stamp: float,
        v: np.ndarray,
        it: float,
        dt: float,
        r1: np.ndarray,
        r2: np.ndarray,
        taus: tuple[float, float],
        soc: np.ndarray,
        ocv: Callable[[np.ndarray], np.ndarray],
        c_ah: float,
    ) -> None:
        """Advance the unit-scale RC copies with the true current ``it`` (A) over ``dt`` and, at the end of a
        window of steady current, update the scales. ``r1``, ``r2`` are the chemistry's resistances (ohm) before
        scaling; ``soc`` the filter's SoC and ``ocv(soc)`` the OCV (V) there (the OCV's change over a window is
        the charge counted; evaluated only at a window's end); ``c_ah`` the capacity (Ah)."""
        c = self._a_cache
        if c[0] != dt or c[1] != taus:
            a1, a2 = math.exp(-dt / taus[0]), math.exp(-dt / taus[1])
            c = self._a_cache = (dt, taus, a1, a2, 1.0 - a1, 1.0 - a2)
        _dt, _taus, a1, a2, b1, b2 = c
        u = self.u
        u[0] *= a1
        u[0] += r1 * (b1 * it)
        u[1] *= a2
        u[1] += r2 * (b2 * it)
        ref = self._ref
        if ref is not None:
            self._i_lo, self._i_hi = min(self._i_lo, it), max(self._i_hi, it)
            if self._i_hi - self._i_lo > STEADY_I_C * c_ah + STEADY_I_REL * abs(ref[4]):
                ref = None
        if ref is None or not math.isfinite(float(v.sum())):
            self._restart(stamp, v, u, soc, it)
            return
        if stamp - ref[0] < WINDOW_S:
            return
        _t0, v0, u0, soc0, _ = ref
        phi = u - u0  # (2, n)
        big = np.abs(phi).sum(axis=0) >= MIN_PHI_V
        if big.any():
            d_ocv = ocv(soc) - ocv(soc0)
            y = (v - v0) - d_ocv
            noise = 2 * SENSOR_STD_V**2 + (FIT_ERROR * phi.sum(axis=0)) ** 2 + (OCV_SLOPE_ERROR * d_ocv) ** 2
            self._update(np.where(big, y, np.nan), phi, noise)
        self._restart(stamp, v, u, soc, it)

    def _restart(self, stamp: float, v: np.ndarray, u: np.ndarray, soc: np.ndarray, it: float) -> None:
        self._ref = (stamp, v.copy(), u.copy(), soc.copy(), it)
        self._i_lo = self._i_hi = it

    def _update(self, y: np.ndarray, phi: np.ndarray, noise: np.ndarray) -> None:
        """Two-parameter RLS per cell (vectorised), y = k . phi + e; NaN y skipped."""
        ok = np.isfinite(y)
        k, p = self.k, self.p
        pphi = np.einsum("ijn,jn->in", p, phi)  # P phi, (2, n)
        s = FORGETTING * noise + (phi * pphi).sum(axis=0)
        g = pphi / s
        e = y - (k * phi).sum(axis=0)
        k_new = k + g * np.where(ok, e, 0.0)
        p_new = (p - g[:, None, :] * pphi[None, :, :]) / FORGETTING
        self.k = np.where(ok, np.clip(k_new, *SCALE_RANGE), k)
        p_new[0, 0] = np.clip(p_new[0, 0], SCALE_VAR_FLOOR, self.p0)
        p_new[1, 1] = np.clip(p_new[1, 1], SCALE_VAR_FLOOR, self.p0)
        self.p = np.where(ok, p_new, p)
        self.updates += int(ok.any())
        self._set_rel_var()

    @property
    def p0(self) -> float:
        return max(self.chem.ecm_uncertainty, 0.05) ** 2

    def restore(self, k: np.ndarray, var: np.ndarray) -> None:
        """From a saved state: scales (2, n) and their variances (2, n)."""
        self.k = np.clip(np.asarray(k, dtype=float), *SCALE_RANGE)
        self.p = np.zeros((2, 2, self.n))
        self.p[0, 0], self.p[1, 1] = (
            np.clip(var[0], SCALE_VAR_FLOOR, self.p0),
            np.clip(var[1], SCALE_VAR_FLOOR, self.p0),
        )


class Hysteresis:
    """The per-cell hysteresis state ``h`` in [-1, 1] (0: unknown, between the branches)."""

    def __init__(self, n: int, chem: Chemistry):
        self.m = chem.hysteresis_v
        self.width = chem.hysteresis_soc
        self.h = np.zeros(n)

    @property
    def enabled(self) -> bool:
        return self.m > 0.0

    def step(self, it: float, ds: float, rest_a: float) -> None:
        """Move towards the branch of the current's sign by ``ds`` (SoC moved this step); none at rest."""
        if not self.enabled or abs(it) <= rest_a:
            return
        target = 1.0 if it > 0 else -1.0
        self.h += (1.0 - math.exp(-ds / self.width)) * (target - self.h)

    def offset(self) -> np.ndarray | float:
        """Voltage (V) by which the OCV lies above the chemistry's curve, per cell."""
        return self.m * self.h if self.enabled else 0.0

    def var(self) -> np.ndarray | float:
        """Variance (V^2) of that offset: its whole size while unknown, a share of it once saturated."""
        if not self.enabled:
            return 0.0
        return self.m * self.m * np.maximum(1.0 - self.h * self.h, HYST_SATURATED_VAR)
