"""~/status, ~/afe_raw, ~/charge_limits, heater and the built-in /diagnostics are built only while something
subscribes (issue 15).

They are VOLATILE: a message published with nobody matched reaches nobody. What a consumer must see is
unchanged: once it subscribes, every sample, however late it joins.
"""

from __future__ import annotations

import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from bms_ros.msg import AfeSample, BmsStatus, ChargeLimits
from bms_ros.nodes.diagnostics import FallbackUpdater

from rostest_util import NodeProcess, spin_until

pytestmark = pytest.mark.ros

SIM_4S = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 10.0},
    "afe": {"type": "sim"},
    "sim": {"initial_soc": 0.6, "load_current": 4.0},
}
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def _stamp(m) -> int:
    return m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec


def test_topics_nobody_subscribes_to_are_not_built_and_a_subscriber_gets_them(ros_node):
    from bms_ros.nodes.bms_node import BmsNode

    node = BmsNode("bms_unsubscribed")
    try:
        out = node.outputs
        sent: dict[str, list] = {"battery": [], "status": [], "raw": [], "limits": [], "heater": [], "diag": []}
        updater = node.diagnostics.updater
        fallback = isinstance(updater, FallbackUpdater)  # diagnostic_updater's own Updater always publishes
        if fallback:
            updater.publisher.publish = sent["diag"].append
        out.battery.publish = sent["battery"].append
        out.status.publish = sent["status"].append
        out.raw.publish = sent["raw"].append
        out.charger.limits_pub.publish = sent["limits"].append
        out.charger.heater_pub.publish = sent["heater"].append
        for _ in range(3):
            node.source._on_timer()
        updater.update()
        assert len(sent["battery"]) == 3, "battery_state goes out on every sample, subscribed or not"
        assert not sent["status"] and not sent["raw"] and not sent["limits"] and not sent["heater"]
        assert not sent["diag"]

        for t, topic in (
            (BmsStatus, "/bms_unsubscribed/status"),
            (AfeSample, "/bms_unsubscribed/afe_raw"),
            (ChargeLimits, "/bms_unsubscribed/charge_limits"),
            (Bool, "/heater"),
            (DiagnosticArray, "/diagnostics"),
        ):
            ros_node.create_subscription(t, topic, lambda m: None, 10)
        pubs = (out.status, out.raw, out.charger.limits_pub, out.charger.heater_pub, updater.publisher)
        assert spin_until(ros_node, lambda: all(p.get_subscription_count() for p in pubs), 10.0)
        for _ in range(3):
            node.source._on_timer()
        updater.update()
        assert [len(v) for v in sent.values()] == [6, 3, 3, 3, 3, 1 if fallback else 0]
        if fallback:
            assert len(sent["diag"][0].status) == 7, "every task reports"
        assert sent["status"][-1].header.stamp == sent["battery"][-1].header.stamp
        assert sent["raw"][-1].sample_time == pytest.approx(node.last_output.sample.stamp)
    finally:
        node.destroy_node()


def test_a_subscriber_that_joins_late_gets_every_sample(ros_node):
    """From a second process, as a bag recorder or a dock controller started after the node: every sample on
        battery_state after it joined is also on ~/status, ~/afe_raw and ~/charge_limits (heater has no stamp: it
    arrives, 30 times at least)."""
    with NodeProcess(SIM_4S) as proc:
        battery: list[BatteryState] = []
        ros_node.create_subscription(BatteryState, "/battery_state", battery.append, RELIABLE)
        assert spin_until(ros_node, lambda: len(battery) >= 15, 30.0), "the node publishes BatteryState"
        got: dict[str, list] = {"status": [], "raw": [], "limits": [], "heater": []}
        ros_node.create_subscription(BmsStatus, "/bms_node/status", got["status"].append, RELIABLE)
        ros_node.create_subscription(AfeSample, "/bms_node/afe_raw", got["raw"].append, RELIABLE)
        ros_node.create_subscription(ChargeLimits, "/bms_node/charge_limits", got["limits"].append, RELIABLE)
        ros_node.create_subscription(Bool, "/heater", got["heater"].append, RELIABLE)
        joined = len(battery)
        assert spin_until(ros_node, lambda: min(len(v) for v in got.values()) >= 30, 30.0), {
            k: len(v) for k, v in got.items()
        }
        end = time.monotonic() + 0.5
        while time.monotonic() < end:  # the messages of the last sample arrive
            spin_until(ros_node, lambda: False, 0.05)
        assert proc.proc.poll() is None
    first = max(_stamp(got["status"][0]), _stamp(got["limits"][0]), round(got["raw"][0].sample_time * 1e9))
    last = min(_stamp(got["status"][-1]), _stamp(got["limits"][-1]), round(got["raw"][-1].sample_time * 1e9))
    expected = [_stamp(m) for m in battery[joined - 1 :] if first <= _stamp(m) <= last]
    assert len(expected) >= 25
    for name in ("status", "limits"):
        stamps = {_stamp(m) for m in got[name]}
        assert [s for s in expected if s not in stamps] == [], f"~/{name} missed samples"
    raw = {round(m.sample_time * 1e9) for m in got["raw"]}
    assert [s for s in expected if all(abs(s - r) > 1000 for r in raw)] == [], "~/afe_raw missed samples"
    assert not any(m.data for m in got["heater"]), "no heater is fitted"
