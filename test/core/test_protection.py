"""Scenario tests for every fault: trips after its delay and not before, releases with hysteresis, latches and
resets per policy, escalates on repeated trips."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.params import ConfigError
from bms_ros.core.protection import LOCKING_FAULTS, POLICY, policy_table
from bms_ros.core.types import AfeFlag, BmsOutput, Estimate, PackSample

DT = 0.1


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
        temperatures=np.array(temps if temps is not None else [25.0]),
        die_temperature=die,
        afe_flags=flags,
    )


Make = Callable[[float], PackSample]


def cells_max(v: float) -> Make:
    return lambda t: sample(t, [3.7, 3.7, 3.7, v])


def cells_min(v: float) -> Make:
    return lambda t: sample(t, [3.7, 3.7, 3.7, v])


def cells_all(v: float) -> Make:
    return lambda t: sample(t, [v] * 4)


def current(i: float) -> Make:
    return lambda t: sample(t, current=i)


def temp(x: float) -> Make:
    return lambda t: sample(t, temps=[25.0, x])


def die(x: float) -> Make:
    return lambda t: sample(t, die=x)


def spread(dv: float) -> Make:
    return lambda t: sample(t, [3.7, 3.7, 3.7, 3.7 + dv])


def stuck_top_cell(t: float) -> PackSample:
    """Cells 1-3 jump 30 mV above the nominal 3.7 V and rise on, while cell 4's reading stays bit-identical."""
    rise = 3.73 + 0.01 * t
    return sample(t, [rise, rise, rise, 3.7])


def all_rising(t: float) -> PackSample:
    rise = 3.7 + 0.01 * t
    return sample(t, [rise, rise, rise, rise + 0.001])


def flag(f: AfeFlag) -> Make:
    return lambda t: sample(t, flags=f)


def nominal(t: float) -> PackSample:
    return sample(t)


def missing(t: float) -> PackSample:
    return PackSample.missing(t, 4, 1)


