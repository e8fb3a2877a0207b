"""The simulated pack's load follows ``sim.load_source``, also when it changes at runtime (issue 15: only the
configured load topic is subscribed, so the subscription has to move with the parameter)."""

from __future__ import annotations

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Float64

from rostest_util import NodeProcess, set_params, spin_until

pytestmark = pytest.mark.ros

SIM_4S = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 10.0},
    "afe": {"type": "sim"},
    "sim": {"initial_soc": 0.6, "load_current": 1.0, "load_source": "constant", "input_timeout": 5.0},
}


def test_switching_load_source_at_runtime_takes_the_new_topic(ros_node):
    with NodeProcess(SIM_4S) as proc:
        bs: list[BatteryState] = []
        ros_node.create_subscription(
            BatteryState, "/battery_state", bs.append, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
        load = ros_node.create_publisher(Float64, "/load_current", 10)
        assert spin_until(ros_node, lambda: len(bs) > 5 and bs[-1].current < -0.5, 30.0), "constant 1 A load"
        assert load.get_subscription_count() == 0, "load_current is not subscribed while the load is constant"

        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.load_source": "current"}))
        assert spin_until(ros_node, lambda: load.get_subscription_count() == 1, 10.0), "load_current subscribed"

        def draws_6a() -> bool:
            load.publish(Float64(data=6.0))
            return bs[-1].current < -5.0

        assert spin_until(ros_node, draws_6a, 20.0), f"the 6 A on load_current reaches the pack: {bs[-1].current}"
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.load_source": "constant"}))
        assert spin_until(ros_node, lambda: load.get_subscription_count() == 0, 10.0), "load_current unsubscribed"
        assert spin_until(ros_node, lambda: -1.5 < bs[-1].current < -0.5, 20.0), "back to the constant 1 A"
        assert proc.proc.poll() is None
