"""Where bms_node's CPU time goes, per sample, in the running node (16S simulated pack, 10 Hz).

    ./dev py bench/profile_node.py [--seconds 60] [--root /work/main]

Runs bms_node (configured as in bench_node_overhead.py) in a child process whose main parts are wrapped with
thread-CPU accumulators (reading the simulated pack, ``Bms.step``, publishing, the 1 Hz diagnostics update, the
whole timer callback), beside the minimal BatteryState publisher, and prints each part's share of a core over
the same window. The executor (waiting, rebuilding the wait set, dispatching) is what remains of the process.

These are the costs in the running process: every 100 ms tick starts with caches that other processes have
used, so each part costs 2-7x what the same calls cost in a tight loop. A sampling profiler (py-spy) agrees
on a quiet machine; on a loaded one it also counts the time the node waits for a CPU as executor time.
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
from bench_node_overhead import _env, cpu_seconds  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
WARMUP_S = 8.0


def child(report: str) -> int:
    """The node with accumulators; writes ``part calls seconds`` lines to ``report`` when it stops."""
    import bms_ros.nodes.bms_node as bn
    from bms_ros.afe.sim.simulated_afe import SimulatedAfe
    from bms_ros.core import Bms
    from bms_ros.nodes import diagnostics, publishers, sample_sources

    acc: dict[str, list[float]] = {}
    window = [0.0, 0.0]

    def wrap(cls, name: str, label: str) -> None:
        f = getattr(cls, name)
        acc[label] = [0, 0.0]

        def timed(*args, **kwargs):
            t = time.thread_time()
            try:
                return f(*args, **kwargs)
            finally:
                a = acc[label]
                a[0] += 1
                a[1] += time.thread_time() - t

        setattr(cls, name, timed)

    wrap(sample_sources.AfeTimer, "_on_timer", "timer callback (all below)")
    wrap(SimulatedAfe, "read", "  read the simulated pack")
    wrap(Bms, "step", "  Bms.step")
    wrap(publishers.BmsPublishers, "publish", "  publish")
    wrap(diagnostics.FallbackUpdater, "update", "diagnostics update (1 Hz)")
    init = bn.BmsNode.__init__

    def start_window() -> None:
        window[:] = [time.monotonic(), time.process_time()]
        for a in acc.values():
            a[:] = [0, 0.0]

    def patched_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        timer = []

        def once() -> None:
            timer[0].cancel()
            start_window()

        timer.append(self.create_timer(WARMUP_S, once))

    bn.BmsNode.__init__ = patched_init
    try:
        return bn.main(sys.argv[:1] + sys.argv[3:])
    finally:
        wall, cpu = time.monotonic() - window[0], time.process_time() - window[1]
        lines = [f"process 1 {cpu} {wall}"] + [f"{k.replace(' ', '_')} {n} {s} {wall}" for k, (n, s) in acc.items()]
        Path(report).write_text("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--cells", type=int, default=16)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout whose bms_ros the node runs (default: this)")
    a = p.parse_args()
    params = {"rate_hz": a.rate, "pack": {"cell_count": a.cells}, "afe": {"type": "sim"}, "sim": {"load_current": 2.0}}
    cfg = Path(tempfile.mkstemp(suffix=".yaml")[1])
    cfg.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    report = Path(tempfile.mkstemp(suffix=".txt")[1])
    node = [sys.executable, __file__, "--child", str(report), "--ros-args", "--params-file", str(cfg)]
    minimal = [sys.executable, str(ROOT / "bench" / "minimal_battery_publisher.py"), str(a.cells), str(a.rate)]
    root = a.root.resolve()
    procs = [subprocess.Popen(c, cwd=root, env=_env(root), stderr=subprocess.DEVNULL) for c in (node, minimal)]
    try:
        time.sleep(WARMUP_S)
        c0, t0 = cpu_seconds(procs[1].pid), time.monotonic()
        time.sleep(a.seconds)
        base = (cpu_seconds(procs[1].pid) - c0) / (time.monotonic() - t0)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(10)
    rows = [line.split() for line in report.read_text().splitlines()]
    print(f"bms_ros of {root}, {a.cells}S at {a.rate:g} Hz, {a.seconds:g} s; load average {os.getloadavg()[0]:.1f}")
    print(f"{'part':<32}{'µs per call':>12}{'% of a core':>13}")
    parts = 0.0
    for name, n, s, wall in rows[1:]:
        share = float(s) / float(wall)
        if not name.startswith("__"):
            parts += share
        print(f"{name.replace('_', ' '):<32}{float(s) / max(int(n), 1) * 1e6:>12.0f}{share * 100:>13.2f}")
    _, _, cpu, wall = rows[0]
    total = float(cpu) / float(wall)
    print(f"{'executor and the rest':<32}{'':>12}{(total - parts) * 100:>13.2f}")
    print(f"{'bms_node process':<32}{'':>12}{total * 100:>13.2f}")
    print(f"{'minimal publisher, same time':<32}{'':>12}{base * 100:>13.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2]))
    main()
