"""State of power: the charge and discharge current allowed now, and why.

Each direction starts from its maximum current and is multiplied by the smallest of three derating factors:

* temperature: 1 inside the full-current zone, linear to 0 at the protection window edges (charge window for
  charging, discharge window for discharging), 0 outside;
* cell voltage: charging tapers linearly from ``charge_voltage_derate_start`` (highest cell) to 0 at the cell
  over-voltage threshold; discharging from ``discharge_voltage_derate_start`` (lowest cell) to 0 at the cell
  under-voltage threshold;
* state of charge: charging tapers above ``charge_soc_derate_start`` to ``soc_derate_floor`` at full; discharging
  below ``discharge_soc_derate_start`` to the floor at empty (skipped while the SoC is unknown).

A decrease applies at once and starts a ``hold_time``; afterwards the limit rises at ``ramp_rate`` at most, so
it does not flap. A direction whose FET is off (fault, host, stale data) has the limit 0; when its FET comes
back on the limit starts at the derated value (the protections' release hold already keeps that from
flapping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.core.params import param
from bms_ros.core.protection import ProtectionConfig


@dataclass
class LimitsConfig:
    max_charge_current: float = param(10.0, "Charge current limit with no derating", "A", 0.0, 10000.0, runtime=True)
    max_discharge_current: float = param(
        20.0, "Discharge current limit with no derating (magnitude)", "A", 0.0, 10000.0, runtime=True
    )
    charge_temp_full_min: float = param(
        10.0, "Full charge current from this temperature up", "degC", -60.0, 150.0, runtime=True
    )
    charge_temp_full_max: float = param(
        35.0, "Full charge current up to this temperature", "degC", -60.0, 150.0, runtime=True
    )
    discharge_temp_full_min: float = param(
        0.0, "Full discharge current from this temperature up", "degC", -60.0, 150.0, runtime=True
    )
    discharge_temp_full_max: float = param(
        45.0, "Full discharge current up to this temperature", "degC", -60.0, 150.0, runtime=True
    )
    charge_voltage_derate_start: float = param(
        4.1,
        "Charge current tapers when the highest cell is above this (to 0 at cell over-voltage)",
        "V",
        0.0,
        6.0,
        runtime=True,
    )
    discharge_voltage_derate_start: float = param(
        3.3,
        "Discharge current tapers when the lowest cell is below this (to 0 at cell under-voltage)",
        "V",
        0.0,
        6.0,
        runtime=True,
    )
    charge_soc_derate_start: float = param(0.9, "Charge current tapers above this SoC", "", 0.0, 1.0, runtime=True)
    discharge_soc_derate_start: float = param(
        0.1, "Discharge current tapers below this SoC", "", 0.0, 1.0, runtime=True
    )
    soc_derate_floor: float = param(
        0.1, "SoC derating factor at full (charge) / empty (discharge)", "", 0.0, 1.0, runtime=True
    )
    hold_time: float = param(
        5.0, "After a limit decreased it may not rise for this long", "s", 0.0, 600.0, runtime=True
    )
    ramp_rate: float = param(2.0, "Fastest rise of a limit", "A/s", 0.001, 10000.0, runtime=True)


def _ramp(x: float, x0: float, x1: float) -> float:
    """0 at x0, 1 at x1, clamped (x0 > x1 allowed)."""
    if x1 == x0:
        return 1.0 if (x >= x1 if x1 >= x0 else x <= x1) else 0.0
    return min(1.0, max(0.0, (x - x0) / (x1 - x0)))


def temperature_factor(
    t_min: float, t_max: float, lo_edge: float, full_min: float, full_max: float, hi_edge: float
) -> float:
    if math.isnan(t_min) or math.isnan(t_max):
        return 1.0  # no thermistor: nothing to derate on (sensor loss is a protection matter)
    if t_min < lo_edge or t_max > hi_edge:
        return 0.0
    return min(_ramp(t_min, lo_edge, full_min), _ramp(t_max, hi_edge, full_max))


@dataclass
class _Direction:
    limit: float = 0.0
    was_on: bool = False
    hold_until: float = -math.inf
    last_reason: str = "nominal"


@dataclass(frozen=True)
class Limits:
    charge: float
    discharge: float
    reason: str
    charge_reason: str
    discharge_reason: str


class CurrentLimiter:
    def __init__(self, cfg: LimitsConfig):
        self.cfg = cfg
        self._c = _Direction()
        self._d = _Direction()
        self._t: float | None = None

    def update(
        self,
        stamp: float,
        prot: ProtectionConfig,
        *,
        charge_on: bool,
        discharge_on: bool,
        charge_off_reason: str,
        discharge_off_reason: str,
        measured: bool,
        cell_max: float,
        cell_min: float,
        temp_min: float,
        temp_max: float,
        soc: float,
    ) -> Limits:
        c = self.cfg
        dt = 0.0 if self._t is None else max(0.0, stamp - self._t)
        self._t = stamp
        rc: tuple[float, str] | None
        rd: tuple[float, str] | None
        if measured:
            tc = temperature_factor(
                temp_min,
                temp_max,
                prot.charge_undertemperature.threshold,
                c.charge_temp_full_min,
                c.charge_temp_full_max,
                prot.charge_overtemperature.threshold,
            )
            td = temperature_factor(
                temp_min,
                temp_max,
                prot.discharge_undertemperature.threshold,
                c.discharge_temp_full_min,
                c.discharge_temp_full_max,
                prot.discharge_overtemperature.threshold,
            )
            vc = (
                1.0
                if math.isnan(cell_max)
                else _ramp(cell_max, prot.cell_overvoltage.threshold, c.charge_voltage_derate_start)
            )
            vd = (
                1.0
                if math.isnan(cell_min)
                else _ramp(cell_min, prot.cell_undervoltage.threshold, c.discharge_voltage_derate_start)
            )
            if math.isnan(soc):
                sc = sd = 1.0
            else:
                f = c.soc_derate_floor
                sc = f + (1 - f) * _ramp(soc, 1.0, c.charge_soc_derate_start)
                sd = f + (1 - f) * _ramp(soc, 0.0, c.discharge_soc_derate_start)
            rc = _target(c.max_charge_current, tc, vc, sc)
            rd = _target(c.max_discharge_current, td, vd, sd)
        else:
            rc = rd = None  # nothing measured this sample: keep the limits (FET logic handles staleness)
        lc, why_c = self._apply(self._c, stamp, dt, charge_on, charge_off_reason, rc)
        ld, why_d = self._apply(self._d, stamp, dt, discharge_on, discharge_off_reason, rd)
        return Limits(lc, ld, f"charge: {why_c}; discharge: {why_d}", why_c, why_d)

    def _apply(
        self, d: _Direction, stamp: float, dt: float, on: bool, off_reason: str, target: tuple[float, str] | None
    ) -> tuple[float, str]:
        if not on:
            d.limit = 0.0
            d.was_on = False
            d.last_reason = off_reason or "off"
            return 0.0, d.last_reason
        if target is None:
            return d.limit, d.last_reason
        value, reason = target
        if not d.was_on:  # the FET just came on (protections already applied their release hold)
            d.was_on = True
            d.limit, d.last_reason, d.hold_until = value, reason, -math.inf
            return value, reason
        if value <= d.limit:
            if value < d.limit - 1e-9:
                d.hold_until = stamp + self.cfg.hold_time
            d.limit = value
            d.last_reason = reason
            return value, reason
        if stamp < d.hold_until:
            return d.limit, f"hold after {d.last_reason}"
        d.limit = min(value, d.limit + self.cfg.ramp_rate * dt)
        if d.limit < value:
            return d.limit, f"ramp after {d.last_reason}"
        d.last_reason = reason
        return d.limit, reason


def _target(max_current: float, temperature: float, cell_voltage: float, soc: float) -> tuple[float, str]:
    """The limit from the smallest factor, and its name (the first of equal ones, in this order)."""
    name, f = "temperature", temperature
    if cell_voltage < f:
        name, f = "cell_voltage", cell_voltage
    if soc < f:
        name, f = "soc", soc
    if f >= 1.0:
        return max_current, "nominal"
    return max_current * f, name
