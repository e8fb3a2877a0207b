"""Offline replay throughput: samples per second through bms-replay for one 16S bag.

    ./dev py bench/bench_replay_throughput.py [--samples 10000] [--cells 16] [--repeat 3] [--compare /work/main]

Workload: bench/workloads.py (a 10 Hz drive with current, noise, an offset, charge and sensor faults; before
ISSUE 15 this bench replayed a pack at rest with 0 A), written as an mcap bag. In-process stages of this
checkout: reading + decoding the AfeSample messages (through rosbags one message at a time, and as columns: a
numpy view over the CDR payloads, what bms-replay reads since ISSUE 15 item 3), Bms.step (the node's exact core),
the state estimator alone, and the whole CLI (bag in, CSV out). With ``--compare``, the CLI of this checkout and
of the other one run as child processes, alternately, and the run loop's own rate (bms-replay's last stderr
line: samples over the loop's wall time, interpreter start excluded) is compared. Medians over ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import workloads  # puts this checkout first on sys.path

from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.estimator import StateEstimator
from bms_ros.tools.bags import BagSampleSource, read_samples, write_bag
from bms_ros.tools.replay import main as replay_main


def cli_rate(checkout: Path, bag: Path, cfg: Path, out: Path) -> float:
    """The run loop's samples/s of ``checkout``'s bms-replay, in a child interpreter."""
    code = (
        f"import sys; sys.path.insert(0, {str(checkout)!r}); from bms_ros.tools.replay import main; "
        f"sys.exit(main([{str(bag)!r}, '-c', {str(cfg)!r}, '-o', {str(out)!r}]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=checkout)
    m = re.search(r"\(([0-9.]+) samples/s\)", r.stderr)
    if r.returncode != 0 or m is None:
        raise RuntimeError(f"{checkout}: {r.stderr[-500:]}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="another checkout (e.g. the main branch) to compare the CLI with")
    a = ap.parse_args()
    values = workloads.config_values(a.cells)
    cfg = load_config(values)
    samples = workloads.drive_samples(a.cells, a.samples)
    times: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}

    def timed(name: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        times.setdefault(name, []).append(time.perf_counter() - t0)

    def core() -> None:
        bms = Bms(cfg)
        for s in samples:
            bms.step(s)

    def estimator() -> None:
        est = StateEstimator(cfg)
        for s in samples:
            est.update(s)

    with tempfile.TemporaryDirectory() as d:
        bag = Path(d) / "run"
        write_bag(bag, ((s, None) for s in samples))
        p = Path(d) / "p.yaml"
        p.write_text(
            f"/**:\n  ros__parameters:\n    pack:\n      cell_count: {a.cells}\n"
            f"      design_capacity_ah: {workloads.CAP_AH}\n    balancing:\n      when: both\n"
        )
        for _ in range(a.repeat):  # interleaved, so a burst of other load hits every stage alike
            timed("bag read, rosbags per message", lambda: sum(1 for _ in read_samples(bag)))
            timed("bag read, columnar (CDR view)", lambda: sum(1 for _ in BagSampleSource(bag)))
            timed("Bms.step (core)", core)
            timed("  of which the estimator", estimator)
            timed(
                "bms-replay CLI, bag -> CSV",
                lambda: replay_main([str(bag), "-c", str(p), "-o", str(Path(d) / "out.csv"), "-q"]),
            )
            if a.compare is not None:
                for name, root in (("this checkout", workloads.ROOT), (str(a.compare), a.compare)):
                    rates.setdefault(name, []).append(cli_rate(root, bag, p, Path(d) / "cmp.csv"))
    print(f"{a.cells}S drive workload, {a.samples} samples, median of {a.repeat} runs")
    print(f"{'stage':<32}{'samples/s':>12}{'us/sample':>12}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:<32}{a.samples / t:>12.0f}{1e6 * t / a.samples:>12.1f}")
    share = statistics.median(times["  of which the estimator"]) / statistics.median(times["Bms.step (core)"])
    print(f"estimator share of Bms.step: {100 * share:.0f} %")
    if rates:
        print("bms-replay run loop, child processes alternating (samples/s, median):")
        med = {k: statistics.median(v) for k, v in rates.items()}
        for k, v in med.items():
            print(f"  {k:<40}{v:>10.0f}")
        this, other = med["this checkout"], med[str(a.compare)]
        print(f"ratio this / {a.compare}: {this / other:.2f}")


if __name__ == "__main__":
    main()