# fault, config overrides, beyond threshold, between release and threshold (None: boolean condition), past release
CASES: list[tuple[Fault, dict, Make, Make | None, Make]] = [
    (Fault.CELL_OVERVOLTAGE, {}, cells_max(4.27), cells_max(4.20), cells_max(4.10)),
    (Fault.CELL_UNDERVOLTAGE, {}, cells_min(2.75), cells_min(2.9), cells_min(3.1)),
    (Fault.CELL_OVERVOLTAGE_HARD, {}, cells_max(4.40), cells_max(4.30), cells_max(4.1)),
    (Fault.CELL_UNDERVOLTAGE_DEEP, {}, cells_min(2.4), cells_min(2.7), cells_min(3.1)),
    (
        Fault.PACK_OVERVOLTAGE,
        {"protection.pack_overvoltage.threshold": 4.0, "protection.pack_overvoltage.release": 3.9},
        cells_all(4.05),
        cells_all(3.95),
        cells_all(3.85),
    ),
    (
        Fault.PACK_UNDERVOLTAGE,
        {"protection.pack_undervoltage.threshold": 3.2, "protection.pack_undervoltage.release": 3.4},
        cells_all(3.15),
        cells_all(3.3),
        cells_all(3.5),
    ),
    (Fault.CHARGE_OVERCURRENT, {}, current(16.0), current(13.0), current(5.0)),
    (
        Fault.DISCHARGE_OVERCURRENT,
        {"protection.discharge_overcurrent_sustained.delay": 30.0},
        current(-40.0),
        current(-30.0),
        current(-10.0),
    ),
    (Fault.DISCHARGE_OVERCURRENT_SUSTAINED, {}, current(-22.0), current(-17.0), current(-10.0)),
    (Fault.SHORT_CIRCUIT, {}, flag(AfeFlag.SHORT_CIRCUIT), None, nominal),
    (Fault.CHARGE_OVERTEMPERATURE, {}, temp(47.0), temp(42.0), temp(35.0)),
    (Fault.CHARGE_UNDERTEMPERATURE, {}, temp(-2.0), temp(1.5), temp(5.0)),
    (Fault.DISCHARGE_OVERTEMPERATURE, {}, temp(62.0), temp(57.0), temp(35.0)),
    (Fault.DISCHARGE_UNDERTEMPERATURE, {}, temp(-22.0), temp(-18.5), temp(20.0)),
    (Fault.AFE_OVERTEMPERATURE, {}, die(90.0), die(80.0), die(60.0)),
    (Fault.CELL_IMBALANCE, {}, spread(0.2), spread(0.12), spread(0.02)),
    (Fault.IMPLAUSIBLE_DATA, {}, lambda t: sample(t, pack=20.0), None, nominal),
    (Fault.SENSOR_LOSS, {}, temp(math.nan), None, nominal),
    # reported only (ISSUE 14): with stale_timeout beyond its delay, the trip itself changes no FET
    (Fault.AFE_COMM_LOSS, {"protection.stale_timeout": 2.0}, missing, None, nominal),
    (Fault.AFE_DEVICE_FAULT, {}, flag(AfeFlag.DEVICE_FAULT), None, nominal),
    (Fault.AFE_HW_OVERVOLTAGE, {}, flag(AfeFlag.OVERVOLTAGE), None, nominal),
    (Fault.AFE_HW_UNDERVOLTAGE, {}, flag(AfeFlag.UNDERVOLTAGE), None, nominal),
    (Fault.AFE_HW_OVERCURRENT, {}, flag(AfeFlag.OVERCURRENT_DISCHARGE), None, nominal),
    # an open sense wire between cells 3 and 4: one reads ~0 V, the other both cells' voltage
    (Fault.OPEN_WIRE, {}, lambda t: sample(t, [3.7, 3.7, 0.05, 7.35]), None, nominal),
    (Fault.CELL_READING_STUCK, {}, stuck_top_cell, None, all_rising),
]
# faults whose condition is not a sample: the self-discharge estimate and the lock (tested on their own below)
NOT_FROM_A_SAMPLE = {Fault.INTERNAL_SHORT, Fault.SYSTEM_LOCK}
IDS = [c[0].name for c in CASES]
RULE = {r.fault: r for r in POLICY}


def section(cfg, fault: Fault):
    return getattr(cfg.protection, RULE[fault].section)


class FixedEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)


class Run:
    """Feeds samples every DT seconds, remembers the outputs. The synthetic samples repeat exactly, so
    frozen-value detection is off unless a test turns it on."""

    def __init__(self, overrides: dict | None = None, store=None):
        self.cfg = core_config({"protection.implausible_data.frozen_time": 0.0, **(overrides or {})})
        self.bms = Bms(self.cfg, store)
        self.bms.estimator = FixedEstimator()  # protections do not depend on it; keeps the scenarios fast
        self.t = 0.0
        self.out: BmsOutput | None = None

    def feed(self, make: Make, seconds: float) -> list[BmsOutput]:
        outs = []
        end = self.t + seconds - 1e-9
        while self.t < end:
            self.t = round(self.t + DT, 6)
            self.out = self.bms.step(make(self.t))
            outs.append(self.out)
        return outs


def test_every_fault_has_a_scenario():
    assert {c[0] for c in CASES} | NOT_FROM_A_SAMPLE == {r.fault for r in POLICY} == {f for f in Fault if f}


@pytest.mark.parametrize(("fault", "over", "beyond", "between", "clear"), CASES, ids=IDS)
def test_trips_after_its_delay_and_not_before(fault, over, beyond, between, clear):
    run = Run(over)
    run.feed(nominal, 1.0)
    assert run.out.faults_active == 0 and run.out.charge_fet and run.out.discharge_fet
    delay = section(run.cfg, fault).delay
    t0 = run.t
    outs = run.feed(beyond, max(delay, DT) + 1.0)
    first = next(o for o in outs if o.faults_active & fault)
    # trips at the first sample at least `delay` after the condition appeared (t0 + DT), not before
    assert first.stamp - (t0 + DT) == pytest.approx(delay, abs=DT + 1e-6)
    assert first.stamp - (t0 + DT) >= delay - 1e-6
    before = [o for o in outs if o.stamp < first.stamp]
    assert all(o.warnings & fault and not o.faults_active & fault for o in before)
    r = RULE[fault]
    if r.blocks_charge:
        assert not first.charge_fet
    if r.blocks_discharge:
        assert not first.discharge_fet
    if not r.blocks_charge and not r.blocks_discharge:
        assert first.charge_fet and first.discharge_fet  # reported only


