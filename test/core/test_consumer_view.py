"""The core's consumer-facing decisions (ISSUE 14): health, held values, the published SoC."""

import dataclasses
import math

import numpy as np

from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.health import Health, health
from bms_ros.core.reported import ConsumerView
from bms_ros.core.types import Estimate, PackSample


def good(t: float, current: float = -2.0) -> PackSample:
    return PackSample(
        stamp=t,
        cell_voltages=np.full(4, 3.7),
        pack_voltage=14.8,
        current=current,
        temperatures=np.array([25.0]),
        charge_fet=True,
        discharge_fet=True,
    )


def test_charge_window_faults_matter_only_with_a_charge_wanted():
    assert health(int(Fault.CHARGE_UNDERTEMPERATURE), charge_wanted=False) is Health.GOOD
    assert health(int(Fault.CHARGE_UNDERTEMPERATURE), charge_wanted=True) is Health.COLD
    assert health(int(Fault.CHARGE_OVERTEMPERATURE), charge_wanted=True) is Health.OVERHEAT
    assert health(int(Fault.DISCHARGE_UNDERTEMPERATURE), charge_wanted=False) is Health.COLD


def test_under_voltage_cut_off_is_dead():
    assert health(int(Fault.CELL_UNDERVOLTAGE), charge_wanted=False) is Health.DEAD
    assert health(int(Fault.IMPLAUSIBLE_DATA), charge_wanted=False) is Health.UNSPEC_FAILURE


def test_a_failed_read_is_held_with_the_chips_fets_until_stale():
    v = ConsumerView(core_config({}))
    v.last_good = good(0.0)
    held = v.sample(PackSample.missing(0.1, 4, 1, read_errors=3), valid=False, fresh=True)
    assert held.pack_voltage == 14.8 and held.read_errors == 3 and not held.comm_ok
    stale = v.sample(PackSample.missing(2.0, 4, 1), valid=False, fresh=False)
    assert math.isnan(stale.pack_voltage) and stale.discharge_fet, "the chip's FET as last read back"


def test_published_soc_never_moves_against_the_current_and_is_one_at_the_end_of_charge():
    v = ConsumerView(core_config({}))
    e = Estimate(soc=0.5, soc_std=0.01, capacity_ah=10.0)
    assert v.estimate(e, -2.0, 0.0, False).soc == 0.5
    assert v.estimate(dataclasses.replace(e, soc=0.51), -2.0, 0.0, False).soc == 0.5  # discharging: no rise
    assert v.estimate(dataclasses.replace(e, soc=0.49), -2.0, 0.0, False).soc == 0.49
    assert v.estimate(dataclasses.replace(e, soc=0.48), 2.0, 0.0, False).soc == 0.49  # charging: no fall
    assert v.estimate(dataclasses.replace(e, soc=0.52), 0.0, 0.0, False).soc == 0.52  # at rest: corrections
    assert v.estimate(dataclasses.replace(e, soc=0.993), 0.2, 0.0, True).soc == 1.0


def test_soc_uncertainty_grows_with_the_time_without_data():
    v = ConsumerView(core_config({}))
    v.last_good = good(0.0)
    e = Estimate(soc=0.5, soc_std=0.01, capacity_ah=10.0)
    v.estimate(e, -2.0, 0.0, False)
    s10 = v.estimate(e, math.nan, 10.0, False).soc_std
    s100 = v.estimate(e, math.nan, 100.0, False).soc_std
    assert 0.01 < s10 < s100
