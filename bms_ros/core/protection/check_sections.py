"""Protection sections of the faults whose condition is a yes/no check (AFE flags, plausibility, sensor and
communication loss, open wire, stuck reading, the system lock): ``protection.<section>.*``."""

from __future__ import annotations

from dataclasses import dataclass

from bms_ros.core.params import param
from bms_ros.core.protection.fields import (
    delay_param,
    escalation_count_param,
    escalation_window_param,
    hold_param,
    latch_param,
)

_SHORT_CIRCUIT = "Short circuit reported by the AFE (always latches)"


@dataclass
class ShortCircuit:
    """``protection.short_circuit``"""

    delay: float = delay_param(0.0, _SHORT_CIRCUIT)
    hold: float = hold_param(1.0, _SHORT_CIRCUIT)


_IMPLAUSIBLE_DATA = (
    "Implausible measurement (NaN, cell outside the physical range, sum of cells vs pack voltage, frozen values)"
)


@dataclass
class ImplausibleData:
    """``protection.implausible_data``"""

    delay: float = delay_param(1.0, _IMPLAUSIBLE_DATA)
    hold: float = hold_param(5.0, _IMPLAUSIBLE_DATA)
    latch: bool = latch_param(_IMPLAUSIBLE_DATA)
    escalation_count: int = escalation_count_param(3, _IMPLAUSIBLE_DATA)
    escalation_window: float = escalation_window_param(_IMPLAUSIBLE_DATA)
    cell_min: float = param(0.5, "Lowest physically plausible cell reading", "V", 0.0, 6.0, runtime=True)
    cell_max: float = param(5.0, "Highest physically plausible cell reading", "V", 0.0, 6.0, runtime=True)
    pack_tolerance_per_cell: float = param(
        0.05, "Allowed |sum of cells - pack voltage|, per cell in series", "V", 0.001, 1.0, runtime=True
    )
    frozen_time: float = param(
        30.0,
        "Implausible when every cell voltage and the current repeat bit-identically for this long while "
        "a current flows (0 = off)",
        "s",
        0.0,
        3600.0,
        runtime=True,
    )
    frozen_min_current: float = param(
        0.2,
        "Frozen values count only at a current magnitude above this (at rest, constant readings are "
        "physically consistent)",
        "A",
        0.0,
        1000.0,
        runtime=True,
    )


_SENSOR_LOSS = "Thermistor lost (NaN, open or shorted: outside the plausible range)"


@dataclass
class SensorLoss:
    """``protection.sensor_loss``"""

    delay: float = delay_param(2.0, _SENSOR_LOSS)
    hold: float = hold_param(5.0, _SENSOR_LOSS)
    latch: bool = latch_param(_SENSOR_LOSS)
    escalation_count: int = escalation_count_param(0, _SENSOR_LOSS)
    escalation_window: float = escalation_window_param(_SENSOR_LOSS)
    temperature_min: float = param(
        -45.0, "Readings below this are an open thermistor", "degC", -100.0, 50.0, runtime=True
    )
    temperature_max: float = param(
        125.0, "Readings above this are a shorted thermistor", "degC", 50.0, 300.0, runtime=True
    )
    min_thermistors: int = param(
        1,
        "Fewer thermistor readings than this is a sensor loss (0 allows a pack without temperature sensing)",
        min=0,
        max=16,
        runtime=True,
    )


_AFE_COMM_LOSS = "AFE communication lost (failed reads)"


@dataclass
class AfeCommLoss:
    """``protection.afe_comm_loss``"""

    delay: float = delay_param(1.0, _AFE_COMM_LOSS)
    hold: float = hold_param(2.0, _AFE_COMM_LOSS)
    latch: bool = latch_param(_AFE_COMM_LOSS)
    escalation_count: int = escalation_count_param(0, _AFE_COMM_LOSS)
    escalation_window: float = escalation_window_param(_AFE_COMM_LOSS)


_AFE_DEVICE_FAULT = "AFE internal device fault flag"


@dataclass
class AfeDeviceFault:
    """``protection.afe_device_fault``"""

    delay: float = delay_param(0.0, _AFE_DEVICE_FAULT)
    hold: float = hold_param(5.0, _AFE_DEVICE_FAULT)
    latch: bool = latch_param(_AFE_DEVICE_FAULT)
    escalation_count: int = escalation_count_param(3, _AFE_DEVICE_FAULT)
    escalation_window: float = escalation_window_param(_AFE_DEVICE_FAULT)


