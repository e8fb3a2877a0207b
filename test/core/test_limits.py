"""State of power: derating by temperature, cell voltage and SoC, hold and ramp, and the reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.limits import CurrentLimiter, LimitsConfig
from bms_ros.core.types import Estimate, PackSample

CFG = core_config({})
P = CFG.protection


def limiter(**kw) -> CurrentLimiter:
    return CurrentLimiter(LimitsConfig(**kw))


def upd(
    lim: CurrentLimiter,
    t: float,
    *,
    vmax=3.7,
    vmin=3.7,
    tmin=25.0,
    tmax=25.0,
    soc=0.5,
    chg=True,
    dsg=True,
    measured=True,
):
    return lim.update(
        t,
        P,
        charge_on=chg,
        discharge_on=dsg,
        charge_off_reason="X",
        discharge_off_reason="Y",
        measured=measured,
        cell_max=vmax,
        cell_min=vmin,
        temp_min=tmin,
        temp_max=tmax,
        soc=soc,
    )


def test_nominal_conditions_give_the_maximum_currents():
    r = upd(limiter(max_charge_current=10.0, max_discharge_current=20.0), 0.0)
    assert (r.charge, r.discharge) == (10.0, 20.0)
    assert r.reason == "charge: nominal; discharge: nominal"


@pytest.mark.parametrize(
    ("temp", "charge", "discharge"),
    [
        (25.0, 10.0, 20.0),
        (5.0, 5.0, 20.0),  # half way from 0 degC (charge window edge) to 10 degC (full)
        (-5.0, 0.0, 15.0),  # outside the charge window; discharge: 3/4 of the way from -20 to 0 degC
        (40.0, 5.0, 20.0),  # half way from 35 (full) to 45 degC (edge)
        (52.5, 0.0, 10.0),
        (65.0, 0.0, 0.0),
    ],
)
def test_temperature_derating(temp, charge, discharge):
    r = upd(limiter(max_charge_current=10.0, max_discharge_current=20.0), 0.0, tmin=temp, tmax=temp)
    assert r.charge == pytest.approx(charge) and r.discharge == pytest.approx(discharge)
    if charge < 10.0:
        assert r.charge_reason == "temperature"


def test_cell_voltage_derating_near_the_limits():
    lim = limiter(
        max_charge_current=10.0,
        max_discharge_current=20.0,
        charge_voltage_derate_start=4.15,
        discharge_voltage_derate_start=3.3,
    )
    r = upd(lim, 0.0, vmax=4.2, vmin=3.05)
    assert r.charge == pytest.approx(10.0 * (4.25 - 4.2) / (4.25 - 4.15))
    assert r.discharge == pytest.approx(20.0 * (3.05 - 2.8) / (3.3 - 2.8))
    assert r.charge_reason == "cell_voltage" and r.discharge_reason == "cell_voltage"


def test_soc_derating_to_the_floor():
    lim = limiter(max_charge_current=10.0, max_discharge_current=20.0, soc_derate_floor=0.2)
    r = upd(lim, 0.0, soc=1.0)
    assert r.charge == pytest.approx(2.0) and r.charge_reason == "soc"
    lim = limiter(max_charge_current=10.0, max_discharge_current=20.0, soc_derate_floor=0.2)
    r = upd(lim, 0.0, soc=0.05)
    assert r.discharge == pytest.approx(20.0 * (0.2 + 0.8 * 0.5)) and r.discharge_reason == "soc"
    r = upd(limiter(), 0.0, soc=math.nan)
    assert r.charge_reason == "nominal"


def test_the_smallest_factor_wins_and_names_the_reason():
    r = upd(limiter(max_charge_current=10.0), 0.0, tmin=5.0, tmax=5.0, soc=0.99)  # temp 0.5, soc 0.19
    assert r.charge_reason == "soc"


def test_a_decrease_applies_at_once_then_holds_then_ramps():
    lim = limiter(max_charge_current=10.0, hold_time=5.0, ramp_rate=1.0)
    assert upd(lim, 0.0).charge == 10.0
    r = upd(lim, 1.0, tmin=5.0, tmax=5.0)
    assert r.charge == pytest.approx(5.0)
    t, seen = 1.0, []
    while t < 14.0:
        t += 0.5
        seen.append((t, upd(lim, t)))
    held = [r for tt, r in seen if tt < 6.0]
    assert all(r.charge == pytest.approx(5.0) and r.charge_reason.startswith("hold") for r in held)
    ramp = [r for tt, r in seen if 6.0 <= tt < 10.5]
    assert all(5.0 < r.charge < 10.0 and r.charge_reason.startswith("ramp") for r in ramp)
    assert np.all(np.diff([r.charge for r in ramp]) <= 0.5 + 1e-9)  # 1 A/s at 0.5 s steps
    assert seen[-1][1].charge == 10.0 and seen[-1][1].charge_reason == "nominal"


def test_noisy_conditions_do_not_make_the_limit_flap():
    lim = limiter(max_charge_current=10.0, hold_time=5.0, ramp_rate=1.0)
    rng = np.random.default_rng(1)
    vals = []
    for k in range(200):  # temperature jittering around the derating knee
        tt = 10.0 + rng.normal(0.0, 1.0)
        vals.append(upd(lim, 0.1 * k, tmin=tt, tmax=tt).charge)
    rises = np.diff(vals)
    assert rises.max() <= 0.1 + 1e-9  # never rises faster than the ramp
    assert np.count_nonzero(rises > 0) < 60  # and mostly holds


def test_off_direction_has_zero_limit_with_the_fet_reason():
    r = upd(limiter(), 0.0, chg=False)
    assert r.charge == 0.0 and r.charge_reason == "X" and r.discharge > 0


def test_bms_output_carries_the_limits_and_their_reason():
    bms = Bms(core_config({}))
    c = np.full(4, 3.7)
    out = bms.step(
        PackSample(
            stamp=0.0,
            cell_voltages=c,
            pack_voltage=14.8,
            current=0.0,
            temperatures=np.array([-5.0]),
            die_temperature=25.0,
        )
    )
    assert out.charge_current_limit == 0.0 and out.discharge_current_limit > 0
    assert "charge:" in out.limit_reason and "discharge:" in out.limit_reason
    assert isinstance(out.estimate, Estimate)
