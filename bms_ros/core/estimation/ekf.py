"""Extended Kalman filter for the SoC of every cell of a series pack, on a 2-RC equivalent circuit.

State ``x = [soc_1..soc_N, v1_1..v1_N, v2_1..v2_N, b]``: per-cell SoC and RC-pair voltages, and one current
sensor offset ``b`` shared by the string (measured current = true current + b). One dense covariance over all
cells keeps the offset's correlation with every cell; the structure of F and H (diagonal blocks plus the
offset column) is used so a step costs O(n^2) vector operations plus one N x N solve.

Model (I > 0 charging, true current I_t = I_meas - b):
    soc' = soc + I_t dt / (3600 C)
    v_k' = a_k v_k + R_k (1 - a_k) I_t,   a_k = exp(-dt / tau_k),  k = 1, 2
    V    = OCV(soc, T) + v1 + v2 + R0 I_t
"""
from __future__ import annotations

import math

import numpy as np

from bms_ros.core.chemistry import Chemistry


class CellEkf:
    def __init__(self, n_cells: int, chem: Chemistry):
        self.n = n_cells
        self.chem = chem
        n = n_cells
        self.dim = 3 * n + 1
        self.x = np.zeros(self.dim)
        self.P = np.zeros((self.dim, self.dim))
        self._s = slice(0, n)
        self._v1 = slice(n, 2 * n)
        self._v2 = slice(2 * n, 3 * n)
        self.ib = 3 * n
        self.last_nis = np.zeros(n)          # normalised innovation squared per cell, last update
        self.bias_ema = np.zeros(n)          # EMA of the signed normalised innovation (persistent bias)
        self.bias_v = np.zeros(n)            # EMA of the innovation, V
        self.outlier_run = np.zeros(n, dtype=int)  # consecutive samples beyond the outlier bound

    # --- state access ---------------------------------------------------------------------------------
    def init(self, soc: np.ndarray, soc_std: np.ndarray | float, offset: float = 0.0, offset_std: float = 0.0,
             v_rc: tuple[np.ndarray, np.ndarray] | None = None, rc_std: float = 0.004) -> None:
        n = self.n
        self.x[:] = 0.0
        self.x[self._s] = soc
        if v_rc is not None:
            self.x[self._v1], self.x[self._v2] = v_rc
        self.x[self.ib] = offset
        self.P[:] = 0.0
        idx = np.arange(n)
        self.P[idx, idx] = np.broadcast_to(np.asarray(soc_std, dtype=float) ** 2, (n,))
        self.P[idx + n, idx + n] = rc_std ** 2
        self.P[idx + 2 * n, idx + 2 * n] = rc_std ** 2
        self.P[self.ib, self.ib] = offset_std ** 2
        self.bias_ema[:] = 0.0
        self.bias_v[:] = 0.0

    @property
    def soc(self) -> np.ndarray:
        return self.x[self._s]

    @property
    def soc_var(self) -> np.ndarray:
        return np.diagonal(self.P)[self._s]

    @property
    def v1(self) -> np.ndarray:
        return self.x[self._v1]

    @property
    def v2(self) -> np.ndarray:
        return self.x[self._v2]

    @property
    def offset(self) -> float:
        return float(self.x[self.ib])

    @property
    def offset_var(self) -> float:
        return float(self.P[self.ib, self.ib])

    # --- predict --------------------------------------------------------------------------------------
    def predict(self, i_meas: float, dt: float, cap_ah: np.ndarray, r1: np.ndarray, r2: np.ndarray,
                q_soc: np.ndarray, q_v1: np.ndarray, q_v2: np.ndarray, q_offset: float) -> None:
        """Advance by ``dt`` s with measured current ``i_meas``; r1, r2 in ohm per cell; q_* are the process
        variances added over this step (per cell for q_soc, q_v1, q_v2)."""
        n, x = self.n, self.x
        it = i_meas - x[self.ib]
        ks = dt / (3600.0 * cap_ah)
        a1 = math.exp(-dt / self.chem.tau1_s)
        a2 = math.exp(-dt / self.chem.tau2_s)
        x[self._s] += it * ks
        x[self._v1] = a1 * x[self._v1] + r1 * (1.0 - a1) * it
        x[self._v2] = a2 * x[self._v2] + r2 * (1.0 - a2) * it
        # F = diag(d) + c e_b^T  (the offset column c; c_b = 0)
        d = np.empty(self.dim)
        d[self._s] = 1.0
        d[self._v1] = a1
        d[self._v2] = a2
        d[self.ib] = 1.0
        c = np.zeros(self.dim)
        c[self._s] = -ks
        c[self._v1] = -r1 * (1.0 - a1)
        c[self._v2] = -r2 * (1.0 - a2)
        P = self.P
        pb = P[:, self.ib].copy()
        pbb = P[self.ib, self.ib]
        P *= d[:, None]
        P *= d[None, :]
        u = d * pb
        P += np.outer(u, c)
        P += np.outer(c, u)
        P += pbb * np.outer(c, c)
        idx = np.arange(n)
        P[idx, idx] += q_soc
        P[idx + n, idx + n] += q_v1
        P[idx + 2 * n, idx + 2 * n] += q_v2
        P[self.ib, self.ib] += q_offset

    # --- voltage measurement --------------------------------------------------------------------------
    def update_voltage(self, v_meas: np.ndarray, i_meas: float, temp_c: float, r0: np.ndarray,
                       r_var: np.ndarray, outlier_sigma: float, bias_alpha: float) -> np.ndarray:
        """Correct with the cell voltages (NaN entries skipped). ``r0`` ohm per cell, ``r_var`` measurement
        variance per cell. Returns the innovation (V, NaN where skipped)."""
        n, x = self.n, self.x
        soc = x[self._s]
        it = i_meas - x[self.ib]
        ocv = self.chem.ocv(soc, temp_c)
        slope = self.chem.docv_dsoc(soc, temp_c)
        # linear extrapolation outside 0..1 keeps the filter observable there
        ocv = ocv + np.where(soc < 0, soc, np.where(soc > 1, soc - 1, 0.0)) * slope
        v_pred = ocv + x[self._v1] + x[self._v2] + r0 * it
        y = v_meas - v_pred
        ok = np.isfinite(y)
        innov = np.full(n, np.nan)
        if not ok.any():
            return innov
        P = self.P
        if ok.all():   # views instead of fancy-index copies on the common path
            rows, r1, r2 = self._s, self._v1, self._v2
        else:
            rows = np.flatnonzero(ok)
            r1, r2 = rows + n, rows + 2 * n
        hs, hb = slope[rows], -r0[rows]
        # PHt = P H^T, n x m
        PHt = P[:, rows] * hs[None, :]
        PHt += P[:, r1]
        PHt += P[:, r2]
        PHt += P[:, self.ib][:, None] * hb[None, :]
        S = hs[:, None] * PHt[rows, :]
        S += PHt[r1, :]
        S += PHt[r2, :]
        S += hb[:, None] * PHt[self.ib, :]
        R = r_var[rows].copy()
        sdiag = np.diagonal(S) + R
        yr = y[rows]
        nis = yr ** 2 / sdiag
        self.last_nis[rows] = nis
        z = yr / np.sqrt(sdiag)
        self.bias_ema[rows] += bias_alpha * (np.minimum(np.maximum(z, -10.0), 10.0) - self.bias_ema[rows])
        self.bias_v[rows] += bias_alpha * (yr - self.bias_v[rows])
        # Huber-like down-weighting of outliers (spikes, glitches): inflate R so the innovation sits at the bound
        big = nis > outlier_sigma ** 2
        self.outlier_run[rows] = np.where(nis > 9.0, self.outlier_run[rows] + 1, 0)   # beyond 3 sigma
        if big.any():
            R[big] = sdiag[big] * (nis[big] / outlier_sigma ** 2) - np.diagonal(S)[big]
        S[np.diag_indices_from(S)] += R
        S += S.T
        S *= 0.5
        try:
            K = np.linalg.solve(S, PHt.T).T  # n x m
        except np.linalg.LinAlgError:
            return innov
        x += K @ yr
        P -= K @ PHt.T
        self._condition()
        innov[rows] = yr
        return innov

    # --- pseudo-measurements --------------------------------------------------------------------------
    def update_soc(self, soc_meas: np.ndarray, soc_var: np.ndarray) -> None:
        """Direct SoC observations (anchors, rested OCV); NaN entries skipped."""
        ok = np.isfinite(soc_meas) & np.isfinite(soc_var)
        if not ok.any():
            return
        rows = np.flatnonzero(ok)
        P = self.P
        PHt = P[:, rows]
        S = PHt[rows, :] + np.diag(soc_var[rows])
        K = np.linalg.solve(S, PHt.T).T
        self.x += K @ (soc_meas[rows] - self.x[rows])
        P -= K @ PHt.T
        self._condition()

    def update_offset(self, offset_meas: float, var: float) -> None:
        """A direct observation of the current offset (the true current is known to be zero)."""
        P = self.P
        ph = P[:, self.ib].copy()
        s = ph[self.ib] + var
        if s <= 0:
            return
        k = ph / s
        self.x += k * (offset_meas - self.x[self.ib])
        P -= np.outer(k, ph)
        self._condition()

    def inflate_soc(self, idx: np.ndarray, var_floor: np.ndarray) -> None:
        """Raise the SoC variance of cells ``idx`` to at least ``var_floor`` (cross terms scaled to match)."""
        n = self.n
        for i, floor in zip(idx, var_floor, strict=False):
            pii = self.P[i, i]
            if floor > pii > 0:
                f = math.sqrt(floor / pii)
                self.P[i, :] *= f
                self.P[:, i] *= f
            elif pii <= 0:
                self.P[i, i] = floor
        self.bias_ema[idx % n] = 0.0
        self.bias_v[idx % n] = 0.0
        self.outlier_run[idx % n] = 0

    def _condition(self) -> None:
        P = self.P
        P += P.T
        P *= 0.5
        d = np.diagonal(P)
        if np.any(d < 1e-12):
            idx = np.flatnonzero(d < 1e-12)
            P[idx, idx] = 1e-12
