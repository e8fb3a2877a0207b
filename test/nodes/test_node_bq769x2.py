"""bms_node end to end on afe.type sim_bq769x2: the real bq769x2 driver on its register-level emulator (ISSUE 16)."""

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState

from bms_ros.msg import BmsStatus

from rostest_util import NodeProcess, spin_until

pytestmark = pytest.mark.ros

SIM_16S = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 16, "chemistry": "lfp", "design_capacity_ah": 20.0},
    "afe": {"type": "sim_bq769x2", "crc": True, "thermistor_count": 2},
    "sim": {"initial_soc": 0.6, "load_current": 5.0},
}


def test_node_runs_the_bq769x2_driver_on_its_emulator(ros_node):
    got: list = []
    status: list = []
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    with NodeProcess(SIM_16S) as proc:
        ros_node.create_subscription(BatteryState, "/battery_state", got.append, qos)
        ros_node.create_subscription(BmsStatus, "/bms_node/status", status.append, 10)
        spin_until(ros_node, lambda: len(got) >= 20 and status, 40.0)
        assert proc.proc.poll() is None, proc.proc.stderr.read()
    m = got[-1]
    assert m.present and len(m.cell_voltage) == 16 and all(3.0 < v < 3.5 for v in m.cell_voltage)
    assert m.current == pytest.approx(-5.0, abs=0.05), "the simulated load discharges through the DSG FET"
    assert m.voltage == pytest.approx(sum(m.cell_voltage), abs=0.1)
    assert m.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_GOOD
    s = status[-1]
    assert s.discharge_fet and s.faults_active == 0 and list(s.fault_names) == []
