"""The README's main command: bms_node on the simulated pack, with the live monitor in this terminal.

What ``ros2 launch bms_ros sim.launch.py`` plus ``ros2 run bms_ros bms_monitor`` do on a full ROS install,
for machines without ``launch``: the node runs as its own process, exactly as launch would start it.

Ctrl-C at any time stops both quietly: rclpy takes seconds to import on a busy machine, and a Ctrl-C in that
time must not print an import traceback (from this process or from the node's).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

SHARE = Path(__file__).resolve().parents[2]
NODE_STOP_TIMEOUT_S = 10.0  # the node saves its state on SIGTERM; after this it is killed


def start_node(config: str, overrides: dict[str, str] | None = None) -> subprocess.Popen:
    """bms_node with SIGINT ignored until it installs its own stop handling (bms_node's main()): the terminal's
    Ctrl-C reaches the whole foreground group, and must not interrupt the node's imports. It stays in this
    process group, so closing the terminal still ends it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        extra = [a for k, v in (overrides or {}).items() for a in ("-p", f"{k}:={v}")]
        return subprocess.Popen(
            [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", config, *extra],
            env=os.environ.copy(),
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_node(node: subprocess.Popen) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while the node saves: no traceback
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)  # still importing: ends at once; running: stops cleanly
        try:
            node.wait(timeout=NODE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default=str(SHARE / "config" / "sim.yaml"), help="ROS 2 parameter file")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--period", type=float, default=1.0, help="screen refresh period, s")
    p.add_argument(
        "--afe",
        choices=("sim", "sim_bq769x0", "sim_bq769x2", "sim_sbs", "sim_jbd", "sim_daly"),
        help="override afe.type: the ideal pack, or a real driver (bq769x0, bq769x2, SBS, JBD, Daly) on "
        "its wire-level emulator",
    )
    args = p.parse_args(argv)
    node = start_node(args.config, {"afe.type": args.afe} if args.afe else None)
    rc = 0
    try:
        from bms_ros.tools import monitor  # imports rclpy: seconds on a busy machine

        rc = monitor.main(["--duration", str(args.duration), "--period", str(args.period), "--require-data"])
    except KeyboardInterrupt:
        rc = 0
    finally:
        stop_node(node)
    if node.returncode not in (0, -signal.SIGINT, -signal.SIGTERM, None):
        print(f"bms_node exited with {node.returncode}", file=sys.stderr)
        return node.returncode or 1
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before main() took over (interpreter start-up, argparse)
        sys.exit(0)
