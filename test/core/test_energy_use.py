"""Energy use for planners and the low-battery signal (issue 18, items 2 and 3), on a simulated pack."""

from __future__ import annotations

import math

import pytest

from bms_ros.afe.sim.load_model import LoadInput, RobotPowerModel
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.energy_use import EnergyMeter, EnergyUseConfig, Throughput
from bms_ros.core.low_battery import Level, LowBatteryConfig, LowBatteryMonitor

MODEL = RobotPowerModel(idle_power_w=12.0, power_per_mps_w=45.0, power_per_radps_w=15.0)
STEP_S = 0.1


def drive(meter: EnergyMeter, legs: list[tuple[float, float]], odometry: bool = True) -> PackModel:
    """(duration s, speed m/s) legs on a simulated 4S pack loaded by the cmd_vel power model; the meter sees
    what the BMS measures (terminal voltage x current) and, optionally, the odometer."""
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(initial_soc=0.9, seed=3))
    pack.charge_fet = pack.discharge_fet = True
    load, t, odo = LoadInput(MODEL), 0.0, 0.0
    for duration, v in legs:
        for _ in range(round(duration / STEP_S)):
            load.set_power(MODEL.from_cmd_vel(v, 0.0, 0.0), t)
            pack.load_a = load.current(pack.pack_voltage(), t)
            pack.step(STEP_S)
            t += STEP_S
            odo += v * STEP_S
            power = -pack.pack_voltage() * pack.current_a
            if odometry:
                meter.update(t, power, odo, v, 0.0)
            else:
                meter.update(t, power)
    return pack


def test_energy_per_metre_and_idle_power_within_5_percent_on_a_simulated_drive():
    meter = EnergyMeter(EnergyUseConfig(window_s=300.0))
    drive(meter, [(20.0, 0.0), (40.0, 0.5), (15.0, 0.0), (40.0, 1.0), (20.0, 0.0)])
    use = meter.result(energy_remaining_wh=100.0)
    assert use.idle_power_w == pytest.approx(MODEL.idle_power_w, rel=0.05)
    assert use.drive_energy_j_per_m == pytest.approx(MODEL.power_per_mps_w, rel=0.05)
    assert use.distance_m == pytest.approx(60.0, rel=0.01)
    expected_avg = (55 * 12.0 + 40 * (12 + 22.5) + 40 * (12 + 45)) / 135
    assert use.average_power_w == pytest.approx(expected_avg, rel=0.05)
    assert use.time_to_empty_at_pace_s == pytest.approx(100.0 * 3600 / use.average_power_w)


def test_without_odometry_idle_and_per_metre_are_unknown_but_the_pace_is_measured():
    meter = EnergyMeter()
    drive(meter, [(30.0, 0.5)], odometry=False)
    use = meter.result(50.0)
    assert math.isnan(use.idle_power_w) and math.isnan(use.drive_energy_j_per_m) and math.isnan(use.distance_m)
    assert use.average_power_w == pytest.approx(12 + 22.5, rel=0.05)


def test_average_power_follows_the_window():
    meter = EnergyMeter(EnergyUseConfig(window_s=10.0))
    drive(meter, [(30.0, 1.0), (12.0, 0.0)])
    assert meter.result().average_power_w == pytest.approx(MODEL.idle_power_w, rel=0.05)


def test_throughput_counts_both_directions_and_survives_a_corrupt_record():
    t = Throughput()
    t.add(16.0, -5.0, 3600.0 / 2)  # dt above the step limit: not integrated
    for _ in range(3600):
        t.add(16.0, -5.0, 1.0)
    for _ in range(3600):
        t.add(16.0, 5.0, 1.0)
    assert t.charge_ah == pytest.approx(10.0) and t.energy_wh == pytest.approx(160.0)
    assert t.discharge_energy_wh == pytest.approx(80.0) and t.equivalent_cycles(10.0) == pytest.approx(0.5)
    assert Throughput.from_dict(Throughput.to_dict(t)) == t
    assert Throughput.from_dict({"energy_wh": "x", "charge_ah": -1, "discharge_energy_wh": math.inf}) == Throughput()


def test_low_battery_decides_on_the_pessimistic_soc_with_hysteresis_and_says_why():
    mon = LowBatteryMonitor(
        LowBatteryConfig(
            low_soc=0.2, low_release_soc=0.25, critical_soc=0.1, critical_release_soc=0.13, sigma_factor=1.0
        )
    )
    assert mon.update(0.215, 0.01).level == Level.OK
    s = mon.update(0.205, 0.01)  # 0.195 pessimistic
    assert s.level == Level.LOW and "low_soc 0.2" in s.reason and "SoC 0.205 +/- 0.010" in s.reason
    for soc in (0.215, 0.205, 0.24, 0.21):  # noise around the limit does not release it
        assert mon.update(soc, 0.01).level == Level.LOW
    assert mon.update(0.27, 0.01).level == Level.OK  # 0.26 > release 0.25
    assert mon.update(0.105, 0.01).level == Level.CRITICAL
    assert mon.update(0.13, 0.01).level == Level.CRITICAL  # 0.12 < 0.13
    assert mon.update(0.15, 0.01).level == Level.LOW  # above critical release, still low
    assert mon.update(math.nan, math.nan).level == Level.LOW  # unknown holds
    assert "held" in mon.state.reason


def test_low_battery_on_time_to_empty_at_mission_pace():
    mon = LowBatteryMonitor(LowBatteryConfig(low_time_s=600.0, critical_time_s=120.0))
    assert mon.update(0.8, 0.01, time_to_empty_s=900.0).level == Level.OK
    s = mon.update(0.8, 0.01, time_to_empty_s=500.0)
    assert s.level == Level.LOW and "low_time_s 600 s" in s.reason
    assert mon.update(0.8, 0.01, time_to_empty_s=700.0).level == Level.LOW  # release at 720 s
    assert mon.update(0.8, 0.01, time_to_empty_s=100.0).level == Level.CRITICAL


def test_low_battery_config_rejects_a_release_below_its_limit():
    with pytest.raises(ValueError, match="release"):
        LowBatteryMonitor(LowBatteryConfig(low_release_soc=0.1))
