"""Protection sections of the faults that compare a measured value with a threshold (voltage, current,
temperature, cell spread, self-discharge): ``protection.<section>.*``, with the defaults of a Li-ion NMC pack
(``core.config.chemistry_defaults`` sets them per chemistry)."""

from __future__ import annotations

from dataclasses import dataclass

from bms_ros.core.protection.fields import (
    AMPS,
    DEGC,
    VOLTS,
    delay_param,
    escalation_count_param,
    escalation_window_param,
    hold_param,
    latch_param,
    release_param,
    threshold_param,
)

_CELL_OVERVOLTAGE = "Cell over-voltage (highest cell, software)"


@dataclass
class CellOvervoltage:
    """``protection.cell_overvoltage``"""

    threshold: float = threshold_param(4.25, _CELL_OVERVOLTAGE, *VOLTS)
    release: float = release_param(4.15, _CELL_OVERVOLTAGE, *VOLTS)
    delay: float = delay_param(1.0, _CELL_OVERVOLTAGE)
    hold: float = hold_param(5.0, _CELL_OVERVOLTAGE)
    latch: bool = latch_param(_CELL_OVERVOLTAGE)
    escalation_count: int = escalation_count_param(0, _CELL_OVERVOLTAGE)
    escalation_window: float = escalation_window_param(_CELL_OVERVOLTAGE)


_CELL_UNDERVOLTAGE = "Cell under-voltage (lowest cell, software)"


@dataclass
class CellUndervoltage:
    """``protection.cell_undervoltage``"""

    threshold: float = threshold_param(2.8, _CELL_UNDERVOLTAGE, *VOLTS)
    release: float = release_param(3.0, _CELL_UNDERVOLTAGE, *VOLTS)
    delay: float = delay_param(2.0, _CELL_UNDERVOLTAGE)
    hold: float = hold_param(5.0, _CELL_UNDERVOLTAGE)
    latch: bool = latch_param(_CELL_UNDERVOLTAGE)
    escalation_count: int = escalation_count_param(0, _CELL_UNDERVOLTAGE)
    escalation_window: float = escalation_window_param(_CELL_UNDERVOLTAGE)


_CELL_OVERVOLTAGE_HARD = "Cell above the hard limit (always latches)"


@dataclass
class CellOvervoltageHard:
    """``protection.cell_overvoltage_hard``"""

    threshold: float = threshold_param(4.35, _CELL_OVERVOLTAGE_HARD, *VOLTS)
    release: float = release_param(4.25, _CELL_OVERVOLTAGE_HARD, *VOLTS)
    delay: float = delay_param(0.5, _CELL_OVERVOLTAGE_HARD)
    hold: float = hold_param(5.0, _CELL_OVERVOLTAGE_HARD)


_CELL_UNDERVOLTAGE_DEEP = "Cell deeply discharged (always latches)"


@dataclass
class CellUndervoltageDeep:
    """``protection.cell_undervoltage_deep``"""

    threshold: float = threshold_param(2.5, _CELL_UNDERVOLTAGE_DEEP, *VOLTS)
    release: float = release_param(2.8, _CELL_UNDERVOLTAGE_DEEP, *VOLTS)
    delay: float = delay_param(2.0, _CELL_UNDERVOLTAGE_DEEP)
    hold: float = hold_param(5.0, _CELL_UNDERVOLTAGE_DEEP)


_PACK_OVERVOLTAGE = "Pack over-voltage, as pack voltage / cell count"


@dataclass
class PackOvervoltage:
    """``protection.pack_overvoltage``"""

    threshold: float = threshold_param(4.25, _PACK_OVERVOLTAGE, *VOLTS)
    release: float = release_param(4.15, _PACK_OVERVOLTAGE, *VOLTS)
    delay: float = delay_param(1.0, _PACK_OVERVOLTAGE)
    hold: float = hold_param(5.0, _PACK_OVERVOLTAGE)
    latch: bool = latch_param(_PACK_OVERVOLTAGE)
    escalation_count: int = escalation_count_param(0, _PACK_OVERVOLTAGE)
    escalation_window: float = escalation_window_param(_PACK_OVERVOLTAGE)


_PACK_UNDERVOLTAGE = "Pack under-voltage, as pack voltage / cell count"


