"""The simulated robot's load: power models and stale-input fallback."""

import math

import pytest

from bms_ros.afe.sim.load_model import LoadInput, RobotPowerModel


def test_cmd_vel_power_model_is_idle_plus_linear_terms():
    m = RobotPowerModel(idle_power_w=10, power_per_mps_w=40, power_per_radps_w=15)
    assert m.from_cmd_vel(0, 0, 0) == 10
    assert m.from_cmd_vel(-1.0, 0, 0) == 50  # reversing costs the same
    assert m.from_cmd_vel(0.6, 0.8, -2.0) == pytest.approx(10 + 40 + 30)


def test_joint_power_is_mechanical_over_efficiency_and_ignores_nan():
    m = RobotPowerModel(idle_power_w=5, drive_efficiency=0.8)
    assert m.from_joints([2.0, -3.0, math.nan], [10.0, 4.0, 1.0]) == pytest.approx(5 + (20 + 12) / 0.8)


def test_load_current_from_power_and_pack_voltage_then_idle_when_stale():
    load = LoadInput(RobotPowerModel(idle_power_w=12, input_timeout_s=1.0))
    load.set_power(240.0, now=10.0)
    assert load.current(24.0, now=10.5) == pytest.approx(10.0)
    assert load.current(24.0, now=11.5) == pytest.approx(0.5), "a dead topic falls back to idle power"
    load.set_current(7.0, now=20.0)
    assert load.current(24.0, now=20.2) == 7.0
    assert load.current(math.nan, now=30.0) == 0.0
