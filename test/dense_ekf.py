"""Test oracle: the dense (3N+1)-state CellEkf as it was before the factorised filter (ISSUE 15), verbatim,
plus the few state edits the estimator used to make on ``x`` and ``P`` inline, as methods with the new filter's
names. Only tests use it: it is the reference the factorised filter is held to (test_ekf_factorised.py).

Extended Kalman filter for the SoC of every cell of a series pack, on a 2-RC equivalent circuit.

State ``x = [soc_1..soc_N, v1_1..v1_N, v2_1..v2_N, b]``: per-cell SoC and RC-pair voltages, and one current
sensor offset ``b`` shared by the string (measured current = true current + b). One dense covariance over all
cells keeps the offset's correlation with every cell. F is diagonal plus the offset column, so the covariance
prediction is one elementwise scaling (cached per step length) and one rank-2 update; the correction is two
small matrix products, one N x N inverse and one rank-N update on preallocated buffers (the cost of a step is
mostly numpy call overhead, so the number of calls is what is kept small). The caller chooses R0, R1, R2 per
step (they may depend on the current's direction) and may let the slow RC state carry persistent model error
through its process noise.

Model (I > 0 charging, true current I_t = I_meas - b):
    soc' = soc + I_t dt / (3600 C)
    v_k' = a_k v_k + R_k (1 - a_k) I_t,   a_k = exp(-dt / tau_k),  k = 1, 2
    V    = OCV(soc, T) + v1 + v2 + R0 I_t
"""

from __future__ import annotations

import math

import numpy as np

from bms_ros.core.chemistry import Chemistry


