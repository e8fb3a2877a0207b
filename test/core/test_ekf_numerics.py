"""CellEkf's structured numerics (diagonal-plus-column F, rank-2 covariance prediction, one solve for the gain,
buffered symmetrisation) equal the textbook dense EKF to rounding, on random states, covariances and inputs,
with and without a missing cell voltage."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.estimation.ekf import CellEkf

N = 5
CHEM = get_chemistry("nmc")


def _random_filter(rng: np.random.Generator) -> CellEkf:
    ekf = CellEkf(N, CHEM)
    ekf.init(rng.uniform(0.1, 0.9, N), 0.05, offset=rng.normal(0, 0.05), offset_std=0.02)
    ekf.x[N:3 * N] = rng.normal(0, 0.01, 2 * N)
    a = rng.normal(0, 1e-3, (ekf.dim, ekf.dim))
    ekf.P[:] = a @ a.T + np.diag(rng.uniform(1e-6, 1e-3, ekf.dim))
    return ekf


def _dense_predict(ekf: CellEkf, i_meas: float, dt: float, cap: np.ndarray, r1: np.ndarray, r2: np.ndarray,
                   q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, x, ib = N, ekf.x.copy(), ekf.ib
    a1, a2 = math.exp(-dt / CHEM.tau1_s), math.exp(-dt / CHEM.tau2_s)
    d = np.concatenate([np.ones(n), np.full(n, a1), np.full(n, a2), [1.0]])
    c = np.concatenate([-dt / (3600.0 * cap), -r1 * (1 - a1), -r2 * (1 - a2), [0.0]])
    it = i_meas - x[ib]
    F = np.diag(d)
    F[:, ib] += c                       # d x'/d b: the true current is i_meas - b
    return d * x - c * it, F @ ekf.P @ F.T + np.diag(q)


def _dense_update(ekf: CellEkf, v: np.ndarray, i_meas: float, temp: float, r0: np.ndarray, r_var: np.ndarray,
                  flat_slope: float) -> tuple[np.ndarray, np.ndarray]:
    n, x, P, ib = N, ekf.x.copy(), ekf.P.copy(), ekf.ib
    ocv, slope = CHEM.ocv_and_slope(x[:n].copy(), temp)
    it = i_meas - x[ib]
    y = v - (ocv + x[n:2 * n] + x[2 * n:3 * n] + r0 * it)
    R = r_var * np.maximum((flat_slope / np.maximum(slope, 1e-6)) ** 2, 1.0) if flat_slope > 0 else r_var
    H = np.zeros((n, ekf.dim))
    H[np.arange(n), np.arange(n)] = slope
    H[np.arange(n), np.arange(n) + n] = 1.0
    H[np.arange(n), np.arange(n) + 2 * n] = 1.0
    H[:, ib] = -r0
    ok = np.isfinite(y)
    H, y, R = H[ok], y[ok], R[ok]
    S = H @ P @ H.T + np.diag(R)
    K = P @ H.T @ np.linalg.inv(S)
    P = P - K @ H @ P
    return x + K @ y, 0.5 * (P + P.T)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.1, 1.0, 7.3]), st.floats(-30.0, 20.0),
       st.sampled_from([0.0, 0.5]), st.booleans())
def test_predict_and_update_equal_the_dense_ekf(seed: int, dt: float, i_meas: float, flat_slope: float,
                                                 missing_cell: bool) -> None:
    rng = np.random.default_rng(seed)
    ekf = _random_filter(rng)
    cap = np.full(N, 20.0)
    r1, r2 = rng.uniform(1e-3, 3e-3, N), rng.uniform(1e-3, 3e-3, N)
    q = rng.uniform(1e-10, 1e-7, ekf.dim)
    x_ref, p_ref = _dense_predict(ekf, i_meas, dt, cap, r1, r2, q)
    ekf.predict(i_meas, dt, cap, r1, r2, q[:N], q[N:2 * N], q[2 * N:3 * N], float(q[ekf.ib]))
    np.testing.assert_allclose(ekf.x, x_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ekf.P, p_ref, rtol=1e-9, atol=1e-15)

    r0 = rng.uniform(1e-3, 3e-3, N)
    v = CHEM.ocv(ekf.x[:N]) + rng.normal(0, 0.003, N)
    if missing_cell:
        v[2] = math.nan
    r_var = np.full(N, 1e-4)            # wide: no sample is an outlier (outliers are the caller's business)
    x_ref, p_ref = _dense_update(ekf, v, i_meas, 25.0, r0, r_var, flat_slope)
    innov = ekf.update_voltage(v, i_meas, 25.0, r0, r_var, outlier_sigma=100.0, bias_alpha=0.1,
                               flat_slope=flat_slope)
    assert np.isnan(innov[2]) == missing_cell
    np.testing.assert_allclose(ekf.x, x_ref, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(ekf.P, p_ref, rtol=1e-7, atol=1e-14)
    np.testing.assert_array_equal(ekf.P, ekf.P.T)
