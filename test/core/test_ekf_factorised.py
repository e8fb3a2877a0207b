"""The factorised O(N) CellEkf against the dense (3N+1)-state filter it replaced (test/dense_ekf.py, verbatim).

Each operation, from the same random state in the factorised form, gives the dense filter's mean and
covariance to rounding; the one approximation (the offset's random walk) changes only the cross-cell
covariance, by exactly the dropped term. Whole estimator runs (NMC and LFP: drive, unknown time, rest anchor,
CC-CV charge to the full anchor, sensor faults) agree within 1e-5 in SoC and sigma.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from dense_ekf import DenseCellEkf
from drive_streams import drive_rest_charge
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_ros.config import load_config
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimator import StateEstimator

N = 5
CHEM = get_chemistry("nmc")


def dense_cov(e: CellEkf) -> np.ndarray:
    """The (3N+1) x (3N+1) covariance the factorised form stands for (test only: the filter never builds it)."""
    n = e.n
    gfull = np.append(e.G.reshape(-1), 1.0)  # [g_soc, g_v1, g_v2, 1]: every state's gain on b
    P = np.outer(gfull, gfull) * e.p
    for i in range(n):
        idx = [i, n + i, 2 * n + i]
        P[np.ix_(idx, idx)] += e.C[:, :, i]
    return P


def random_pair(rng: np.random.Generator, p: float = 4e-4) -> tuple[CellEkf, DenseCellEkf]:
    e = CellEkf(N, CHEM)
    e.init(rng.uniform(0.1, 0.9, N), 0.05, offset=rng.normal(0, 0.05), offset_std=math.sqrt(p))
    e.x[N : 3 * N] = rng.normal(0, 0.01, 2 * N)
    for i in range(N):
        a = rng.normal(0, 1e-2, (3, 3))
        e.C[:, :, i] = a @ a.T + np.diag(rng.uniform(1e-6, 1e-4, 3))
    e.G[:] = rng.normal(0, 0.05, (3, N))
    d = DenseCellEkf(N, CHEM)
    d.x[:] = e.x
    d.P[:] = dense_cov(e)
    return e, d


def assert_same(e: CellEkf, d: DenseCellEkf, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(e.x, d.x, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(dense_cov(e), d.P, rtol=1e-7, atol=1e-14)


def predict_args(rng: np.random.Generator, q_offset: float) -> tuple:
    q = rng.uniform(1e-10, 1e-7, (3, N))
    return (
        rng.uniform(-30, 20),
        float(rng.choice([0.1, 1.0, 7.3])),
        np.full(N, 20.0),
        rng.uniform(1e-3, 3e-3, N),
        rng.uniform(1e-3, 3e-3, N),
        q[0],
        q[1],
        q[2],
        q_offset,
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.5]), st.booleans(), st.booleans())
def test_predict_and_voltage_update_equal_the_dense_filter(
    seed: int, flat_slope: float, missing: bool, outlier: bool
) -> None:
    rng = np.random.default_rng(seed)
    e, d = random_pair(rng)
    args = predict_args(rng, 0.0)
    e.predict(*args)
    d.predict(*args)
    assert_same(e, d)
    r0 = rng.uniform(1e-3, 3e-3, N)
    v = CHEM.ocv(e.soc) + rng.normal(0, 0.003, N)
    if missing:
        v[2] = math.nan
    if outlier:
        v[4] += 0.5  # far beyond 6 sigma: not used, counted as an outlier
    r_var = np.full(N, 1e-4)
    kw = dict(outlier_sigma=6.0, bias_alpha=0.1, flat_slope=flat_slope, r_bias=np.full(N, 2e-4), soc_shift=0.01)
    ye = e.update_voltage(v, args[0], 25.0, r0, r_var, **kw)
    yd = d.update_voltage(v, args[0], 25.0, r0, r_var, **kw)
    np.testing.assert_allclose(ye, yd, rtol=1e-12, atol=1e-15)
    assert np.isnan(ye[2]) == missing
    assert_same(e, d)
    for name in ("last_nis", "bias_ema", "bias_v", "outlier_run"):
        np.testing.assert_allclose(getattr(e, name), getattr(d, name), rtol=1e-9, atol=1e-15)
    if outlier:
        assert e.outlier_run[4] == 1 and e.last_nis[4] > 36.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_pseudo_measurements_and_state_edits_equal_the_dense_filter(seed: int) -> None:
    rng = np.random.default_rng(seed)
    e, d = random_pair(rng)
    soc = np.where(rng.random(N) < 0.4, math.nan, rng.uniform(0, 1, N))
    var = rng.uniform(1e-5, 1e-3, N)
    for f in (e, d):
        f.update_soc(soc, var)
    assert_same(e, d)
    for f in (e, d):
        f.update_offset(0.01, 1e-4)
    assert_same(e, d)
    idx = np.array([0, 3])
    floor = d.soc_var[idx] * np.array([4.0, 0.5])  # one raised (exactly scaled), one left as it is
    for f in (e, d):
        f.inflate_soc(idx, floor)
    assert_same(e, d)
    assert e.soc_var[0] == pytest.approx(floor[0], rel=1e-12)
    for f in (e, d):
        f.floor_rc_slow_var(1e-3)
        f.reset_soc(np.array([1]), np.full(N, 0.4), np.full(N, 1e-3))
        f.clamp_offset(0.01)
        f.clamp_rc(np.full(N, -1e-3), np.full(N, 1e-3), np.full(N, -2e-3), np.full(N, 2e-3))
    assert_same(e, d)
    i, j = 0, 3
    assert e.soc_cov[i, j] == pytest.approx(d.P[i, j], rel=1e-12)
    assert e.soc_cov[i, i] == pytest.approx(d.P[i, i], rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1e-9, 1e-4))
def test_offset_random_walk_changes_only_the_cross_cell_covariance_by_the_dropped_term(seed: int, q: float) -> None:
    rng = np.random.default_rng(seed)
    e, d = random_pair(rng)
    p = e.p
    args = predict_args(rng, q)
    e.predict(*args)
    d.predict(*args)
    np.testing.assert_allclose(e.x, d.x, rtol=1e-12, atol=1e-15)
    Pe, Pd = dense_cov(e), d.P
    cell = np.arange(3 * N) % N  # which cell each state belongs to
    same = cell[:, None] == cell[None, :]
    # own covariances, cell-offset covariances and the offset variance: exact
    np.testing.assert_allclose(Pe[: 3 * N, : 3 * N][same], Pd[: 3 * N, : 3 * N][same], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(Pe[-1], Pd[-1], rtol=1e-9, atol=1e-15)
    # across cells: the dense value times p / (p + q), nothing else
    cross = ~same
    np.testing.assert_allclose(
        Pe[: 3 * N, : 3 * N][cross], Pd[: 3 * N, : 3 * N][cross] * p / (p + q), rtol=1e-9, atol=1e-15
    )


def run_pair(chem: str, cells: int) -> tuple[list, list, StateEstimator, StateEstimator]:
    cfg = load_config(
        {
            "pack.cell_count": cells,
            "pack.chemistry": chem,
            "pack.design_capacity_ah": 10.0,
            "estimation.rest_time": 300.0,
            "estimation.capacity_rest_time": 300.0,
            "estimation.tail_current": 0.15,
        }
    )
    fact, dense = StateEstimator(cfg), StateEstimator(cfg)
    dense.ekf = DenseCellEkf(cells, dense.chem)
    fact.anchor_kinds = kinds = set()  # type: ignore[attr-defined]
    apply = fact._apply_anchor
    fact._apply_anchor = lambda stamp, v, it, kind: (kinds.add(kind), apply(stamp, v, it, kind))  # type: ignore
    stream = drive_rest_charge(chem, cells, charge_s=1600)
    return [fact.update(s) for s in stream], [dense.update(s) for s in stream], fact, dense


@pytest.mark.parametrize("chem", ["nmc", "lfp"])
def test_estimator_runs_match_the_dense_filter_within_1e5(chem: str) -> None:
    cells = 8
    out_f, out_d, fact, dense = run_pair(chem, cells)
    soc_f = np.array([[o.soc, *o.cell_soc] for o in out_f[1:]])
    soc_d = np.array([[o.soc, *o.cell_soc] for o in out_d[1:]])
    std_f = np.array([o.soc_std for o in out_f[1:]])
    std_d = np.array([o.soc_std for o in out_d[1:]])
    assert np.abs(soc_f - soc_d).max() <= 1e-5
    assert np.abs(std_f - std_d).max() <= 1e-5
    assert np.all(np.isfinite(soc_f)) and np.all(np.isfinite(std_f))
    # the run reached what it is meant to exercise: the rest and full anchors, a gap, the voltage monitor
    assert {"rest", "full"} <= fact.anchor_kinds, fact.anchor_kinds
    sf, sd = fact.state_dict(), dense.state_dict()
    assert sf.keys() == sd.keys()
    np.testing.assert_allclose(sf["cell_soc"], sd["cell_soc"], atol=1e-5)
    np.testing.assert_allclose(sf["cell_soc_std"], sd["cell_soc_std"], atol=1e-5)
    assert sf["current_offset_a"] == pytest.approx(sd["current_offset_a"], abs=1e-4)
    assert sf["capacity_ah"] == pytest.approx(sd["capacity_ah"], rel=1e-6)


def test_the_step_holds_no_n_by_n_array() -> None:
    """100 cells: nothing the filter keeps has more than 3 x 3 x N entries (the dense one had (3N+1)^2)."""
    e = CellEkf(100, CHEM)
    e.init(np.full(100, 0.5), 0.05, offset_std=0.04)
    sizes = [v.size for v in vars(e).values() if isinstance(v, np.ndarray)]
    assert max(sizes) <= 9 * 100
