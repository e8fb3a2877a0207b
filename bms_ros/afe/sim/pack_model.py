"""Equivalent-circuit model of a series pack: what a simulated AFE measures.

Per cell: OCV(SoC[, T]) + R0 + one RC pair (optionally a second), its own capacity, resistance, initial SoC and
self-discharge drawn from a seed (deterministic for a given seed). A lumped thermal mass heats with I^2 R, bleed
and internal-short power and relaxes to ambient. The FETs interrupt current: charge flows only with CHG on,
discharge only with DSG on (the other FET's body diode carries the current otherwise).

Inputs (set attributes, then ``step(dt)``):

* ``load_a``: current the robot draws (> 0 discharges; < 0 regenerates, needs CHG on);
* ``charger_connected`` / ``charger_current_a``: a CC-CV charger, CV at ``charger_voltage_v`` (pack) or
  ``cfg.charger_cv_per_cell`` x cells (default the chemistry's full voltage);
* ``external_short`` (alias ``short_circuit``): a hard short on the pack terminals, ``short_circuit_a`` flows
  while DSG is on;
* ``bleed_mask``: bit i bleeds cell i through ``cfg.bleed_resistance_ohm`` at ``bleed_duty``;
* ``transfer_a``: per-cell current (A, > 0 into the cell) added by an active balancer;
* ``self_discharge_a``: per-cell leakage (A); ``internal_short_ohm``: per-cell soft internal short (inf = none);
* ``heater_on``: a pack heater of ``cfg.heater_power_w`` into the thermal mass, powered from the charger (it
  heats only while ``charger_connected``; it draws nothing from the cells).

``soc`` stays within 0..1; charge pushed beyond full or empty is kept in ``soc_excess`` (up to +-0.1) and moves
the OCV on with twice the curve's end slope, so an overcharged cell keeps rising (and an over-discharged one
keeps falling) instead of sticking at the table's end.

Steps up to ~1 s are accurate (exact exponentials for the RC pairs and the thermal mass).
"""

from __future__ import annotations

import inspect
import math
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
    capacity_spread: float = 0.02  # relative 1-sigma
    resistance_spread: float = 0.05
    soc_spread: float = 0.01  # absolute 1-sigma
    self_discharge_a: float = 0.0  # per cell, mean
    rc_tau_s: float = 30.0
    r1_fraction: float = 0.6  # R1 = fraction * R0
    thermal_mass_j_per_k: float = 900.0  # whole pack
    thermal_resistance_k_per_w: float = 3.0
    bleed_resistance_ohm: float = 33.0
    charger_cv_per_cell: float = float("nan")  # default: chemistry full voltage
    self_discharge_spread: float = 0.0  # relative 1-sigma (half-normal) of the per-cell self-discharge
    rc2_tau_s: float = 0.0  # optional second, slow RC pair (0: none)
    r2_fraction: float = 0.0  # R2 = fraction * R0
    r0_temp_coeff_per_k: float = 0.0  # R0(T) = R0(25 degC) * exp(-k (T - 25)); 0: no temperature dependence
    heater_power_w: float = 0.0  # pack heater power from the charger (0: no heater fitted)


def _accepts_temp(chemistry: Chemistry) -> bool:
    try:
        return "temp_c" in inspect.signature(chemistry.ocv).parameters
    except (TypeError, ValueError):
        return False


