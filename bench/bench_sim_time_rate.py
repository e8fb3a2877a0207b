"""Under sim time: how many BatteryState messages per second of *simulated* time bms_node publishes, beside a
bare rclpy timer node (10 Hz on the same clock, 16 cell voltages), both fed by one /clock publisher.

    ./dev py bench/bench_sim_time_rate.py [--factor 50] [--clock-hz 1000] [--seconds 15]

Gazebo publishes /clock at every physics step (1 kHz by default); ``ros2 bag play`` at 40 Hz. A node's timer
fires at most once per /clock update, and each update wakes the executor, so the rate a node reaches is bounded
by the clock's granularity (factor / clock_hz seconds per update) and by its CPU per wake and per cycle. Also
prints each process's CPU share over the window (one core = 100 %).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")

CLOCK = textwrap.dedent("""
    import sys, time, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    factor, hz = float(sys.argv[1]), float(sys.argv[2])
    rclpy.init(); n = rclpy.create_node("bench_clock")
    pub = n.create_publisher(Clock, "/clock", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    t0 = time.monotonic()
    def tick():
        t = 1000.0 + factor * (time.monotonic() - t0); m = Clock()
        m.clock.sec, m.clock.nanosec = int(t), int((t % 1) * 1e9); pub.publish(m)
    n.create_timer(1.0 / hz, tick)
    rclpy.spin(n)
""")
BARE = textwrap.dedent("""
    import rclpy
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import BatteryState
    rclpy.init(); n = rclpy.create_node("bench_bare", parameter_overrides=[Parameter("use_sim_time", value=True)])
    pub = n.create_publisher(BatteryState, "bare_battery_state", 10)
    def tick():
        m = BatteryState(); m.header.stamp = n.get_clock().now().to_msg(); m.cell_voltage = [3.7] * 16
        pub.publish(m)
    n.create_timer(0.1, tick)
    rclpy.spin(n)
""")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--factor", type=float, default=50.0)
    p.add_argument("--clock-hz", type=float, default=1000.0)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--cells", type=int, default=16)
    a = p.parse_args()

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import BatteryState

    cfg = Path(tempfile.mkstemp(suffix=".yaml")[1])
    cfg.write_text(
        yaml.safe_dump(
            {
                "/**": {
                    "ros__parameters": {
                        "rate_hz": 10.0,
                        "pack": {"cell_count": a.cells},
                        "afe": {"type": "sim"},
                        "sim": {"load_current": 2.0},
                    }
                }
            }
        )
    )
    procs = {
        "bms_node": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bms_ros.nodes.bms_node",
                "--ros-args",
                "--params-file",
                str(cfg),
                "-p",
                "use_sim_time:=true",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        "bare timer node": subprocess.Popen(
            [sys.executable, "-c", BARE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
    }
    time.sleep(3.0)
    procs["/clock publisher"] = subprocess.Popen(
        [sys.executable, "-c", CLOCK, str(a.factor), str(a.clock_hz)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rclpy.init()
    node = rclpy.create_node("bench_sim_time_rate")
    stamps: dict[str, list[float]] = {"battery_state": [], "bare_battery_state": []}
    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    for topic, got in stamps.items():
        node.create_subscription(
            BatteryState, topic, lambda m, got=got: got.append(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9), qos
        )
    try:
        end = time.monotonic() + 3.0  # warm-up: the clock starts, both nodes catch it
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        for got in stamps.values():
            got.clear()
        c0 = {k: cpu_seconds(pr.pid) for k, pr in procs.items()}
        t0 = time.monotonic()
        while time.monotonic() < t0 + a.seconds:
            rclpy.spin_once(node, timeout_sec=0.05)
        wall = time.monotonic() - t0
        cpu = {k: (cpu_seconds(pr.pid) - c0[k]) / wall for k, pr in procs.items()}
    finally:
        for pr in procs.values():
            pr.terminate()
        for pr in procs.values():
            try:
                pr.wait(10)
            except subprocess.TimeoutExpired:
                pr.kill()
        rclpy.try_shutdown()

    print(f"{a.cells}S, 10 Hz timers, /clock at {a.clock_hz:g} Hz, {a.factor:g}x real time, {a.seconds:g} s wall")
    print(f"{'node':<20}{'msgs':>7}{'sim s':>9}{'Hz of sim time':>16}{'CPU (% core)':>14}")
    rates = {}
    for got, name in zip(stamps.values(), ("bms_node", "bare timer node"), strict=True):
        span = got[-1] - got[0] if len(got) > 1 else float("nan")
        rates[name] = (len(got) - 1) / span if len(got) > 1 else float("nan")
        print(f"{name:<20}{len(got):>7}{span:>9.1f}{rates[name]:>16.2f}{cpu[name] * 100:>14.1f}")
    print(f"{'/clock publisher':<20}{'':>7}{'':>9}{'':>16}{cpu['/clock publisher'] * 100:>14.1f}")
    print(f"bms_node / bare: {rates['bms_node'] / rates['bare timer node']:.2f}")


if __name__ == "__main__":
    main()