_AFE_HW_OVERVOLTAGE = "AFE hardware cell over-voltage trip flag"


@dataclass
class AfeHwOvervoltage:
    """``protection.afe_hw_overvoltage``"""

    delay: float = delay_param(0.0, _AFE_HW_OVERVOLTAGE)
    hold: float = hold_param(5.0, _AFE_HW_OVERVOLTAGE)
    latch: bool = latch_param(_AFE_HW_OVERVOLTAGE)
    escalation_count: int = escalation_count_param(3, _AFE_HW_OVERVOLTAGE)
    escalation_window: float = escalation_window_param(_AFE_HW_OVERVOLTAGE)


_AFE_HW_UNDERVOLTAGE = "AFE hardware cell under-voltage trip flag"


@dataclass
class AfeHwUndervoltage:
    """``protection.afe_hw_undervoltage``"""

    delay: float = delay_param(0.0, _AFE_HW_UNDERVOLTAGE)
    hold: float = hold_param(5.0, _AFE_HW_UNDERVOLTAGE)
    latch: bool = latch_param(_AFE_HW_UNDERVOLTAGE)
    escalation_count: int = escalation_count_param(3, _AFE_HW_UNDERVOLTAGE)
    escalation_window: float = escalation_window_param(_AFE_HW_UNDERVOLTAGE)


_AFE_HW_OVERCURRENT = "AFE hardware discharge over-current trip flag"


@dataclass
class AfeHwOvercurrent:
    """``protection.afe_hw_overcurrent``"""

    delay: float = delay_param(0.0, _AFE_HW_OVERCURRENT)
    hold: float = hold_param(10.0, _AFE_HW_OVERCURRENT)
    latch: bool = latch_param(_AFE_HW_OVERCURRENT)
    escalation_count: int = escalation_count_param(3, _AFE_HW_OVERCURRENT)
    escalation_window: float = escalation_window_param(_AFE_HW_OVERCURRENT)


_OPEN_WIRE = "Open cell sense wire (readings switching to 0 V or full scale, or a low/high neighbour pair)"


@dataclass
class OpenWire:
    """``protection.open_wire``"""

    delay: float = delay_param(0.0, _OPEN_WIRE)
    hold: float = hold_param(10.0, _OPEN_WIRE)
    latch: bool = latch_param(_OPEN_WIRE)
    escalation_count: int = escalation_count_param(3, _OPEN_WIRE)
    escalation_window: float = escalation_window_param(_OPEN_WIRE)


_CELL_READING_STUCK = "A cell reading stuck (bit-identical while the other cells moved)"


@dataclass
class CellReadingStuck:
    """``protection.cell_reading_stuck``"""

    delay: float = delay_param(0.0, _CELL_READING_STUCK)
    hold: float = hold_param(5.0, _CELL_READING_STUCK)
    latch: bool = latch_param(_CELL_READING_STUCK)
    escalation_count: int = escalation_count_param(3, _CELL_READING_STUCK)
    escalation_window: float = escalation_window_param(_CELL_READING_STUCK)
    voltage_delta: float = param(
        0.02,
        "Stuck when the mean of the other cells moved this much while a cell's reading did not change at all "
        "(0 = off); 50 LSB of a bq769x0 cell ADC (382 uV) [bq769x0 DS 8.3.1.1.2]",
        "V",
        0.0,
        1.0,
        runtime=True,
    )


_SYSTEM_LOCK = (
    "IEC 62619 system lock: a cell left its safe operating region (hard over-voltage, deep "
    "under-voltage, or over-temperature beyond the lock limit); a fault reset cannot clear it"
)


@dataclass
class SystemLock:
    """``protection.system_lock``"""

    delay: float = delay_param(0.0, _SYSTEM_LOCK)
    hold: float = hold_param(1.0, _SYSTEM_LOCK)
    enabled: bool = param(True, "Lock the pack when a cell leaves its safe operating region")
    temperature: float = param(
        80.0,
        "Lock when the hottest thermistor exceeds this (above every operating window; "
        "IEC 62619:2022 5.6.1 upper limit temperature)",
        "degC",
        40.0,
        150.0,
        runtime=True,
    )
