"""Baseline for bench_node_overhead: the least a node can do to publish the same BatteryState at a rate."""

import math
import sys

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState


def main() -> None:
    cells, rate = int(sys.argv[1]), float(sys.argv[2])
    rclpy.init(args=sys.argv)  # --ros-args (the bench gives each process its own namespace)
    node = rclpy.create_node("minimal_battery_publisher")
    pub = node.create_publisher(
        BatteryState, "battery_state", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )

    def tick() -> None:
        m = BatteryState()
        m.header.stamp = node.get_clock().now().to_msg()
        m.header.frame_id = "battery"
        m.voltage, m.current, m.percentage = 3.7 * cells, -2.0, 0.5
        m.temperature = 25.0
        m.cell_voltage = [3.7] * cells
        m.cell_temperature = [math.nan] * cells
        pub.publish(m)

    node.create_timer(1.0 / rate, tick)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
