"""Equivalent-circuit model of a series pack: what a simulated AFE measures.

Per cell: OCV(SoC) + R0 + one RC pair, its own capacity, resistance, initial SoC and self-discharge drawn
from a seed (deterministic). A lumped thermal mass heats with I^2 R and bleed power and relaxes to ambient.
The FETs interrupt current: charge flows only with CHG on, discharge only with DSG on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bms_ros.core.chemistry import Chemistry


@dataclass
class PackModelConfig:
    cell_count: int = 4
    capacity_ah: float = 10.0
    initial_soc: float = 0.8
    ambient_c: float = 25.0
    seed: int = 1
    capacity_spread: float = 0.02        # relative 1-sigma
    resistance_spread: float = 0.05
    soc_spread: float = 0.01             # absolute 1-sigma
    self_discharge_a: float = 0.0        # per cell, mean
    rc_tau_s: float = 30.0
    r1_fraction: float = 0.6             # R1 = fraction * R0
    thermal_mass_j_per_k: float = 900.0  # whole pack
    thermal_resistance_k_per_w: float = 3.0
    bleed_resistance_ohm: float = 33.0
    charger_cv_per_cell: float = float("nan")  # default: chemistry full voltage


class PackModel:
    def __init__(self, chemistry: Chemistry, cfg: PackModelConfig):
        self.chem = chemistry
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        n = cfg.cell_count
        self.capacity_ah = cfg.capacity_ah * (1 + cfg.capacity_spread * rng.standard_normal(n))
        r0_nominal = chemistry.r0_ohm_per_ah / cfg.capacity_ah
        self.r0 = r0_nominal * (1 + cfg.resistance_spread * np.abs(rng.standard_normal(n)))
        self.r1 = cfg.r1_fraction * self.r0
        self.c1 = cfg.rc_tau_s / self.r1
        self.soc = np.clip(cfg.initial_soc + cfg.soc_spread * rng.standard_normal(n), 0.0, 1.0)
        self.self_discharge_a = np.full(n, cfg.self_discharge_a)
        self.v_rc = np.zeros(n)
        self.temperature_c = cfg.ambient_c
        self.ambient_c = cfg.ambient_c
        self.charge_fet = False
        self.discharge_fet = False
        self.load_a = 0.0                # demanded by the robot (> 0 draws from the pack)
        self.charger_connected = False
        self.charger_current_a = 0.0     # charger CC limit
        self.short_circuit = False
        self.short_circuit_a = 500.0
        self.bleed_mask = 0
        self.current_a = 0.0             # actual pack current, > 0 charging

    @property
    def cell_count(self) -> int:
        return self.cfg.cell_count

    def cell_ocv(self) -> np.ndarray:
        return self.chem.ocv(self.soc)

    def cell_voltages(self) -> np.ndarray:
        """Terminal voltage of each cell at the present current."""
        return self.cell_ocv() + self.v_rc + self.current_a * self.r0

    def pack_voltage(self) -> float:
        return float(self.cell_voltages().sum())

    def _demanded_current(self) -> float:
        if self.short_circuit:
            return -self.short_circuit_a if self.discharge_fet else 0.0
        charge = 0.0
        if self.charger_connected and self.charge_fet and self.charger_current_a > 0:
            cv = self.cfg.charger_cv_per_cell
            cv = self.chem.full_v if np.isnan(cv) else cv
            headroom = (cv * self.cell_count - float((self.cell_ocv() + self.v_rc).sum()))
            charge = float(np.clip(headroom / self.r0.sum(), 0.0, self.charger_current_a))
        load = self.load_a if self.discharge_fet else 0.0
        if load < 0:  # regenerative load: charges the pack, needs the charge path
            load = load if self.charge_fet else 0.0
        return charge - load

    def step(self, dt: float) -> None:
        """Advance by dt seconds with the present inputs."""
        if dt <= 0:
            return
        self.current_a = self._demanded_current()
        i_cell = self.current_a - self.self_discharge_a
        v_cell = self.cell_voltages()
        bleeding = np.array([(self.bleed_mask >> k) & 1 for k in range(self.cell_count)], dtype=bool)
        i_bleed = np.where(bleeding, v_cell / self.cfg.bleed_resistance_ohm, 0.0)
        i_cell = i_cell - i_bleed
        self.soc = np.clip(self.soc + i_cell * dt / (self.capacity_ah * 3600.0), 0.0, 1.0)
        decay = np.exp(-dt / (self.r1 * self.c1))
        self.v_rc = self.v_rc * decay + self.current_a * self.r1 * (1 - decay)
        heat_w = float((self.current_a ** 2 * self.r0).sum() + (i_bleed * v_cell).sum())
        c, rth = self.cfg.thermal_mass_j_per_k, self.cfg.thermal_resistance_k_per_w
        t_inf = self.ambient_c + heat_w * rth
        self.temperature_c = t_inf + (self.temperature_c - t_inf) * np.exp(-dt / (c * rth))
