"""Adversarial sample streams for the protection: a real condition beyond a limit, seen through readings that
are intermittently invalid, missing, 0 V, NaN or infinite, and stamped by a clock that steps back and jumps.

The oracle is the scenario itself (what the pack truly does, in true time), not the core: once the condition
has been visible (its first good reading) for its trip delay plus two read periods, the FET that the limit
guards must be off at every sample, whatever the readings and stamps do after that.
Used by test/core/test_protection_robust.py (10^5 samples in CI) and bench/bench_protection_fuzz.py (10^6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.types import Estimate, PackSample

N_CELLS = 4
N_THERM = 2
NOMINAL_V = 3.7
NOMINAL_T = 25.0


@dataclass(frozen=True)
class Condition:
    name: str
    section: str  # protection.<section> whose delay bounds the reaction
    guards: str  # "charge" or "discharge": the FET that must go off
    current: float  # A, the true current while it lasts (> 0 charging)
    cell: float | None = None  # true voltage of the affected cell (the top one)
    temp: float | None = None  # true temperature of the affected thermistor


CONDITIONS = (
    Condition("overvoltage", "cell_overvoltage", "charge", 5.0, cell=4.40),
    Condition("deep undervoltage", "cell_undervoltage_deep", "discharge", -5.0, cell=2.30),
    Condition("charge overtemperature", "charge_overtemperature", "charge", 5.0, temp=50.0),
    Condition("discharge overtemperature", "discharge_overtemperature", "discharge", -5.0, temp=66.0),
    Condition("charge undertemperature", "charge_undertemperature", "charge", 5.0, temp=-5.0),
)
# how the affected channel reads on a corrupted sample
PATTERNS = ("nan", "zero", "inf", "missing", "mixed")
CLOCKS = ("steady", "back", "forward", "both")


class _FixedEstimator:
    """The protections do not depend on the estimate: keep the fuzz fast."""

    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)


def _reading(bad: str, thermistor: bool) -> float:
    """The corrupted reading: NaN, infinite, or the rail (0 V on a cell; an open thermistor reads far below any
    plausible temperature)."""
    return {"nan": math.nan, "zero": -60.0 if thermistor else 0.0, "inf": math.inf}[bad]


def run_stream(
    cond: Condition, pattern: str, clock: str, period: float, corrupt_share: float, seed: int, samples: int = 200
) -> list[str]:
    """Feed one stream; return the violations found (empty: the guarded FET opened in time every time)."""
    rng = np.random.default_rng(seed)
    cfg = core_config({"pack.cell_count": N_CELLS})
    bms = Bms(cfg)
    bms.estimator = _FixedEstimator()
    delay = getattr(cfg.protection, cond.section).delay
    deadline = delay + 2.0 * period  # the delay, plus the sample that sees it, plus the jitter
    start = int(samples * 0.25)  # nominal first: the FETs switch on
    true_t, stamp, t_start, back_steps = 0.0, 1000.0, math.nan, 0
    violations: list[str] = []
    for k in range(samples):
        dt = period * (1.0 + 0.1 * rng.uniform(-1.0, 1.0))
        true_t += dt
        stamp += dt
        if k > start and clock in ("back", "both") and rng.random() < 0.02:
            stamp -= rng.choice([0.5, 30.0, 1000.0])
            back_steps += 1  # core time assumes the last regular interval there: up to 20 % of a period off
        if k > start and clock in ("forward", "both") and rng.random() < 0.02:
            stamp += rng.choice([5.0, 3600.0])
        active = k >= start
        cells = np.full(N_CELLS, NOMINAL_V)
        temps = np.full(N_THERM, NOMINAL_T)
        current = cond.current if active else 0.0
        if active and cond.cell is not None:
            cells[-1] = cond.cell
        if active and cond.temp is not None:
            temps[-1] = cond.temp
        pack = float(cells.sum())
        corrupt = active and rng.random() < corrupt_share
        bad = pattern if pattern != "mixed" else str(rng.choice(["nan", "zero", "inf", "missing"]))
        if corrupt and bad == "missing":
            s = PackSample.missing(stamp, N_CELLS, N_THERM)
        else:
            if corrupt:
                if cond.cell is not None:
                    cells[-1] = _reading(bad, False)
                else:
                    temps[-1] = _reading(bad, True)
            s = PackSample(
                stamp=stamp,
                cell_voltages=cells,
                pack_voltage=pack,
                current=current,
                temperatures=temps,
                die_temperature=30.0,
            )
        out = bms.step(s)
        if not active:
            continue
        if math.isnan(t_start) and not corrupt:
            t_start = true_t  # the condition is visible from its first good reading on
        if math.isnan(t_start):
            continue
        elapsed = true_t - t_start
        fet = out.charge_fet if cond.guards == "charge" else out.discharge_fet
        if elapsed > deadline + 0.2 * period * back_steps and fet:
            violations.append(
                f"{cond.name}/{pattern}/{clock}: {cond.guards} FET on {elapsed:.2f} s after the "
                f"condition began (delay {delay:g} s), sample {k}"
            )
    return violations


__all__ = ["CLOCKS", "CONDITIONS", "PATTERNS", "Condition", "run_stream"]
