"""Node CPU time and memory: bms_node (16S simulated pack, 10 Hz) vs a minimal BatteryState publisher.

    ./dev py bench/bench_node_overhead.py [--seconds 60] [--runs 3] [--compare /work/main] [--subscribe]

All processes run at the same time and are measured from /proc over the same window after a warm-up: CPU
seconds per wall second (one core = 100 %) and resident memory. A burst of other load on the machine hits them
alike; the ratio is what the BMS costs above the bare minimum of publishing BatteryState.

What each process does:

* ``bms_node``: this checkout's node with its default configuration except ``rate_hz``, ``pack.cell_count``,
  ``afe.type: sim`` (the ideal simulated AFE over the equivalent-circuit pack model, integrated every sample)
  and ``sim.load_current`` 2 A: per sample it reads the simulated pack, runs ``Bms.step``, commands the FETs and
  balancing, publishes BatteryState and whatever else is subscribed, and ``/diagnostics`` at 1 Hz.
* ``bms_node (other)`` with ``--compare DIR``: the same from another checkout (e.g. main), side by side.
* ``minimal``: bench/minimal_battery_publisher.py, one timer that fills and publishes a BatteryState.
* with ``--subscribe``, a listener process (not measured) subscribes to every topic the nodes publish
  (battery_state, ~/status, ~/afe_raw, ~/charge_limits, heater, /diagnostics) and to the minimal publisher's
  battery_state: then every message is serialised and delivered, as on a robot that records a bag and runs the
  aggregator and a dock controller. Without it nothing subscribes (the default: Nav2 alone would subscribe to
  battery_state only).

Each process runs in its own namespace so the listener can tell them apart.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
BENCH_DOMAIN = 101 + os.getpid() % 100  # ROS_DOMAIN_ID of the run's processes unless one is set
NODE_TOPICS = ("battery_state", "bms_node/status", "bms_node/afe_raw", "bms_node/charge_limits", "heater")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    cmds: list[tuple[list[str], Path]], warmup: float, seconds: float, helpers: list[tuple[list[str], Path]] = ()
) -> list[tuple[float, float]]:
    """CPU share and RSS of each command, all running at the same time over the same window; ``helpers`` run
    alongside, unmeasured."""
    procs = [
        subprocess.Popen(c, cwd=cwd, env=_env(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c, cwd in list(cmds) + list(helpers)
    ]
    measured = procs[: len(cmds)]
    try:
        time.sleep(warmup)
        c0, t0 = [cpu_seconds(p.pid) for p in measured], time.monotonic()
        time.sleep(seconds)
        c1, t1 = [cpu_seconds(p.pid) for p in measured], time.monotonic()
        return [((b - a) / (t1 - t0), rss_mib(p.pid)) for a, b, p in zip(c0, c1, measured, strict=True)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _env(cwd: Path) -> dict[str, str]:
    """The package of checkout ``cwd`` (``python -m`` puts the working directory first, a script does not), on a
    ROS domain of this run's own: another bench's listener must not subscribe to these nodes."""
    path = os.pathsep.join(filter(None, [str(cwd), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", str(BENCH_DOMAIN)))


def listener_main(namespaces: list[str], minimal_ns: str) -> None:
    """The --subscribe listener: every topic of every node, and the minimal publisher's battery_state."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import BatteryState
    from std_msgs.msg import Bool

    from bms_ros.msg import AfeSample, BmsStatus, ChargeLimits
    from bms_ros.nodes.publishers import BATTERY_QOS

    types = dict(zip(NODE_TOPICS, (BatteryState, BmsStatus, AfeSample, ChargeLimits, Bool), strict=True))
    rclpy.init()
    node = rclpy.create_node("bench_listener")
    subs = [node.create_subscription(BatteryState, f"{minimal_ns}/battery_state", lambda m: None, BATTERY_QOS)]
    for ns in namespaces:
        for topic, t in types.items():
            subs.append(node.create_subscription(t, f"{ns}/{topic}", lambda m: None, BATTERY_QOS))
    subs.append(node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: None, 10))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    rclpy.try_shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=8.0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--cells", type=int, default=16)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--compare", type=Path, help="another checkout (e.g. /work/main) whose bms_node runs alongside")
    p.add_argument("--subscribe", action="store_true", help="a listener subscribes to every topic (see above)")
    p.add_argument("--listener", nargs="+", help=argparse.SUPPRESS)  # internal: run as the listener
    a = p.parse_args()
    if a.listener:
        listener_main(a.listener[:-1], a.listener[-1])
        return
    params = {
        "/**": {
            "ros__parameters": {
                "rate_hz": a.rate,
                "pack": {"cell_count": a.cells},
                "afe": {"type": "sim"},
                "sim": {"load_current": 2.0},
            }
        }
    }
    cfg = Path(tempfile.mkstemp(suffix=".yaml")[1])
    cfg.write_text(yaml.safe_dump(params))
    node = [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", str(cfg), "-r"]
    minimal = [sys.executable, str(ROOT / "bench" / "minimal_battery_publisher.py"), str(a.cells), str(a.rate)]
    procs = [("bms_node", [*node, "__ns:=/this"], ROOT)]
    if a.compare is not None:
        procs.append((f"bms_node ({a.compare})", [*node, "__ns:=/other"], a.compare.resolve()))
    procs.append(("minimal BatteryState node", [*minimal, "--ros-args", "-r", "__ns:=/minimal"], ROOT))
    helpers = []
    if a.subscribe:
        spaces = ["/this"] + (["/other"] if a.compare is not None else [])
        helpers.append(([sys.executable, str(Path(__file__).resolve()), "--listener", *spaces, "/minimal"], ROOT))
    load = os.getloadavg()[0]
    print(
        f"{a.cells}S at {a.rate:g} Hz, {a.runs} x {a.seconds:g} s measured after {a.warmup:g} s warm-up, "
        f"{'a listener on every topic' if a.subscribe else 'no subscriber'}; load average {load:.1f} at start"
    )
    ratios: dict[str, list[float]] = {name: [] for name, _, _ in procs[:-1]}
    print(f"{'run':<5}{'process':<34}{'CPU (% of one core)':>22}{'RSS (MiB)':>12}{'ratio':>8}")
    for run in range(1, a.runs + 1):
        res = measure([(c, cwd) for _, c, cwd in procs], a.warmup, a.seconds, helpers)
        base = res[-1][0]
        for (name, _, _), (cpu, rss) in zip(procs, res, strict=True):
            ratio = cpu / base if base else float("nan")
            if name in ratios:
                ratios[name].append(ratio)
            print(f"{run:<5}{name:<34}{cpu * 100:>22.2f}{rss:>12.1f}{ratio:>8.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    for name, r in ratios.items():
        print(f"{name}: CPU ratio to the minimal publisher, median of {len(r)}: {statistics.median(r):.2f}")


if __name__ == "__main__":
    main()