@pytest.mark.parametrize(("fault", "over", "beyond", "between", "clear"), CASES, ids=IDS)
def test_releases_with_hysteresis_or_latches(fault, over, beyond, between, clear):
    run = Run(over)
    run.feed(nominal, 1.0)
    sec = section(run.cfg, fault)
    run.feed(beyond, sec.delay + 0.5)
    assert run.out.faults_active & fault
    if between is not None:  # back inside the threshold but not past the release: stays tripped
        run.feed(between, sec.hold + 5.0)
        assert run.out.faults_active & fault
    outs = run.feed(clear, sec.hold + 1.0)
    released = next((o for o in outs if not o.faults_active & fault), None)
    assert released is not None, "never released"
    held = released.stamp - outs[0].stamp
    assert held >= sec.hold - 1e-6 and held <= sec.hold + 2 * DT
    if RULE[fault].always_latch:
        assert run.out.faults_latched & fault
        assert not run.out.charge_fet and not run.out.discharge_fet
        cleared, remaining = run.bms.reset_faults(run.t)
        if Fault(LOCKING_FAULTS) & fault:  # the cell left its safe region: the pack stays locked
            assert cleared == [fault.name] and remaining == ["SYSTEM_LOCK"]
            run.feed(clear, 0.3)
            assert run.out.faults_latched == Fault.SYSTEM_LOCK and not run.out.charge_fet
            assert run.bms.unlock(run.bms.lock_code, run.t)[0]
        else:
            assert cleared == [fault.name] and remaining == []
        run.feed(clear, 0.3)
        assert run.out.faults_latched == 0 and run.out.charge_fet and run.out.discharge_fet
    else:
        assert run.out.faults_latched == 0
        run.feed(clear, 0.3)
        assert run.out.charge_fet and run.out.discharge_fet


LATCHABLE = [c for c in CASES if not RULE[c[0]].always_latch]


@pytest.mark.parametrize(("fault", "over", "beyond", "between", "clear"), LATCHABLE, ids=[c[0].name for c in LATCHABLE])
def test_latch_policy_holds_until_reset_and_reset_needs_the_condition_gone(fault, over, beyond, between, clear):
    name = f"protection.{RULE[fault].section}.latch"
    run = Run({**over, name: True})
    run.feed(nominal, 1.0)
    sec = section(run.cfg, fault)
    run.feed(beyond, sec.delay + 0.5)
    assert run.out.faults_latched & fault
    assert not run.out.charge_fet and not run.out.discharge_fet  # a latched fault opens both
    if RULE[fault].afe_flag == AfeFlag.NONE:  # condition present: reset refused
        cleared, remaining = run.bms.reset_faults(run.t)
        assert cleared == [] and remaining == [fault.name]
    run.feed(clear, sec.hold + 1.0)
    assert not run.out.faults_active & fault and run.out.faults_latched & fault
    assert not run.out.charge_fet and not run.out.discharge_fet
    ok, why = run.bms.set_charge_enable(True)
    assert not ok and fault.name in why
    cleared, remaining = run.bms.reset_faults(run.t)
    assert cleared == [fault.name] and remaining == []
    run.feed(clear, 0.3)
    assert run.out.faults_latched == 0 and run.out.charge_fet and run.out.discharge_fet


