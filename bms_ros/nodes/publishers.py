"""What bms_node publishes for every sample: BatteryState, ``~/status``, the raw sample (``~/afe_raw``, what
``ros2 bag record`` needs for replay) and the charger outputs. Only transport: every value is the core's.

BatteryState goes out on every sample. The other topics are built and published only while something subscribes
to them (``ros2 bag record``, the aggregator, a dock controller): they are VOLATILE, so a subscriber receives
exactly what it did before, every sample from the moment it is matched; a robot without one saves building and
serialising three large messages per sample (about a third of the node's CPU time, bench_node_overhead.py)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState

from bms_ros.afe import Afe, pack_serial
from bms_ros.config import BmsRosConfig
from bms_ros.core import BmsOutput
from bms_ros.msg import AfeSample, BmsStatus
from bms_ros.nodes.battery_state import fill_battery_state, supply_status
from bms_ros.nodes.charger_outputs import ChargerOutputs
from bms_ros.nodes.messages import fill_status, sample_to_msg
from bms_ros.nodes.qos_events import publisher_events, subscribed

__all__ = ["BATTERY_QOS", "BmsPublishers"]

BATTERY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # Nav2 subscribes RELIABLE
NS_PER_S = 1_000_000_000


def stamp_msg(stamp_s: float) -> Time:
    """builtin_interfaces/Time of a node-clock time in seconds (what rclpy.time.Time(...).to_msg() gives)."""
    sec, nanosec = divmod(round(stamp_s * 1e9), NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


class BmsPublishers:
    def __init__(self, node, cfg: BmsRosConfig):
        self.node, self.cfg = node, cfg
        self.battery = node.create_publisher(
            BatteryState, "battery_state", BATTERY_QOS, event_callbacks=publisher_events(self._on_incompatible_qos)
        )
        self.status = node.create_publisher(BmsStatus, "~/status", 10, event_callbacks=publisher_events())
        self.raw = node.create_publisher(AfeSample, "~/afe_raw", 10, event_callbacks=publisher_events())
        self.charger = ChargerOutputs(node, cfg)  # ~/charge_limits, heater, CAN (can.enabled)
        # one message per topic, refilled for every sample: publish() serialises it before it returns, and the
        # fill functions set every field but the header (msg_fields' dicts hold every field: the bag tools build
        # their messages from them alone)
        self._battery_msg, self._status_msg, self._raw_msg = BatteryState(), BmsStatus(), AfeSample()

    def _on_incompatible_qos(self, event) -> None:
        self.node.get_logger().warn(
            f"battery_state: a subscriber asks for a QoS this publisher cannot offer (policy "
            f"{event.last_policy_kind}); it receives nothing (BatteryState is RELIABLE, VOLATILE, depth 10)",
            throttle_duration_sec=10.0,
        )

    def publish(self, out: BmsOutput, stamp_s: float, contact: bool | None, afe: Afe | None) -> None:
        cfg = self.cfg
        stamp = stamp_msg(stamp_s)
        lost = not out.data_fresh
        msg = self._battery_msg
        msg.header.stamp, msg.header.frame_id = stamp, cfg.frame_id
        fill_battery_state(
            msg,
            out,
            supply_status(out, contact, lost),
            lost,
            cfg.pack.chemistry,
            cfg.pack.design_capacity_ah,
            cfg.location,
            cfg.serial_number or pack_serial(afe),
            contact,
        )
        if lost and afe is not None and afe.status_reason:
            msg.present = False  # the AFE says why it cannot see the pack (e.g. a chip in SHIP mode)
        self.battery.publish(msg)
        if subscribed(self.status):
            self._publish_status(out, stamp, contact)
        if subscribed(self.raw):
            raw = self._raw_msg
            raw.header.stamp, raw.header.frame_id = stamp, cfg.frame_id
            self.raw.publish(sample_to_msg(raw, out.sample))
        self.charger.publish(out, stamp, cfg.frame_id)

    def _publish_status(self, out: BmsOutput, stamp: Time, contact: bool | None) -> None:
        st = self._status_msg
        st.header.stamp, st.header.frame_id = stamp, self.cfg.frame_id
        fill_status(st, out)
        st.charger_contact = (
            BmsStatus.CHARGER_UNKNOWN
            if contact is None
            else BmsStatus.CHARGER_CONNECTED
            if contact
            else BmsStatus.CHARGER_DISCONNECTED
        )
        self.status.publish(st)
