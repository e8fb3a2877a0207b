"""Recorded-style sample streams for the estimator: a drive with noise, a rest long enough for a rest anchor,
a CC-CV charge to its tail (full anchor), with sensor faults on the way (a NaN cell, a voltage spike, a
missing sample, a gap of unknown time). Simulated pack (cell spread, 2 RC pairs), current offset added."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.timebase import GAP_S
from bms_ros.core.types import PackSample

CAP_AH = 10.0
OFFSET_A = 0.03  # current sensor offset added to every reading


def drive_rest_charge(
    chem: str, cells: int, drive_s: int = 600, rest_s: int = 400, charge_s: int = 1500, dt: float = 1.0, seed: int = 2
) -> list[PackSample]:
    pack = PackModel(
        get_chemistry(chem),
        PackModelConfig(
            cell_count=cells, capacity_ah=CAP_AH, initial_soc=0.85, seed=seed, rc2_tau_s=400.0, r2_fraction=0.4
        ),
    )
    afe = SimulatedAfe(pack, voltage_noise_v=0.002, current_noise_a=0.01, seed=seed, start_time=0.0)
    pack.charge_fet = pack.discharge_fet = True
    rng = np.random.default_rng(seed)
    out: list[PackSample] = []
    t = 0.0
    for k in range(drive_s + rest_s + charge_s):
        if k < drive_s:
            pack.load_a = (2.0, 12.0, 6.0, 20.0, 4.0, 9.0)[(k // 20) % 6] * (1.0 + 0.1 * rng.standard_normal())
        elif k < drive_s + rest_s:
            pack.load_a = 0.0
        else:
            pack.charger_connected, pack.charger_current_a = True, 20.0
        if k == drive_s // 2:
            t += GAP_S + 90.0  # the recorder was off: unknown time for the estimator
        t += dt
        s = afe.read(t)
        s = dataclasses.replace(s, current=s.current + OFFSET_A)
        if k == 100:
            s = dataclasses.replace(s, cell_voltages=np.where(np.arange(cells) == 1, math.nan, s.cell_voltages))
        elif k == 150:
            s = dataclasses.replace(s, cell_voltages=s.cell_voltages + np.where(np.arange(cells) == 2, 0.4, 0.0))
        elif k == 200:
            s = PackSample.missing(t, cells, 1)
        out.append(s)
    return out
