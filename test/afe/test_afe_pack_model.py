"""The equivalent-circuit pack model behind the simulators."""

import dataclasses

import numpy as np
import pytest

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry

NMC = get_chemistry("nmc")


def pack(**kw):
    return PackModel(NMC, PackModelConfig(**{"cell_count": 4, **kw}))


def test_same_seed_same_pack_and_trajectory():
    a, b, c = (
        pack(seed=5, self_discharge_a=1e-3, self_discharge_spread=0.5),
        pack(seed=5, self_discharge_a=1e-3, self_discharge_spread=0.5),
        pack(seed=6),
    )
    for p in (a, b, c):
        p.discharge_fet = True
        p.load_a = 3.0
        for _ in range(100):
            p.step(1.0)
    np.testing.assert_array_equal(a.soc, b.soc)
    np.testing.assert_array_equal(a.cell_voltages(), b.cell_voltages())
    assert not np.array_equal(a.capacity_ah, c.capacity_ah)
    assert len(set(a.self_discharge_a.tolist())) == 4 and np.all(a.self_discharge_a >= 1e-3)


def test_fets_interrupt_current():
    p = pack()
    p.load_a = 5.0
    p.step(1.0)
    assert p.current_a == 0.0
    p.discharge_fet = True
    p.step(1.0)
    assert p.current_a == -5.0
    p.load_a = -2.0  # regeneration needs the charge path
    p.step(1.0)
    assert p.current_a == 0.0
    p.charge_fet = True
    p.step(1.0)
    assert p.current_a == 2.0
    p.external_short = True
    assert p.short_circuit
    p.step(1e-4)
    assert p.current_a == -p.short_circuit_a
    p.discharge_fet = False
    p.step(1e-4)
    assert p.current_a == 0.0


def test_charger_cc_then_cv_taper():
    p = pack(initial_soc=0.5, soc_spread=0.0, capacity_ah=2.0)
    p.charge_fet = p.discharge_fet = True
    p.charger_connected, p.charger_current_a = True, 2.0
    currents = []
    for _ in range(3 * 3600):
        p.step(1.0)
        currents.append(p.current_a)
    assert currents[10] == pytest.approx(2.0)  # constant current first
    assert currents[-1] < 0.1  # tapered in CV
    assert p.pack_voltage() == pytest.approx(4 * NMC.full_v, abs=0.01)
    assert np.all(p.soc > 0.97)
    p.charger_voltage_v = 4 * 4.0  # a pack-level CV below the present voltage: no current
    p.step(1.0)
    assert p.current_a == 0.0


def test_transfer_current_moves_charge_between_cells():
    p = pack(soc_spread=0.0, capacity_spread=0.0)
    soc0 = p.soc.copy()
    p.transfer_a = np.array([-1.0, 0.95, 0.0, 0.0])  # 5 % converter loss
    for _ in range(360):
        p.step(10.0)
    d = (p.soc - soc0) * p.capacity_ah * 3600
    assert d[0] == pytest.approx(-3600, rel=1e-6) and d[1] == pytest.approx(3420, rel=1e-6)
    assert d[2] == 0.0 and d[3] == 0.0


def test_bleed_self_discharge_and_internal_short_drain_cells():
    p = pack(soc_spread=0.0, capacity_spread=0.0)
    p.bleed_mask = 0b0001
    p.self_discharge_a[1] = 0.05
    p.internal_short_ohm[2] = 37.0
    soc0 = p.soc.copy()
    for _ in range(3600):
        p.step(1.0)
    drop = (soc0 - p.soc) * p.capacity_ah
    assert drop[0] == pytest.approx(p.cell_ocv()[0] / 33.0, rel=0.02)
    assert drop[1] == pytest.approx(0.05, rel=1e-6)
    assert drop[2] == pytest.approx(p.cell_ocv()[2] / 37.0, rel=0.02)
    assert drop[3] == 0.0


def test_thermal_model_heats_with_current_and_relaxes_to_ambient():
    p = pack(ambient_c=20.0, capacity_ah=50.0, initial_soc=0.9)
    p.discharge_fet = True
    p.load_a = 20.0
    for _ in range(7200):
        p.step(1.0)
    hot = p.temperature_c
    tau = p.cfg.thermal_mass_j_per_k * p.cfg.thermal_resistance_k_per_w
    expected_rise = (20.0**2 * p.r0.sum()) * p.cfg.thermal_resistance_k_per_w * (1 - np.exp(-7200 / tau))
    assert hot - 20.0 == pytest.approx(expected_rise, rel=0.01)
    p.load_a = 0.0
    for _ in range(6 * 3600):
        p.step(1.0)
    assert p.temperature_c == pytest.approx(20.0, abs=0.05)


def test_ocv_follows_temperature_when_the_chemistry_supports_it():
    p = pack(ambient_c=0.0)
    try:
        expected = NMC.ocv(p.soc, temp_c=0.0)
    except TypeError:
        expected = NMC.ocv(p.soc)
    np.testing.assert_allclose(p.cell_ocv(), expected, atol=1e-4)


def test_works_with_a_chemistry_without_temperature_argument():
    class OldChem:
        def __init__(self, chem):
            self._c = chem
            self.r0_ohm_per_ah, self.full_v = chem.r0_ohm_per_ah, chem.full_v

        def ocv(self, soc):
            return np.interp(soc, np.linspace(0, 1, 21), np.linspace(3.0, 4.2, 21))

    p = PackModel(OldChem(NMC), PackModelConfig(cell_count=3, initial_soc=0.5, soc_spread=0.0))
    np.testing.assert_allclose(p.cell_ocv(), 3.6)
    p.discharge_fet, p.load_a = True, 1.0
    p.step(1.0)
    assert np.all(p.cell_voltages() < 3.6)


def test_overcharge_keeps_raising_the_voltage():
    p = pack(initial_soc=1.0, soc_spread=0.0, capacity_ah=1.0)
    p.charge_fet = True
    p.charger_connected, p.charger_current_a = True, 1.0
    p.charger_voltage_v = 4 * 4.5
    v = []
    for _ in range(180):
        p.step(1.0)
        v.append(p.cell_ocv()[0])
    assert np.all(np.diff(v) > 0) and v[-1] > NMC.full_v + 0.04
    assert np.all(p.soc == 1.0) and np.all(p.soc_excess > 0)


def test_step_size_does_not_change_the_result_much():
    a, b = pack(seed=2), pack(seed=2)
    for p in (a, b):
        p.discharge_fet, p.load_a = True, 8.0
    for _ in range(3600):
        a.step(1.0)
    for _ in range(36000):
        b.step(0.1)
    np.testing.assert_allclose(a.soc, b.soc, atol=1e-6)
    np.testing.assert_allclose(a.cell_voltages(), b.cell_voltages(), atol=1e-3)
    assert a.temperature_c == pytest.approx(b.temperature_c, abs=0.01)


def test_second_rc_pair_and_config_defaults_unchanged():
    assert dataclasses.asdict(PackModelConfig())["rc2_tau_s"] == 0.0
    p = pack(rc2_tau_s=600.0, r2_fraction=0.5)
    p.discharge_fet, p.load_a = True, 10.0
    p.step(60.0)
    assert np.all(p.v_rc2 < 0) and np.all(p.v_rc < p.v_rc2)  # the fast pair has moved further
