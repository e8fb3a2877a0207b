"""The README's main command: bms_node on the simulated pack, with the live monitor in this terminal.

What ``ros2 launch bms_ros sim.launch.py`` plus ``ros2 run bms_ros bms_monitor`` do on a full ROS install,
for machines without ``launch``: the node runs as its own process, exactly as launch would start it.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from bms_ros.tools import monitor

SHARE = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default=str(SHARE / "config" / "sim.yaml"), help="ROS 2 parameter file")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--period", type=float, default=1.0, help="screen refresh period, s")
    args = p.parse_args(argv)
    node = subprocess.Popen([sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args",
                             "--params-file", args.config], env=os.environ.copy())
    try:
        rc = monitor.main(["--duration", str(args.duration), "--period", str(args.period), "--require-data"])
    except KeyboardInterrupt:
        rc = 0
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()
    if node.returncode not in (0, -signal.SIGINT, None):
        print(f"bms_node exited with {node.returncode}", file=sys.stderr)
        return node.returncode or 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
