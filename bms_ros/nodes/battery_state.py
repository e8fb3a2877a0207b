"""BatteryState semantics (see shared ros-conventions): what Nav2, docking and Open-RMF rely on.

Pure mapping from the core's output to message field values. The core decides "charging" (with hysteresis)
and the end of charge (one detector, which also makes the SoC 1.0); here they only become the status enum.
"""

from __future__ import annotations

import array
import math

import numpy as np
from sensor_msgs.msg import BatteryState

from bms_ros.core import BmsOutput, Health
from bms_ros.core import pack_health as core_health

# Humble has no TERNARY (7): report NMC/NCA/LCO as LION so every distribution can read it.
_TECHNOLOGY = {
    "nmc": BatteryState.POWER_SUPPLY_TECHNOLOGY_LION,
    "lco": BatteryState.POWER_SUPPLY_TECHNOLOGY_LION,
    "nca": BatteryState.POWER_SUPPLY_TECHNOLOGY_LION,
    "lfp": BatteryState.POWER_SUPPLY_TECHNOLOGY_LIFE,
    "lto": BatteryState.POWER_SUPPLY_TECHNOLOGY_LION,
}

_HEALTH = {
    Health.GOOD: BatteryState.POWER_SUPPLY_HEALTH_GOOD,
    Health.DEAD: BatteryState.POWER_SUPPLY_HEALTH_DEAD,
    Health.OVERHEAT: BatteryState.POWER_SUPPLY_HEALTH_OVERHEAT,
    Health.OVERVOLTAGE: BatteryState.POWER_SUPPLY_HEALTH_OVERVOLTAGE,
    Health.COLD: BatteryState.POWER_SUPPLY_HEALTH_COLD,
    Health.UNSPEC_FAILURE: BatteryState.POWER_SUPPLY_HEALTH_UNSPEC_FAILURE,
}


def technology(chemistry: str) -> int:
    return _TECHNOLOGY.get(chemistry, BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN)


def charge_wanted(out: BmsOutput, charger_contact: bool | None) -> bool:
    """A charge is wanted when a charger is on the contacts or current flows into the pack."""
    return bool(charger_contact) or out.current_charging


def health(out: BmsOutput, lost: bool, charger_contact: bool | None = None) -> int:
    """The core's health decision (core.health) as the BatteryState constant; UNKNOWN while the AFE is lost."""
    if lost:
        return BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    return _HEALTH[core_health(out.faults_active | out.faults_latched, charge_wanted(out, charger_contact))]


def supply_status(out: BmsOutput, charger_contact: bool | None, lost: bool) -> int:
    """power_supply_status from the core's decisions. ``charger_contact``: the charger contact when known (the
    ``charger_present`` topic, or the simulated charger), else None: then a charger is inferred from the current
    or from the end of charge. FULL is the core's end of charge (the SoC is 1.0 with it); CHARGING its
    "current flows into the pack"; NOT_CHARGING a charger that delivers nothing (blocked, cold, or done)."""
    if lost:
        return BatteryState.POWER_SUPPLY_STATUS_UNKNOWN
    charger = bool(charger_contact) or out.current_charging or (charger_contact is None and out.charge_complete)
    if not charger:
        return BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    if out.charge_complete:
        return BatteryState.POWER_SUPPLY_STATUS_FULL
    if out.current_charging:
        return BatteryState.POWER_SUPPLY_STATUS_CHARGING
    return BatteryState.POWER_SUPPLY_STATUS_NOT_CHARGING


def float32_array(values: np.ndarray) -> array.array:
    """A float32[] field's value: array.array('f') is what rclpy stores it as, and assigning one skips the
    per-element checks a list gets (the same float32 values: both round each float64 to nearest)."""
    return array.array("f", np.asarray(values, dtype=np.float32).tobytes())


def finite_or_nan(x: float) -> float:
    return float(x) if x is not None and math.isfinite(x) else math.nan


def fill_battery_state(
    msg: BatteryState,
    out: BmsOutput,
    status: int,
    lost: bool,
    chemistry: str,
    design_capacity_ah: float,
    location: str,
    serial_number: str,
    charger_contact: bool | None = None,
) -> BatteryState:
    s, e = out.view, out.estimate  # held values while a read failed, until stale (BmsOutput.reported)
    nan = math.nan
    temps = s.temperatures[np.isfinite(s.temperatures)] if s.temperatures.size else s.temperatures
    msg.voltage = nan if lost else finite_or_nan(s.pack_voltage)
    msg.current = nan if lost else finite_or_nan(s.current)
    msg.temperature = nan if lost or temps.size == 0 else float(temps.max())
    msg.charge = finite_or_nan(e.charge_ah)
    msg.capacity = finite_or_nan(e.capacity_ah)
    msg.design_capacity = float(design_capacity_ah)
    msg.percentage = nan if math.isnan(e.soc) else float(min(1.0, max(0.0, e.soc)))
    msg.power_supply_status = status
    msg.power_supply_health = health(out, lost, charger_contact)
    msg.power_supply_technology = technology(chemistry)
    msg.present = True
    cells = np.full(s.cell_count, nan) if lost else s.cell_voltages
    msg.cell_voltage = float32_array(cells)
    # Per-cell temperature only where each cell has its own sensor; otherwise honestly unknown.
    per_cell = s.temperatures if s.temperatures.size == s.cell_count and not lost else np.full(s.cell_count, nan)
    msg.cell_temperature = float32_array(per_cell)
    msg.location = location
    msg.serial_number = serial_number
    return msg
