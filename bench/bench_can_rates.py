"""CAN output rates: bms_node (4S simulated pack, 10 Hz) sending the 0x35x frames on a python-can virtual bus.

    ./dev py bench/bench_can_rates.py [--seconds 30] [--period 1.0]

The node runs in this process (the virtual bus connects buses of one process) with can.period; a listener on
the same bus timestamps every frame. Per frame id: count, mean period, its deviation from can.period, the
worst single interval, and the encode + send cost of one period (all six frames). Tolerance: every frame
present, mean period within 2 % and every interval within 25 % of can.period.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import uuid

import can
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from bms_ros.can_frames import FRAME_IDS
from bms_ros.nodes.bms_node import BmsNode

MEAN_TOLERANCE = 0.02  # relative, mean period
INTERVAL_TOLERANCE = 0.25  # relative, any single interval (executor and machine load)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--period", type=float, default=1.0)
    a = ap.parse_args()
    channel = f"bench_{uuid.uuid4().hex[:8]}"
    rclpy.init()
    params = {
        "pack.cell_count": 4,
        "pack.design_capacity_ah": 1.0,
        "afe.type": "sim",
        "sim.load_current": 0.0,
        "sim.charger_connected": True,
        "sim.charger_current": 0.5,
        "sim.charger_follows_limits": True,
        "can.enabled": True,
        "can.interface": "virtual",
        "can.channel": channel,
        "can.period": a.period,
    }
    listener = can.Bus(interface="virtual", channel=channel)
    node = BmsNode("bench_can", parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    cost: list[float] = []
    send = node.outputs.charger.can.send

    def timed_send() -> None:
        t0 = time.perf_counter()
        send()
        cost.append(time.perf_counter() - t0)

    node.outputs.charger.can.timer.callback = timed_send
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    stamps: dict[int, list[float]] = {fid: [] for fid in FRAME_IDS}
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        ex.spin_once(timeout_sec=0.005)
        while (m := listener.recv(timeout=0.0)) is not None:
            stamps.setdefault(m.arbitration_id, []).append(time.monotonic())
    node.safe_shutdown()
    node.destroy_node()
    listener.shutdown()
    rclpy.try_shutdown()

    ok = True
    print(
        f"can.period {a.period:g} s over {a.seconds:g} s; encode + send of one period: median "
        f"{statistics.median(cost) * 1e6:.0f} us, max {max(cost) * 1e6:.0f} us ({len(cost)} periods)"
    )
    print("| frame | count | mean period, s | mean error | worst interval, s |")
    print("|---|---|---|---|---|")
    for fid in FRAME_IDS:
        t = stamps[fid]
        if len(t) < 3:
            print(f"| 0x{fid:03X} | {len(t)} | - | - | - |")
            ok = False
            continue
        iv = [b - x for x, b in itertools.pairwise(t)]
        mean = statistics.fmean(iv)
        worst = max(iv, key=lambda x: abs(x - a.period))
        err = (mean - a.period) / a.period
        ok &= abs(err) <= MEAN_TOLERANCE and abs(worst - a.period) <= INTERVAL_TOLERANCE * a.period
        print(f"| 0x{fid:03X} | {len(t)} | {mean:.4f} | {err * 100:+.2f} % | {worst:.4f} |")
    print("within tolerance" if ok else "OUT OF TOLERANCE")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