@pytest.mark.parametrize("fault", [Fault.CELL_OVERVOLTAGE_HARD, Fault.CELL_UNDERVOLTAGE_DEEP, Fault.SHORT_CIRCUIT])
def test_severe_faults_always_latch_and_have_no_latch_switch(fault):
    cfg = core_config({})
    assert not hasattr(section(cfg, fault), "latch")
    assert RULE[fault].always_latch and RULE[fault].blocks_charge and RULE[fault].blocks_discharge


def test_short_circuit_flag_still_set_after_reset_is_ignored_briefly_and_clear_is_requested():
    run = Run()
    run.feed(nominal, 0.5)
    run.feed(flag(AfeFlag.SHORT_CIRCUIT), 0.2)
    assert run.out.faults_latched & Fault.SHORT_CIRCUIT and not run.out.discharge_fet
    assert run.out.afe_flags_to_clear == 0  # not before a reset
    cleared, _ = run.bms.reset_faults(run.t)
    assert cleared == ["SHORT_CIRCUIT"]
    run.feed(flag(AfeFlag.SHORT_CIRCUIT), 0.1)  # the AFE still reports it until the node clears it
    assert run.out.afe_flags_to_clear & AfeFlag.SHORT_CIRCUIT
    assert not run.out.faults_active & Fault.SHORT_CIRCUIT
    run.feed(nominal, 0.2)
    assert run.out.faults_latched == 0 and run.out.discharge_fet and run.out.afe_flags_to_clear == 0
    # a flag the node failed to clear comes back after the grace period and latches again
    run.bms.step(sample(run.t + 0.1, flags=AfeFlag.SHORT_CIRCUIT))
    run.t += 0.1
    run.bms.reset_faults(run.t)  # nothing latched now, so nothing to clear
    outs = run.feed(flag(AfeFlag.SHORT_CIRCUIT), run.cfg.protection.afe_flag_clear_timeout + 0.5)
    assert outs[-1].faults_latched & Fault.SHORT_CIRCUIT


def test_hardware_overvoltage_flag_is_cleared_once_the_cells_are_back_below_release():
    run = Run()
    run.feed(nominal, 0.5)
    outs = run.feed(lambda t: sample(t, [3.7, 3.7, 3.7, 4.2], flags=AfeFlag.OVERVOLTAGE), 1.0)
    assert outs[-1].faults_active & Fault.AFE_HW_OVERVOLTAGE and not outs[-1].charge_fet
    assert outs[-1].afe_flags_to_clear == 0  # 4.2 V is above the OV release: keep it
    outs = run.feed(lambda t: sample(t, flags=AfeFlag.OVERVOLTAGE), 0.2)
    assert outs[-1].afe_flags_to_clear & AfeFlag.OVERVOLTAGE
    run.feed(nominal, run.cfg.protection.afe_hw_overvoltage.hold + 0.2)
    assert run.out.faults_active == 0 and run.out.charge_fet


def test_repeated_trips_within_the_window_escalate_to_latched():
    run = Run()
    sec = run.cfg.protection.charge_overcurrent
    run.feed(nominal, 0.5)
    for k in range(sec.escalation_count):
        run.feed(current(20.0), sec.delay + 0.3)
        assert run.out.faults_active & Fault.CHARGE_OVERCURRENT
        latched = bool(run.out.faults_latched & Fault.CHARGE_OVERCURRENT)
        assert latched == (k == sec.escalation_count - 1)
        run.feed(nominal, sec.hold + 0.5)
    assert run.out.faults_latched & Fault.CHARGE_OVERCURRENT and not run.out.discharge_fet
    latch = [e for e in run.bms.fault_history if e["event"] == "latch"]
    assert latch and "escalated" in latch[-1]["detail"]
    assert run.bms.reset_faults(run.t) == (["CHARGE_OVERCURRENT"], [])
    # after a reset the count starts over
    run.feed(current(20.0), sec.delay + 0.3)
    assert not run.out.faults_latched


