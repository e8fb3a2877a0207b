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


PRIOR_REL_STD = 0.05  # capacity prior: the rated capacity, 5 % (1-sigma; datasheets quote a minimum, 3-10 % below)
CAP_RANGE = (0.3, 1.5)  # learned capacity / design capacity (matches state.CAPACITY_RANGE)
GATE_SIGMAS = 4.0  # a pair of anchors this far from everything known is not used (a bad anchor, an event)


@dataclass
class Anchor:
    """SoC of every cell known from voltage alone (rest, full, empty), and the charge counter then."""

    stamp: float
    soc: np.ndarray  # per cell, NaN where the voltage said too little
    var: np.ndarray  # per cell
    ah: float  # net charge counter (raw current readings), Ah
    offset_var: float  # the filter's current offset variance then, A^2 (diagnostics; the counter is raw)
    kind: str


class CapacityEstimator:
    """Capacity (Ah, the string's cell capacity) by a Kalman filter over pairs of SoC anchors.

    Between two anchors the raw charge counter moved by ``dAh = C * (s_new - s_ref) + b * dt + noise`` where
    ``s`` are the true SoCs, ``C`` the capacity and ``b`` the current sensor's offset (the counter integrates
    raw readings: the voltage filter's offset estimate already assumes a capacity). The anchors' SoCs are read
    from voltage with errors ``e_ref``, ``e_new``. The state is ``[C, b, e_ref]``: the reference anchor's error
    is carried, so the next pair, which shares that anchor, is not counted as independent (a rest between a
    drive and a charge enters both pairs with the same sign), and a constant offset is told apart from the
    capacity by discharge and charge pairs together (its sign does not follow the current's).

    A new anchor whose SoC differs by at least ``min_delta`` from the reference (median over the cells both
    read) is a pair: the filter is updated and the new anchor becomes the reference. A smaller swing leaves
    the reference where it is, so swings made of several anchors accumulate until they are large enough,
    unless it is the more precise reading (then it becomes the reference, the older one's error forgotten).
    """

    def __init__(
        self,
        design_ah: float,
        min_delta: float,
        drift_per_cycle: float,
        gain_error: float,
        offset_std_a: float | None = None,
        offset_drift_a: float | None = None,
    ):
        self.design_ah = design_ah
        self.min_delta = min_delta
        self.drift = drift_per_cycle
        self.gain_error = gain_error
        self.offset_drift_a = 0.001 * design_ah if offset_drift_a is None else offset_drift_a  # A per sqrt(h)
        off_std = 0.004 * design_ah if offset_std_a is None else offset_std_a
        self.x = np.array([design_ah, 0.0, 0.0])  # capacity Ah, counter offset A, reference anchor's SoC error
        self.p = np.diag([(PRIOR_REL_STD * design_ah) ** 2, off_std**2, 0.0])
        self.anchor: Anchor | None = None  # the latest anchor seen (for diagnostics)
        self.ref: Anchor | None = None  # the reference anchor (soc, var per cell; ah, stamp)
        self.updates = 0
        self.rejected = 0

    @property
    def capacity_ah(self) -> float:
        return float(self.x[0])

    @capacity_ah.setter
    def capacity_ah(self, value: float) -> None:
        self.x[0] = value

    @property
    def var(self) -> float:
        """Capacity variance, Ah^2."""
        return float(self.p[0, 0])

    @var.setter
    def var(self, value: float) -> None:
        self.p[0, :] = self.p[:, 0] = 0.0
        self.p[0, 0] = value

    @property
    def std(self) -> float:
        return math.sqrt(max(self.var, 0.0))

    def age(self, cycles: float) -> None:
        """Capacity may have drifted over ``cycles`` equivalent full cycles."""
        self.p[0, 0] += (self.drift * self.capacity_ah) ** 2 * max(cycles, 0.0)

    def _new_reference(self, a: Anchor) -> None:
        seen = np.isfinite(a.soc) & np.isfinite(a.var)
        self.ref = Anchor(
            a.stamp, np.where(seen, a.soc, np.nan), np.where(seen, a.var, np.nan), a.ah, a.offset_var, a.kind
        )
        self.x[2] = 0.0
        self.p[2, :] = self.p[:, 2] = 0.0
        self.p[2, 2] = float(np.median(a.var[seen])) if seen.any() else 0.0

    def add_anchor(self, a: Anchor) -> float | None:
        """Record an anchor; returns the capacity the pair it closes says (dAh / dSoC), if it closed one."""
        self.anchor = a
        ref = self.ref
        seen = np.isfinite(a.soc) & np.isfinite(a.var)
        if ref is None or ref.soc.shape != a.soc.shape:
            self._new_reference(a)
            return None
        common = seen & np.isfinite(ref.soc)
        if not common.any():
            if seen.sum() > np.isfinite(ref.soc).sum():
                self._new_reference(a)
            return None
        ds = float(np.median(a.soc[common] - ref.soc[common]))
        if abs(ds) < self.min_delta:
            # too small a swing: keep the reference, the next anchor may make it large enough; but a more
            # precise reading of about the same SoC (a rest on the dock after the full anchor) replaces it
            if float(np.median(a.var[common])) < float(np.median(ref.var[common])):
                self._new_reference(a)
            return None
        dah = a.ah - ref.ah
        dt_h = max(a.stamp - ref.stamp, 0.0) / 3600.0
        self.p[1, 1] += self.offset_drift_a**2 * dt_h
        c_obs = self._update(ds, dah, dt_h, float(np.median(a.var[common])))
        self._new_reference(a) if c_obs is None else self._keep_new_error(a)
        return c_obs

    def _update(self, ds: float, dah: float, dt_h: float, var_new: float) -> float | None:
        """One pair: the extended state [C, b, e_ref, e_new], updated with dAh; None if gated out."""
        x = np.append(self.x, 0.0)
        p = np.zeros((4, 4))
        p[:3, :3] = self.p
        p[3, 3] = var_new
        c, b, e_ref = x[0], x[1], x[2]
        ds_true = ds + e_ref  # true SoC swing, as far as known (e_new has mean 0)
        h = np.array([ds_true, dt_h, c, -c])
        r = (self.gain_error * dah) ** 2
        y = dah - (c * ds_true + b * dt_h)
        s = float(h @ p @ h) + r
        if not (s > 0.0 and y * y <= GATE_SIGMAS**2 * s):
            self.rejected += 1
            return None
        k = p @ h / s
        x = x + k * y
        p = p - np.outer(k, h @ p)
        p = 0.5 * (p + p.T)
        keep = [0, 1, 3]
        self.x = x[keep]
        self.p = p[np.ix_(keep, keep)]
        lo, hi = CAP_RANGE
        self.x[0] = min(max(self.x[0], lo * self.design_ah), hi * self.design_ah)
        self.updates += 1
        obs = (dah - b * dt_h) / ds
        return obs if math.isfinite(obs) else None

    def _keep_new_error(self, a: Anchor) -> None:
        """The new anchor becomes the reference; its error (now state 3) stays correlated with C and b."""
        seen = np.isfinite(a.soc) & np.isfinite(a.var)
        self.ref = Anchor(
            a.stamp, np.where(seen, a.soc, np.nan), np.where(seen, a.var, np.nan), a.ah, a.offset_var, a.kind
        )


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
