"""Every built-in chemistry maps to a BatteryState technology (an NCA pack published UNKNOWN: issue 12)."""

import pytest
from sensor_msgs.msg import BatteryState

from bms_ros.core.chemistry import CHEMISTRIES
from bms_ros.nodes import battery_state

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("chemistry", sorted(CHEMISTRIES))
def test_every_chemistry_has_a_power_supply_technology(chemistry):
    tech = battery_state.technology(chemistry)
    assert tech != BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN
    assert tech == (
        BatteryState.POWER_SUPPLY_TECHNOLOGY_LIFE if chemistry == "lfp" else BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
    )
