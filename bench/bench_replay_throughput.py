"""Offline replay throughput: samples per second through bms-replay's loop for a 16S pack.

    ./dev py bench/bench_replay_throughput.py [--samples 20000] [--cells 16]

Generates a recorded run (simulated pack, 10 Hz), writes it as an mcap bag, then times the three stages
bms-replay runs for a bag: reading + decoding AfeSample messages, Bms.step (the node's exact core), and
the whole CLI (bag in, CSV out). Target from the issue: >= 20,000 samples/s (a day of 10 Hz data < 1 min).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from bms_ros.afe.factory import make_pack_model
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.tools.bags import read_samples, write_bag
from bms_ros.tools.replay import main as replay_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--cells", type=int, default=16)
    a = ap.parse_args()
    values = {"pack.cell_count": a.cells, "pack.design_capacity_ah": 20.0, "sim.load_current": 10.0,
              "sim.initial_soc": 0.9}
    cfg = load_config(values)
    afe = SimulatedAfe(make_pack_model(cfg.pack, cfg.sim))
    samples = [afe.read(1000.0 + k / 10) for k in range(a.samples)]
    with tempfile.TemporaryDirectory() as d:
        bag = Path(d) / "run"
        write_bag(bag, ((s, None) for s in samples))
        t0 = time.perf_counter()
        n_read = sum(1 for _ in read_samples(bag))
        t_read = time.perf_counter() - t0
        bms = Bms(cfg)
        t0 = time.perf_counter()
        for s in samples:
            bms.step(s)
        t_core = time.perf_counter() - t0
        p = Path(d) / "p.yaml"
        nested: dict = {}
        for k, v in values.items():
            sect, key = k.split(".")
            nested.setdefault(sect, {})[key] = v
        p.write_text(yaml.safe_dump({"/**": {"ros__parameters": nested}}))
        t0 = time.perf_counter()
        replay_main([str(bag), "-c", str(p), "-o", str(Path(d) / "out.csv"), "-q"])
        t_cli = time.perf_counter() - t0
    print(f"{a.cells}S, {a.samples} samples")
    print(f"{'stage':<32}{'samples/s':>12}{'us/sample':>12}")
    for name, n, t in (("bag read + decode", n_read, t_read), ("Bms.step (core)", a.samples, t_core),
                       ("bms-replay CLI, bag -> CSV", a.samples, t_cli)):
        print(f"{name:<32}{n / t:>12.0f}{1e6 * t / n:>12.1f}")
    print("target: >= 20000 samples/s end to end")


if __name__ == "__main__":
    main()