class DenseCellEkf:
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
        self.last_nis = np.zeros(n)  # normalised innovation squared per cell, last update
        self.bias_ema = np.zeros(n)  # EMA of the signed normalised innovation (persistent bias)
        self.bias_v = np.zeros(n)  # EMA of the innovation, V
        self.outlier_run = np.zeros(n, dtype=int)  # consecutive samples beyond the outlier bound
        # preallocated work buffers (the step is dominated by per-call overhead, not arithmetic)
        self._f_cache: tuple | None = None
        self._c = np.zeros(self.dim)
        self._q = np.zeros(self.dim)
        self._uc = np.zeros((self.dim, 2))
        self._cu = np.zeros((2, self.dim))
        self._pdiag = self.P.reshape(-1)[:: self.dim + 1]  # view of P's diagonal (P is never rebound)
        # the measurement matrix H = [diag(slope), I, I, -r0], kept as its transpose in a C-contiguous buffer
        # (the products take P @ H^T without a strided operand)
        self._Ht = np.ascontiguousarray(self._H_full().T)
        self._h_soc = self._Ht.reshape(-1)[:: n + 1][:n]  # view of its slope entries
        self._h_b = self._Ht[self.ib]  # view of its offset column (a row of H^T)
        self._sym = np.zeros((self.dim, self.dim))  # scratch for the symmetrisation

    # --- state access ---------------------------------------------------------------------------------
    def init(
        self,
        soc: np.ndarray,
        soc_std: np.ndarray | float,
        offset: float = 0.0,
        offset_std: float = 0.0,
        v_rc: tuple[np.ndarray, np.ndarray] | None = None,
        rc_std: float = 0.004,
    ) -> None:
        n = self.n
        self.x[:] = 0.0
        self.x[self._s] = soc
        if v_rc is not None:
            self.x[self._v1], self.x[self._v2] = v_rc
        self.x[self.ib] = offset
        self.P[:] = 0.0
        idx = np.arange(n)
        self.P[idx, idx] = np.broadcast_to(np.asarray(soc_std, dtype=float) ** 2, (n,))
        self.P[idx + n, idx + n] = rc_std**2
        self.P[idx + 2 * n, idx + 2 * n] = rc_std**2
        self.P[self.ib, self.ib] = offset_std**2
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
    def _transition(self, dt: float) -> tuple[float, float, np.ndarray]:
        """(a1, a2, outer(d, d)) of the diagonal part of F for a step of ``dt`` (cached: dt rarely changes)."""
        c = self._f_cache
        if c is not None and abs(c[0] - dt) <= 1e-9 * dt:
            return c[1], c[2], c[3]
        n = self.n
        a1 = math.exp(-dt / self.chem.tau1_s)
        a2 = math.exp(-dt / self.chem.tau2_s)
        d = np.ones(self.dim)
        d[n : 2 * n] = a1
        d[2 * n : 3 * n] = a2
        dd = np.outer(d, d)
        self._f_cache = (dt, a1, a2, dd, d)
        return a1, a2, dd

    def predict(
        self,
        i_meas: float,
        dt: float,
        cap_ah: np.ndarray,
        r1: np.ndarray,
        r2: np.ndarray,
        q_soc: np.ndarray,
        q_v1: np.ndarray,
        q_v2: np.ndarray,
        q_offset: float,
    ) -> None:
        """Advance by ``dt`` s with measured current ``i_meas``; r1, r2 in ohm per cell; q_* are the process
        variances added over this step (per cell for q_soc, q_v1, q_v2)."""
        n, x = self.n, self.x
        it = i_meas - x[self.ib]
        a1, a2, dd = self._transition(dt)
        d = self._f_cache[4]
        # F = diag(d) + c e_b^T  (the offset column c; c_b = 0)
        c = self._c
        np.divide(-dt, 3600.0 * cap_ah, out=c[:n])
        np.multiply(r1, -(1.0 - a1), out=c[n : 2 * n])
        np.multiply(r2, -(1.0 - a2), out=c[2 * n : 3 * n])
        # x' = D x - c I_t, on the whole vector at once (d = 1 on the SoC and offset entries, c_b = 0)
        x *= d
        x -= c * it
        # P' = D P D + u c^T + c u^T + pbb c c^T = D P D + [u c] [c, u + pbb c]^T,   u = D P e_b
        P = self.P
        uc, cu = self._uc, self._cu
        np.multiply(d, P[:, self.ib], out=uc[:, 0])
        uc[:, 1] = c
        cu[0] = c
        np.multiply(c, P[self.ib, self.ib], out=cu[1])
        cu[1] += uc[:, 0]
        P *= dd
        P += uc @ cu
        q = self._q
        q[:n] = q_soc
        q[n : 2 * n] = q_v1
        q[2 * n : 3 * n] = q_v2
        q[self.ib] = q_offset
        self._pdiag += q

    # --- voltage measurement --------------------------------------------------------------------------
    def update_voltage(
        self,
        v_meas: np.ndarray,
        i_meas: float,
        temp_c: float,
        r0: np.ndarray,
        r_var: np.ndarray,
        outlier_sigma: float,
        bias_alpha: float,
        flat_slope: float = 0.0,
        r_bias: np.ndarray | None = None,
        soc_shift: float | np.ndarray = 0.0,
    ) -> np.ndarray:
        """Correct with the cell voltages (NaN entries skipped). ``r0`` ohm per cell, ``r_var`` measurement
        variance per cell, scaled by ``(flat_slope / slope)^2`` where the OCV is flatter than ``flat_slope``
        (V per unit SoC): there a few mV of model error are many points of SoC. ``r_bias`` is the variance of
        the error that persists (default ``r_var``): the bias monitor compares the innovation's running mean with
        it, since a persistent error does not average out the way ``r_var``'s per-sample share does.
        ``soc_shift`` is the known surface-minus-average SoC per cell (solid diffusion): the OCV is read there.
        Returns the innovation (V, NaN where skipped)."""
        n, x = self.n, self.x
        soc = x[:n]
        it = i_meas - x[self.ib]
        ocv, slope = self.chem.ocv_and_slope(soc + soc_shift, temp_c)
        v_pred = ocv + x[n : 2 * n] + x[2 * n : 3 * n] + r0 * it
        y = v_meas - v_pred
        if flat_slope > 0.0:
            f = flat_slope / np.maximum(slope, 1e-6)
            f *= f
            np.maximum(f, 1.0, out=f)
            r_var = r_var * f
            if r_bias is not None:
                r_bias = r_bias * f
        all_ok = math.isfinite(float(y.sum()))
        ok = None if all_ok else np.isfinite(y)
        if all_ok:
            Ht = self._Ht
            np.copyto(self._h_soc, slope)
            np.negative(r0, out=self._h_b)
            yr = y
            R = r_var if isinstance(r_var, np.ndarray) and r_var.shape == (n,) else np.full(n, r_var)
            Rb = (
                R
                if r_bias is None
                else (
                    r_bias if isinstance(r_bias, np.ndarray) and r_bias.shape == (n,) else np.broadcast_to(r_bias, (n,))
                )
            )
            rows = None
        else:
            if not ok.any():
                return np.full(n, np.nan)
            rows = np.flatnonzero(ok)
            H = self._H_full()
            H[np.arange(n), np.arange(n)] = slope
            H[:, self.ib] = -r0
            Ht = H[rows].T
            yr = y[rows]
            R = np.broadcast_to(np.asarray(r_var, dtype=float), (n,))[rows]
            Rb = R if r_bias is None else np.broadcast_to(np.asarray(r_bias, dtype=float), (n,))[rows]
        P = self.P
        PHt = P @ Ht  # dim x m
        S = Ht.T @ PHt
        S_diag = S.reshape(-1)[:: S.shape[0] + 1]  # a view (S is a new contiguous array)
        hph = S_diag.copy()
        sdiag = hph + R
        nis = yr * yr / sdiag
        z = yr / np.sqrt(hph + Rb)
        np.minimum(np.maximum(z, -10.0, out=z), 10.0, out=z)
        if rows is None:
            self.last_nis[:] = nis
            self.bias_ema += bias_alpha * (z - self.bias_ema)
            self.bias_v += bias_alpha * (yr - self.bias_v)
            self.outlier_run += 1
            self.outlier_run[nis <= 9.0] = 0  # beyond 3 sigma counts
        else:
            self.last_nis[rows] = nis
            self.bias_ema[rows] += bias_alpha * (z - self.bias_ema[rows])
            self.bias_v[rows] += bias_alpha * (yr - self.bias_v[rows])
            self.outlier_run[rows] = np.where(nis > 9.0, self.outlier_run[rows] + 1, 0)
        # innovations beyond the outlier bound are not used: a spike or glitch is ignored, and a wrong state
        # keeps its innovation (rather than leaking it into the RC states) until the caller's monitor acts on
        # the run of outliers
        big = nis > outlier_sigma * outlier_sigma
        if big.any():
            R = R.copy()
            R[big] = sdiag[big] * 1e6
        S_diag += R
        try:  # K = PHt S^-1, as one solve (cheaper than an inverse and a product)
            K = np.linalg.solve(S, PHt.T).T  # dim x m
        except np.linalg.LinAlgError:
            return np.full(n, np.nan)
        x += K @ yr
        P -= K @ PHt.T
        self._condition()
        return y if ok is None else np.where(ok, y, np.nan)

    def _H_full(self) -> np.ndarray:
        n = self.n
        H = np.zeros((n, self.dim))
        idx = np.arange(n)
        H[idx, idx + n] = 1.0
        H[idx, idx + 2 * n] = 1.0
        return H

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
        """Symmetrise P (rounding makes the updates drift apart) and floor its diagonal at 1e-12. The sum goes
        to a scratch buffer: ``P += P.T`` overlaps its operands, which makes numpy copy P.T first."""
        P, sym = self.P, self._sym
        np.add(P, P.T, out=sym)
        np.multiply(sym, 0.5, out=P)
        np.maximum(self._pdiag, 1e-12, out=self._pdiag)  # a no-op where already above (NaN stays NaN)

    # --- the estimator's former inline edits (estimator.py before ISSUE 15), as methods ---------------------
    def clamp_offset(self, lim: float) -> None:
        self.x[self.ib] = min(max(self.x[self.ib], -lim), lim)

    def clamp_rc(self, lo1: np.ndarray, hi1: np.ndarray, lo2: np.ndarray, hi2: np.ndarray) -> None:
        n, x = self.n, self.x
        v1, v2 = x[n : 2 * n], x[2 * n : 3 * n]
        np.minimum(np.maximum(v1, lo1, out=v1), hi1, out=v1)
        np.minimum(np.maximum(v2, lo2, out=v2), hi2, out=v2)

    def floor_rc_slow_var(self, var: float) -> None:
        idx = np.arange(2 * self.n, 3 * self.n)
        self.P[idx, idx] = np.maximum(self.P[idx, idx], var)

    def reset_soc(self, idx: np.ndarray, soc: np.ndarray, var: np.ndarray) -> None:
        self.x[idx] = soc[idx]
        self.P[idx, :] = 0.0
        self.P[:, idx] = 0.0
        self.P[idx, idx] = var[idx]

    @property
    def soc_cov(self) -> np.ndarray:
        return self.P[: self.n, : self.n]
