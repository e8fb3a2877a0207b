"""bms_monitor: a live, readable terminal view of one pack (battery_state + ~/status)."""

from __future__ import annotations

import argparse
import math
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState

from bms_ros.msg import BmsStatus

_STATE = {0: "INIT", 1: "STANDBY", 2: "CHARGING", 3: "DISCHARGING", 4: "FAULT", 5: "SHUTDOWN"}
_STATUS = {0: "UNKNOWN", 1: "CHARGING", 2: "DISCHARGING", 3: "NOT_CHARGING", 4: "FULL"}
_HEALTH = {
    0: "UNKNOWN",
    1: "GOOD",
    2: "OVERHEAT",
    3: "DEAD",
    4: "OVERVOLTAGE",
    5: "UNSPEC_FAILURE",
    6: "COLD",
    7: "WATCHDOG",
    8: "SAFETY_TIMER",
}


def _n(x: float, fmt: str) -> str:
    return "  n/a " if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def render(b: BatteryState | None, s: BmsStatus | None) -> str:
    """One screen of text for the latest messages."""
    if b is None:
        return "waiting for battery_state ..."
    cells = [v for v in b.cell_voltage if not math.isnan(v)]
    lines = [
        f"pack {_n(b.voltage, '7.3f')} V  current {_n(b.current, '+8.3f')} A  "
        f"SoC {_n(b.percentage * 100 if not math.isnan(b.percentage) else math.nan, '5.1f')} %  "
        f"T {_n(b.temperature, '5.1f')} degC",
        f"status {_STATUS.get(b.power_supply_status, '?')}  health {_HEALTH.get(b.power_supply_health, '?')}  "
        f"cells min {_n(min(cells) if cells else math.nan, '.3f')} V max "
        f"{_n(max(cells) if cells else math.nan, '.3f')} V",
    ]
    if s is not None:
        faults = ", ".join(s.fault_names) or "none"
        fets = f"CHG {'on' if s.charge_fet else 'off'}  DSG {'on' if s.discharge_fet else 'off'}"
        lines.append(
            f"state {_STATE.get(s.state, s.state)}  {fets}"
            f"  limits +{_n(s.charge_current_limit, '.1f')}/-{_n(s.discharge_current_limit, '.1f')} A"
            f"  balancing {s.balancing_mask:#x}  faults: {faults}"
        )
        lines.append(
            f"charger: CVL {_n(s.charge_voltage_limit, '.2f')} V ({s.charge_voltage_reason})  "
            f"CCL: {s.charge_current_reason}  heater {'on' if s.heater_on else 'off'} ({s.heater_reason})"
        )
    return "\n".join(lines)


class Monitor(Node):
    def __init__(self, battery_topic: str, status_topic: str):
        super().__init__("bms_monitor")
        self.battery: BatteryState | None = None
        self.status: BmsStatus | None = None
        self.count = 0
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(BatteryState, battery_topic, self._on_battery, qos)
        self.create_subscription(BmsStatus, status_topic, self._on_status, 10)

    def _on_battery(self, msg: BatteryState) -> None:
        self.battery = msg
        self.count += 1

    def _on_status(self, msg: BmsStatus) -> None:
        self.status = msg


def run(args: argparse.Namespace) -> int:
    node: Monitor | None = None
    tty = sys.stdout.isatty()
    start = last = time.monotonic()
    try:
        node = Monitor(args.battery_topic, args.status_topic)  # imports message support: Ctrl-C can land here
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            if now - last >= args.period:
                last = now
                text = render(node.battery, node.status)
                if tty:
                    sys.stdout.write("\x1b[H\x1b[J" + text + "\n(Ctrl-C to stop)\n")
                else:
                    sys.stdout.write(text + "\n")
                sys.stdout.flush()
            if args.duration and now - start >= args.duration:
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # rclpy's own SIGINT handler shut the context down while the node was being made: a quiet stop
    if node is None:
        return 1 if args.require_data else 0
    received = node.count
    node.destroy_node()
    return 0 if received or not args.require_data else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--battery-topic", default="battery_state")
    p.add_argument("--status-topic", default="bms_node/status")
    p.add_argument("--period", type=float, default=1.0, help="screen refresh period, s")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--require-data", action="store_true", help="exit 1 if no battery_state arrived")
    return p


def main(argv: list[str] | None = None) -> int:
    args, ros_args = parser().parse_known_args(argv)
    rclpy.init(args=[sys.argv[0], *ros_args])
    try:
        return run(args)
    finally:
        try:
            rclpy.try_shutdown()
        except (KeyboardInterrupt, RuntimeError):  # a second Ctrl-C, or a context a signal already ended
            pass


if __name__ == "__main__":
    sys.exit(main())