@dataclass
class PackUndervoltage:
    """``protection.pack_undervoltage``"""

    threshold: float = threshold_param(2.8, _PACK_UNDERVOLTAGE, *VOLTS)
    release: float = release_param(3.0, _PACK_UNDERVOLTAGE, *VOLTS)
    delay: float = delay_param(2.0, _PACK_UNDERVOLTAGE)
    hold: float = hold_param(5.0, _PACK_UNDERVOLTAGE)
    latch: bool = latch_param(_PACK_UNDERVOLTAGE)
    escalation_count: int = escalation_count_param(0, _PACK_UNDERVOLTAGE)
    escalation_window: float = escalation_window_param(_PACK_UNDERVOLTAGE)


_CHARGE_OVERCURRENT = "Charge over-current"


@dataclass
class ChargeOvercurrent:
    """``protection.charge_overcurrent``"""

    threshold: float = threshold_param(15.0, _CHARGE_OVERCURRENT, *AMPS)
    release: float = release_param(12.0, _CHARGE_OVERCURRENT, *AMPS)
    delay: float = delay_param(2.0, _CHARGE_OVERCURRENT)
    hold: float = hold_param(10.0, _CHARGE_OVERCURRENT)
    latch: bool = latch_param(_CHARGE_OVERCURRENT)
    escalation_count: int = escalation_count_param(3, _CHARGE_OVERCURRENT)
    escalation_window: float = escalation_window_param(_CHARGE_OVERCURRENT)


_DISCHARGE_OVERCURRENT = "Discharge over-current, fast high level (magnitude)"


@dataclass
class DischargeOvercurrent:
    """``protection.discharge_overcurrent``"""

    threshold: float = threshold_param(35.0, _DISCHARGE_OVERCURRENT, *AMPS)
    release: float = release_param(28.0, _DISCHARGE_OVERCURRENT, *AMPS)
    delay: float = delay_param(0.5, _DISCHARGE_OVERCURRENT)
    hold: float = hold_param(10.0, _DISCHARGE_OVERCURRENT)
    latch: bool = latch_param(_DISCHARGE_OVERCURRENT)
    escalation_count: int = escalation_count_param(3, _DISCHARGE_OVERCURRENT)
    escalation_window: float = escalation_window_param(_DISCHARGE_OVERCURRENT)


_DISCHARGE_OVERCURRENT_SUSTAINED = "Discharge over-current, slower sustained level (magnitude)"


@dataclass
class DischargeOvercurrentSustained:
    """``protection.discharge_overcurrent_sustained``"""

    threshold: float = threshold_param(20.0, _DISCHARGE_OVERCURRENT_SUSTAINED, *AMPS)
    release: float = release_param(15.0, _DISCHARGE_OVERCURRENT_SUSTAINED, *AMPS)
    delay: float = delay_param(10.0, _DISCHARGE_OVERCURRENT_SUSTAINED)
    hold: float = hold_param(30.0, _DISCHARGE_OVERCURRENT_SUSTAINED)
    latch: bool = latch_param(_DISCHARGE_OVERCURRENT_SUSTAINED)
    escalation_count: int = escalation_count_param(3, _DISCHARGE_OVERCURRENT_SUSTAINED)
    escalation_window: float = escalation_window_param(_DISCHARGE_OVERCURRENT_SUSTAINED)


_CHARGE_OVERTEMPERATURE = "Too hot to charge (hottest thermistor)"


@dataclass
class ChargeOvertemperature:
    """``protection.charge_overtemperature``"""

    threshold: float = threshold_param(45.0, _CHARGE_OVERTEMPERATURE, *DEGC)
    release: float = release_param(40.0, _CHARGE_OVERTEMPERATURE, *DEGC)
    delay: float = delay_param(2.0, _CHARGE_OVERTEMPERATURE)
    hold: float = hold_param(10.0, _CHARGE_OVERTEMPERATURE)
    latch: bool = latch_param(_CHARGE_OVERTEMPERATURE)
    escalation_count: int = escalation_count_param(0, _CHARGE_OVERTEMPERATURE)
    escalation_window: float = escalation_window_param(_CHARGE_OVERTEMPERATURE)


_CHARGE_UNDERTEMPERATURE = "Too cold to charge (coldest thermistor)"


