"""The reaction each FMEA row requires (bms_ros/core/safety_case.py), shown on the core with synthetic samples.

The expected FET state comes from the safety case's ``requires`` / ``latch``, never from ``POLICY``: a policy
that stops blocking, or a fault that stops tripping, fails here (the slow mutation test in
test/tools/test_fmea.py checks exactly that). Each scenario makes its fault the only one that blocks the
required FET when it trips (e.g. the pack thresholds moved inside the cell thresholds, the stale timeout made
longer than the comm-loss delay), and the FETs are checked on every sample from the trip on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.safety_case import ROWS
from bms_ros.core.types import AfeFlag, Estimate, PackSample

DT = 0.1  # s, sample period of the scenarios
NOMINAL_S = 1.0  # s of healthy samples before the condition
BEYOND_S = 15.0  # s of the condition: longer than every default trip delay except the imbalance's
# s: the stale-data path must not hide the fault's own reaction (outside the envelope on purpose: a test setting)
STALE_LONG = {"protection.stale_timeout": 10.0, "protection.allow_outside_envelope": True}


def sample(
    t: float,
    cells: list[float] | None = None,
    current: float = 0.0,
    temps: list[float] | None = None,
    die: float = 30.0,
    flags: AfeFlag = AfeFlag.NONE,
    pack: float | None = None,
) -> PackSample:
    c = np.array(cells if cells is not None else [3.7] * 4, dtype=float)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()) if pack is None else pack,
        current=current,
        temperatures=np.array(temps if temps is not None else [25.0, 25.0]),
        die_temperature=die,
        afe_flags=flags,
    )


Make = Callable[[float], PackSample]


def one_cell(v: float) -> Make:
    return lambda t: sample(t, [3.7, 3.7, 3.7, v])


def all_cells(v: float) -> Make:
    return lambda t: sample(t, [v] * 4)


def amps(i: float) -> Make:
    return lambda t: sample(t, current=i)


def temp(x: float) -> Make:
    return lambda t: sample(t, temps=[25.0, x])


def flag(f: AfeFlag) -> Make:
    return lambda t: sample(t, flags=f)


# fault name -> (config overrides, condition, seconds of condition)
SCENARIOS: dict[str, tuple[dict, Make, float]] = {
    "CELL_OVERVOLTAGE": ({}, one_cell(4.27), BEYOND_S),
    "CELL_UNDERVOLTAGE": ({}, one_cell(2.75), BEYOND_S),
    "CELL_OVERVOLTAGE_HARD": ({}, one_cell(4.40), BEYOND_S),
    "CELL_UNDERVOLTAGE_DEEP": ({}, one_cell(2.40), BEYOND_S),
    "PACK_OVERVOLTAGE": (
        {"protection.pack_overvoltage.threshold": 4.0, "protection.pack_overvoltage.release": 3.9},
        all_cells(4.05),
        BEYOND_S,
    ),
    "PACK_UNDERVOLTAGE": (
        {"protection.pack_undervoltage.threshold": 3.2, "protection.pack_undervoltage.release": 3.4},
        all_cells(3.15),
        BEYOND_S,
    ),
    "CHARGE_OVERCURRENT": ({}, amps(16.0), BEYOND_S),
    "DISCHARGE_OVERCURRENT": ({}, amps(-40.0), BEYOND_S),
    "DISCHARGE_OVERCURRENT_SUSTAINED": ({}, amps(-22.0), BEYOND_S),
    "SHORT_CIRCUIT": ({}, flag(AfeFlag.SHORT_CIRCUIT), BEYOND_S),
    "CHARGE_OVERTEMPERATURE": ({}, temp(47.0), BEYOND_S),
    "CHARGE_UNDERTEMPERATURE": ({}, temp(-2.0), BEYOND_S),
    "DISCHARGE_OVERTEMPERATURE": ({}, temp(62.0), BEYOND_S),
    "DISCHARGE_UNDERTEMPERATURE": ({}, temp(-22.0), BEYOND_S),
    "AFE_OVERTEMPERATURE": ({}, lambda t: sample(t, die=90.0), BEYOND_S),
    "CELL_IMBALANCE": ({}, one_cell(3.9), 45.0),
    "IMPLAUSIBLE_DATA": (STALE_LONG, lambda t: sample(t, pack=20.0), BEYOND_S),
    "SENSOR_LOSS": ({}, temp(math.nan), BEYOND_S),
    # AFE_COMM_LOSS is reported only (ISSUE 14): its reaction is the FET controller's stale-data rule (row MC-1
    # names those tests), not a POLICY row
    "AFE_DEVICE_FAULT": ({}, flag(AfeFlag.DEVICE_FAULT), BEYOND_S),
    "AFE_HW_OVERVOLTAGE": ({}, flag(AfeFlag.OVERVOLTAGE), BEYOND_S),
    "AFE_HW_UNDERVOLTAGE": ({}, flag(AfeFlag.UNDERVOLTAGE), BEYOND_S),
    "AFE_HW_OVERCURRENT": ({}, flag(AfeFlag.OVERCURRENT_DISCHARGE), BEYOND_S),
    "OPEN_WIRE": ({}, lambda t: sample(t, [3.7, 3.7, 0.05, 7.35]), BEYOND_S),
    "CELL_READING_STUCK": ({}, lambda t: sample(t, [3.73 + 0.01 * t] * 3 + [3.7]), BEYOND_S),
    "SYSTEM_LOCK": ({}, temp(85.0), BEYOND_S),
}
# the row that owns a fault is the one naming it first
REQUIRED = {r.faults[0]: (r.requires, r.latch) for r in ROWS if r.faults and r.requires is not None}


class FixedEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)


# the self-discharge estimate needs a pack and an estimator: its row names test/core/test_protection_robust.py
ROBUST_TESTED = {"INTERNAL_SHORT"}


def test_every_fault_with_a_required_reaction_has_a_scenario():
    present = {f.name for f in Fault if f}
    assert {n for n in REQUIRED if n in present} - ROBUST_TESTED <= set(SCENARIOS)
    assert set(SCENARIOS) <= present and set(SCENARIOS) <= set(REQUIRED)


@pytest.mark.parametrize("name", sorted(SCENARIOS, key=lambda n: Fault[n].value))
def test_required_fets_open(name: str) -> None:
    overrides, condition, seconds = SCENARIOS[name]
    requires, latch = REQUIRED[name]
    bit = Fault[name]
    bms = Bms(core_config({"protection.implausible_data.frozen_time": 0.0, **overrides}))
    bms.estimator = FixedEstimator()
    t = 0.0
    for _ in range(round(NOMINAL_S / DT)):
        t = round(t + DT, 6)
        out = bms.step(sample(t))
    assert out.charge_fet and out.discharge_fet and not out.faults_active
    outs = []
    for _ in range(round(seconds / DT)):
        t = round(t + DT, 6)
        outs.append(bms.step(condition(t)))
    tripped = [o for o in outs if (o.faults_active | o.faults_latched) & bit]
    assert tripped, f"{name} never tripped"
    for o in outs[outs.index(tripped[0]) :]:
        if requires in ("charge", "both"):
            assert not o.charge_fet, f"charge FET on at {o.stamp:.1f} s with {name} tripped"
        if requires in ("discharge", "both"):
            assert not o.discharge_fet, f"discharge FET on at {o.stamp:.1f} s with {name} tripped"
    if latch:
        assert outs[-1].faults_latched & bit, f"{name} did not latch"
