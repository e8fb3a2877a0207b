"""Closed loop: the core driving the simulated AFE and pack model, in simulated time.

The pack model always integrates in steps of at most 1 s (SimulatedAfe.advance); the core samples every 1 s,
or every 10 s in the hours-long balancing runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.bms import Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.types import BmsOutput, BmsState

NMC = get_chemistry("nmc")


class Loop:
    def __init__(self, values: dict | None = None, pack_cfg: PackModelConfig | None = None, seed: int = 1):
        self.cfg = core_config(values or {})
        self.pack = PackModel(NMC, pack_cfg or PackModelConfig(cell_count=self.cfg.pack.cell_count, seed=seed))
        self.afe = SimulatedAfe(self.pack, start_time=0.0)
        self.bms = Bms(self.cfg)
        self.bms.balancing_constraints = self.afe.balancing_constraints
        self.t = 0.0
        self.out: BmsOutput | None = None

    def step(self, dt: float = 1.0) -> BmsOutput:
        self.t += dt
        self.out = self.bms.step(self.afe.read(self.t))
        self.afe.apply(self.out)
        return self.out


def test_charging_at_1c_from_95_percent_stops_at_the_overvoltage_limit():
    # a charger whose CV setting is too high for the pack: only the BMS can stop it
    loop = Loop(pack_cfg=PackModelConfig(cell_count=4, initial_soc=0.95, charger_cv_per_cell=4.40))
    p = loop.cfg.protection
    loop.pack.charger_connected, loop.pack.charger_current_a = True, 10.0  # 1C on 10 Ah
    outs = [loop.step() for _ in range(1800)]
    charging = [o for o in outs if o.sample.current > 9.0]
    assert charging, "the charger never ran at 1C"
    stop = next(k for k, o in enumerate(outs) if o.faults_active & Fault.CELL_OVERVOLTAGE)
    assert not outs[stop].charge_fet and outs[stop].discharge_fet  # only charging is stopped
    # it charged up to the limit, not short of it, and the cells never got near the hard limit
    assert outs[stop].sample.cell_voltages.max() > p.cell_overvoltage.threshold
    vmax = max(o.sample.cell_voltages.max() for o in outs)
    assert vmax < p.cell_overvoltage.threshold + 0.05 < p.cell_overvoltage_hard.threshold
    after = outs[stop + 2 :]
    assert all(not o.charge_fet and o.sample.current <= 0.0 for o in after)
    assert outs[-1].faults_latched == 0 and outs[-1].charge_complete
    assert outs[-1].faults_active & Fault.CELL_OVERVOLTAGE  # rested OCV stays above the release


def test_charge_request_at_minus_5_is_refused_and_reported_while_discharge_keeps_working():
    loop = Loop(pack_cfg=PackModelConfig(cell_count=4, initial_soc=0.6, ambient_c=-5.0))
    loop.pack.charger_connected, loop.pack.charger_current_a = True, 5.0
    loop.pack.load_a = 0.0
    loop.bms.set_charge_enable(False)
    for _ in range(5):
        loop.step()
    ok, why = loop.bms.set_charge_enable(True)
    assert not ok and "CHARGE_UNDERTEMPERATURE" in why
    outs = [loop.step() for _ in range(60)]
    assert all(not o.charge_fet and o.sample.current <= 0.0 for o in outs)  # no charge current at all
    assert all(o.faults_active & Fault.CHARGE_UNDERTEMPERATURE for o in outs)
    assert all(o.charge_current_limit == 0.0 and "CHARGE_UNDERTEMPERATURE" in o.limit_reason for o in outs)
    assert outs[-1].charge_enable_requested  # remembered
    # the robot can still drive: discharge is on and carries the load
    loop.pack.charger_connected = False
    loop.pack.load_a = 3.0
    outs = [loop.step() for _ in range(30)]
    assert all(o.discharge_fet for o in outs) and outs[-1].sample.current == pytest.approx(-3.0)
    assert outs[-1].state == BmsState.DISCHARGING and outs[-1].discharge_current_limit > 3.0
    # warmed up: the remembered request applies by itself
    loop.pack.load_a = 0.0
    loop.pack.charger_connected = True
    loop.pack.ambient_c = loop.pack.temperature_c = 15.0
    outs = [loop.step() for _ in range(30)]
    assert outs[-1].charge_fet and outs[-1].sample.current > 1.0 and outs[-1].faults_active == 0


def spread_pack(mode: str, spread_v: float = 0.080) -> Loop:
    pack_cfg = PackModelConfig(cell_count=4, soc_spread=0.0, capacity_spread=0.0, seed=2)
    loop = Loop({"balancing.mode": mode, "balancing.when": "rest", "balancing.rest_time": 30.0}, pack_cfg)
    v = np.linspace(4.10, 4.10 + spread_v, 4)[[0, 2, 1, 3]]  # lowest 4.100, highest 4.180 V
    loop.pack.soc = NMC.soc_from_ocv(v)
    return loop


def balance(mode: str, step: float = 10.0, limit_s: float = 48 * 3600.0) -> tuple[float, Loop]:
    loop = spread_pack(mode)
    assert np.ptp(loop.afe.read(0.0).cell_voltages) == pytest.approx(0.080, abs=1e-3)
    while loop.t < limit_s:
        out = loop.step(step)
        assert out.faults_active & ~Fault.CELL_IMBALANCE == 0 and out.faults_latched == 0
        assert loop.afe.balancing_constraints.permits(out.balancing_mask)
        if np.ptp(out.sample.cell_voltages) < 0.010 and out.balancing_reason == "balanced":
            return loop.t, loop
    raise AssertionError(f"{mode}: spread still {np.ptp(loop.out.sample.cell_voltages) * 1e3:.1f} mV")


BALANCING_TIMES: dict[str, float] = {}


def test_passive_balancing_brings_an_80mv_spread_below_10mv():
    t, loop = balance("passive")
    BALANCING_TIMES["passive"] = t
    print(
        f"\npassive balancing: 80 mV -> <10 mV in {t / 3600:.2f} h simulated "
        f"(per-cell bleed time {np.round(loop.bms.balancing_time_s / 3600, 2)} h)"
    )
    bt = loop.bms.balancing_time_s
    assert bt[3] > bt[2] > 0 and bt[0] == 0  # the highest cell bled longest, the lowest never
    assert np.ptp(loop.pack.cell_ocv()) < 0.010


def test_active_balancing_is_faster_than_passive():
    t_active, loop = balance("active")
    t_passive = BALANCING_TIMES.get("passive") or balance("passive")[0]
    print(
        f"\nactive balancing: 80 mV -> <10 mV in {t_active / 3600:.2f} h simulated "
        f"(passive {t_passive / 3600:.2f} h, {t_passive / t_active:.1f}x)"
    )
    assert t_active < t_passive / 2
    assert np.ptp(loop.pack.cell_ocv()) < 0.010
    assert loop.out.balancing_mask == 0  # no bleeding in active mode


def test_balancing_does_not_run_during_discharge_when_set_to_rest():
    loop = spread_pack("passive")
    loop.pack.load_a = 2.0
    outs = [loop.step(5.0) for _ in range(100)]
    assert all(o.balancing_mask == 0 for o in outs) and outs[-1].balancing_reason == "not at rest"
