"""Charge limits and the heater, closed loop: the core driving the simulated pack through a dock that obeys it.

Issue 19's acceptance in simulated time (steps of 2 s: the pack model integrates in 1 s steps regardless):
a cold dock heats, then charges only inside the charge window, to the end; a CC-CV charge with one high cell
ends with no cell above the CVL target and balancing done.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bms_ros.afe.sim.dock import SimDock
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.bms import Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.heater import HeaterConfig, HeaterControl, HeaterInputs
from bms_ros.core.types import BmsOutput, BmsState, PackSample

NMC = get_chemistry("nmc")
DT = 2.0  # s per core sample
SMALL = {"pack.design_capacity_ah": 1.0, "limits.max_charge_current": 1.0}  # 1 Ah, 1C: a charge in ~1 h


class Dock:
    """Core + simulated AFE + pack + a dock whose charger follows the CVL/CCL (or ignores them)."""

    def __init__(self, values: dict, pack_cfg: PackModelConfig, follow: bool = True, rated_a: float = 1.0):
        self.cfg = core_config({**SMALL, **values})
        self.pack = PackModel(NMC, pack_cfg)
        self.afe = SimulatedAfe(self.pack, start_time=0.0)
        self.bms = Bms(self.cfg)
        self.bms.balancing_constraints = self.afe.balancing_constraints
        self.dock = SimDock(self.pack, rated_a, follow_limits=follow)
        self.pack.charger_current_a = rated_a
        self.t = 0.0
        self.outs: list[BmsOutput] = []

    def connect(self) -> None:
        self.pack.charger_connected = True
        self.bms.charger_present = True

    def step(self) -> BmsOutput:
        self.t += DT
        out = self.bms.step(self.afe.read(self.t))
        self.afe.apply(out)
        self.dock.apply(out)
        self.outs.append(out)
        return out

    def run_until(self, done, limit_s: float) -> BmsOutput:
        while self.t < limit_s:
            out = self.step()
            if done(out):
                return out
        raise AssertionError(f"not done after {limit_s:g} s; last: {self.outs[-1]}")


def test_cold_dock_heats_then_charges_inside_the_window_to_the_end():
    """A robot docks at -5 degC: the heater runs, charging starts once the cells are in the window, the charge
    completes, and no charge current ever flows below the window (over every sample of the run)."""
    d = Dock(
        {"heater.enabled": True},
        PackModelConfig(cell_count=4, capacity_ah=1.0, initial_soc=0.6, ambient_c=-5.0, heater_power_w=30.0),
    )
    for _ in range(10):  # parked in the cold, no charger: no heater
        assert not d.step().heater_on
    d.connect()
    end = d.run_until(lambda o: o.charge_complete, 4 * 3600)
    edge = d.cfg.protection.charge_undertemperature.threshold
    temps = np.array([o.sample.temperatures.min() for o in d.outs])
    current = np.array([o.sample.current for o in d.outs])
    ccl = np.array([o.charge_current_limit for o in d.outs])
    heater = np.array([o.heater_on for o in d.outs])
    cold = temps < edge
    assert cold.sum() > 30, "the pack was never cold long enough to matter"
    # the property: no charge current (and no charge current allowed) below the charge window
    assert np.all(current[cold] <= 1e-9) and np.all(ccl[cold] == 0.0)
    # the heater did it: on from the start of the charger session, the pack warmed into the window
    assert heater[10] and np.all(heater[10 : int(np.argmax(~cold))])
    first_charge = int(np.argmax(current > 0.05))
    assert temps[first_charge] >= edge and temps[:first_charge].max() < d.cfg.limits.charge_temp_full_min + 1.0
    # derated while cool: the charge current stays within the CCL and below the full current under full_min
    assert np.all(current <= ccl + 0.02)
    cool = (temps < d.cfg.limits.charge_temp_full_min) & ~cold
    assert np.all(ccl[cool] < d.cfg.limits.max_charge_current)
    # the thermostat kept it in its band (hysteresis), never near the hot limit, and it completed
    assert temps.max() < d.cfg.heater.off_above + 1.0
    assert end.charge_complete and end.estimate.soc > 0.95 and end.faults_latched == 0
    # the heater draws from the charger only: undocked it stops
    d.pack.charger_connected, d.bms.charger_present = False, False
    out = d.step()
    assert not out.heater_on and out.heater_reason == "no charger"


@pytest.mark.parametrize("follow", [True, False], ids=["dock follows the CVL", "plain CC-CV charger"])
def test_cvl_holds_the_high_cell_at_its_limit_and_balancing_finishes(follow):
    """One cell 6 % above the others, CC-CV at 1C: with the CVL the highest cell never passes cvl.cell_voltage
    and the pack still ends full and balanced. The same charge from a charger set to cell_count x 4.2 V
    overshoots the high cell (the contrast that shows the CVL matters)."""
    d = Dock({}, PackModelConfig(cell_count=4, capacity_ah=1.0, initial_soc=0.6, soc_spread=0.0), follow=follow)
    d.pack.soc[2] += 0.06
    d.connect()
    d.run_until(lambda o: o.charge_complete and o.sample.current < 0.02, 3 * 3600)
    target = d.cfg.cvl.cell_voltage
    vmax = max(float(o.sample.cell_voltages.max()) for o in d.outs)
    if not follow:
        assert vmax > target + 0.01
        return
    assert vmax <= target + 0.002, f"highest cell reached {vmax:.4f} V (CVL target {target} V)"
    assert not any(o.faults_active & Fault.CELL_OVERVOLTAGE for o in d.outs)
    assert any(o.balancing_mask for o in d.outs), "the high cell was never bled"
    assert any("near" in o.charge_voltage_reason for o in d.outs)
    # balancing finished: it stopped because the cells are within delta_start, and the pack is full
    end = d.outs[-1]
    assert end.balancing_reason == "balanced" and end.balancing_mask == 0
    spread = float(end.sample.cell_voltages.max() - end.sample.cell_voltages.min())
    assert spread < d.cfg.balancing.delta_start
    assert end.charge_complete and end.estimate.soc > 0.98


def _sample(t: float, cells=(3.7, 3.7, 3.7, 3.7), temp: float = 25.0, current: float = 0.0) -> PackSample:
    c = np.array(cells, dtype=float)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()),
        current=current,
        temperatures=np.array([temp]),
        charge_fet=True,
        discharge_fet=True,
    )


def test_cvl_falls_at_once_rises_at_the_rise_rate_and_stays_below_the_trip():
    bms = Bms(core_config({"cvl.cell_voltage": 4.2}))
    out = bms.step(_sample(0.0))
    assert out.charge_voltage_limit == pytest.approx(16.8) and out.charge_voltage_reason == "nominal"
    assert out.discharge_voltage_limit == pytest.approx(4 * bms.cfg.cvl.discharge_cell_voltage)
    high = (4.1, 4.1, 4.1, 4.25)  # the highest cell 50 mV above the target
    out = bms.step(_sample(1.0, high))
    assert out.charge_voltage_limit == pytest.approx(sum(high) - 0.05) and "near" in out.charge_voltage_reason
    outs = [bms.step(_sample(2.0 + k, (3.9,) * 4)) for k in range(10)]
    rise = np.diff([out.charge_voltage_limit] + [o.charge_voltage_limit for o in outs])
    assert np.all(rise <= 4 * bms.cfg.cvl.rise_rate * 1.0 + 1e-9) and np.all(rise > 0)
    assert "ramp" in outs[0].charge_voltage_reason
    # a setting at the trip is capped below it (a CVL never sits on a protection)
    bms = Bms(core_config({"cvl.cell_voltage": 4.25, "protection.allow_outside_envelope": False}))
    assert bms.step(_sample(0.0)).charge_voltage_limit < 4 * bms.cfg.protection.cell_overvoltage.threshold


def test_no_charge_current_below_the_window_even_with_the_fet_on():
    """The second line of defence: a cold reading sets the CCL to 0 whatever the FET and protection timers say
    (the protection's own delay has not run out on the first cold sample)."""
    bms = Bms(core_config({}))
    assert bms.step(_sample(0.0, temp=20.0)).charge_current_limit > 0
    out = bms.step(_sample(0.1, temp=-2.0))
    assert out.charge_fet  # the trip delay still runs
    assert out.charge_current_limit == 0.0


def test_heater_runs_below_both_temperature_windows():
    """At -25 degC both FETs are off (state FAULT: the cold forbids both directions); that is the pack that most
    needs the heater, so the FAULT state alone does not stop it, while a shutdown does."""
    bms = Bms(core_config({"heater.enabled": True}))
    bms.charger_present = True
    outs = [bms.step(_sample(0.5 * k, temp=-25.0)) for k in range(10)]
    assert outs[-1].state == BmsState.FAULT and not outs[-1].charge_fet and not outs[-1].discharge_fet
    assert outs[-1].heater_on and outs[-1].charge_current_limit == 0.0
    bms.shutdown()
    assert not bms.step(_sample(5.0, temp=-25.0)).heater_on


def heater_in(t: float, temp: float = -5.0, **kw) -> HeaterInputs:
    base = dict(
        stamp=t,
        charger_present=True,
        valid=True,
        fresh=True,
        temp_min=temp,
        temp_max=temp,
        faults=int(Fault.CHARGE_UNDERTEMPERATURE),
        warnings=0,
    )
    return HeaterInputs(**{**base, **kw})


def test_heater_thermostat_has_hysteresis():
    h = HeaterControl(HeaterConfig(enabled=True, on_below=5.0, off_above=10.0))
    assert h.update(heater_in(0.0, -5.0)).on
    assert h.update(heater_in(1.0, 7.0)).on  # inside the band: keeps heating
    assert not h.update(heater_in(2.0, 10.0)).on  # reached off_above
    assert not h.update(heater_in(3.0, 7.0)).on  # inside the band: stays off
    assert h.update(heater_in(4.0, 4.9)).on


@pytest.mark.parametrize(
    "kw, why",
    [
        ({"charger_present": False}, "no charger"),
        ({"charger_present": None}, "charger unknown"),
        ({"fresh": False}, "no valid data"),
        ({"valid": False}, "no valid data"),
        ({"temp_min": math.nan}, "temperature unknown"),
        ({"temp_max": math.nan}, "temperature unknown"),
        ({"faults": int(Fault.SENSOR_LOSS | Fault.CHARGE_UNDERTEMPERATURE)}, "fault SENSOR_LOSS"),
        ({"faults": int(Fault.CHARGE_OVERTEMPERATURE)}, "fault CHARGE_OVERTEMPERATURE"),
        ({"faults": int(Fault.AFE_COMM_LOSS)}, "fault AFE_COMM_LOSS"),
        ({"faults": int(Fault.SYSTEM_LOCK)}, "fault SYSTEM_LOCK"),
        ({"warnings": int(Fault.DISCHARGE_OVERTEMPERATURE)}, "warning DISCHARGE_OVERTEMPERATURE"),
        ({"temp_max": 40.0}, "hot spot"),
    ],
)
def test_heater_never_runs_while_something_forbids_it(kw, why):
    h = HeaterControl(HeaterConfig(enabled=True))
    assert h.update(heater_in(0.0)).on
    d = h.update(heater_in(1.0, **kw))
    assert not d.on and d.reason == why
    assert h.update(heater_in(2.0)).on  # the condition gone: it may heat again


def test_heater_time_limit_holds_until_the_charger_is_disconnected():
    h = HeaterControl(HeaterConfig(enabled=True, max_on_time=600.0))
    assert all(h.update(heater_in(float(t))).on for t in range(0, 600, 10))
    d = h.update(heater_in(600.0))
    assert not d.on and d.reason == "time limit"
    assert not any(h.update(heater_in(600.0 + t)).on for t in range(10, 3000, 10))  # still cold: stays off
    h.update(heater_in(4000.0, charger_present=False))
    assert h.update(heater_in(4010.0)).on  # a new charger session
    # a run interrupted by data gaps or faults is still one run: the gaps cannot reset its clock
    for t in range(4020, 4610, 10):
        h.update(heater_in(float(t), fresh=(t // 10) % 3 != 0))
    assert not h.update(heater_in(4620.0)).on and h.update(heater_in(4630.0)).reason.startswith("time limit")


def test_heater_disabled_by_default_and_the_pack_model_heats_only_from_the_charger():
    assert not HeaterControl(HeaterConfig()).update(heater_in(0.0)).on
    pack = PackModel(NMC, PackModelConfig(cell_count=4, ambient_c=-5.0, heater_power_w=30.0))
    pack.heater_on = True
    pack.step(60.0)
    assert pack.temperature_c == pytest.approx(-5.0)  # no charger: no heater power
    pack.charger_connected = True
    pack.step(60.0)
    assert pack.temperature_c > -4.0 and pack.current_a == 0.0  # heated; the cells gave nothing (CHG off)


def test_the_shipped_cold_dock_config_heats_and_charges_to_full():
    """config/cold_dock.yaml (the README's cold-dock demo) does what it says, closed loop without ROS."""
    from pathlib import Path

    from bms_ros.afe.factory import make_pack_model
    from bms_ros.config import load_config, read_params_file

    cfg = load_config(read_params_file(Path(__file__).resolve().parents[2] / "config" / "cold_dock.yaml"))
    pack = make_pack_model(cfg.pack, cfg.sim)
    afe = SimulatedAfe(pack, start_time=0.0)
    bms = Bms(cfg)
    bms.balancing_constraints = afe.balancing_constraints
    dock = SimDock(pack, cfg.sim.charger_current, cfg.sim.charger_follows_limits)
    bms.charger_present = True
    outs, t = [], 0.0
    while not (outs and outs[-1].charge_complete):
        assert t < 3 * 3600, "not full after 3 h"
        t += DT
        outs.append(bms.step(afe.read(t)))
        afe.apply(outs[-1])
        dock.apply(outs[-1])
    assert outs[0].heater_on and pack.temperature_c > 0.0
    assert all(o.sample.current <= 1e-9 for o in outs if o.sample.temperatures.min() < 0.0)
    assert outs[-1].estimate.soc > 0.95 and outs[-1].faults_latched == 0
