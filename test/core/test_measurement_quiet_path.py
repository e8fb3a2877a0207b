"""The measurement layer's quiet path measures exactly what the full path measures.

A reference Measurer that never takes the quiet path is stepped side by side with the real one on random
streams built from the events a validation has to notice: noise, cells that stop changing (stuck), the whole
pack frozen under current, NaN, 0 V and full-scale readings, open-wire splits, thermistor loss, failed reads,
a pack voltage that disagrees with the cells, time gaps. Every Measurement field and every piece of state must
be the same after every sample (the quiet path's state is checked through what the full path then computes).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bms_ros.core.config import core_config
from bms_ros.core.measurement import Measurement, Measurer
from bms_ros.core.types import AfeFlag, PackSample

N = 6
CFG = core_config({"pack.cell_count": N}).protection
EVENTS = ("noise", "noise", "noise", "same_cell", "frozen", "nan", "zero", "rail", "split", "therm_nan", "missing")
EVENTS += ("pack_off", "gap", "flag", "big_step")


class FullMeasurer(Measurer):
    """The reference: never takes the quiet path."""

    def _measure_quiet(self, s: PackSample, t: float) -> Measurement | None:
        return None


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))  # type: ignore[union-attr]
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def _stream(events: list[str], seed: int) -> list[tuple[PackSample, float]]:
    rng = np.random.default_rng(seed)
    cells = np.full(N, 3.7)
    t = 0.0
    out = []
    for ev in events:
        t += 10.0 if ev == "gap" else 0.1
        cells = cells + 0.006 + rng.normal(0.0, 0.002, N)  # a charge: a stuck reading falls behind
        v = cells.copy()
        if ev == "same_cell" and out:
            v[2] = out[-1][0].cell_voltages[2]
        elif ev == "frozen" and out:
            v = out[-1][0].cell_voltages.copy()
        elif ev == "nan":
            v[1] = math.nan
        elif ev == "zero":
            v[3] = 0.0
        elif ev == "rail":
            v[0], v[1] = 0.0, 7.4
        elif ev == "split":
            v[2] += 0.3
            v[3] -= 0.3
        elif ev == "big_step":
            v += 0.15
        temps = np.array([25.0, 26.0]) + rng.normal(0.0, 0.1, 2)
        if ev == "therm_nan":
            temps[0] = math.nan
        current = -5.0 if ev != "frozen" or not out else out[-1][0].current
        pack = float(np.sum(v)) + (1.0 if ev == "pack_off" else 0.0)
        flags = AfeFlag.OVERVOLTAGE if ev == "flag" else AfeFlag.NONE
        if ev == "missing":
            s = PackSample.missing(t, N, 2)
        else:
            s = PackSample(t, v, pack, current, temps, 30.0, flags, True, True)
        out.append((s, t))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(1, 6)), min_size=3, max_size=20), st.integers(0, 2**16))
def test_quiet_path_measures_what_the_full_path_measures(runs: list[tuple[str, int]], seed: int) -> None:
    events = [ev for ev, count in runs for _ in range(count)]  # runs: a stuck cell must fall behind to count
    fast, full = Measurer(CFG, N), FullMeasurer(CFG, N)
    quiet_steps = 0
    for s, t in _stream(events, seed):
        quiet_steps += fast._measure_quiet.__func__ is Measurer._measure_quiet and fast._prev_list is not None
        a, b = fast.measure(s, t), full.measure(s, t)
        for f in Measurement.__dataclass_fields__:
            assert _same(getattr(a, f), getattr(b, f)), (f, getattr(a, f), getattr(b, f))
    event(f"quiet-path candidates: {min(quiet_steps, 10)}")
