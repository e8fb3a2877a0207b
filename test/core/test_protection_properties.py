"""Property-based tests over random sample streams: the FET commands never contradict the protections.

The oracle here is computed from the raw samples, independently of the core's internals: which cells are
above over-voltage, which thermistor is outside a window, whether a complete plausible sample arrived within
the stale timeout, whether the output reports a latched fault.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.protection import POLICY
from bms_ros.core.types import AfeFlag, Estimate, PackSample

N = 4
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell = st.one_of(st.floats(2.3, 4.5), st.floats(3.5, 4.0), st.sampled_from([math.nan, 6.0, 4.25, 2.8]))
temp = st.one_of(st.floats(-30.0, 70.0), st.floats(-2.0, 3.0), st.sampled_from([math.nan, -60.0, 0.0, 45.0]))
step = st.fixed_dictionaries(
    {
        "dt": st.one_of(st.floats(0.05, 0.5), st.floats(0.5, 3.0)),
        "cells": st.one_of(
            st.lists(cell, min_size=N, max_size=N), st.lists(st.floats(3.6, 4.1), min_size=N, max_size=N)
        ),
        "temps": st.lists(temp, min_size=2, max_size=2),
        "current": st.one_of(st.floats(-45.0, 25.0), st.just(0.0), st.just(math.nan)),
        "pack_error": st.one_of(st.just(0.0), st.floats(-1.0, 1.0)),
        "flags": st.sampled_from(
            [
                0,
                0,
                0,
                0,
                int(AfeFlag.SHORT_CIRCUIT),
                int(AfeFlag.OVERVOLTAGE),
                int(AfeFlag.UNDERVOLTAGE),
                int(AfeFlag.DEVICE_FAULT),
            ]
        ),
        "comm_ok": st.sampled_from([True] * 6 + [False]),
        "action": st.sampled_from([None] * 8 + ["charge_on", "charge_off", "discharge_on", "discharge_off", "reset"]),
    }
)


class FixedEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)


def make_sample(t: float, s: dict) -> PackSample:
    if not s["comm_ok"]:
        return PackSample.missing(t, N, 2)
    cells = np.array(s["cells"])
    return PackSample(
        stamp=t,
        cell_voltages=cells,
        pack_voltage=float(np.nansum(cells)) + s["pack_error"],
        current=s["current"],
        temperatures=np.array(s["temps"]),
        die_temperature=35.0,
        afe_flags=AfeFlag(s["flags"]),
    )


def run(cfg, steps):
    """Yields (sample, output, seconds since the last complete plausible sample) per step."""
    bms = Bms(cfg)
    bms.estimator = FixedEstimator()
    imp = cfg.protection.implausible_data
    t, last_valid = 100.0, None
    for s in steps:
        t += s["dt"]
        a = s["action"]
        if a == "charge_on":
            bms.set_charge_enable(True)
        elif a == "charge_off":
            bms.set_charge_enable(False)
        elif a == "discharge_on":
            bms.set_discharge_enable(True)
        elif a == "discharge_off":
            bms.set_discharge_enable(False)
        elif a == "reset":
            bms.reset_faults(t)
        sample = make_sample(t, s)
        c = sample.cell_voltages
        valid = (
            sample.comm_ok
            and bool(np.all(np.isfinite(c)))
            and bool(np.all((c >= imp.cell_min) & (c <= imp.cell_max)))
            and math.isfinite(sample.current)
            and abs(float(c.sum()) - sample.pack_voltage) <= imp.pack_tolerance_per_cell * N
        )
        if valid:
            last_valid = t
        out = bms.step(sample)
        age = math.inf if last_valid is None else t - last_valid
        yield sample, out, age


def usable(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Readings the core can act on: finite and inside the physical range."""
    return x[np.isfinite(x) & (x >= lo) & (x <= hi)]


def zero_delay_config():
    values = {f"protection.{r.section}.delay": 0.0 for r in POLICY}
    return core_config({**values, "protection.implausible_data.frozen_time": 0.0})