@dataclass
class ChargeUndertemperature:
    """``protection.charge_undertemperature``"""

    threshold: float = threshold_param(0.0, _CHARGE_UNDERTEMPERATURE, *DEGC)
    release: float = release_param(3.0, _CHARGE_UNDERTEMPERATURE, *DEGC)
    delay: float = delay_param(2.0, _CHARGE_UNDERTEMPERATURE)
    hold: float = hold_param(10.0, _CHARGE_UNDERTEMPERATURE)
    latch: bool = latch_param(_CHARGE_UNDERTEMPERATURE)
    escalation_count: int = escalation_count_param(0, _CHARGE_UNDERTEMPERATURE)
    escalation_window: float = escalation_window_param(_CHARGE_UNDERTEMPERATURE)


_DISCHARGE_OVERTEMPERATURE = "Too hot to discharge (hottest thermistor)"


@dataclass
class DischargeOvertemperature:
    """``protection.discharge_overtemperature``"""

    threshold: float = threshold_param(60.0, _DISCHARGE_OVERTEMPERATURE, *DEGC)
    release: float = release_param(55.0, _DISCHARGE_OVERTEMPERATURE, *DEGC)
    delay: float = delay_param(2.0, _DISCHARGE_OVERTEMPERATURE)
    hold: float = hold_param(10.0, _DISCHARGE_OVERTEMPERATURE)
    latch: bool = latch_param(_DISCHARGE_OVERTEMPERATURE)
    escalation_count: int = escalation_count_param(0, _DISCHARGE_OVERTEMPERATURE)
    escalation_window: float = escalation_window_param(_DISCHARGE_OVERTEMPERATURE)


_DISCHARGE_UNDERTEMPERATURE = "Too cold to discharge (coldest thermistor)"


@dataclass
class DischargeUndertemperature:
    """``protection.discharge_undertemperature``"""

    threshold: float = threshold_param(-20.0, _DISCHARGE_UNDERTEMPERATURE, *DEGC)
    release: float = release_param(-17.0, _DISCHARGE_UNDERTEMPERATURE, *DEGC)
    delay: float = delay_param(2.0, _DISCHARGE_UNDERTEMPERATURE)
    hold: float = hold_param(10.0, _DISCHARGE_UNDERTEMPERATURE)
    latch: bool = latch_param(_DISCHARGE_UNDERTEMPERATURE)
    escalation_count: int = escalation_count_param(0, _DISCHARGE_UNDERTEMPERATURE)
    escalation_window: float = escalation_window_param(_DISCHARGE_UNDERTEMPERATURE)


_AFE_OVERTEMPERATURE = "AFE die over-temperature"


@dataclass
class AfeOvertemperature:
    """``protection.afe_overtemperature``"""

    threshold: float = threshold_param(85.0, _AFE_OVERTEMPERATURE, *DEGC)
    release: float = release_param(75.0, _AFE_OVERTEMPERATURE, *DEGC)
    delay: float = delay_param(2.0, _AFE_OVERTEMPERATURE)
    hold: float = hold_param(10.0, _AFE_OVERTEMPERATURE)
    latch: bool = latch_param(_AFE_OVERTEMPERATURE)
    escalation_count: int = escalation_count_param(0, _AFE_OVERTEMPERATURE)
    escalation_window: float = escalation_window_param(_AFE_OVERTEMPERATURE)


_CELL_IMBALANCE = "Cell voltage spread (highest - lowest); reported, no FET action"


@dataclass
class CellImbalance:
    """``protection.cell_imbalance``"""

    threshold: float = threshold_param(0.15, _CELL_IMBALANCE, "V", 0.001, 2.0)
    release: float = release_param(0.1, _CELL_IMBALANCE, "V", 0.001, 2.0)
    delay: float = delay_param(30.0, _CELL_IMBALANCE)
    hold: float = hold_param(30.0, _CELL_IMBALANCE)
    latch: bool = latch_param(_CELL_IMBALANCE)
    escalation_count: int = escalation_count_param(0, _CELL_IMBALANCE)
    escalation_window: float = escalation_window_param(_CELL_IMBALANCE)


_INTERNAL_SHORT = (
    "Soft internal short: a cell's estimated self-discharge, per Ah of capacity (always latches; "
    "0.04 C finds a 10-ohm short on a 5 Ah cell, healthy cells stay below 0.025 C)"
)


@dataclass
class InternalShort:
    """``protection.internal_short``"""

    threshold: float = threshold_param(0.04, _INTERNAL_SHORT, "1/h", 0.005, 10.0)
    release: float = release_param(0.02, _INTERNAL_SHORT, "1/h", 0.005, 10.0)
    delay: float = delay_param(60.0, _INTERNAL_SHORT)
    hold: float = hold_param(60.0, _INTERNAL_SHORT)
