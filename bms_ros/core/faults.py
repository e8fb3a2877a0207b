"""Fault identifiers. Bit positions are part of the interface: BmsStatus.msg mirrors them (a test checks)."""

from __future__ import annotations

import enum
from functools import lru_cache


class Fault(enum.IntFlag):
    NONE = 0
    CELL_OVERVOLTAGE = 1 << 0
    CELL_UNDERVOLTAGE = 1 << 1
    CELL_OVERVOLTAGE_HARD = 1 << 2  # above the hard limit: always latches
    CELL_UNDERVOLTAGE_DEEP = 1 << 3  # deep discharge: always latches
    PACK_OVERVOLTAGE = 1 << 4
    PACK_UNDERVOLTAGE = 1 << 5
    CHARGE_OVERCURRENT = 1 << 6
    DISCHARGE_OVERCURRENT = 1 << 7  # fast, high level
    DISCHARGE_OVERCURRENT_SUSTAINED = 1 << 8
    SHORT_CIRCUIT = 1 << 9  # from the AFE: always latches
    CHARGE_OVERTEMPERATURE = 1 << 10
    CHARGE_UNDERTEMPERATURE = 1 << 11
    DISCHARGE_OVERTEMPERATURE = 1 << 12
    DISCHARGE_UNDERTEMPERATURE = 1 << 13
    AFE_OVERTEMPERATURE = 1 << 14
    CELL_IMBALANCE = 1 << 15
    IMPLAUSIBLE_DATA = 1 << 16
    SENSOR_LOSS = 1 << 17
    AFE_COMM_LOSS = 1 << 18
    AFE_DEVICE_FAULT = 1 << 19
    AFE_HW_OVERVOLTAGE = 1 << 20
    AFE_HW_UNDERVOLTAGE = 1 << 21
    AFE_HW_OVERCURRENT = 1 << 22
    OPEN_WIRE = 1 << 23  # a cell sense wire open (alternating 0 V / full scale, low/high pair)
    CELL_READING_STUCK = 1 << 24  # a cell reading that no longer follows the cell
    INTERNAL_SHORT = 1 << 25  # soft internal short (self-discharge estimate): always latches
    SYSTEM_LOCK = 1 << 26  # IEC 62619 system lock: only an unlock with its code clears it


def fault_name(fault: Fault) -> str:
    """The name of one fault bit. ``Fault.name`` is typed ``str | None``: None only for a combination of bits that
    has no name of its own, never for a single bit; such a combination reads as its number."""
    return fault.name if fault.name is not None else str(int(fault))


def fault_names(mask: int) -> list[str]:
    """Names of the set bits, lowest first (``['CELL_OVERVOLTAGE', ...]``)."""
    return list(_names(int(mask)))


@lru_cache(maxsize=256)  # a run sees a handful of masks; building the names walks the enum (~60 us)
def _names(mask: int) -> tuple[str, ...]:
    return tuple(fault_name(f) for f in Fault if f.value and mask & f.value)
