"""Offline replay throughput: samples per second through bms-replay's loop for a 16S pack.

    ./dev py bench/bench_replay_throughput.py [--samples 20000] [--cells 16] [--repeat 3]

Generates a recorded run (simulated pack, 10 Hz), writes it as an mcap bag, then times the stages bms-replay
runs for a bag: reading + decoding AfeSample messages, Bms.step (the node's exact core), the state estimator
alone on the same samples (its share of Bms.step), and the whole CLI (bag in, CSV out). Each stage runs
``--repeat`` times; the median is printed. Target from the issue: >= 20,000 samples/s (a day of 10 Hz data
< 1 min).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bms_ros.afe.factory import make_pack_model
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.estimator import StateEstimator
from bms_ros.tools.bags import read_samples, write_bag
from bms_ros.tools.replay import main as replay_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    values = {"pack.cell_count": a.cells, "pack.design_capacity_ah": 20.0, "sim.load_current": 10.0,
              "sim.initial_soc": 0.9}
    cfg = load_config(values)
    afe = SimulatedAfe(make_pack_model(cfg.pack, cfg.sim))
    samples = [afe.read(1000.0 + k / 10) for k in range(a.samples)]
    times: dict[str, list[float]] = {}

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
        nested: dict = {}
        for k, v in values.items():
            sect, key = k.split(".")
            nested.setdefault(sect, {})[key] = v
        p.write_text(yaml.safe_dump({"/**": {"ros__parameters": nested}}))
        for _ in range(a.repeat):       # interleaved, so a burst of other load hits every stage alike
            timed("bag read + decode", lambda: sum(1 for _ in read_samples(bag)))
            timed("Bms.step (core)", core)
            timed("  of which the estimator", estimator)
            timed("bms-replay CLI, bag -> CSV",
                  lambda: replay_main([str(bag), "-c", str(p), "-o", str(Path(d) / "out.csv"), "-q"]))
    print(f"{a.cells}S, {a.samples} samples, median of {a.repeat} runs")
    print(f"{'stage':<32}{'samples/s':>12}{'us/sample':>12}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:<32}{a.samples / t:>12.0f}{1e6 * t / a.samples:>12.1f}")
    share = statistics.median(times["  of which the estimator"]) / statistics.median(times["Bms.step (core)"])
    print(f"estimator share of Bms.step: {100 * share:.0f} %")
    print("target: >= 20000 samples/s end to end")


if __name__ == "__main__":
    main()