def test_trips_spread_wider_than_the_window_do_not_escalate():
    run = Run({"protection.charge_overcurrent.escalation_window": 20.0})
    sec = run.cfg.protection.charge_overcurrent
    for _ in range(sec.escalation_count + 1):
        run.feed(current(20.0), sec.delay + 0.3)
        run.feed(nominal, 25.0)
    assert run.out.faults_latched == 0
    assert sum(e["event"] == "trip" for e in run.bms.fault_history) == sec.escalation_count + 1


def test_brief_excursions_shorter_than_the_delay_never_trip_when_the_level_drains_between_them():
    run = Run()
    run.feed(nominal, 1.0)
    for _ in range(5):
        run.feed(cells_max(4.3), 0.8)  # delay is 1 s; 0.7 s counted up
        run.feed(nominal, 1.6)  # counted down at half the rate: drained
    assert run.out.faults_active == 0 and all(e["event"] != "trip" for e in run.bms.fault_history)


def test_a_condition_present_most_of_the_time_trips_although_no_excursion_lasts_the_delay():
    """The up/down level: 0.8 s beyond, 0.3 s back inside, repeated. A timer that restarts inside the limit
    never trips on this (the classic debounce flaw); the level trips on the second excursion."""
    run = Run()
    run.feed(nominal, 1.0)
    outs = []
    for _ in range(3):
        outs += run.feed(cells_max(4.3), 0.8)
        outs += run.feed(nominal, 0.3)
    first = next(o for o in outs if o.faults_active & Fault.CELL_OVERVOLTAGE)
    assert first.stamp <= 1.0 + 2 * 1.1 + 1e-6


def test_missing_samples_neither_start_nor_stop_a_trip_delay():
    run = Run()
    run.feed(nominal, 1.0)
    run.feed(cells_max(4.3), 0.6)
    run.feed(missing, 0.3)  # no data: the OV delay keeps running
    run.feed(cells_max(4.3), 0.2)
    assert run.out.faults_active & Fault.CELL_OVERVOLTAGE


def test_frozen_readings_under_current_are_implausible():
    run = Run({"protection.implausible_data.frozen_time": 5.0})
    frozen = sample(0.0, [3.71, 3.72, 3.70, 3.73], current=-3.0)
    run.feed(lambda t: dataclasses.replace(frozen, stamp=t), 5.0)
    assert run.out.faults_active == 0
    outs = run.feed(lambda t: dataclasses.replace(frozen, stamp=t), 2.0)
    assert outs[-1].faults_active & Fault.IMPLAUSIBLE_DATA and "frozen" in outs[-1].invalid_reason
    assert not outs[-1].charge_fet and not outs[-1].discharge_fet
    # at rest, constant readings are what a rested pack looks like
    run2 = Run({"protection.implausible_data.frozen_time": 5.0})
    rest = sample(0.0, [3.71, 3.72, 3.70, 3.73])
    run2.feed(lambda t: dataclasses.replace(rest, stamp=t), 20.0)
    assert run2.out.faults_active == 0


def test_cell_outside_physical_range_is_implausible_not_overvoltage():
    run = Run()
    run.feed(nominal, 0.5)
    outs = run.feed(cells_max(7.5), 2.0)
    assert outs[-1].faults_active & Fault.IMPLAUSIBLE_DATA
    assert not outs[-1].faults_active & (Fault.CELL_OVERVOLTAGE | Fault.CELL_OVERVOLTAGE_HARD)
    assert "physical range" in outs[-1].invalid_reason


def test_an_open_thermistor_does_not_hide_the_others():
    run = Run()
    run.feed(nominal, 0.5)
    outs = run.feed(lambda t: sample(t, temps=[math.nan, -5.0]), 3.0)
    assert outs[-1].faults_active & Fault.SENSOR_LOSS
    assert outs[-1].faults_active & Fault.CHARGE_UNDERTEMPERATURE


