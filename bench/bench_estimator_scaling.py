#!/usr/bin/env python3
"""Estimator step cost against pack size: the factorised O(N) filter vs the dense (3N+1)-state one it replaced.

    ./dev py bench/bench_estimator_scaling.py [--cells 16 50 100] [--steps 1500] [--repeat 5]

Workload: bench/workloads.py (a 10 Hz drive with noise, offset, charge and sensor faults). Each repetition runs
every (pack size, filter) pair once, in turn, so a burst of other load on the machine hits them alike; the
number per pair is the median over repetitions of the median step time. The dense filter is the test oracle
(test/dense_ekf.py, today's filter before ISSUE 15) inside the same StateEstimator; its BLAS runs with one
thread (this process pins it), as bms_node and bms-replay now do. Also prints Bms.step with and without the
estimator at 16S (the split between estimation and protection).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import workloads  # puts this checkout first on sys.path

from bms_ros.blas_threads import pin_blas_threads

pin_blas_threads()

from bms_ros.core.bms import Bms  # noqa: E402
from bms_ros.core.config import core_config  # noqa: E402
from bms_ros.core.estimator import StateEstimator  # noqa: E402
from bms_ros.core.types import Estimate, PackSample  # noqa: E402

sys.path.insert(0, str(workloads.ROOT / "test"))
from dense_ekf import DenseCellEkf  # noqa: E402

WARMUP = 100


class _NoEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate()


def time_estimator(cells: int, stream: list[PackSample], dense: bool) -> float:
    est = StateEstimator(core_config(workloads.config_values(cells)))
    if dense:
        est.ekf = DenseCellEkf(cells, est.chem)  # type: ignore[assignment]
    for s in stream[:WARMUP]:
        est.update(s)
    clock, t = time.perf_counter, []
    for s in stream[WARMUP:]:
        t0 = clock()
        est.update(s)
        t.append(clock() - t0)
    return statistics.median(t) * 1e6


def time_bms(cells: int, stream: list[PackSample], estimator: bool) -> float:
    bms = Bms(core_config(workloads.config_values(cells)))
    if not estimator:
        bms.estimator = _NoEstimator()  # type: ignore[assignment]
    for s in stream[:WARMUP]:
        bms.step(s)
    clock, t = time.perf_counter, []
    for s in stream[WARMUP:]:
        t0 = clock()
        bms.step(s)
        t.append(clock() - t0)
    return statistics.median(t) * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--cells", type=int, nargs="+", default=[16, 50, 100])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    streams = {n: workloads.drive_samples(n, a.steps + WARMUP) for n in a.cells}
    res: dict[tuple, list[float]] = {}
    for _ in range(a.repeat):
        for n in a.cells:
            for dense in (False, True):
                res.setdefault(("est", n, dense), []).append(time_estimator(n, streams[n], dense))
        for n in (16,):
            for est in (True, False):
                res.setdefault(("bms", n, est), []).append(
                    time_bms(n, streams.get(16) or workloads.drive_samples(16, a.steps + WARMUP), est)
                )
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"StateEstimator.update, us per step (median of {a.repeat} interleaved runs of {a.steps} steps)")
    print(f"{'pack':>6}{'factorised':>12}{'dense':>10}{'dense/fact':>12}")
    for n in a.cells:
        f, d = med[("est", n, False)], med[("est", n, True)]
        print(f"{n:>5}S{f:>12.0f}{d:>10.0f}{d / f:>12.2f}")
    base = a.cells[0]
    for n in a.cells[1:]:
        print(
            f"{n}S / {base}S: factorised {med[('est', n, False)] / med[('est', base, False)]:.2f}, "
            f"dense {med[('est', n, True)] / med[('est', base, True)]:.2f}"
        )
    w, wo = med[("bms", 16, True)], med[("bms", 16, False)]
    print(f"Bms.step 16S: {w:.0f} us with the estimator, {wo:.0f} us without (estimator {100 * (w - wo) / w:.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