@SETTINGS
@given(st.lists(step, min_size=1, max_size=60))
def test_fets_never_on_against_a_protection_with_zero_delays(steps):
    cfg = zero_delay_config()
    p = cfg.protection
    imp, sl = p.implausible_data, p.sensor_loss
    for sample, out, age in run(cfg, steps):
        cells = usable(sample.cell_voltages, imp.cell_min, imp.cell_max)
        temps = usable(sample.temperatures, sl.temperature_min, sl.temperature_max)
        stale = age > p.stale_timeout
        if out.charge_fet:
            assert out.charge_enable_requested
            assert not stale and out.data_fresh
            assert out.faults_latched == 0
            assert not np.any(cells > p.cell_overvoltage.threshold)
            assert not np.any(temps < p.charge_undertemperature.threshold)
            assert not np.any(temps > p.charge_overtemperature.threshold)
        if out.discharge_fet:
            assert out.discharge_enable_requested
            assert not stale and out.data_fresh
            assert out.faults_latched == 0
            assert not np.any(cells < p.cell_undervoltage.threshold)
            assert not np.any(temps < p.discharge_undertemperature.threshold)
            assert not np.any(temps > p.discharge_overtemperature.threshold)


@SETTINGS
@given(st.lists(step, min_size=1, max_size=60))
def test_fets_with_default_delays_never_switch_on_into_a_violation_and_open_once_the_delay_is_over(steps):
    cfg = core_config({"protection.implausible_data.frozen_time": 0.0})
    p = cfg.protection
    imp, sl = p.implausible_data, p.sensor_loss
    prev = None
    since: dict[str, float | None] = dict.fromkeys(("ov", "uv", "c_ut", "c_ot", "d_ut", "d_ot"))
    for sample, out, age in run(cfg, steps):
        t = sample.stamp
        cells = usable(sample.cell_voltages, imp.cell_min, imp.cell_max)
        temps = usable(sample.temperatures, sl.temperature_min, sl.temperature_max)
        c, tt = cells.size > 0, temps.size > 0
        cond = {
            "ov": bool(np.any(cells > p.cell_overvoltage.threshold)) if c else None,
            "uv": bool(np.any(cells < p.cell_undervoltage.threshold)) if c else None,
            "c_ut": bool(np.any(temps < p.charge_undertemperature.threshold)) if tt else None,
            "c_ot": bool(np.any(temps > p.charge_overtemperature.threshold)) if tt else None,
            "d_ut": bool(np.any(temps < p.discharge_undertemperature.threshold)) if tt else None,
            "d_ot": bool(np.any(temps > p.discharge_overtemperature.threshold)) if tt else None,
        }
        for k, x in cond.items():  # unknown (no usable reading) neither starts nor stops the clock
            if x is True and since[k] is None:
                since[k] = t
            elif x is False:
                since[k] = None
        delay = {
            "ov": p.cell_overvoltage.delay,
            "uv": p.cell_undervoltage.delay,
            "c_ut": p.charge_undertemperature.delay,
            "c_ot": p.charge_overtemperature.delay,
            "d_ut": p.discharge_undertemperature.delay,
            "d_ot": p.discharge_overtemperature.delay,
        }
        stale = age > p.stale_timeout
        for fet, was, keys in (
            (out.charge_fet, prev and prev.charge_fet, ("ov", "c_ut", "c_ot")),
            (out.discharge_fet, prev and prev.discharge_fet, ("uv", "d_ut", "d_ot")),
        ):
            if not fet:
                continue
            assert not stale and out.faults_latched == 0
            for k in keys:  # a condition lasting its delay has opened the FET
                assert since[k] is None or t - since[k] < delay[k], k
            if prev is not None and not was:  # switched on now: only from a clean, complete sample
                assert age == 0.0 and not any(cond[k] for k in keys)
        prev = out


@SETTINGS
@given(st.lists(step, min_size=1, max_size=40))
def test_a_reset_only_clears_faults_whose_condition_is_gone(steps):
    cfg = core_config({"protection.implausible_data.frozen_time": 0.0})
    bms = Bms(cfg)
    bms.estimator = FixedEstimator()
    t = 0.0
    for s in steps:
        t += s["dt"]
        out = bms.step(make_sample(t, s))
        latched_before, active = out.faults_latched, out.faults_active
        cleared, remaining = bms.reset_faults(t)
        from bms_ros.core.faults import Fault

        for name in cleared:
            assert latched_before & Fault[name]
            rule = next(r for r in POLICY if r.fault == Fault[name])
            if not rule.afe_flag:  # an AFE flag's condition is judged by the cells/current behind it
                assert not active & Fault[name] and not out.warnings & Fault[name]
        assert {Fault[n] for n in cleared} | {Fault[n] for n in remaining} == {
            f for f in Fault if f and latched_before & f
        }