class PackModel:
    def __init__(self, chemistry: Chemistry, cfg: PackModelConfig):
        self.chem = chemistry
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        n = cfg.cell_count
        if n < 1:
            raise ValueError("cell_count must be >= 1")
        # draw order is part of the model's determinism: append new draws at the end only
        self.capacity_ah = cfg.capacity_ah * (1 + cfg.capacity_spread * rng.standard_normal(n))
        r0_nominal = chemistry.r0_ohm_per_ah / cfg.capacity_ah
        self.r0 = r0_nominal * (1 + cfg.resistance_spread * np.abs(rng.standard_normal(n)))
        self.r1 = cfg.r1_fraction * self.r0
        self.c1 = cfg.rc_tau_s / self.r1
        self.soc = np.clip(cfg.initial_soc + cfg.soc_spread * rng.standard_normal(n), 0.0, 1.0)
        self.self_discharge_a = cfg.self_discharge_a * (1 + cfg.self_discharge_spread * np.abs(rng.standard_normal(n)))
        self.r2 = cfg.r2_fraction * self.r0
        self.v_rc = np.zeros(n)
        self.v_rc2 = np.zeros(n)
        self.temperature_c = cfg.ambient_c
        self.ambient_c = cfg.ambient_c
        self.charge_fet = False
        self.discharge_fet = False
        self.load_a = 0.0  # demanded by the robot (> 0 draws from the pack)
        self.charger_connected = False
        self.charger_current_a = 0.0  # charger CC limit
        self.charger_voltage_v: float | None = None  # charger CV (pack); None: cfg.charger_cv_per_cell x n
        self.short_circuit = False
        self.short_circuit_a = 500.0
        self.bleed_mask = 0
        self.bleed_duty = 1.0  # fraction of time the bleed switches conduct
        self.transfer_a = np.zeros(n)  # active balancer, A into each cell
        self.internal_short_ohm = np.full(n, np.inf)
        self.heater_on = False
        self.current_a = 0.0  # actual pack current, > 0 charging
        self.bleed_a = np.zeros(n)  # last step's bleed current per cell
        self.time_s = 0.0
        self._ocv_temp = _accepts_temp(chemistry)
        self._ocv_key: tuple[float, np.ndarray, np.ndarray] | None = None  # cache: (temp, soc, ocv)
        # fast path when the chemistry exposes its per-temperature OCV table (bms_ros.core.chemistry does)
        table_at = getattr(chemistry, "ocv_table_at", None)
        self._ocv_table_at = (
            table_at if self._ocv_temp and callable(table_at) and hasattr(chemistry, "ocv_soc") else None
        )
        self._table_t = math.nan
        self._table = np.zeros(0)
        # beyond full / empty the charge goes on (``soc_excess``, SoC units, +-0.1 at most) and the voltage keeps
        # moving with twice the end slope of the OCV curve: an overcharged cell keeps rising towards the OV trip
        self.soc_excess = np.zeros(n)
        ends = np.asarray(chemistry.ocv(np.array([0.0, 0.05, 0.95, 1.0])), dtype=float)
        self._slope_lo = 2.0 * (ends[1] - ends[0]) / 0.05
        self._slope_hi = 2.0 * (ends[3] - ends[2]) / 0.05
        self._idx = np.arange(n)
        self._zeros = np.zeros(n)

    @property
    def cell_count(self) -> int:
        return self.cfg.cell_count

    @property
    def external_short(self) -> bool:
        return self.short_circuit

    @external_short.setter
    def external_short(self, on: bool) -> None:
        self.short_circuit = bool(on)

    def cell_ocv(self) -> np.ndarray:
        temp = float(self.temperature_c)
        key = self._ocv_key
        if key is not None and key[0] == temp and np.array_equal(key[1], self.soc) and not self.soc_excess.any():
            return key[2]
        if self._ocv_table_at is not None:
            # temperature-dependent table, re-evaluated when T moved by > 0.05 K (< 0.05 mV of OCV)
            tq = round(temp * 20.0) / 20.0
            if self._table_t != tq:
                self._table = np.asarray(self._ocv_table_at(tq), dtype=float)
                self._table_t = tq
            ocv = np.interp(self.soc, self.chem.ocv_soc, self._table)
        elif self._ocv_temp:
            ocv = np.asarray(self.chem.ocv(self.soc, temp_c=temp), dtype=float)
        else:
            ocv = np.asarray(self.chem.ocv(self.soc), dtype=float)
        if self.soc_excess.any():
            ocv = ocv + np.where(self.soc_excess > 0, self._slope_hi, self._slope_lo) * self.soc_excess
        self._ocv_key = (temp, self.soc.copy(), ocv)
        return ocv

    def r0_now(self) -> np.ndarray:
        k = self.cfg.r0_temp_coeff_per_k
        return self.r0 if k == 0 else self.r0 * np.exp(-k * (self.temperature_c - 25.0))

    def cell_voltages(self) -> np.ndarray:
        """Terminal voltage of each cell at the present current (bleeding paused, as an AFE measures)."""
        i_term = self.current_a + self.transfer_a
        return self.cell_ocv() + self.v_rc + self.v_rc2 + i_term * self.r0_now()

    def pack_voltage(self) -> float:
        return float(self.cell_voltages().sum())

    def heater_power_w(self) -> float:
        """The heater's power now, W: on and fed by a connected charger."""
        return self.cfg.heater_power_w if self.heater_on and self.charger_connected else 0.0

    def bleeding(self) -> np.ndarray:
        return ((int(self.bleed_mask) >> self._idx) & 1).astype(bool)

    def demanded_current(self) -> float:
        """The pack current the present inputs and FET states make flow (> 0 charging)."""
        if self.short_circuit:
            return -self.short_circuit_a if self.discharge_fet else 0.0
        charge = 0.0
        if self.charger_connected and self.charge_fet and self.charger_current_a > 0:
            if self.charger_voltage_v is not None:
                cv_pack = float(self.charger_voltage_v)
            else:
                cv = self.cfg.charger_cv_per_cell
                cv_pack = (self.chem.full_v if np.isnan(cv) else cv) * self.cell_count
            headroom = cv_pack - float((self.cell_ocv() + self.v_rc + self.v_rc2).sum())
            charge = float(np.clip(headroom / self.r0_now().sum(), 0.0, self.charger_current_a))
        load = self.load_a if self.discharge_fet else 0.0
        if load < 0:  # regenerative load: charges the pack, needs the charge path
            load = load if self.charge_fet else 0.0
        return charge - load

    _demanded_current = demanded_current  # old name

    def set_transfer(self, transfer_a: np.ndarray) -> None:
        """An ideal active (charge-transfer) balancer: per-cell current, A, > 0 into the cell; empty stops it."""
        t = np.asarray(transfer_a, dtype=float)
        if t.size == 0:
            t = np.zeros(self.cell_count)
        if t.shape != (self.cell_count,) or not np.all(np.isfinite(t)):
            raise ValueError(f"transfer currents must be {self.cell_count} finite values, got {t!r}")
        self.transfer_a = t.copy()

    def step(self, dt: float) -> None:
        """Advance by dt seconds with the present inputs."""
        if dt <= 0:
            return
        self.current_a = self.demanded_current()
        i_term = self.current_a + np.asarray(self.transfer_a, dtype=float)
        ocv = self.cell_ocv()
        r0 = self.r0_now()
        if self.bleed_mask:
            i_bleed = np.where(self.bleeding(), ocv * (self.bleed_duty / self.cfg.bleed_resistance_ohm), 0.0)
        else:
            i_bleed = self._zeros
        i_leak = ocv / self.internal_short_ohm
        i_cell = i_term - self.self_discharge_a - i_bleed - i_leak
        self.bleed_a = i_bleed
        raw = self.soc + self.soc_excess + i_cell * (dt / 3600.0) / self.capacity_ah
        self.soc = np.minimum(np.maximum(raw, 0.0), 1.0)
        self.soc_excess = np.minimum(np.maximum(raw - self.soc, -0.1), 0.1)
        i_rc = i_term - i_bleed
        decay = np.exp(-dt / (self.r1 * self.c1))
        self.v_rc = self.v_rc * decay + i_rc * self.r1 * (1 - decay)
        if self.cfg.rc2_tau_s > 0 and self.cfg.r2_fraction > 0:
            decay2 = math.exp(-dt / self.cfg.rc2_tau_s)
            self.v_rc2 = self.v_rc2 * decay2 + i_rc * self.r2 * (1 - decay2)
        heat_w = float(np.dot(i_term * i_term, r0) + np.dot(i_bleed + i_leak, ocv)) + self.heater_power_w()
        c, rth = self.cfg.thermal_mass_j_per_k, self.cfg.thermal_resistance_k_per_w
        t_inf = self.ambient_c + heat_w * rth
        self.temperature_c = t_inf + (self.temperature_c - t_inf) * math.exp(-dt / (c * rth))
        self.time_s += dt
