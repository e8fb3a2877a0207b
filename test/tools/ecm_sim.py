"""A small equivalent-circuit cell with known parameters, for bms-identify's tests: its recordings (a robot
drive with stops and a dock charge) have a known OCV curve, R0, RC pairs, diffusion lag and capacity.

The OCV is the built-in NMC curve bent by a few tens of millivolts (so a fit that just returned the built-in
curve would fail); the model is the one the estimator runs (``bms_ros.core.Chemistry``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.core import get_chemistry

BASE = get_chemistry("nmc")
SOC = np.linspace(0.0, 1.0, 101)
OCV_BEND_V = 0.02  # V: the true curve = the built-in one + this * sin(2 pi soc)


@dataclass(frozen=True)
class Cell:
    capacity_ah: float = 4.0
    r0_ohm: float = 0.012
    r1_ohm: float = 0.006
    tau1_s: float = 12.0
    r2_ohm: float = 0.008
    tau2_s: float = 400.0
    diffusion_tau_s: float = 120.0

    @property
    def ocv_v(self) -> np.ndarray:
        v = BASE.ocv(SOC) + OCV_BEND_V * np.sin(2 * math.pi * SOC)
        assert np.all(np.diff(v) > 0)
        return v

    def ocv(self, soc: float) -> float:
        return float(np.interp(soc, SOC, self.ocv_v))


def simulate(cell: Cell, soc0: float, plan: list[tuple[str, float, float]], seed: int = 0) -> dict[str, np.ndarray]:
    """1 s samples. ``plan``: ("cc", amps, seconds) constant current (> 0 charging), ("cc_to_v", amps,
    volts) until the voltage reaches volts, ("cv", volts, stop amps) constant voltage until the current falls
    below. Sensors: 1 mV voltage noise, 0.5 % current noise.
    Returns t, i (measured), v (measured), temp_c, soc (true)."""
    rng = np.random.default_rng(seed)
    a1, a2 = math.exp(-1 / cell.tau1_s), math.exp(-1 / cell.tau2_s)
    ad = math.exp(-1 / cell.diffusion_tau_s)
    k_d = 2 * cell.diffusion_tau_s / (3600 * cell.capacity_ah)
    soc, v1, v2, vd, i_prev = soc0, 0.0, 0.0, 0.0, 0.0
    rows = []

    def step(i: float) -> float:
        nonlocal soc, v1, v2, vd, i_prev
        u = 0.5 * (i + i_prev)
        v1 = a1 * v1 + (1 - a1) * cell.r1_ohm * u
        v2 = a2 * v2 + (1 - a2) * cell.r2_ohm * u
        vd = ad * vd + (1 - ad) * u
        soc += u / 3600 / cell.capacity_ah
        i_prev = i
        return cell.ocv(soc + k_d * vd) + cell.r0_ohm * i + v1 + v2

    for kind, x, y in plan:
        if kind == "cc":
            for _ in range(int(y)):
                rows.append((x, step(x), soc))
        elif kind == "cc_to_v":  # constant current until the voltage reaches y (from below or above)
            while True:
                rows.append((x, step(x), soc))
                if (rows[-1][1] - y) * x >= 0:
                    break
        else:  # constant voltage: the current that holds x (one fixed-point pass per step is enough at 1 s)
            i = max(i_prev, 0.0)
            while True:
                v_free = cell.ocv(soc + k_d * vd) + v1 + v2
                i = max((x - v_free) / (cell.r0_ohm + 0.5 * (1 - a1) * cell.r1_ohm + 0.5 * (1 - a2) * cell.r2_ohm), 0.0)
                rows.append((i, step(i), soc))
                if i < y:
                    break
    a = np.array(rows)
    n = a.shape[0]
    return {
        "t": np.arange(n, dtype=float),
        "i": a[:, 0] * (1 + 0.005 * rng.standard_normal(n)),
        "v": a[:, 1] + 0.001 * rng.standard_normal(n),
        "temp_c": np.full(n, 25.0),
        "soc": a[:, 2],
    }


def robot_plan(cell: Cell, seed: int, soc0: float = 0.95, soc_end: float = 0.1, stops: bool = True) -> list:
    """A seeded drive (10-120 s segments up to 1.5C, some regen) with a 20-min stop every 15 points, down to
    ``soc_end``, a C/10 run home to the cut-off voltage, 40 min rest, then a dock charge (C/2 to 4.2 V, CV to
    C/20) and 30 min rest."""
    rng = np.random.default_rng(seed)
    c = cell.capacity_ah
    plan: list[tuple[str, float, float]] = [("cc", 0.0, 60)]
    soc, next_stop = soc0, soc0 - 0.15
    while soc > soc_end:
        u = rng.random()
        x = 0.0 if u < 0.1 else (0.4 * rng.random() if u < 0.25 else -1.5 * rng.random() ** 1.5)
        n = int(rng.integers(10, 121))
        plan.append(("cc", x * c, n))
        soc += x * n / 3600
        if stops and soc < next_stop:
            plan.append(("cc", 0.0, 1200))
            next_stop -= 0.15
    plan += [
        ("cc_to_v", -0.1 * c, BASE.empty_v),
        ("cc", 0.0, 2400),
        ("cc_to_v", 0.5 * c, BASE.full_v),
        ("cv", BASE.full_v, 0.05 * c),
        ("cc", 0.0, 1800),
    ]
    return plan


def write_csv(rec: dict[str, np.ndarray], path) -> None:
    data = np.stack([rec["t"], rec["i"], rec["v"], rec["temp_c"]], axis=1)
    np.savetxt(path, data, delimiter=",", fmt="%.6f", header="t,current,cell_voltage_1,temperature_1", comments="")
