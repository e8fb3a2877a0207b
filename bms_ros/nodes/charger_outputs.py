"""What the charger, the dock and the heater hear: ``~/charge_limits``, ``heater`` and (optionally) CAN.

Only transport: every value is the core's decision (BmsOutput); see bms_ros.core.charge_limits and
bms_ros.core.heater. ``heater`` (std_msgs/Bool, relative: remap it onto the GPIO or relay driver) is published
every cycle while something subscribes to it, and False when the node stops. Like ``~/charge_limits`` it is
VOLATILE: a message published with nobody matched reaches nobody, so it is not built (bms_ros.nodes.publishers).
"""

from __future__ import annotations

from std_msgs.msg import Bool

from bms_ros.core import BmsOutput
from bms_ros.msg import ChargeLimits
from bms_ros.msg_fields import charge_limits_fields
from bms_ros.nodes.qos_events import publisher_events, subscribed


class ChargerOutputs:
    def __init__(self, node, cfg):
        self.node = node
        self.limits_pub = node.create_publisher(ChargeLimits, "~/charge_limits", 10, event_callbacks=publisher_events())
        self.heater_pub = node.create_publisher(Bool, "heater", 10, event_callbacks=publisher_events())
        self.can = None
        if cfg.can.enabled:
            from bms_ros.nodes.can_output import CanOutput  # python-can only when enabled

            self.can = CanOutput(node, cfg.can)
        self._limits = ChargeLimits()  # refilled for every sample (every field is set; publish() serialises it)
        self._heater = Bool()

    def publish(self, out: BmsOutput, stamp, frame_id: str) -> None:
        if subscribed(self.limits_pub):
            msg = self._limits
            msg.header.stamp, msg.header.frame_id = stamp, frame_id
            for k, v in charge_limits_fields(out).items():
                setattr(msg, k, v)
            self.limits_pub.publish(msg)
        if subscribed(self.heater_pub):
            self._heater.data = bool(out.heater_on)
            self.heater_pub.publish(self._heater)

    def close(self) -> None:
        try:
            self.heater_pub.publish(Bool(data=False))
        finally:
            if self.can is not None:
                self.can.close()
