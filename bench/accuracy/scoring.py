"""Run the estimator on a measured trace and score it against the truth.

Converged (issue 13): the first sample within 2 points after which the error stays within 3 points. RMSE,
max, 2-sigma coverage and median sigma are measured from then on (over the whole run if it never converges,
flagged). Coulomb counting (same sensors, same configured capacity, started from the truth or, for a wrong
state, from the same wrong state) is scored over the whole run.
"""

from __future__ import annotations

import math
import time

import numpy as np

from bench.accuracy.profiles import UNDER_LOAD_START_S, WRONG_SOC, Case
from bench.accuracy.sim import Trace

CONVERGED = 0.02  # within 2 points ...
STAYS = 0.03  # ... and staying within 3 from then on
WRONG_STD = 0.02  # the state file's SoC standard deviation


def run_estimator(values: dict[str, object], meas: Trace, wrong_soc: float | None = None) -> dict[str, np.ndarray]:
    """Estimator outputs per sample (soc, soc_std) and the last output (capacity), from a cold start or from
    a state file with ``wrong_soc``."""
    from bms_ros.config import load_config
    from bms_ros.core.estimator import StateEstimator
    from bms_ros.core.types import PackSample

    cfg = load_config(values)
    est = StateEstimator(cfg)
    if wrong_soc is not None:
        d = est.state_dict()
        d.update(stamp=float(meas["t"][0]), cell_soc=[wrong_soc], cell_soc_std=[WRONG_STD])
        if not est.load_state(d, now=float(meas["t"][0])):
            raise RuntimeError("the estimator refused the bench's state file")
    n = meas["t"].size
    soc, std = np.empty(n), np.empty(n)
    out = None
    t0 = time.perf_counter()
    for k in range(n):
        v = float(meas["v"][k])
        out = est.update(
            PackSample(
                stamp=float(meas["t"][k]),
                cell_voltages=np.array([v]),
                pack_voltage=v,
                current=float(meas["i"][k]),
                temperatures=np.array([meas["temp_c"][k]]),
                charge_fet=True,
                discharge_fet=True,
            )
        )
        soc[k], std[k] = out.soc, out.soc_std
    assert out is not None
    return {"soc": soc, "std": std, "capacity_ah": out.capacity_ah, "step_us": (time.perf_counter() - t0) / n * 1e6}


def converged_index(err: np.ndarray) -> int | None:
    """First index within CONVERGED after which |err| stays within STAYS; None: never."""
    a = np.abs(err)
    worst_after = np.maximum.accumulate(a[::-1])[::-1]  # max |err| from k to the end
    ok = (a <= CONVERGED) & (worst_after <= STAYS)
    return int(np.argmax(ok)) if ok.any() else None


def score(err: np.ndarray, std: np.ndarray, t: np.ndarray) -> dict[str, float | bool]:
    k = converged_index(err)
    s = slice(k if k is not None else 0, None)
    e = err[s]
    return {
        "converged": k is not None,
        "convergence_s": float(t[k] - t[0]) if k is not None else math.nan,
        "rmse": float(np.sqrt(np.mean(e**2))) * 100,
        "max": float(np.abs(e).max()) * 100,
        "coverage_2sigma": float(np.mean(np.abs(e) <= 2 * std[s] + 1e-12)),
        "median_sigma": float(np.median(std[s])) * 100,
        "whole_rmse": float(np.sqrt(np.mean(err**2))) * 100,
    }


def coulomb_count(meas: Trace, soc0: float, cap: float) -> np.ndarray:
    i = meas["i"]
    dq = 0.5 * (i[1:] + i[:-1]) * np.diff(meas["t"])
    return soc0 + np.concatenate(([0.0], np.cumsum(dq))) / 3600.0 / cap


def evaluate(c: Case, values: dict[str, object], tr: Trace, meas: Trace, true_cap: float) -> dict[str, object]:
    """One case at one level; ``tr`` the truth, ``meas`` the corrupted sensors of the same run."""
    k0 = 0
    if c.start == "under_load":
        # the same start at every level: the first sample above C/3 of the true capacity
        k0 = UNDER_LOAD_START_S + int(np.argmax(np.abs(meas["i"][UNDER_LOAD_START_S:]) > true_cap / 3))
        tr = {k: v[k0:] for k, v in tr.items()}
        meas = {k: v[k0:] for k, v in meas.items()}
    truth = tr["soc"]
    wrong = None if c.start == "cold" else float(truth[0] - WRONG_SOC)
    run = run_estimator(values, meas, wrong)
    err = run["soc"] - truth
    cc = coulomb_count(meas, truth[0] if wrong is None else wrong, float(values["pack.design_capacity_ah"]))  # type: ignore[arg-type]
    cc_err = cc - truth
    return {
        "case": c.name,
        "hours": float((tr["t"][-1] - tr["t"][0]) / 3600),
        "start_index": k0,
        "soc_range": [float(truth.min()), float(truth.max())],
        **score(err, run["std"], tr["t"]),
        "cc_rmse": float(np.sqrt(np.mean(cc_err**2))) * 100,
        "cc_max": float(np.abs(cc_err).max()) * 100,
        "capacity_ah": float(run["capacity_ah"]),
        "configured_capacity_ah": float(values["pack.design_capacity_ah"]),  # type: ignore[arg-type]
        "true_capacity_ah": true_cap,
        "step_us": float(run["step_us"]),
    }
