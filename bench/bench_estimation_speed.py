#!/usr/bin/env python3
"""Estimation cost: one StateEstimator.update for a 16S pack, and bms-replay throughput (samples/s).

.venv/bin/python bench/bench_estimation_speed.py [--cells 16] [--samples 20000]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bms_ros.config import load_config  # noqa: E402
from bms_ros.core.chemistry import get_chemistry  # noqa: E402
from bms_ros.core.estimator import StateEstimator  # noqa: E402
from bms_ros.core.types import PackSample  # noqa: E402


def samples(cells: int, n: int, dt: float = 0.1) -> list[PackSample]:
    chem = get_chemistry("nmc")
    rng = np.random.default_rng(0)
    soc = np.linspace(0.8, 0.85, cells)
    out = []
    for k in range(n):
        i = -(2.0, 12.0, 6.0, 20.0)[(k // 50) % 4]
        soc = soc + i * dt / 36000.0
        v = chem.ocv(soc) + i * 0.006 + 0.002 * rng.standard_normal(cells)
        out.append(
            PackSample(
                stamp=k * dt,
                cell_voltages=v,
                pack_voltage=float(v.sum()),
                current=i,
                temperatures=np.array([25.0, 26.0]),
                charge_fet=True,
                discharge_fet=True,
            )
        )
    return out


def bench_step(cells: int, n: int, diffusion_tau_s: float = 0.0) -> dict[str, float]:
    chem = (
        dataclasses.replace(get_chemistry("nmc"), diffusion_tau_s=diffusion_tau_s, diffusion_tau_full_s=30.0)
        if diffusion_tau_s > 0
        else None
    )
    est = StateEstimator(load_config({"pack.cell_count": cells}), chemistry=chem)
    data = samples(cells, n)
    for s in data[:200]:
        est.update(s)
    times = []
    for s in data[200:]:
        t0 = time.perf_counter()
        est.update(s)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "median_us": statistics.median(times) * 1e6,
        "p99_us": times[int(0.99 * len(times))] * 1e6,
        "mean_us": statistics.fmean(times) * 1e6,
    }


def bench_replay(cells: int, n: int) -> float:
    from bms_ros.tools.replay import main

    with tempfile.TemporaryDirectory() as d:
        src, cfg, out = Path(d) / "in.csv", Path(d) / "p.yaml", Path(d) / "out.csv"
        cfg.write_text(f"/**:\n  ros__parameters:\n    pack:\n      cell_count: {cells}\n")
        with open(src, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t", "current"] + [f"cell_voltage_{i + 1}" for i in range(cells)] + ["temperature_1"])
            for s in samples(cells, n):
                w.writerow([f"{s.stamp:.1f}", f"{s.current:.3f}"] + [f"{v:.4f}" for v in s.cell_voltages] + ["25.0"])
        t0 = time.perf_counter()
        assert main([str(src), "-c", str(cfg), "-o", str(out), "-q"]) == 0
        return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--samples", type=int, default=20000)
    args = ap.parse_args(argv)
    for cells in sorted({4, args.cells}):
        r = bench_step(cells, min(args.samples, 10000))
        print(
            f"StateEstimator.update, {cells}S: median {r['median_us']:.0f} us, mean {r['mean_us']:.0f} us, "
            f"p99 {r['p99_us']:.0f} us"
        )
    r = bench_step(args.cells, min(args.samples, 10000), diffusion_tau_s=200.0)
    print(
        f"StateEstimator.update, {args.cells}S with the diffusion lags: median {r['median_us']:.0f} us, "
        f"mean {r['mean_us']:.0f} us, p99 {r['p99_us']:.0f} us"
    )
    print(
        f"bms-replay, {args.cells}S: {bench_replay(args.cells, args.samples):.0f} samples/s "
        f"({args.samples} samples, CSV in and out, full Bms.step)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
