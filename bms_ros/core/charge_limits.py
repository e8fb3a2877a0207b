"""What a charger (or dock, or inverter) is told: CVL, CCL, DCL, DVL with their reasons, and the heater.

* **CCL / DCL** are the current limiter's (core.limits: derating, hold and ramp, 0 while the FET is off). One
  rule is added here as a second line of defence: no charge current below the charge temperature window
  (coldest thermistor under ``protection.charge_undertemperature.threshold``), whatever the FET state.
* **CVL** (charge voltage limit, pack) is ``cell_count x cvl.cell_voltage`` while every cell is well below
  ``cvl.cell_voltage``. As the highest cell comes within ``cvl.approach`` of it the CVL moves, linearly, to the
  pack voltage that puts the highest cell exactly at ``cvl.cell_voltage``:
  ``pack_voltage - (cell_max - cvl.cell_voltage)``. A charger in constant-voltage mode then regulates the
  highest cell, not the average, so one high cell ends at its limit while the others finish charging. While
  balancing, the target is ``cvl.balancing_offset`` lower, which leaves the bleeder room to pull the high cell
  down. A lower CVL applies at once; a higher one at most ``cvl.rise_rate`` per cell and second. Without a
  usable sample the last CVL stands (the charge current is 0 then anyway).
* **DVL** (discharge voltage limit) is ``cell_count x cvl.discharge_cell_voltage``.
* **Force charge** is requested while a cell or pack under-voltage fault is active and charging is allowed.

A limit never overrides a protection: the protections decide the FETs, and a limit is 0 while its FET is off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.core.faults import Fault
from bms_ros.core.heater import HeaterConfig, HeaterControl, HeaterDecision, HeaterInputs
from bms_ros.core.limits import Limits
from bms_ros.core.params import ConfigError, param
from bms_ros.core.protection import ProtectionConfig

_EMPTY_FAULTS = int(Fault.CELL_UNDERVOLTAGE | Fault.PACK_UNDERVOLTAGE)
# The regulated cell stays at least this far below the over-voltage trip (and the DVL this far above the under-
# voltage trip), V: ~26 LSB of the bq769x0 ADC (382 uV nominal GAIN, datasheet p.20-21), well above its
# noise, so a cell held at the CVL target never counts up the trip. A setting closer than that is capped.
CVL_TRIP_MARGIN_V = 0.01


@dataclass
class ChargeVoltageConfig:
    cell_voltage: float = param(
        4.2,
        "Charge voltage limit per cell: CVL = cell_count x this while the cells are "
        "below it; the highest cell is held at it (default: the chemistry's full "
        "voltage)",
        "V",
        1.0,
        5.0,
        runtime=True,
    )
    approach: float = param(
        0.05, "The CVL starts to follow the highest cell this far below cvl.cell_voltage", "V", 0.001, 1.0, runtime=True
    )
    balancing_offset: float = param(
        0.01, "While balancing the highest cell is held this much below cvl.cell_voltage", "V", 0.0, 0.2, runtime=True
    )
    rise_rate: float = param(
        0.002, "Fastest rise of the CVL, per cell (a fall applies at once)", "V/s", 1e-5, 1.0, runtime=True
    )
    discharge_cell_voltage: float = param(
        3.0,
        "Discharge voltage limit per cell: DVL = cell_count x this (default: the chemistry's under-voltage release)",
        "V",
        0.5,
        5.0,
        runtime=True,
    )


def validate_charge_config(heater: HeaterConfig, prot: ProtectionConfig) -> None:
    """Rules across sections. The CVL and DVL need none: they are held inside
    the protection thresholds whatever their settings (``_cell_target``)."""
    release = prot.charge_undertemperature.release
    if heater.enabled and not heater.off_above > release:
        raise ConfigError(
            f"heater.off_above: {heater.off_above} degC must be above "
            f"protection.charge_undertemperature.release ({release} degC), or the pack never "
            f"warms into the charge window"
        )
    if heater.max_temperature > prot.charge_overtemperature.threshold:
        raise ConfigError("heater.max_temperature: must not exceed protection.charge_overtemperature.threshold")


@dataclass(frozen=True)
class ChargeInputs:
    stamp: float
    limits: Limits  # the current limiter's decision
    valid: bool
    fresh: bool  # data fresh and the BMS not shut down (a FAULT state may still heat)
    cell_max: float  # V (NaN: unknown)
    pack_voltage: float  # V (NaN: unknown)
    temp_min: float  # degC
    temp_max: float
    balancing: bool
    faults: int  # active | latched
    active: int  # active faults
    warnings: int
    charger_present: bool | None


@dataclass(frozen=True)
class ChargeDecision:
    charge_voltage_limit: float  # V (CVL)
    discharge_voltage_limit: float  # V (DVL)
    charge_current_limit: float  # A (CCL)
    discharge_current_limit: float  # A (DCL, magnitude)
    charge_voltage_reason: str
    charge_current_reason: str
    discharge_current_reason: str
    force_charge: bool
    heater: HeaterDecision


class ChargeControl:
    def __init__(self, cvl: ChargeVoltageConfig, heater: HeaterConfig, prot: ProtectionConfig, cell_count: int):
        self.cfg, self.prot, self.n = cvl, prot, cell_count
        self.heater = HeaterControl(heater)
        self._cvl = math.nan
        self._reason = "nominal"
        self._t: float | None = None

    def set_config(self, cvl: ChargeVoltageConfig, heater: HeaterConfig, prot: ProtectionConfig) -> None:
        self.cfg, self.prot, self.heater.cfg = cvl, prot, heater

    def update(self, i: ChargeInputs) -> ChargeDecision:
        dt = 0.0 if self._t is None else max(0.0, i.stamp - self._t)
        self._t = i.stamp
        cvl, why_v = self._charge_voltage(i, dt)
        lim = i.limits
        ccl, why_c = lim.charge, lim.charge_reason
        cold_edge = self.prot.charge_undertemperature.threshold
        if ccl > 0.0 and not math.isnan(i.temp_min) and i.temp_min < cold_edge:
            ccl, why_c = 0.0, f"below the charge temperature window ({i.temp_min:.1f} < {cold_edge:g} degC)"
        heat = self.heater.update(
            HeaterInputs(
                stamp=i.stamp,
                charger_present=i.charger_present,
                valid=i.valid,
                fresh=i.fresh,
                temp_min=i.temp_min,
                temp_max=i.temp_max,
                faults=i.faults,
                warnings=i.warnings,
            )
        )
        return ChargeDecision(
            charge_voltage_limit=cvl,
            discharge_voltage_limit=self.n * self._dvl_cell(),
            charge_current_limit=ccl,
            discharge_current_limit=lim.discharge,
            charge_voltage_reason=why_v,
            charge_current_reason=why_c,
            discharge_current_reason=lim.discharge_reason,
            force_charge=bool(i.active & _EMPTY_FAULTS) and ccl > 0.0,
            heater=heat,
        )

    def _cell_target(self) -> float:
        """cvl.cell_voltage, capped CVL_TRIP_MARGIN_V below the cell over-voltage trip."""
        return min(self.cfg.cell_voltage, self.prot.cell_overvoltage.threshold - CVL_TRIP_MARGIN_V)

    def _dvl_cell(self) -> float:
        """cvl.discharge_cell_voltage, at least CVL_TRIP_MARGIN_V above the cell under-voltage trip."""
        return max(self.cfg.discharge_cell_voltage, self.prot.cell_undervoltage.threshold + CVL_TRIP_MARGIN_V)

    def _charge_voltage(self, i: ChargeInputs, dt: float) -> tuple[float, str]:
        c = self.cfg
        target = self._cell_target() - (c.balancing_offset if i.balancing else 0.0)
        nominal = self.n * target
        floor = self.n * self._dvl_cell()
        if not (i.valid and math.isfinite(i.cell_max) and math.isfinite(i.pack_voltage)):
            if math.isnan(self._cvl):
                self._cvl, self._reason = self.n * self._cell_target(), "nominal (no data yet)"
            return self._cvl, self._reason
        # 0 while the highest cell is more than ``approach`` below the target, 1 at the target and above
        w = min(1.0, max(0.0, (i.cell_max - (target - c.approach)) / c.approach))
        follow = i.pack_voltage - (i.cell_max - target)  # the pack voltage with the highest cell at target
        want = min(nominal, (1.0 - w) * nominal + w * follow)
        want = max(floor, want)
        if w > 0.0:
            reason = f"highest cell {i.cell_max:.3f} V near {target:.3f} V"
        else:
            reason = "balancing" if i.balancing else "nominal"
        if math.isnan(self._cvl) or want <= self._cvl:
            self._cvl, self._reason = want, reason
            return want, reason
        self._cvl = min(want, self._cvl + c.rise_rate * self.n * dt)
        self._reason = reason if self._cvl >= want else f"ramp ({reason})"
        return self._cvl, self._reason
