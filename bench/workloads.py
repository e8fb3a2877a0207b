"""The benches' workload: a robot drive recorded at 10 Hz, not a pack at rest.

Simulated pack (cell spread, two RC pairs), AFE noise (2 mV per cell, 50 mA on the current) and a current
offset. A 10-minute cycle: 6 minutes of drive (0.2C..2C blocks with 10 % jitter), 1 minute parked, 3 minutes
of charge at 1C. Sensor faults on the way: every 997th sample a cell reads NaN, every 1499th a cell reading
spikes by 0.4 V, every 2003rd sample is a failed read. Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the checkout next to the bench, not whichever one the venv installed
    sys.path.insert(0, str(ROOT))

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig  # noqa: E402
from bms_ros.afe.sim.simulated_afe import SimulatedAfe  # noqa: E402
from bms_ros.core.chemistry import get_chemistry  # noqa: E402
from bms_ros.core.types import PackSample  # noqa: E402

CAP_AH = 20.0
OFFSET_A = 0.05
PERIOD_S = 600.0
_DRIVE_C = (0.1, 0.6, 0.3, 1.0, 0.2, 0.45, 2.0)


def drive_samples(
    cells: int, count: int, seed: int = 1, chemistry: str = "nmc", dt: float = 0.1, t0: float = 1000.0
) -> list[PackSample]:
    pack = PackModel(
        get_chemistry(chemistry),
        PackModelConfig(
            cell_count=cells, capacity_ah=CAP_AH, initial_soc=0.8, seed=seed, rc2_tau_s=400.0, r2_fraction=0.4
        ),
    )
    afe = SimulatedAfe(pack, voltage_noise_v=0.002, current_noise_a=0.05, seed=seed, start_time=t0)
    pack.charge_fet = pack.discharge_fet = True
    rng = np.random.default_rng(seed)
    out: list[PackSample] = []
    for k in range(count):
        t = t0 + k * dt
        phase = (t - t0) % PERIOD_S
        if phase < 360.0:
            pack.charger_connected = False
            c = _DRIVE_C[int(phase // 20.0) % len(_DRIVE_C)]
            pack.load_a = c * CAP_AH * (1.0 + 0.1 * rng.standard_normal())
        elif phase < 420.0:
            pack.load_a = 0.0
        else:
            pack.charger_connected, pack.charger_current_a = True, CAP_AH
        s = afe.read(t)
        s = dataclasses.replace(s, current=s.current + OFFSET_A)
        if k % 997 == 500:
            s = dataclasses.replace(s, cell_voltages=np.where(np.arange(cells) == k % cells, math.nan, s.cell_voltages))
        elif k % 1499 == 700:
            s = dataclasses.replace(s, cell_voltages=s.cell_voltages + np.where(np.arange(cells) == 1, 0.4, 0.0))
        elif k % 2003 == 900:
            s = PackSample.missing(t, cells, 1)
        out.append(s)
    return out


def config_values(cells: int) -> dict:
    """Parameters for the workload's pack (the node's defaults otherwise)."""
    return {"pack.cell_count": cells, "pack.design_capacity_ah": CAP_AH, "balancing.when": "both"}
