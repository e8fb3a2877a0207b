"""bms_aggregator: the robot's battery from N packs (one bms_node each), for Nav2, docking and fleet planners.

Subscribes to every pack's battery_state and ~/status, publishes the robot's battery_state (what a consumer in
the robot's namespace reads), ~/status (bms_ros/AggregateStatus: energy use, low-battery state, packs in and
out), ~/low and ~/critical (std_msgs/Bool, latched) and /diagnostics. Every rule lives in bms_ros.core
(aggregate, pack_roster, energy_use, low_battery); this node only transports.
"""

from __future__ import annotations

import math
import sys

from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool

from bms_ros.core import (
    AGGREGATOR_SPECS,
    AggregatorConfig,
    EnergyMeter,
    Level,
    LowBatteryMonitor,
    PackRoster,
    StateStore,
    Throughput,
    aggregate_packs,
    flatten,
    load_aggregator_config,
)
from bms_ros.msg import AggregateStatus, BmsStatus
from bms_ros.nodes.aggregate_messages import fill_battery_state, fill_status, reading_from_msgs
from bms_ros.nodes.diagnostics import ERROR, OK, WARN, make_updater
from bms_ros.nodes.node_params import plain
from bms_ros.nodes.process import run_node
from bms_ros.nodes.publishers import BATTERY_QOS

LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# best effort matches both reliable and best-effort odometry publishers
ODOM_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
THROUGHPUT_SECTION = "pack_throughput"


