"""Cost of one core decision step (Bms.step) for 4S, 16S and 100S packs.

Run: ``.venv/bin/python bench/bench_core_step.py [--steps N]``. The samples come from the simulated pack
(charging with a small cell spread, so protections, limits and passive balancing all do their work); the
time measured is ``Bms.step`` alone, including the state estimator it calls, and separately without it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import workloads  # noqa: F401  (puts this checkout first on sys.path)

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.bms import Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import core_config
from bms_ros.core.types import Estimate, PackSample


class _NoEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate()


def samples(cells: int, count: int) -> list[PackSample]:
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=cells, initial_soc=0.85, seed=3))
    afe = SimulatedAfe(pack, voltage_noise_v=0.001, current_noise_a=0.01, seed=1, start_time=0.0)
    pack.charger_connected, pack.charger_current_a = True, 5.0
    pack.charge_fet = pack.discharge_fet = True
    return [afe.read(0.1 * k) for k in range(count)]


def bench(cells: int, steps: int, estimator: bool) -> list[float]:
    cfg = core_config({"pack.cell_count": cells, "balancing.when": "both"})
    stream = samples(cells, steps)
    bms = Bms(cfg)
    if not estimator:
        bms.estimator = _NoEstimator()  # type: ignore[assignment]
    for s in stream[:50]:  # warm up (first valid sample, estimator initialisation)
        bms.step(s)
    out = []
    clock = time.perf_counter
    for s in stream[50:]:
        t0 = clock()
        bms.step(s)
        out.append(clock() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    print(f"{'pack':>6} {'estimator':>9} {'median us':>10} {'p99 us':>8} {'max us':>8}")
    for cells in (4, 16, 100):
        for est in (True, False):
            t = np.array(bench(cells, args.steps, est)) * 1e6
            print(
                f"{cells:>5}S {('with' if est else 'without'):>9} {statistics.median(t):>10.1f} "
                f"{np.percentile(t, 99):>8.1f} {t.max():>8.1f}"
            )


if __name__ == "__main__":
    main()
