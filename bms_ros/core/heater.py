"""Pack heater for cold charging: a thermostat with hysteresis, a time limit, and the faults that forbid it.

The heater is powered from the charger (a dock heats a cold pack before it may charge it), so it runs only while
a charger is known to be connected. It runs when every rule allows it:

* ``heater.enabled`` (a heater is fitted);
* a charger is connected (the contact as the host reports it; unknown counts as not connected);
* fresh, valid data with known temperatures (unknown temperature: off);
* no active or latched fault except the ones heating is the remedy for (charge/discharge under-temperature) or
  that charging is the remedy for (cell/pack under-voltage, imbalance), and no over-temperature warning;
* the hottest thermistor below ``heater.max_temperature``;
* thermostat: on when the coldest thermistor is below ``heater.on_below``, off once it reaches
  ``heater.off_above``;
* one heating run (from the first demand until the thermostat is satisfied; a fault or a data gap interrupts it
  but its time counts on) lasts at most ``heater.max_on_time``: a pack that does not warm in that time has a
  failed heater (or sensor); the heater then stays off until the charger is disconnected.

The charge current is not this module's business: the protections keep the charge FET off below the charge
window and the current limiter derates it above (core.limits); the heater only brings the pack there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.core.faults import Fault, fault_name
from bms_ros.core.params import ConfigError, param

# Faults that do not stop the heater: the cold is what it fixes, and an empty (or imbalanced) pack needs the
# charge the heating enables. Every other fault (over-temperature, sensor loss, implausible data, comm loss,
# latched faults, system lock, ...) switches it off.
HEATER_ALLOWED_FAULTS = int(
    Fault.CHARGE_UNDERTEMPERATURE
    | Fault.DISCHARGE_UNDERTEMPERATURE
    | Fault.CELL_UNDERVOLTAGE
    | Fault.PACK_UNDERVOLTAGE
    | Fault.CELL_IMBALANCE
)
# A warning (condition present, not yet tripped) of these stops it at once.
HEATER_FORBIDDING_WARNINGS = int(
    Fault.CHARGE_OVERTEMPERATURE | Fault.DISCHARGE_OVERTEMPERATURE | Fault.AFE_OVERTEMPERATURE
)


@dataclass
class HeaterConfig:
    enabled: bool = param(
        False,
        "A pack heater is fitted (heater topic; sim.heater_power in simulation); off: the heater output stays off",
        runtime=True,
    )
    on_below: float = param(
        5.0, "Thermostat: heating starts when the coldest thermistor is below this", "degC", -40.0, 40.0, runtime=True
    )
    off_above: float = param(
        10.0,
        "Thermostat: heating stops once the coldest thermistor reaches this (above on_below: the hysteresis)",
        "degC",
        -40.0,
        45.0,
        runtime=True,
    )
    max_temperature: float = param(
        35.0, "Heating stops while the hottest thermistor is at or above this", "degC", 0.0, 60.0, runtime=True
    )
    max_on_time: float = param(
        3600.0,
        "Longest heating run; a pack not warm by then has a failed heater: off until the charger is disconnected",
        "s",
        10.0,
        86400.0,
        runtime=True,
    )

    def validate(self) -> None:
        if not self.on_below < self.off_above:
            raise ConfigError("heater.off_above: must be above heater.on_below (the thermostat's hysteresis)")
        if not self.off_above < self.max_temperature:
            raise ConfigError("heater.max_temperature: must be above heater.off_above")


@dataclass(frozen=True)
class HeaterInputs:
    stamp: float  # s, core time
    charger_present: bool | None  # None: nothing tells the contact
    valid: bool  # complete plausible sample
    fresh: bool  # data fresh and the BMS not shut down
    temp_min: float  # degC, coldest thermistor (NaN: unknown)
    temp_max: float  # degC, hottest thermistor (NaN: unknown)
    faults: int  # active | latched Fault bits
    warnings: int  # Fault bits whose condition is present, not (yet) tripped


@dataclass(frozen=True)
class HeaterDecision:
    on: bool
    reason: str  # "heating", "warm", "no charger", "fault CHARGE_OVERTEMPERATURE", ...
    run_time: float  # s, since the present heating run started (0 when off)


class HeaterControl:
    def __init__(self, cfg: HeaterConfig):
        self.cfg = cfg
        self.on = False
        self._run_start = math.nan
        self._timed_out = False

    def update(self, i: HeaterInputs) -> HeaterDecision:
        if not i.charger_present:
            self._timed_out = False  # a new charger session may try again
        reason = self._blocked(i)
        if reason:
            # a run ends when the thermostat is satisfied or the session ends; a fault, a data gap or a hot spot
            # only interrupts it (its time keeps counting, so an intermittent block cannot evade the time limit)
            return self._off(reason, end_run=reason in ("disabled", "no charger", "charger unknown"))
        c = self.cfg
        if i.temp_max >= c.max_temperature:
            return self._off("hot spot", end_run=False)
        if not math.isnan(self._run_start) and i.stamp - self._run_start >= c.max_on_time:
            self._timed_out = True
            return self._off("time limit", end_run=True)
        if i.temp_min >= (c.off_above if self.on or not math.isnan(self._run_start) else c.on_below):
            return self._off("warm", end_run=True)
        if math.isnan(self._run_start):
            self._run_start = i.stamp
        self.on = True
        return HeaterDecision(True, "heating", i.stamp - self._run_start)

    def _blocked(self, i: HeaterInputs) -> str:
        if not self.cfg.enabled:
            return "disabled"
        if not i.charger_present:
            return "no charger" if i.charger_present is False else "charger unknown"
        if self._timed_out:
            return "time limit (until the charger is disconnected)"
        if not (i.fresh and i.valid):
            return "no valid data"
        if math.isnan(i.temp_min) or math.isnan(i.temp_max):
            return "temperature unknown"
        bad = i.faults & ~HEATER_ALLOWED_FAULTS
        if bad:
            return "fault " + fault_name(Fault(bad & -bad))
        warn = i.warnings & HEATER_FORBIDDING_WARNINGS
        if warn:
            return "warning " + fault_name(Fault(warn & -warn))
        return ""

    def _off(self, reason: str, end_run: bool) -> HeaterDecision:
        self.on = False
        if end_run:
            self._run_start = math.nan
        return HeaterDecision(False, reason, 0.0)
