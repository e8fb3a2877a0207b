"""ISSUE 13: the circuit adapted from the pack's own operation, honest sigma, hysteresis, temperature.

The ground truth is a 2-RC cell whose parameters differ from what the estimator is configured with (as a team's
datasheet configuration differs from its cells): larger polarisation, an OCV curve off by tens of mV."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from bms_ros.config import load_config
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.estimation.adaptation import Hysteresis
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.types import PackSample

CAP = 5.0  # Ah


def make(chem: str = "nmc", **est) -> StateEstimator:
    values = {"pack.cell_count": 1, "pack.chemistry": chem, "pack.design_capacity_ah": CAP}
    values.update({f"estimation.{k}": v for k, v in est.items()})
    return StateEstimator(load_config(values))


class TrueCell:
    """One 2-RC cell: the chemistry's circuit with R1, R2 times ``pol``, and its OCV curve plus ``ocv_shift``
    (V, a function of SoC: the cell's curve is not the datasheet's)."""

    def __init__(self, chem="nmc", soc0=0.5, pol=1.0, ocv_shift=None, seed=1, temp=25.0, r0=1.0):
        self.chem = get_chemistry(chem)
        self.soc, self.pol, self.temp, self.r0 = soc0, pol, temp, r0
        self.shift = ocv_shift or (lambda s: 0.0)
        self.v1 = self.v2 = 0.0
        self.t, self.i = 0.0, 0.0
        self.rng = np.random.default_rng(seed)

    def ocv(self) -> float:
        return float(self.chem.ocv(self.soc, self.temp)) + self.shift(self.soc)

    def step(self, i: float, dt: float = 1.0) -> PackSample:
        r0, r1, r2 = (float(r) / CAP for r in self.chem.ecm(self.soc, self.temp))
        a1, a2 = math.exp(-dt / self.chem.tau1_s), math.exp(-dt / self.chem.tau2_s)
        self.soc += i * dt / 3600.0 / CAP
        self.v1 = a1 * self.v1 + self.pol * r1 * (1 - a1) * i
        self.v2 = a2 * self.v2 + self.pol * r2 * (1 - a2) * i
        self.t += dt
        v = self.ocv() + self.v1 + self.v2 + self.r0 * r0 * i + 0.002 * self.rng.standard_normal()
        return PackSample(
            stamp=self.t,
            cell_voltages=np.array([v]),
            pack_voltage=v,
            current=i,
            temperatures=np.array([self.temp]),
            charge_fet=True,
            discharge_fet=True,
        )


def pulses(cell: TrueCell, est: StateEstimator, n: int, c_rate=1.0, on_s=300, rest_s=900):
    errs, stds = [], []
    for _ in range(n):
        for k in range(on_s + rest_s):
            out = est.update(cell.step(-c_rate * CAP if k < on_s else 0.0))
            errs.append(out.soc - cell.soc)
            stds.append(out.soc_std)
    return np.array(errs), np.array(stds)


def test_polarisation_scale_converges_to_the_cells():
    """R1, R2 three times the chemistry's: after a few pulses with rests the learned scales say so."""
    cell, est = TrueCell(soc0=0.8, pol=3.0), make()
    est.reset(0.8, 0.02)
    pulses(cell, est, 4, c_rate=0.5)
    k = est.pol.k[:, 0]
    assert np.all(np.abs(k - 3.0) < 0.75), k
    assert est._last.polarisation_scale > 2.2


POL, R0 = 3.0, 1.7  # the circuit's polarisation and R0 times the chemistry's


def test_a_pulse_after_rest_is_not_read_as_missing_charge():
    """Rested at 84 %, then a 1C pulse on a cell with three times the modelled polarisation: the SoC follows
    the charge drawn, it does not fall by the sag (ISSUE 13: 13-15 points low)."""
    cell, est = TrueCell(soc0=0.84, pol=POL, r0=R0), make()
    for _ in range(1800):
        est.update(cell.step(0.0))
    worst = 0.0
    for _ in range(600):
        out = est.update(cell.step(-CAP))
        worst = min(worst, out.soc - cell.soc)
    assert worst > -0.03, f"the sag read as {-worst * 100:.1f} points of missing charge"


