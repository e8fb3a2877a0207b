"""Extended Kalman filter for the SoC of every cell of a series pack, on a 2-RC equivalent circuit, in O(N).

State: per cell ``x_i = (soc_i, v1_i, v2_i)`` (SoC and the two RC-pair voltages), and one current sensor offset
``b`` shared by the string (measured current = true current + b). The mean is kept as one vector
``x = [soc_1..soc_N, v1_1..v1_N, v2_1..v2_N, b]``.

Why factorised: the cells meet only through the offset, so given ``b`` they are independent. The covariance of
all 3N+1 states is therefore carried as

    x_i = m_i + g_i (b - b_hat) + e_i,    e_i ~ N(0, C_i) independent of each other and of b ~ N(b_hat, p)

i.e. ``P_ii = C_i + g_i p g_i^T``, ``P_ij = g_i p g_j^T`` (i != j), ``P_ib = g_i p``: per cell a 3-vector gain
on the offset and a 3 x 3 covariance, a fixed number of numpy calls on length-N arrays per step and no N x N
array. The dense (3N+1)-state filter is this form's special case, and every operation here is the dense
filter's operation carried out on the form (an exact Gaussian conditioning or linear map, so it stays in the
form):

- the prediction (diagonal transition plus the offset column) and the per-cell process noise;
- the voltage correction: the offset is updated from all cells' innovations at once (a scalar information
  sum), then each cell from its own (a 3 x 3 Kalman step); outliers and missing cells are handled per cell;
- SoC pseudo-measurements (anchors), a direct observation of the offset, scaling a cell's SoC deviation
  (``inflate_soc``: a linear map of that state), resetting a cell's SoC, clamping means.

One term is not exact: the offset's own random walk (``q_offset``). After it, the cells depend on the offset
*before* the step, which the new offset explains only in part. The form keeps every cell's own covariance and
every cell-offset covariance exact and drops the cross-cell part of a rank-one term of relative size
``q_offset / (p + q_offset)`` per step (with the default settings 2e-6 of the offset's prior variance per 0.1 s
step, more once the offset is well known). test_ekf_factorised.py checks each operation against the dense
filter, and whole recorded runs within 1e-5 in SoC and its sigma (measured: 3.5e-6 and 8e-8).

Model (I > 0 charging, true current I_t = I_meas - b):
    soc' = soc + I_t dt / (3600 C)
    v_k' = a_k v_k + R_k (1 - a_k) I_t,   a_k = exp(-dt / tau_k),  k = 1, 2
    V    = OCV(soc, T) + v1 + v2 + R0 I_t
"""

from __future__ import annotations

import math

import numpy as np

from bms_ros.core.chemistry import Chemistry

VAR_FLOOR = 1e-12  # least variance of any state (the dense filter's floor on the diagonal of P)
_OUTLIER_NIS = 9.0  # a normalised innovation squared beyond this (3 sigma) counts towards a run of outliers
_OUTLIER_DEWEIGHT = 1e6  # an outlier's measurement variance is multiplied by this (it is not used)


def _per_cell(v: np.ndarray | float, n: int) -> np.ndarray:
    """``v`` as n floats per cell (np.broadcast_to costs several times more for the usual array case)."""
    if isinstance(v, np.ndarray) and v.shape == (n,) and v.dtype == np.float64:
        return v
    return np.broadcast_to(np.asarray(v, dtype=float), (n,))


class SocCov:
    """``cov[i, j]`` of the cells' SoCs, read from the factorised form (two entries are all pack_soc needs)."""

    __slots__ = ("_ekf",)

    def __init__(self, ekf: CellEkf):
        self._ekf = ekf

    def __getitem__(self, ij: tuple[int, int]) -> float:
        i, j = ij
        e = self._ekf
        g = e.G[0]
        c = float(e.C[0, 0, i]) if i == j else 0.0
        return c + float(g[i]) * float(g[j]) * e.p


