"""Balancing planner (passive) and strategy (active) in isolation; closed-loop runs are in test_closed_loop."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_ros.core.balancing import Balancer, BalancingConfig, active_transfer, plan_passive
from bms_ros.core.faults import Fault
from bms_ros.core.types import BalancingConstraints

BQ = BalancingConstraints(groups=((0, 5), (5, 10), (10, 15)), max_per_group=5, allow_adjacent=False)


def groups_of(c: BalancingConstraints, n: int) -> np.ndarray:
    g = np.full(n + 1, -1)
    for k, (a, b) in enumerate(c.groups):
        g[a : min(b, n)] = k
    return g


def bits(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(3.9, 4.2), min_size=2, max_size=15), st.integers(1, 5), st.booleans(), st.data())
def test_passive_plan_always_satisfies_the_afe_constraints_and_prefers_high_cells(cells, per_group, adjacent, data):
    n = len(cells)
    c = BalancingConstraints(
        groups=tuple((s, min(s + 5, n)) for s in range(0, n, 5)), max_per_group=per_group, allow_adjacent=adjacent
    )
    v = np.array(cells)
    wanted = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    mask = plan_passive(v, wanted, c, groups_of(c, n))
    assert c.permits(mask)
    chosen = bits(mask)
    assert all(wanted[i] for i in chosen)
    if wanted.any():
        assert chosen, "something wanted, nothing chosen"
        top = int(np.flatnonzero(wanted)[np.argmax(v[wanted])])
        assert top in chosen  # the highest wanted cell always bleeds


def test_cells_outside_every_group_are_never_bled():
    c = BalancingConstraints(groups=((0, 2),), max_per_group=2, allow_adjacent=True)
    mask = plan_passive(np.array([4.1, 4.0, 4.2, 4.2]), np.ones(4, dtype=bool), c, groups_of(c, 4))
    assert mask == 0b11


def cfg(**kw) -> BalancingConfig:
    base = dict(mode="passive", when="both", start_voltage=4.0, rest_time=10.0, replan_interval=0.0)
    base.update(kw)
    return BalancingConfig(**base)


def run(
    b: Balancer,
    cells,
    seconds: float,
    current: float = 0.0,
    hottest: float = 25.0,
    faults: int = 0,
    t0: float = 0.0,
    valid: bool = True,
):
    d = None
    t = t0
    while t < t0 + seconds:
        d = b.update(t, np.asarray(cells, dtype=float), current, hottest, valid, True, faults)
        t += 1.0
    return d


HIGH = [4.10, 4.13, 4.10, 4.15, 4.10]


def test_passive_bleeds_the_high_cells_at_rest_only_after_the_rest_time():
    b = Balancer(cfg(when="rest"), 5, BQ)
    d = run(b, HIGH, 5.0)
    assert d.mask == 0 and d.reason == "not at rest"
    d = run(b, HIGH, 7.0, t0=5.0)
    assert bits(d.mask) == [3] or bits(d.mask) == [1, 3]
    assert BQ.permits(d.mask) and d.reason == "balancing"
    assert b.time_s[3] > 0 and b.time_s[0] == 0


def test_when_charging_only_it_does_not_balance_at_rest():
    b = Balancer(cfg(when="charging"), 5, BQ)
    assert run(b, HIGH, 30.0).mask == 0
    assert run(b, HIGH, 2.0, current=3.0, t0=30.0).mask != 0


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        (dict(faults=int(Fault.CELL_UNDERVOLTAGE)), "fault"),
        (dict(hottest=55.0), "too hot"),
        (dict(valid=False), "no valid data"),
    ],
)
def test_stops_on_fault_heat_and_bad_data(kw, reason):
    b = Balancer(cfg(), 5, BQ)
    assert run(b, HIGH, 15.0).mask
    d = run(b, HIGH, 1.0, t0=15.0, **kw)
    assert d.mask == 0 and d.reason == reason


def test_imbalance_and_soft_overvoltage_do_not_stop_balancing():
    b = Balancer(cfg(), 5, BQ)
    d = run(b, HIGH, 15.0, faults=int(Fault.CELL_IMBALANCE | Fault.CELL_OVERVOLTAGE))
    assert d.mask


def test_thermal_limit_has_hysteresis():
    b = Balancer(cfg(max_temperature=50.0, temperature_hysteresis=5.0), 5, BQ)
    run(b, HIGH, 15.0)
    assert run(b, HIGH, 1.0, hottest=51.0, t0=15.0).mask == 0
    assert run(b, HIGH, 1.0, hottest=47.0, t0=16.0).mask == 0
    assert run(b, HIGH, 1.0, hottest=44.0, t0=17.0).mask != 0


def test_nothing_below_the_start_voltage():
    b = Balancer(cfg(start_voltage=4.2), 5, BQ)
    assert run(b, HIGH, 20.0).reason == "below start voltage"


def test_per_cell_hysteresis_start_and_stop_delta():
    b = Balancer(cfg(delta_start=0.010, delta_stop=0.004, start_voltage=3.9), 3, None)
    assert run(b, [4.0, 4.008, 4.0], 12.0).mask == 0  # 8 mV < start delta
    assert run(b, [4.0, 4.012, 4.0], 1.0, t0=12.0).mask == 0b010
    assert run(b, [4.0, 4.006, 4.0], 1.0, t0=13.0).mask == 0b010  # keeps going above the stop delta
    assert run(b, [4.0, 4.003, 4.0], 1.0, t0=14.0).mask == 0


def test_mode_off_and_active_do_not_bleed():
    assert run(Balancer(cfg(mode="off"), 5, BQ), HIGH, 20.0).reason == "off"
    d = run(Balancer(cfg(mode="active"), 5, BQ), HIGH, 20.0)
    assert d.mask == 0 and d.transfer_a.any()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(3.0, 4.2), min_size=2, max_size=30).filter(lambda v: max(v) - min(v) > 1e-4),
    st.floats(0.1, 5.0),
    st.floats(0.5, 1.0),
)
def test_active_transfer_moves_charge_from_high_to_low_and_never_creates_any(cells, current, eff):
    v = np.array(cells)
    tr = active_transfer(v, current, eff)
    out, into = -tr[tr < 0].sum(), tr[tr > 0].sum()
    assert into == pytest.approx(eff * out)
    assert out > 0 and np.abs(tr).max() <= current + 1e-12
    assert tr[np.argmax(v)] < 0 and tr[np.argmin(v)] > 0
    assert np.all(v[tr < 0].min() > v[tr > 0].max())


def test_active_works_in_bursts_planned_from_settled_voltages_and_stops_below_the_stop_delta():
    b = Balancer(
        cfg(
            mode="active",
            delta_start=0.010,
            delta_stop=0.005,
            active_burst_time=5.0,
            active_settle_time=3.0,
            rest_time=0.0,
        ),
        3,
        None,
    )

    def at(t: float, v: list[float]):
        return b.update(t, np.array(v), 0.0, 25.0, True, True, 0)

    assert not at(0.0, [4.1, 4.108, 4.1]).transfer_a.any()  # 8 mV: below the start delta
    d = at(1.0, [4.1, 4.12, 4.1])
    assert d.transfer_a[1] < 0 and d.transfer_a[0] > 0
    # during the burst the plan is kept even though the (loaded) readings look balanced
    assert np.array_equal(at(5.0, [4.1, 4.1, 4.1]).transfer_a, d.transfer_a)
    d = at(6.0, [4.1, 4.1, 4.1])
    assert not d.transfer_a.any() and "settling" in d.reason
    assert "settling" in at(8.0, [4.1, 4.107, 4.1]).reason
    assert at(9.0, [4.1, 4.107, 4.1]).transfer_a.any()  # settled 7 mV > stop delta: go on
    at(14.0, [4.1, 4.1, 4.1])
    d = at(17.0, [4.1, 4.104, 4.1])
    assert not d.transfer_a.any() and d.reason == "balanced"


def test_replan_interval_keeps_the_mask_steady_between_plans():
    b = Balancer(dataclasses.replace(cfg(), replan_interval=10.0), 5, BQ)
    masks = []
    v = np.array(HIGH)
    for k in range(30):
        v = v - 0.0005 * np.array([0, 1, 0, 1, 0]) * (b.bleeding if b.mask else 0)
        masks.append(b.update(float(k), v, 0.0, 25.0, True, True, 0).mask)
    changes = sum(a != c for a, c in itertools.pairwise(masks))
    assert changes <= 4
