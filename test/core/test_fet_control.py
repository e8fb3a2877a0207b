"""FET state machine: states, host requests, stale and missing data, shutdown."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.fet_control import FetConfig, FetController, FetInputs
from bms_ros.core.types import BmsState, Estimate, PackSample


class FixedEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)


def sample(t: float, cell: float = 3.7, current: float = 0.0, temp: float = 25.0) -> PackSample:
    c = np.full(4, cell)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()),
        current=current,
        temperatures=np.array([temp]),
        die_temperature=30.0,
    )


def make(**over) -> Bms:
    bms = Bms(core_config({"protection.implausible_data.frozen_time": 0.0, **over}))
    bms.estimator = FixedEstimator()
    return bms


def inputs(**kw) -> FetInputs:
    base = dict(
        valid=True,
        fresh=True,
        have_data=True,
        current=0.0,
        block_charge=0,
        block_discharge=0,
        latched=0,
        warn_charge=False,
        warn_discharge=False,
    )
    base.update(kw)
    return FetInputs(**base)


def test_starts_in_init_with_both_off_until_a_valid_sample():
    bms = make()
    out = bms.step(PackSample.missing(0.0, 4, 1))
    assert out.state == BmsState.INIT and not out.charge_fet and not out.discharge_fet
    assert bms.set_discharge_enable(True) == (
        False,
        "discharge enable remembered, but discharging is blocked: no valid data yet",
    )
    out = bms.step(sample(0.1))
    assert out.state == BmsState.STANDBY and out.charge_fet and out.discharge_fet


@pytest.mark.parametrize(
    ("current", "state"), [(2.0, BmsState.CHARGING), (-2.0, BmsState.DISCHARGING), (0.05, BmsState.STANDBY)]
)
def test_state_follows_the_current(current, state):
    bms = make()
    assert bms.step(sample(0.0, current=current)).state == state


def test_missing_samples_hold_the_fets_until_stale_then_open_both():
    bms = make()
    bms.step(sample(0.0))
    stale = bms.cfg.protection.stale_timeout
    out = bms.step(PackSample.missing(stale - 0.1, 4, 1))
    assert out.charge_fet and out.discharge_fet and out.data_fresh  # one failed read is not a reason to cut
    out = bms.step(PackSample.missing(stale + 0.1, 4, 1))
    assert not out.charge_fet and not out.discharge_fet and not out.data_fresh
    assert out.state == BmsState.FAULT and "stale" in out.limit_reason
    # a single valid sample brings them back (comm loss released after its hold later)
    out = bms.step(sample(stale + 0.2))
    assert out.data_fresh


def test_stale_by_stamp_gap_alone():
    bms = make()
    bms.step(sample(0.0))
    out = bms.step(PackSample.missing(5.0, 4, 1))
    assert not out.charge_fet and not out.discharge_fet and out.state == BmsState.FAULT


def test_missing_sample_never_switches_a_fet_on():
    bms = make()
    bms.set_charge_enable(False)
    bms.step(sample(0.0))
    bms.set_charge_enable(True)
    out = bms.step(PackSample.missing(0.1, 4, 1))
    assert not out.charge_fet and out.discharge_fet
    assert bms.step(sample(0.2)).charge_fet


def test_host_request_disables_and_is_remembered_while_a_protection_forbids():
    bms = make()
    bms.step(sample(0.0))
    assert bms.set_discharge_enable(False) == (True, "discharging disabled")
    out = bms.step(sample(0.1))
    assert not out.discharge_fet and out.charge_fet and not out.discharge_enable_requested
    assert "disabled by host" in out.limit_reason and out.discharge_current_limit == 0.0
    # cold: charging forbidden; the request is refused with the reason but remembered
    for k in range(40):
        out = bms.step(sample(0.2 + 0.1 * k, temp=-5.0))
    assert out.faults_active & Fault.CHARGE_UNDERTEMPERATURE and not out.charge_fet
    bms.set_charge_enable(False)
    ok, why = bms.set_charge_enable(True)
    assert not ok and "CHARGE_UNDERTEMPERATURE" in why
    t = 5.0
    while bms.step(sample(t, temp=20.0)).faults_active:
        t += 0.1
    out = bms.step(sample(t + 0.1, temp=20.0))
    assert out.charge_fet and out.charge_enable_requested


def test_a_host_request_cannot_override_a_protection():
    bms = make()
    for k in range(30):
        bms.step(sample(0.1 * k, cell=2.7))
    assert bms.set_discharge_enable(True)[0] is False
    out = bms.step(sample(3.1, cell=2.7))
    assert out.faults_active & Fault.CELL_UNDERVOLTAGE and not out.discharge_fet and out.charge_fet


def test_shutdown_is_a_sticky_safe_state():
    bms = make()
    assert bms.step(sample(0.0)).discharge_fet
    bms.shutdown()
    out = bms.step(sample(0.1))
    assert out.state == BmsState.SHUTDOWN and not out.charge_fet and not out.discharge_fet
    assert out.balancing_mask == 0
    assert bms.set_charge_enable(True)[0] is False


def test_both_directions_blocked_is_the_fault_state():
    c = FetController(FetConfig())
    d = c.update(inputs(block_charge=int(Fault.SENSOR_LOSS), block_discharge=int(Fault.SENSOR_LOSS)))
    assert d.state == BmsState.FAULT and not d.charge and not d.discharge and d.charge_reason == "SENSOR_LOSS"


def test_latched_fault_opens_both_even_if_it_only_blocks_one_direction():
    c = FetController(FetConfig())
    d = c.update(inputs(latched=int(Fault.CHARGE_OVERCURRENT), block_charge=int(Fault.CHARGE_OVERCURRENT)))
    assert d.state == BmsState.FAULT and not d.discharge and "latched CHARGE_OVERCURRENT" in d.discharge_reason


def test_a_pending_warning_keeps_an_off_fet_off_but_does_not_open_an_on_one():
    c = FetController(FetConfig())
    assert not c.update(inputs(warn_charge=True)).charge  # off -> stays off
    assert c.update(inputs()).charge  # clean -> on
    assert c.update(inputs(warn_charge=True)).charge  # on -> stays on while the delay runs
    assert not c.update(inputs(block_charge=int(Fault.CELL_OVERVOLTAGE))).charge


def test_unknown_current_keeps_the_previous_operating_state():
    c = FetController(FetConfig())
    c.update(inputs(current=-3.0))
    assert c.update(inputs(valid=False, current=math.nan)).state == BmsState.DISCHARGING


def test_shutdown_fet_state_is_the_core_s_decision():
    """ISSUE 12: what the FETs are left at when the node stops is decided here, the node only applies it."""
    from bms_ros.core.fet_control import shutdown_fet_state

    assert shutdown_fet_state("off", True, True) == (False, False)
    assert shutdown_fet_state("charge_off", True, True) == (False, True)  # the robot keeps running
    assert shutdown_fet_state("charge_off", True, None) == (False, False)  # unknown: open
    assert shutdown_fet_state("keep", True, False) is None
