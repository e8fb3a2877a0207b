"""Node CPU time and memory: bms_node (16S simulated pack, 10 Hz) vs a minimal BatteryState publisher.

    ./dev py bench/bench_node_overhead.py [--seconds 30]

Both run as separate processes at the same time, measured from /proc over the same window after a warm-up:
CPU seconds per wall second (one core = 100 %) and resident memory. The ratio is what the BMS costs above the
bare minimum of publishing BatteryState.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(cmds: list[list[str]], warmup: float, seconds: float) -> list[tuple[float, float]]:
    """CPU share and RSS of each command, all running at the same time over the same window (a burst of other
    load on the machine hits them alike)."""
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    try:
        time.sleep(warmup)
        c0, t0 = [cpu_seconds(p.pid) for p in procs], time.monotonic()
        time.sleep(seconds)
        c1, t1 = [cpu_seconds(p.pid) for p in procs], time.monotonic()
        return [((b - a) / (t1 - t0), rss_mib(p.pid)) for a, b, p in zip(c0, c1, procs, strict=True)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--cells", type=int, default=16)
    p.add_argument("--rate", type=float, default=10.0)
    a = p.parse_args()
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
    bms, base = measure(
        [
            [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", str(cfg)],
            [sys.executable, str(ROOT / "bench" / "minimal_battery_publisher.py"), str(a.cells), str(a.rate)],
        ],
        a.warmup,
        a.seconds,
    )
    print(f"{a.cells}S at {a.rate:g} Hz, {a.seconds:g} s measured after {a.warmup:g} s warm-up")
    print(f"{'process':<28}{'CPU (% of one core)':>22}{'RSS (MiB)':>12}")
    print(f"{'bms_node':<28}{bms[0] * 100:>22.2f}{bms[1]:>12.1f}")
    print(f"{'minimal BatteryState node':<28}{base[0] * 100:>22.2f}{base[1]:>12.1f}")
    print(f"{'ratio':<28}{bms[0] / base[0] if base[0] else float('nan'):>22.2f}{bms[1] / base[1]:>12.2f}")


if __name__ == "__main__":
    main()