class CellEkf:
    def __init__(self, n_cells: int, chem: Chemistry):
        self.n = n_cells
        self.chem = chem
        n = n_cells
        self.dim = 3 * n + 1
        self.ib = 3 * n
        self.x = np.zeros(self.dim)  # means: soc, v1, v2 (per cell), offset
        self._X = self.x[: 3 * n].reshape(3, n)  # view: cell means as (component, cell)
        self.G = np.zeros((3, n))  # gain of each cell state on the offset, Cov(x_i, b) / p
        self.C = np.zeros((3, 3, n))  # covariance of each cell given the offset
        self._Cdiag = self.C.reshape(9, n)[::4]  # view: its diagonal, (3, n)
        self.p = 0.0  # offset variance, A^2
        self.last_nis = np.zeros(n)  # normalised innovation squared per cell, last update
        self.bias_ema = np.zeros(n)  # EMA of the signed normalised innovation (persistent bias)
        self.bias_v = np.zeros(n)  # EMA of the innovation, V
        self.outlier_run = np.zeros(n, dtype=int)  # consecutive samples beyond the outlier bound
        self._f_cache: tuple | None = None
        self.taus = (chem.tau1_s, chem.tau2_s)  # RC time constants (s); the estimator sets them per temperature
        self._c = np.zeros((3, n))
        self._H = np.ones((3, n))  # measurement row per cell: (slope, 1, 1)
        self.soc_cov = SocCov(self)

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
        self.x[:n] = soc
        if v_rc is not None:
            self.x[n : 2 * n], self.x[2 * n : 3 * n] = v_rc
        self.x[self.ib] = offset
        self.C[:] = 0.0
        self.G[:] = 0.0
        self._Cdiag[0] = np.asarray(soc_std, dtype=float) ** 2
        self._Cdiag[1:] = rc_std**2
        self.p = float(offset_std) ** 2
        self.bias_ema[:] = 0.0
        self.bias_v[:] = 0.0

    @property
    def soc(self) -> np.ndarray:
        return self.x[: self.n]

    @property
    def soc_var(self) -> np.ndarray:
        g = self.G[0]
        return self._Cdiag[0] + g * g * self.p

    @property
    def v1(self) -> np.ndarray:
        return self.x[self.n : 2 * self.n]

    @property
    def v2(self) -> np.ndarray:
        return self.x[2 * self.n : 3 * self.n]

    @property
    def offset(self) -> float:
        return float(self.x[self.ib])

    @property
    def offset_var(self) -> float:
        return self.p

    # --- predict --------------------------------------------------------------------------------------
    def _transition(self, dt: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        """(a1, a2, d, outer(d, d)) of the per-cell diagonal transition for a step of ``dt`` (cached)."""
        c = self._f_cache
        if c is not None and abs(c[0] - dt) <= 1e-9 * dt and c[5] == self.taus:
            return c[1:5]
        a1 = math.exp(-dt / self.taus[0])
        a2 = math.exp(-dt / self.taus[1])
        d = np.array([1.0, a1, a2])
        self._f_cache = (dt, a1, a2, d[:, None], np.outer(d, d)[:, :, None], self.taus)
        return self._f_cache[1:5]

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
        it = i_meas - self.x[self.ib]
        a1, a2, d, dd = self._transition(dt)
        c = self._c  # d x_i' / d b (the true current is i_meas - b)
        np.divide(-dt, 3600.0 * cap_ah, out=c[0])
        np.multiply(r1, -(1.0 - a1), out=c[1])
        np.multiply(r2, -(1.0 - a2), out=c[2])
        X = self._X
        X *= d
        X -= c * it
        h = d * self.G
        h += c  # x_i' = ... + h_i (b - b_hat) + D e_i + w_i
        C = self.C
        C *= dd
        cd = self._Cdiag
        cd[0] += q_soc
        cd[1] += q_v1
        cd[2] += q_v2
        p = self.p
        p_new = p + q_offset
        if p_new > 0.0:
            self.G = h * (p / p_new)
            if q_offset > 0.0 and p > 0.0:
                # the offset's random walk: the cells depend on the offset before it. Each cell keeps its own
                # covariance exactly; the cross-cell part of this term is what the form cannot hold
                C += (p * q_offset / p_new) * (h[:, None, :] * h[None, :, :])
        else:
            self.G = h
        self.p = p_new

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
        it = i_meas - x[self.ib]
        ocv, slope = self.chem.ocv_and_slope(x[:n] + soc_shift, temp_c)
        y = v_meas - (ocv + x[n : 2 * n] + x[2 * n : 3 * n] + r0 * it)
        R = _per_cell(r_var, n)
        Rb = R if r_bias is None else _per_cell(r_bias, n)
        if flat_slope > 0.0:
            f = flat_slope / np.maximum(slope, 1e-6)
            f *= f
            np.maximum(f, 1.0, out=f)
            R = R * f
            if r_bias is not None:
                Rb = Rb * f
        ok = None if math.isfinite(float(y.sum())) else np.isfinite(y)
        if ok is not None and not ok.any():
            return np.full(n, np.nan)
        H = self._H
        H[0] = slope
        u = (self.C * H).sum(axis=1)  # C_i H_i^T, (3, n)
        hch = (H * u).sum(axis=0)
        a = (H * self.G).sum(axis=0)
        a -= r0  # the innovation's gain on the offset
        hph = a * a
        hph *= self.p
        hph += hch  # H P H^T of the dense filter, per cell
        sdiag = hph + R
        if ok is None:
            yr = y
        else:
            rows = np.flatnonzero(ok)
            yr, hph, sdiag, R, Rb = y[rows], hph[rows], sdiag[rows], R[rows], Rb[rows]
        nis = yr * yr / sdiag
        z = yr / np.sqrt(hph + Rb)
        np.minimum(np.maximum(z, -10.0, out=z), 10.0, out=z)
        if ok is None:
            self.last_nis[:] = nis
            self.bias_ema += bias_alpha * (z - self.bias_ema)
            self.bias_v += bias_alpha * (yr - self.bias_v)
            self.outlier_run += 1
            self.outlier_run[nis <= _OUTLIER_NIS] = 0
        else:
            self.last_nis[rows] = nis
            self.bias_ema[rows] += bias_alpha * (z - self.bias_ema[rows])
            self.bias_v[rows] += bias_alpha * (yr - self.bias_v[rows])
            self.outlier_run[rows] = np.where(nis > _OUTLIER_NIS, self.outlier_run[rows] + 1, 0)
        # innovations beyond the outlier bound are not used: a spike or glitch is ignored, and a wrong state
        # keeps its innovation (rather than leaking it into the RC states) until the caller's monitor acts on
        # the run of outliers
        big = nis > outlier_sigma * outlier_sigma
        if big.any():
            R = R.copy()
            R[big] = sdiag[big] * _OUTLIER_DEWEIGHT
        if ok is None:
            s = hch + R
        else:
            s = np.full(n, math.inf)
            s[rows] = hch[rows] + R
            y = np.where(ok, y, 0.0)
        self._correct(u, s, a, y)
        return y if ok is None else np.where(ok, y, np.nan)

    def _correct(self, u: np.ndarray, s: np.ndarray, a: np.ndarray, y: np.ndarray) -> None:
        """The exact conditioning on one scalar observation per cell, ``y_i = H_i e_i + a_i (b - b_hat) +
        noise``: ``u = C_i H_i^T``, ``s = H_i C_i H_i^T + R_i`` (inf: no observation), ``a`` the gain on the
        offset. The offset first (information from all cells), then each cell given it."""
        w = a / s
        p = self.p
        p_new = p / (1.0 + p * float(w @ a))
        db = p_new * float(w @ y)
        K = u / s
        G = self.G
        G -= K * a
        X = self._X
        X += K * y
        X += G * db
        self.x[self.ib] += db
        uu = u[:, None, :] * u[None, :, :]
        uu /= s
        self.C -= uu
        self.p = max(p_new, VAR_FLOOR)
        self._floor()

    def _floor(self) -> None:
        """Floor every state's total variance at VAR_FLOOR, as the dense filter floors the diagonal of P (a
        no-op where already above)."""
        g2 = self.G * self.G
        g2 *= -self.p
        g2 += VAR_FLOOR
        np.maximum(self._Cdiag, g2, out=self._Cdiag)

    # --- pseudo-measurements --------------------------------------------------------------------------
    def update_soc(self, soc_meas: np.ndarray, soc_var: np.ndarray) -> None:
        """Direct SoC observations (anchors, rested OCV); NaN entries skipped."""
        ok = np.isfinite(soc_meas) & np.isfinite(soc_var)
        if not ok.any():
            return
        u = self.C[:, 0, :].copy()
        s = np.where(ok, u[0] + np.where(ok, soc_var, 0.0), math.inf)
        y = np.where(ok, soc_meas - self.x[: self.n], 0.0)
        self._correct(u, s, self.G[0].copy(), y)

    def update_offset(self, offset_meas: float, var: float) -> None:
        """A direct observation of the current offset (the true current is known to be zero)."""
        p = self.p
        s = p + var
        if s <= 0:
            return
        db = p / s * (offset_meas - self.x[self.ib])
        self._X += self.G * db
        self.x[self.ib] += db
        self.p = max(p * var / s, VAR_FLOOR)
        self._floor()

    def inflate_soc(self, idx: np.ndarray, var_floor: np.ndarray) -> None:
        """Raise the SoC variance of cells ``idx`` to at least ``var_floor`` by scaling their SoC deviation (all
        its covariances scale with it, as the dense filter scales row and column i of P)."""
        idx = np.asarray(idx, dtype=int) % self.n
        floor = np.broadcast_to(np.asarray(var_floor, dtype=float), idx.shape)
        pii = self.soc_var[idx]
        up = (floor > pii) & (pii > 0)
        if up.any():
            i = idx[up]
            f = np.sqrt(floor[up] / pii[up])
            self.C[0, :, i] *= f[:, None]
            self.C[:, 0, i] *= f
            self.G[0, i] *= f
        zero = pii <= 0
        if zero.any():
            self.C[0, 0, idx[zero]] = floor[zero]
        self.bias_ema[idx] = 0.0
        self.bias_v[idx] = 0.0
        self.outlier_run[idx] = 0

    # --- direct state edits (the estimator's bounds and resets) -----------------------------------------
    def clamp_offset(self, lim: float) -> None:
        """Keep the offset's mean within +-lim (its covariances stay as they are)."""
        self.x[self.ib] = min(max(self.x[self.ib], -lim), lim)

    def clamp_rc(self, lo1: np.ndarray, hi1: np.ndarray, lo2: np.ndarray, hi2: np.ndarray) -> None:
        """Keep the RC voltages' means within the given bounds (per cell)."""
        X = self._X
        np.minimum(np.maximum(X[1], lo1, out=X[1]), hi1, out=X[1])
        np.minimum(np.maximum(X[2], lo2, out=X[2]), hi2, out=X[2])

    def floor_rc_slow_var(self, var: float) -> None:
        """Raise the slow RC voltage's variance of every cell to at least ``var``."""
        g = self.G[2]
        np.maximum(self._Cdiag[2], var - g * g * self.p, out=self._Cdiag[2])

    def reset_soc(self, idx: np.ndarray, soc: np.ndarray, var: np.ndarray) -> None:
        """Set the SoC of cells ``idx`` to ``soc[idx]`` with variance ``var[idx]``, uncorrelated with anything."""
        self.x[idx] = soc[idx]
        self.C[0, :, idx] = 0.0
        self.C[:, 0, idx] = 0.0
        self.C[0, 0, idx] = var[idx]
        self.G[0, idx] = 0.0
