"""PyBaMM ground truth (SPMe) for one bench cell, on a 1 s grid, cached in bench/results/ (gitignored).

True SoC is the negative electrode's average stoichiometry between PyBaMM's 0 % and 100 % points (OCV =
lower / upper voltage cut-off), the estimator's definition too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from bench.accuracy.split import Cell

RESULTS = Path(__file__).resolve().parents[1] / "results"
Trace = dict[str, np.ndarray]  # t (s), i (A, > 0 charging), v (V), temp_c, soc (true, 0..1)


def pybamm():
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    import pybamm as pb

    pb.set_logging_level("ERROR")
    return pb


def parameters(cell: Cell, ambient_c: float = 25.0):
    pb = pybamm()
    p = pb.ParameterValues(cell.param_set)
    p.update({k: p[k] * f for k, f in cell.changes.items()})
    if cell.extra:
        p.update(dict(cell.extra), check_already_exists=False)
    p["Ambient temperature [K]"] = 273.15 + ambient_c
    p["Initial temperature [K]"] = 273.15 + ambient_c
    return p


def _model(cell: Cell):
    return pybamm().lithium_ion.SPMe({"thermal": cell.thermal, **cell.options})


_LIMITS: dict[str, tuple[float, float]] = {}


def limits(cell: Cell) -> tuple[float, float]:
    """(lower, upper) voltage cut-off: the cell's empty and full (a datasheet gives both)."""
    if cell.name not in _LIMITS:
        p = parameters(cell)
        _LIMITS[cell.name] = (float(p["Lower voltage cut-off [V]"]), float(p["Upper voltage cut-off [V]"]))
    return _LIMITS[cell.name]


def _trace(p, sol) -> Trace:
    pb = pybamm()
    x0, x100, _, _ = pb.lithium_ion.get_min_max_stoichiometries(p)
    t = sol["Time [s]"].entries
    t, keep = np.unique(t[::-1], return_index=True)  # experiment step boundaries repeat a time: keep last
    keep = len(sol["Time [s]"].entries) - 1 - keep
    cols = {
        "i": -sol["Current [A]"].entries[keep],
        "v": sol["Voltage [V]"].entries[keep],
        "temp_c": sol["Volume-averaged cell temperature [C]"].entries[keep],
        "soc": (sol["Average negative particle stoichiometry"].entries[keep] - x0) / (x100 - x0),
    }
    grid = np.arange(0.0, math.floor(t[-1]) + 1.0, 1.0)
    out = {"t": grid}
    for k, y in cols.items():
        out[k] = np.interp(grid, t, y)
    return out


def _cached(cell: Cell, key: dict, build) -> Trace:
    pb = pybamm()
    key = dict(key, cell=repr(cell), pybamm=pb.__version__)
    h = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = RESULTS / f"trace_{cell.name}_{key['what']}_{h}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    tr = build()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **tr)
    os.replace(tmp, path)  # whole or not at all: parallel runs share the cache
    print(
        f"  pybamm {cell.name} {key['what']}: {tr['t'][-1] / 3600:.2f} h in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return tr


def simulate_current(
    cell: Cell, ambient_c: float, soc0: float, i: np.ndarray, what: str, stop_soc: float = -1.0
) -> Trace:
    """A prescribed current (A, > 0 charging) at 1 s steps from a rested ``soc0``; ends at a voltage limit
    or when the true SoC falls below ``stop_soc``."""
    t = np.arange(i.size, dtype=float)

    def build():
        pb = pybamm()
        p = parameters(cell, ambient_c)
        p["Current function [A]"] = pb.Interpolant(t, -i, pb.t)
        sim = pb.Simulation(_model(cell), parameter_values=p, solver=pb.IDAKLUSolver())
        # the solver stops where the current changes (it cannot step over a pulse) and reports every second
        change = np.flatnonzero(np.diff(i) != 0)
        stops = np.unique(np.concatenate(([0.0, t[-1]], t[change], t[change + 1])))
        sol = sim.solve(t_eval=stops, t_interp=t, initial_soc=soc0)
        tr = _trace(p, sol)
        if stop_soc > 0 and np.any(tr["soc"] < stop_soc):
            end = int(np.argmax(tr["soc"] < stop_soc)) + 1
            tr = {k: v[:end] for k, v in tr.items()}
        return tr

    profile = hashlib.sha1(np.ascontiguousarray(i).tobytes()).hexdigest()
    key = {"what": what, "ambient": ambient_c, "soc0": soc0, "stop": stop_soc, "profile": profile}
    return _cached(cell, key, build)


def simulate_experiment(
    cell: Cell, ambient_c: float, soc0: float, steps: list[str], what: str, period: str = "1 second"
) -> Trace:
    """A PyBaMM experiment (CC-CV charges, C/30 curves) from a rested ``soc0``."""

    def build():
        pb = pybamm()
        p = parameters(cell, ambient_c)
        exp = pb.Experiment([s + f" ({period} period)" for s in steps])
        sim = pb.Simulation(_model(cell), parameter_values=p, experiment=exp, solver=pb.IDAKLUSolver())
        return _trace(p, sim.solve(initial_soc=soc0))

    return _cached(cell, {"what": what, "ambient": ambient_c, "soc0": soc0, "steps": steps, "period": period}, build)


def ocv_tests(cell: Cell) -> tuple[Trace, Trace]:
    """C/30 discharge from full and C/30 charge from empty at 25 degC (the cell's own OCV curve, level L1;
    the C/30 discharge capacity is the cell's true capacity)."""
    vmin, vmax = limits(cell)
    dis = simulate_experiment(cell, 25.0, 1.0, [f"Discharge at C/30 until {vmin} V"], "ocv_dis", "30 seconds")
    chg = simulate_experiment(cell, 25.0, 0.0, [f"Charge at C/30 until {vmax} V"], "ocv_chg", "30 seconds")
    return dis, chg


def charge_ah(tr: Trace) -> np.ndarray:
    """Cumulative charge (Ah, > 0 charging) of a trace, trapezoid."""
    dq = 0.5 * (tr["i"][1:] + tr["i"][:-1]) * np.diff(tr["t"])
    return np.concatenate(([0.0], np.cumsum(dq))) / 3600.0


def true_capacity(cell: Cell) -> float:
    """Ah between the true SoC's 0 and 1 (from the C/30 discharge: charge over stoichiometry span)."""
    dis, _ = ocv_tests(cell)
    return float(-charge_ah(dis)[-1] / (dis["soc"][0] - dis["soc"][-1]))