class AggregatorNode(Node):
    def __init__(self, node_name: str = "bms_aggregator", **kwargs):
        super().__init__(node_name, **kwargs)
        overrides = getattr(self, "_parameter_overrides", {})
        self.cfg: AggregatorConfig = load_aggregator_config({k: plain(p.value) for k, p in overrides.items()})
        for name, value in flatten(self.cfg).items():  # as validated (an integer given for a number: float)
            self.declare_parameter(
                name,
                value,
                ParameterDescriptor(description=AGGREGATOR_SPECS[name].description, read_only=True),
                ignore_override=True,
            )
        cfg = self.cfg
        self.names = cfg.pack_names()
        self.roster = PackRoster(self.names, cfg.pack_timeout)
        self.meter = EnergyMeter(cfg.energy)
        self.low = LowBatteryMonitor(cfg.low_battery)
        self.store = StateStore(cfg.state_file) if cfg.state_file else None
        stored = self.store.get(THROUGHPUT_SECTION, {}) if self.store else {}
        self.throughput: dict[str, Throughput] = {
            k: Throughput.from_dict(v) for k, v in (stored if isinstance(stored, dict) else {}).items()
        }
        self._last_bs: dict[str, tuple[BatteryState, float]] = {}
        self._last_status: dict[str, tuple[BmsStatus, float]] = {}
        self._odometer = 0.0
        self._odom: tuple[float, float, float, float, float] | None = None  # (t, x, y, speed, yaw rate)
        self._published_level: Level | None = None
        self._last_save = self.now()

        for name in self.names:
            self.create_subscription(
                BatteryState,
                cfg.battery_state_topic.format(pack=name),
                lambda m, n=name: self._on_battery_state(n, m),
                BATTERY_QOS,
            )
            if cfg.status_topic:
                self.create_subscription(
                    BmsStatus, cfg.status_topic.format(pack=name), lambda m, n=name: self._on_status(n, m), 10
                )
        if cfg.odometry_topic:
            self.create_subscription(Odometry, cfg.odometry_topic, self._on_odometry, ODOM_QOS)
        self.battery_pub = self.create_publisher(BatteryState, "battery_state", BATTERY_QOS)
        self.status_pub = self.create_publisher(AggregateStatus, "~/status", 10)
        self.low_pub = self.create_publisher(Bool, "~/low", LATCHED_QOS)
        self.critical_pub = self.create_publisher(Bool, "~/critical", LATCHED_QOS)
        self.updater = make_updater(self)
        self.updater.setHardwareID(f"{cfg.topology} {'+'.join(self.names)}")
        self.updater.add("battery aggregate", self._diagnose)
        self._status = AggregateStatus()
        self.timer = self.create_timer(1.0 / cfg.rate_hz, self._on_timer)
        self.get_logger().info(f"robot battery from {len(self.names)} packs in {cfg.topology}: {', '.join(self.names)}")

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- inputs ----------------------------------------------------------------------------------------------
    def _on_battery_state(self, name: str, msg: BatteryState) -> None:
        now = self.now()
        prev = self._last_bs.get(name)
        self._last_bs[name] = (msg, now)
        if prev is not None and msg.present:
            key = msg.serial_number or name
            self.throughput.setdefault(key, Throughput()).add(msg.voltage, msg.current, now - prev[1])
        status = self._last_status.get(name)
        fresh = status if status is not None and now - status[1] <= self.cfg.pack_timeout else None
        self.roster.update(reading_from_msgs(name, msg, fresh[0] if fresh else None), now)

    def _on_status(self, name: str, msg: BmsStatus) -> None:
        self._last_status[name] = (msg, self.now())

    def _on_odometry(self, msg: Odometry) -> None:
        now, p, tw = self.now(), msg.pose.pose.position, msg.twist.twist
        if self._odom is not None:
            self._odometer += math.hypot(p.x - self._odom[1], p.y - self._odom[2])
        self._odom = (now, p.x, p.y, math.hypot(tw.linear.x, tw.linear.y), tw.angular.z)

    # ---- the cycle -------------------------------------------------------------------------------------------
    def _on_timer(self) -> None:
        now, cfg = self.now(), self.cfg
        members = self.roster.members(now)
        agg = aggregate_packs(members, cfg.topology, expected=len(self.names))
        odom = self._odom if self._odom is not None and now - self._odom[0] <= cfg.pack_timeout else None
        if odom is not None:
            self.meter.update(now, -agg.power_w, self._odometer, odom[3], odom[4])
        else:
            self.meter.update(now, -agg.power_w)
        use = self.meter.result(agg.energy_wh)
        low = self.low.update(agg.percentage, agg.soc_std, use.time_to_empty_at_pace_s)

        stamp = self.get_clock().now().to_msg()
        bs = BatteryState()
        bs.header.stamp, bs.header.frame_id = stamp, cfg.frame_id
        member_msgs = [self._last_bs[r.name][0] for r in members]
        self.battery_pub.publish(fill_battery_state(bs, agg, member_msgs, cfg.topology == "series"))
        packs = []
        for name in self.names:
            slot = self.roster.slots[name]
            key = (slot.reading.serial_number if slot.reading else "") or name
            design = slot.reading.design_capacity_ah if slot.reading else math.nan
            packs.append(
                (name, self.roster.why_out(name, now), slot.reading, self.throughput.get(key, Throughput()), design)
            )
        st = AggregateStatus()
        st.header.stamp, st.header.frame_id = stamp, cfg.frame_id
        self._status = fill_status(st, cfg.topology, agg, use, cfg.energy.window_s, low, packs)
        self.status_pub.publish(self._status)
        if low.level != self._published_level:
            self.low_pub.publish(Bool(data=low.level >= Level.LOW))
            self.critical_pub.publish(Bool(data=low.level >= Level.CRITICAL))
            self._published_level = low.level
        if self.store is not None and now - self._last_save >= cfg.state_save_period:
            self.save()

    def save(self) -> None:
        if self.store is None:
            return
        self._last_save = self.now()
        try:
            self.store.put(THROUGHPUT_SECTION, {k: t.to_dict() for k, t in self.throughput.items()})
        except OSError as e:
            self.get_logger().error(
                f"could not save the lifetime counters to {self.store.path}: {e}", throttle_duration_sec=60.0
            )

    def _diagnose(self, stat):
        s = self._status
        out = [f"{n}: {why}" for n, why in zip(s.pack_names, s.pack_out_reason) if why]
        inside = [n for n, ok in zip(s.pack_names, s.pack_in_aggregate) if ok]
        if not inside or (self.cfg.topology == "series" and out):
            stat.summary(
                ERROR, "no battery: " + "; ".join(out) if not inside else "series string open: " + "; ".join(out)
            )
        elif out:
            stat.summary(WARN, "pack out of the aggregate: " + "; ".join(out))
        else:
            stat.summary(OK, f"{len(inside)} packs in {self.cfg.topology}")
        if s.level == Level.CRITICAL:
            stat.mergeSummary(ERROR, f"battery critical: {s.low_reason}")
        elif s.level == Level.LOW:
            stat.mergeSummary(WARN, f"battery low: {s.low_reason}")
        stat.add("packs in aggregate", ", ".join(inside) or "none")
        for n, why in zip(s.pack_names, s.pack_out_reason):
            stat.add(f"{n}", why or "in")
        stat.add("percentage", f"{s.percentage:.3f} +/- {s.percentage_std:.3f}")
        stat.add("energy remaining (Wh)", f"{s.energy_remaining_wh:.1f} +/- {s.energy_remaining_std_wh:.1f}")
        stat.add("average power (W)", f"{s.average_power:.1f}")
        stat.add("idle power (W)", f"{s.idle_power:.1f}")
        stat.add("drive energy per metre (J/m)", f"{s.drive_energy_per_metre:.1f}")
        stat.add("low battery", ["ok", "low", "critical"][s.level] + (f": {s.low_reason}" if s.low_reason else ""))
        return stat


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 stopped on request, 2 the configuration was rejected (one line on stderr)."""
    return run_node(
        "bms_aggregator", list(argv if argv is not None else sys.argv), AggregatorNode, lambda node, stop: node.save()
    )


if __name__ == "__main__":
    sys.exit(main())
