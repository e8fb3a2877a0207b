"""The protection's fast path decides exactly what the full evaluation decides.

* Protection: the quiet path (nothing active, latched or pending, every value inside its trip threshold) leaves
  every piece of state and the result exactly as the full evaluation does. A reference Protection that always
  runs the full evaluation is stepped side by side on random streams that hover around the thresholds (values
  drawn next to each threshold and release, NaN, AFE flags, resets, restores).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bms_ros.core.config import core_config
from bms_ros.core.measurement import MEASURES, MI, Measurement
from bms_ros.core.protection import POLICY, Protection

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN and +0.0 told apart from -0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


# --- the quiet path of Protection.evaluate ----------------------------------------------------------------
class FullProtection(Protection):
    """The reference: never takes the quiet path."""

    def evaluate(self, m: Measurement) -> object:
        return self._evaluate_full(m)


CFG = core_config({"pack.cell_count": 4}).protection


def _near_thresholds() -> dict[str, list[float]]:
    """Per measure: every threshold and release of the rules on it, and values a hair either side."""
    out: dict[str, list[float]] = {k: [] for k in MEASURES}
    for r in POLICY:
        sec = getattr(CFG, r.section)
        for x in (getattr(sec, "threshold", 0.5), getattr(sec, "release", 0.5)):
            out[r.measure] += [x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf), x + 0.01, x - 0.01]
    return out


NEAR = _near_thresholds()
FLAG_MEASURES = [r.measure for r in POLICY if r.kind == "flag"]


NOMINAL = {
    "cell_max": 3.8,
    "cell_min": 3.7,
    "pack_avg": 3.75,
    "charge_current": 1.0,
    "discharge_current": -1.0,
    "temp_max": 25.0,
    "temp_min": 24.0,
    "die_temp": 30.0,
    "cell_spread": 0.01,
}


@st.composite
def measurement_values(draw: st.DrawFn) -> dict[str, float]:
    """Nominal values (inside every threshold) with, on some steps, one or two of them moved next to a
    threshold or release, to NaN, or an AFE flag raised."""
    vals = {k: NOMINAL.get(k, 0.0) for k in MEASURES}
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 1, 1, 2]))):
        k = draw(st.sampled_from(MEASURES))
        choices = [0.0, 1.0, math.nan] if k in FLAG_MEASURES else NEAR[k] + [math.nan]
        vals[k] = draw(st.sampled_from(choices))
    return vals


step = st.fixed_dictionaries(
    {
        "dt": st.sampled_from([0.1, 0.1, 0.5, 1.0, 5.0, 31.0]),
        "values": measurement_values(),
        "valid": st.booleans(),
        "exact": st.fixed_dictionaries(
            {}, optional={k: st.booleans() for k in ("cell_max", "cell_min", "temp_max", "temp_min")}
        ),
        "load_present": st.booleans(),
        "action": st.sampled_from([None] * 20 + ["reset", "reset", "restore", "config"]),
        # the previous step's values again: a condition that lasts (trips, then holds: the steady path)
        "repeat": st.sampled_from([False, True, True]),
    }
)


def _measurement(t: float, s: dict) -> Measurement:
    v = np.array([s["values"][k] for k in MEASURES])
    exact = np.array([s.get("exact", {}).get(k, True) for k in MEASURES])
    return Measurement(
        t,
        t,
        s["valid"],
        v,
        exact,
        "",
        cell_max=float(v[MI["cell_max"]]),
        cell_min=float(v[MI["cell_min"]]),
        temp_max=float(v[MI["temp_max"]]),
        temp_min=float(v[MI["temp_min"]]),
        load_present=s["load_present"],
    )


def _key(x: object) -> object:
    """Results and events as comparable values (an event's NaN value becomes None)."""
    if isinstance(x, tuple | list):
        return [_key(e) for e in x]
    if hasattr(x, "to_dict"):
        return x.to_dict()
    if hasattr(x, "events"):
        return {**vars(x), "events": _key(x.events)}
    return x


def _assert_same_state(a: Protection, b: Protection) -> None:
    for name in (
        "active",
        "latched",
        "over",
        "level",
        "hold_acc",
        "last_over",
        "prev_up",
        "prev_clear",
        "physical_ok",
        "last_values",
        "warn",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.flag_ignore_until == b.flag_ignore_until
    assert [list(q) for q in a.trips] == [list(q) for q in b.trips]
    assert a.warnings_blocking() == b.warnings_blocking()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=120))
