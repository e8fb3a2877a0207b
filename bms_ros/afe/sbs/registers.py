"""SBS 1.1 command codes, bit fields and the SMBus PEC.

Sources (see /work/shared/reference/afe-facts.md Part C): [SBS] Smart Battery Data Specification 1.1 (sbs-if.org);
[LNX] Linux drivers/power/supply/sbs-battery.c; [AP] ArduPilot AP_BattMonitor_SMBus*.cpp; [ZBQ] Zephyr
drivers/fuel_gauge/bq40z50 (bq4xz50.h); [CEC] Chromium EC include/battery_smart.h.
"""

from __future__ import annotations

import enum

__all__ = [
    "ADDRESS",
    "BLOCK_MAX",
    "CELL_VOLTAGE_1_TO_4",
    "KELVIN10_OFFSET",
    "MAC_DEVICE_TYPE",
    "MAC_FIRMWARE_VERSION",
    "BatteryMode",
    "BatteryStatus",
    "Cmd",
    "decode_date",
    "pec",
    "uses_pec",
]

ADDRESS = 0x0B  # 7-bit SMBus address of a smart battery [AP, CEC]
BLOCK_MAX = 32  # SMBus block: at most 32 data bytes after the count byte [AP read_block]
KELVIN10_OFFSET = 2731  # Temperature is 0.1 K: degC = (raw - 2731) / 10 [LNX, AP]


class Cmd(enum.IntEnum):
    """SBS command codes [SBS; CEC]; 0x3C..0x44 and 0x4F are bq40z50 extensions [ZBQ]."""

    MANUFACTURER_ACCESS = 0x00
    BATTERY_MODE = 0x03
    TEMPERATURE = 0x08  # 0.1 K, unsigned
    VOLTAGE = 0x09  # mV, unsigned
    CURRENT = 0x0A  # mA, int16, > 0 charging [AP, LNX]
    AVERAGE_CURRENT = 0x0B
    RELATIVE_STATE_OF_CHARGE = 0x0D  # %, may exceed 100 [LNX]
    REMAINING_CAPACITY = 0x0F  # mAh, or 10 mWh with CAPACITY_MODE
    FULL_CHARGE_CAPACITY = 0x10
    BATTERY_STATUS = 0x16
    CYCLE_COUNT = 0x17
    DESIGN_CAPACITY = 0x18
    DESIGN_VOLTAGE = 0x19  # mV
    SPECIFICATION_INFO = 0x1A
    MANUFACTURE_DATE = 0x1B
    SERIAL_NUMBER = 0x1C
    MANUFACTURER_NAME = 0x20  # block
    DEVICE_NAME = 0x21  # block
    DEVICE_CHEMISTRY = 0x22  # block
    CELL_VOLTAGE_4 = 0x3C  # bq40z50: 0x3C..0x3F = cell 4..1, reversed [ZBQ]
    CELL_VOLTAGE_3 = 0x3D
    CELL_VOLTAGE_2 = 0x3E
    CELL_VOLTAGE_1 = 0x3F
    MANUFACTURER_BLOCK_ACCESS = 0x44  # bq40z50 block [len, cmd_lo, cmd_hi, data...] [ZBQ]
    STATE_OF_HEALTH = 0x4F  # bq40z50, % [ZBQ]


MAC_DEVICE_TYPE = 0x0001  # ManufacturerAccess commands read through 0x44 [ZBQ bq40z50.c]
MAC_FIRMWARE_VERSION = 0x0002

CELL_VOLTAGE_1_TO_4 = (Cmd.CELL_VOLTAGE_1, Cmd.CELL_VOLTAGE_2, Cmd.CELL_VOLTAGE_3, Cmd.CELL_VOLTAGE_4)


class BatteryMode(enum.IntFlag):
    """BatteryMode (0x03) bits [CEC, LNX]."""

    INTERNAL_CHARGE_CONTROLLER = 1 << 0
    PRIMARY_BATTERY_SUPPORT = 1 << 1
    CONDITION_FLAG = 1 << 7
    CHARGE_CONTROLLER_ENABLED = 1 << 8
    PRIMARY_BATTERY = 1 << 9
    ALARM_MODE = 1 << 13
    CHARGER_MODE = 1 << 14
    CAPACITY_MODE = 1 << 15  # 0: mA / mAh, 1: 10 mW / 10 mWh


class BatteryStatus(enum.IntFlag):
    """BatteryStatus (0x16) bits [CEC]; bits 3:0 are an error code (0 OK)."""

    OVER_CHARGED_ALARM = 1 << 15
    TERMINATE_CHARGE_ALARM = 1 << 14
    OVER_TEMP_ALARM = 1 << 12
    TERMINATE_DISCHARGE_ALARM = 1 << 11
    REMAINING_CAPACITY_ALARM = 1 << 9
    REMAINING_TIME_ALARM = 1 << 8
    INITIALIZED = 1 << 7
    DISCHARGING = 1 << 6
    FULLY_CHARGED = 1 << 5
    FULLY_DISCHARGED = 1 << 4


ERROR_CODE_MASK = 0x000F


def pec(data: bytes) -> int:
    """SMBus PEC: CRC-8, polynomial 0x07, initial 0, over addr_w, cmd, addr_r and the data [AP get_PEC]."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def uses_pec(specification_info: int) -> bool:
    """SpecificationInfo bits 7:4 = 3: SBS 1.1 with PEC [LNX, AP]; 1 and 2 are v1.0 / v1.1 without."""
    return (specification_info >> 4) & 0xF == 3


def decode_date(word: int) -> str:
    """ManufactureDate: day bits 4:0, month 8:5, year - 1980 in 15:9 [LNX]; '' when not a real date."""
    day, month, year = word & 0x1F, (word >> 5) & 0xF, 1980 + (word >> 9)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d}"