def test_release_hold_restarts_when_the_value_goes_back():
    run = Run()
    run.feed(cells_max(4.3), 1.5)
    hold = run.cfg.protection.cell_overvoltage.hold
    run.feed(cells_max(4.1), hold - 1.0)
    run.feed(cells_max(4.2), 0.5)  # between release and threshold: the hold starts over
    run.feed(cells_max(4.1), hold - 0.5)
    assert run.out.faults_active & Fault.CELL_OVERVOLTAGE
    run.feed(cells_max(4.1), 1.0)
    assert not run.out.faults_active


def test_policy_table_lists_every_fault_with_its_numbers():
    rows = policy_table(core_config({}).protection)
    assert [r.fault for r in rows] == [r.fault.name for r in POLICY]
    ov = rows[0]
    assert ov.trips_when == "cell_max > 4.25 for 1 s" and ov.releases_when == "cell_max < 4.15 for 5 s"
    assert ov.blocks == "charge" and ov.on_trip == "auto-release"
    sc = next(r for r in rows if r.fault == "SHORT_CIRCUIT")
    assert sc.on_trip == "always latch" and sc.blocks == "both"
    oc = next(r for r in rows if r.fault == "CHARGE_OVERCURRENT")
    assert oc.escalation == "latch after 3 trips in 600 s"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"protection.cell_overvoltage.release": 4.3}, "protection.cell_overvoltage.release"),
        ({"protection.cell_undervoltage.release": 2.7}, "protection.cell_undervoltage.release"),
        (
            {"protection.cell_overvoltage_hard.threshold": 4.2, "protection.cell_overvoltage_hard.release": 4.1},
            "protection.cell_overvoltage.threshold",
        ),
        ({"protection.cell_undervoltage_deep.threshold": 2.9}, "protection.cell_undervoltage_deep.threshold"),
        ({"protection.charge_undertemperature.threshold": 50.0}, "protection.charge_undertemperature"),
        (
            {"protection.discharge_overcurrent.threshold": 10.0, "protection.discharge_overcurrent.release": 5.0},
            "protection.discharge_overcurrent_sustained.threshold",
        ),
        ({"limits.charge_temp_full_min": -5.0}, "limits.charge_temp_full_min"),
        ({"balancing.delta_stop": 0.02}, "balancing.delta_stop"),
    ],
)
def test_inconsistent_settings_are_rejected_with_the_parameter_name(values, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        core_config(values)


@pytest.mark.parametrize("chem", ["nmc", "lfp", "lto", "lco"])
def test_chemistry_defaults_are_consistent(chem):
    from bms_ros.core.chemistry import get_chemistry

    c = get_chemistry(chem)
    cfg = core_config({"pack.chemistry": chem})
    p = cfg.protection
    assert (p.cell_overvoltage.threshold, p.cell_overvoltage_hard.threshold) == (c.cell_ov, c.cell_ov_hard)
    assert (p.cell_undervoltage.threshold, p.cell_undervoltage_deep.threshold) == (c.cell_uv, c.cell_uv_deep)
    assert p.charge_undertemperature.threshold == c.charge_temp_min
    assert p.discharge_undertemperature.threshold == c.discharge_temp_min
    assert p.cell_undervoltage.threshold < cfg.balancing.start_voltage < p.cell_overvoltage.threshold


def test_every_parameter_has_a_description_and_numbers_have_a_range():
    from bms_ros.core.config import BmsConfig
    from bms_ros.core.params import specs

    for s in specs(BmsConfig):
        if s.name.startswith(("pack.", "estimation.")):
            continue
        assert s.description, s.name
        if s.type in (int, float):
            assert s.min is not None and s.max is not None, s.name


def test_a_pack_without_thermistors_is_a_sensor_loss_unless_allowed():
    def no_temps(t: float) -> PackSample:
        return dataclasses.replace(sample(t), temperatures=np.zeros(0))

    run = Run()
    outs = run.feed(no_temps, 3.0)
    assert outs[-1].faults_active & Fault.SENSOR_LOSS and not outs[-1].charge_fet
    run = Run({"protection.sensor_loss.min_thermistors": 0})
    outs = run.feed(no_temps, 3.0)
    assert outs[-1].faults_active == 0 and outs[-1].charge_fet