def test_sigma_covers_a_wrong_ocv_curve_and_circuit():
    """The cell's OCV curve is 20-30 mV off the chemistry's and its polarisation twice the modelled: the true
    SoC stays inside +-2 sigma at least 90 % of the time, and sigma stays useful."""
    shift = lambda s: 0.025 * math.sin(2 * math.pi * s) - 0.01  # noqa: E731
    cell, est = TrueCell(soc0=0.9, pol=2.0, ocv_shift=shift), make()
    errs, stds = pulses(cell, est, 6, c_rate=0.8, on_s=400, rest_s=600)
    inside = np.mean(np.abs(errs) <= 2 * stds)
    assert inside >= 0.9, f"coverage {inside * 100:.0f} %"
    assert np.median(stds) < 0.06


def test_hysteresis_moves_with_charge_and_stands_at_rest():
    chem = get_chemistry("lfp")
    h = Hysteresis(1, chem)
    assert h.enabled and h.m > 0
    for _ in range(2000):
        h.step(2.0, 2.0 / 3600 / CAP, rest_a=0.05)
    assert 0.9 < h.h[0] <= 1.0
    before = h.h.copy()
    for _ in range(1000):
        h.step(0.0, 0.0, rest_a=0.05)
    assert np.array_equal(h.h, before)  # a rest does not move it ...
    for _ in range(4000):
        h.step(-2.0, 2.0 / 3600 / CAP, rest_a=0.05)
    assert -1.0 <= h.h[0] < -0.9  # ... a discharge does, bounded by the branch


def test_rest_after_charge_reads_the_soc_on_the_charge_branch():
    """LFP rested after a charge shows the OCV plus the hysteresis: the rest anchor reads the SoC with it
    removed, so the 10 mV on the plateau are not taken for tens of points of SoC."""
    chem = get_chemistry("lfp")
    est = make("lfp")
    est.reset(0.55, 0.02)
    soc, t = 0.55, 0.0
    for _ in range(1200):  # charge at C/2 from 55 to ~72 %
        t += 1.0
        soc += 0.5 * 1.0 / 3600
        v = float(chem.ocv(soc)) + chem.hysteresis_v + 0.5 * CAP * chem.r0_ohm_per_ah / CAP
        est.update(PackSample(t, np.array([v]), v, 0.5 * CAP, np.array([25.0]), True, True))
    assert est.hyst.h[0] > 0.9
    for _ in range(3000):  # rest with the OCV on the charge branch
        t += 1.0
        v = float(chem.ocv(soc)) + chem.hysteresis_v
        out = est.update(PackSample(t, np.array([v]), v, 0.0, np.array([25.0]), True, True))
    assert abs(out.soc - soc) < 0.03


def test_time_constants_continuous_in_temperature():
    chem = dataclasses.replace(get_chemistry("nmc"), tau_activation_k=2000.0)
    temps = np.linspace(-10.0, 45.0, 551)
    t1 = np.array([chem.taus(t)[0] for t in temps])
    r1 = np.array([float(chem.ecm(0.5, t)[1]) for t in temps])
    assert np.all(np.diff(t1) < 0) and np.all(np.diff(r1) < 0)  # slower and more resistive in the cold
    assert np.max(np.abs(np.diff(np.log(t1)))) < 0.01  # no step between neighbouring temperatures
    assert np.max(np.abs(np.diff(np.log(r1)))) < 0.01
    assert chem.taus(25.0) == (chem.tau1_s, chem.tau2_s)


def test_restart_restores_the_adapted_parameters():
    cell, est = TrueCell(soc0=0.8, pol=2.5), make()
    est.reset(0.8, 0.02)
    pulses(cell, est, 2, c_rate=0.5)
    k, h = est.pol.k.copy(), est.hyst.h.copy()
    assert np.all(k != 1.0)
    again = make()
    assert again.load_state(est.state_dict())
    assert np.allclose(again.pol.k, k) and np.allclose(again.hyst.h, h)
    assert np.allclose(again.pol.p[[0, 1], [0, 1]], est.pol.p[[0, 1], [0, 1]])
