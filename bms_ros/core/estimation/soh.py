"""State of health: capacity from charge throughput between SoC anchors, resistance by recursive least
squares on current steps, equivalent full cycles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation.ekf import CellEkf

_S_PER_H = 3600.0
R_STEP_SENSOR_STD_V = 0.003  # V, 1-sigma cell-voltage noise of each of the two readings in a step (tuning value)
R_STEP_FIT = 0.2  # relative error of the ECM's prediction of a 1 s step (R1, R2, OCV drift; tuning value)


@dataclass
class Anchor:
    """SoC of every cell known from voltage alone (rest, full, empty), and the charge counter then."""

    stamp: float
    soc: np.ndarray  # per cell, NaN where the voltage said too little
    var: np.ndarray  # per cell
    ah: float  # net charge counter (offset-corrected), Ah
    offset_var: float  # current offset variance then, A^2
    kind: str


class CapacityEstimator:
    """Capacity (Ah, the string's cell capacity) as a scalar Kalman filter.

    Each cell keeps a reference anchor (SoC, variance, charge counter, time). A new anchor whose SoC differs
    by at least ``min_delta`` from a cell's reference gives an observation ``dAh / dSoC`` for that cell and
    becomes its new reference; a smaller swing leaves the reference where it is, so swings made of several
    anchors (rest, partial charge, rest, ...) accumulate until they are large enough. The observation's
    variance comes from both anchors' SoC variances, the current sensor's gain error and the offset
    uncertainty over the interval.
    """

    def __init__(self, design_ah: float, min_delta: float, drift_per_cycle: float, gain_error: float):
        self.design_ah = design_ah
        self.capacity_ah = design_ah
        self.var = (0.05 * design_ah) ** 2  # prior: rated capacity, 5 % (1-sigma)
        self.min_delta = min_delta
        self.drift = drift_per_cycle
        self.gain_error = gain_error
        self.anchor: Anchor | None = None  # the latest anchor seen (for diagnostics)
        self.ref: Anchor | None = None  # per-cell references: soc/var per cell, ah/stamp/offset_var too
        self._ref_ah = np.zeros(0)
        self._ref_stamp = np.zeros(0)
        self._ref_offset_var = np.zeros(0)
        self.updates = 0

    def age(self, cycles: float) -> None:
        """Capacity may have drifted over ``cycles`` equivalent full cycles."""
        self.var += (self.drift * self.capacity_ah) ** 2 * max(cycles, 0.0)

    def add_anchor(self, a: Anchor) -> float | None:
        """Record an anchor; returns the capacity observation it produced, if any."""
        self.anchor = a
        seen = np.isfinite(a.soc) & np.isfinite(a.var)
        n = a.soc.size
        if self.ref is None or self.ref.soc.shape != a.soc.shape:
            self.ref = Anchor(
                a.stamp, np.where(seen, a.soc, np.nan), np.where(seen, a.var, np.nan), a.ah, a.offset_var, a.kind
            )
            self._ref_ah = np.full(n, a.ah)
            self._ref_stamp = np.full(n, a.stamp)
            self._ref_offset_var = np.full(n, a.offset_var)
            return None
        ref = self.ref
        ds = a.soc - ref.soc
        dah = a.ah - self._ref_ah
        have = seen & np.isfinite(ref.soc)
        big = have & (np.abs(ds) >= self.min_delta)
        ok = big & (np.sign(ds) == np.sign(dah)) & (np.abs(dah) > 1e-9)
        c_obs = math.nan
        if ok.any():
            obs = dah[ok] / ds[ok]
            c_obs = float(np.median(obs))
            dsm = float(np.median(np.abs(ds[ok])))
            dahm = float(np.median(np.abs(dah[ok])))
            soc_var = float(np.median(ref.var[ok] + a.var[ok]))
            dt_h = float(np.median(np.maximum(a.stamp - self._ref_stamp[ok], 0.0))) / 3600.0
            off_var = float(np.median(np.maximum(self._ref_offset_var[ok], a.offset_var)))
            var_obs = (c_obs**2 * soc_var + off_var * dt_h**2 + (self.gain_error * dahm) ** 2) / dsm**2
            if math.isfinite(c_obs) and 0.3 * self.design_ah <= c_obs <= 1.5 * self.design_ah:
                k = self.var / (self.var + var_obs)
                self.capacity_ah += k * (c_obs - self.capacity_ah)
                self.var *= 1.0 - k
                self.capacity_ah = min(max(self.capacity_ah, 0.3 * self.design_ah), 1.5 * self.design_ah)
                self.updates += 1
            else:
                c_obs = math.nan
        # new reference: cells that produced an observation (or a sign-inconsistent big swing: the older
        # reference is then suspect), and cells that had none yet; a small swing keeps the older reference
        move = big | (seen & ~np.isfinite(ref.soc))
        if move.any():
            ref.soc[move] = a.soc[move]
            ref.var[move] = a.var[move]
            self._ref_ah[move] = a.ah
            self._ref_stamp[move] = a.stamp
            self._ref_offset_var[move] = a.offset_var
        return c_obs if math.isfinite(c_obs) else None


class ResistanceRls:
    """Per-cell scale ``k`` of the ohmic resistance R0 (measured / chemistry model) by scalar recursive least
    squares.

    On a current step dI between two samples dt apart the model predicts
    ``dV = dV_drift + (R1 (1 - a1) + R2 (1 - a2)) * dI + k * R0 * dI`` where dV_drift is the change the model
    expects at constant current (RC relaxation, OCV); the regression is on the remainder.
    """

    def __init__(self, n_cells: int, forgetting: float):
        self.k = np.ones(n_cells)
        self.p = np.full(n_cells, 0.01)  # prior: +-10 % (1-sigma) around the chemistry's table
        self.lam = forgetting
        self.updates = 0

    def update(self, y: np.ndarray, phi: np.ndarray, noise_var: np.ndarray) -> None:
        """y: voltage change not explained by drift (V); phi: modelled step response per unit k (V)."""
        ok = np.isfinite(y) & np.isfinite(phi) & (np.abs(phi) > 0)
        if not ok.any():
            return
        p, k = self.p[ok], self.k[ok]
        g = p * phi[ok] / (self.lam * noise_var[ok] + phi[ok] * p * phi[ok])
        k = k + g * (y[ok] - phi[ok] * k)
        p = (p - g * phi[ok] * p) / self.lam
        self.k[ok] = np.clip(k, 0.2, 10.0)
        self.p[ok] = np.clip(p, 1e-6, 1.0)
        self.updates += 1


def step_observation(
    chem: Chemistry,
    ekf: CellEkf,
    soc01: np.ndarray,
    dv: np.ndarray,
    i_prev: float,
    di: float,
    dt: float,
    temp_c: float,
    design_ah: float,
    cap_ah: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One observation of R0 for ``ResistanceRls.update`` from a current step ``di`` (A) over ``dt`` s: the
    voltage change ``dv`` with the modelled RC and OCV drift removed (``y``), the regressor ``phi`` = R0 di at
    the chemistry's R0, and the observation's noise variance. ``soc01`` is the filter's SoC clipped to 0..1."""
    soc = ekf.soc
    r0, r1, r2 = chem.ecm(soc01, temp_c)
    r0, r1, r2 = r0 / design_ah, r1 / design_ah, r2 / design_ah
    a1 = math.exp(-dt / chem.tau1_s)
    a2 = math.exp(-dt / chem.tau2_s)
    it_prev = i_prev - ekf.offset
    drift = (
        (1 - a1) * (r1 * it_prev - ekf.v1)
        + (1 - a2) * (r2 * it_prev - ekf.v2)
        + chem.docv_dsoc(soc, temp_c) * it_prev * dt / (_S_PER_H * cap_ah)
    )
    y = dv - drift - (r1 * (1 - a1) + r2 * (1 - a2)) * di
    phi = r0 * di
    noise = 2 * R_STEP_SENSOR_STD_V**2 + (R_STEP_FIT * phi) ** 2  # two readings' noise + the model fit
    return y, phi, noise