def test_quiet_path_equals_full_evaluation(steps: list[dict]) -> None:
    fast, full = Protection(CFG), FullProtection(CFG)
    t, quiet_steps, steady_steps = 0.0, 0, 0
    values = None
    for s in steps:
        if s["repeat"] and values is not None:
            s = {**s, "values": values}
        values = s["values"]
        t += s["dt"]
        if s["action"] == "reset":
            assert _key(fast.reset(t)) == _key(full.reset(t))
        elif s["action"] == "restore":
            mask = int(POLICY[int(t * 10) % len(POLICY)].fault)
            fast.restore_latched(mask)
            full.restore_latched(mask)
        elif s["action"] == "config":
            fast.set_config(CFG)
            full.set_config(CFG)
        m = _measurement(t, s)
        quiet_steps += fast._quiet
        steady_steps += fast._steady and bool(fast.active.any() or fast.latched.any())
        assert _key(fast.evaluate(m)) == _key(full.evaluate(m))
        _assert_same_state(fast, full)
    event(f"quiet share {round(10 * quiet_steps / len(steps)) * 10} %")  # --hypothesis-show-statistics
    event(f"steady share {round(10 * steady_steps / len(steps)) * 10} %")


def test_steady_path_is_taken_while_a_fault_holds() -> None:
    p = Protection(CFG)
    s = {"values": dict(NOMINAL, charge_current=CFG.charge_overcurrent.threshold + 5.0), "valid": True}
    s["values"] = {k: s["values"].get(k, 0.0) for k in MEASURES}
    s["load_present"] = True
    t = 0.0
    while not p.active.any():
        t += 0.5
        p.evaluate(_measurement(t, s))
    p.evaluate(_measurement(t + 0.5, s))
    assert p._steady
    warn = np.zeros(len(POLICY), dtype=bool)
    p.warn = warn
    r = p.evaluate(_measurement(t + 1.0, s))
    assert p.warn is p._none and r.active  # the steady path ran (the full one stores a new array)


def test_steady_path_follows_a_held_value_between_release_and_threshold() -> None:
    """Beyond (trip), between release and threshold (held: inside, not clear), unknown, beyond again, back."""
    ov = CFG.cell_overvoltage
    fast, full = Protection(CFG), FullProtection(CFG)
    t = 0.0
    for v, exact, n in (
        (ov.threshold + 0.05, True, 30),
        ((ov.threshold + ov.release) / 2, True, 5),
        (math.nan, False, 3),
        (ov.threshold + 0.01, False, 3),
        ((ov.threshold + ov.release) / 2, True, 3),
        (3.8, True, 40),
    ):
        for _ in range(n):
            t += 0.5
            s = {"values": {k: NOMINAL.get(k, 0.0) for k in MEASURES}, "valid": True, "load_present": True}
            s["values"]["cell_max"] = v
            s["exact"] = {"cell_max": exact}
            m = _measurement(t, s)
            assert _key(fast.evaluate(m)) == _key(full.evaluate(m))
            _assert_same_state(fast, full)
    assert not fast.active.any()


def test_quiet_path_is_taken_on_a_healthy_stream() -> None:
    p = Protection(CFG)
    s = {"values": {k: 0.0 for k in MEASURES}, "valid": True, "load_present": True}
    s["values"].update(
        cell_max=3.8,
        cell_min=3.7,
        pack_avg=3.75,
        charge_current=1.0,
        discharge_current=-1.0,
        temp_max=25.0,
        temp_min=24.0,
        die_temp=30.0,
        cell_spread=0.1,
    )
    p.evaluate(_measurement(0.0, s))
    assert p._quiet
    p.evaluate(_measurement(0.1, s))
    assert p.warn is p._none  # the quiet path ran
