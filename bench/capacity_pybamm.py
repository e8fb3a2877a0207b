"""PyBaMM robot days for ``bench_capacity_learning.py --pybamm``: training parameter sets only (Chen2020 NMC,
Prada2013 LFP; the held-out sets are never simulated here). SPMe through ``bench_estimation_accuracy``'s
cached simulator; the estimator gets the table identified from that bench's characterisation tests when it
exists (``bench/results/<chem>_identified_table.yaml``), else the built-in chemistry (L0)."""

from __future__ import annotations

import bench_estimation_accuracy as acc  # the cached PyBaMM simulator (bench/, on sys.path)
import numpy as np

from bms_ros.config import load_config
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.types import PackSample

DRIVE_C = (0.2, 1.2, 0.5, 1.5, 0.3, 0.8, 0.1)  # C, as the sim-pack workload (bms_ros.afe.sim.robot_life)
BLOCK_S = 60  # s per drive block (PyBaMM experiment steps)
V_NOISE, I_NOISE_C = 0.002, 0.002  # V, C (1-sigma per sample)


def days(chem: str, fractions: list[float], seed: int) -> dict[str, np.ndarray]:
    vmin, vmax, cap = acc._limits(chem)
    rng = np.random.default_rng(seed)
    steps: list[str] = []
    for f in fractions:
        drawn = 0.0
        while drawn < f * cap:
            c = float(np.clip(DRIVE_C[rng.integers(len(DRIVE_C))] * (1 + 0.2 * rng.standard_normal()), 0.05, 2.0))
            steps.append(f"Discharge at {c * cap:.3f} A for {BLOCK_S} seconds or until {vmin + 0.3} V")
            drawn += c * cap * BLOCK_S / 3600.0
        steps += [
            "Rest for 25 minutes",
            f"Charge at {0.5 * cap:.3f} A until {vmax} V",
            f"Hold at {vmax} V until {0.03 * cap:.3f} A",
            "Rest for 30 minutes",
        ]
    return acc.simulate_experiment(chem, 25.0, 1.0, steps, f"{chem}_capacity_days_{seed}")


def true_capacity(tr: dict[str, np.ndarray]) -> float:
    """Ah per unit of the model's SoC: the charge over the first drive and its SoC change."""
    i, soc = tr["i"], tr["soc"]
    end = int(np.argmax(i > 0.0))  # the first charge current: the drive and the park are before it
    ah = float(np.sum(i[:end])) / 3600.0
    return ah / float(soc[end] - soc[0])


def run(chem: str, m: float, seed: int, fractions: list[float]) -> tuple[list[tuple[float, float]], float]:
    """(relative error, relative sigma) at the end of each day, and the true capacity."""
    tr = days(chem, fractions, seed)
    cap = true_capacity(tr)
    table = acc.RESULTS / f"{chem}_identified_table.yaml"
    cfg: dict[str, object] = {"pack.cell_count": 1, "pack.chemistry": chem, "pack.design_capacity_ah": cap * (1 + m)}
    cfg["protection.allow_outside_envelope"] = True  # the default trips round a hair past 5C: not what is measured
    if table.exists():
        cfg["estimation.chemistry_table"] = str(table)
    est = StateEstimator(load_config(cfg))
    rng = np.random.default_rng(seed + 7)
    # a day ends when the dock rest ends: a charge (i > 0) followed by the first discharge current
    charging = tr["i"] > 0.01 * cap
    out, was_charging = [], False
    e = est.update(PackSample(0.0, np.array([tr["v"][0]]), float(tr["v"][0]), 0.0, np.array([25.0])))
    for k in range(1, len(tr["t"])):
        v = np.array([tr["v"][k] + V_NOISE * rng.standard_normal()])
        i = tr["i"][k] + I_NOISE_C * cap * rng.standard_normal()
        if was_charging and tr["i"][k] < -0.01 * cap:
            out.append((e.capacity_ah / cap - 1.0, e.capacity_std_ah / cap))
            was_charging = False
        was_charging = was_charging or bool(charging[k])
        e = est.update(PackSample(float(tr["t"][k]), v, float(v[0]), float(i), np.array([tr["temp_c"][k]])))
    out.append((e.capacity_ah / cap - 1.0, e.capacity_std_ah / cap))
    return out, cap
