"""bq769x0 conversions from register codes to SI values and status flags [DS p.18-22, p.30]."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.core.types import AfeFlag

_STAT_TO_FLAG = (
    (r.STAT_OV, AfeFlag.OVERVOLTAGE),
    (r.STAT_UV, AfeFlag.UNDERVOLTAGE),
    (r.STAT_OCD, AfeFlag.OVERCURRENT_DISCHARGE),
    (r.STAT_SCD, AfeFlag.SHORT_CIRCUIT),
    (r.STAT_DEVICE_XREADY, AfeFlag.DEVICE_FAULT),
    (r.STAT_OVRD_ALERT, AfeFlag.ALERT_OVERRIDE),
)
T0_K = 273.15
# TS voltages outside ~ -50..+150 degC for a 10 k NTC on the 10 k / 3.3 V divider [DS p.20]: open or short
TS_OPEN_V = 3.2
TS_SHORT_V = 0.05
TS_SETTLE_S = r.TEMP_PERIOD_S + r.ADC_PERIOD_S  # a TEMP_SEL change shows within 2 s [DS p.21]


def stat_to_flags(sys_stat: int) -> AfeFlag:
    """SYS_STAT fault bits as AfeFlag (CC_READY is not a fault)."""
    flags = AfeFlag.NONE
    for bit, flag in _STAT_TO_FLAG:
        if sys_stat & bit:
            flags |= flag
    return flags


def flags_to_stat(flags: AfeFlag) -> int:
    return sum(bit for bit, flag in _STAT_TO_FLAG if flags & flag)


def thermistor_celsius(code: int, beta: float, r25: float) -> float:
    """TS reading -> degC with the Beta model; NaN for an open (~3.3 V) or shorted (~0 V) thermistor.

    V_TS = ADC x 382 uV, R_TS = 10 k x V_TS / (3.3 - V_TS) [DS p.20], 1/T = 1/T25 + ln(R/R25)/Beta.
    """
    v = (code & r.ADC_MASK) * r.TS_LSB_V
    if v >= TS_OPEN_V or v <= TS_SHORT_V:
        return math.nan
    res = r.TS_PULLUP_OHM * v / (r.TS_BIAS_V - v)
    return 1.0 / (1.0 / (25.0 + T0_K) + math.log(res / r25) / beta) - T0_K


def die_celsius(code: int) -> float:
    """Die temperature: V = ADC x 382 uV, T = 25 - (V - 1.200) / 0.0042 [DS p.21]."""
    v = (code & r.ADC_MASK) * r.TS_LSB_V
    return 25.0 + (v - r.DIE_V25) / r.DIE_DV_PER_C


def cellbal_bytes(mask: int, channels: Sequence[int], groups: int) -> list[int]:
    """Logical balancing mask -> CELLBAL1..n bytes (5 VC inputs per group) [DS p.24, p.30]."""
    phys = 0
    for cell, ch in enumerate(channels):
        if mask >> cell & 1:
            phys |= 1 << ch
    return [(phys >> (r.CELLS_PER_GROUP * g)) & r.CELLBAL_MASK for g in range(groups)]


def logical_mask(cellbal: Sequence[int], channels: Sequence[int]) -> int:
    """CELLBAL1..n bytes -> logical balancing mask (bit k = cell k)."""
    phys = 0
    for g, b in enumerate(cellbal):
        phys |= (b & r.CELLBAL_MASK) << (r.CELLS_PER_GROUP * g)
    return sum(1 << cell for cell, ch in enumerate(channels) if phys >> ch & 1)


def adc_code(regs: Sequence[int], hi: int) -> int:
    """The 14-bit ADC code of a big-endian HI/LO register pair (bits 15:14 of HI are reserved) [DS p.18]."""
    return ((regs[hi] & (r.ADC_MASK >> 8)) << 8) | regs[hi + 1]


def cell_volts(codes: Sequence[int], gain_uv: float, offset_mv: float) -> np.ndarray:
    """V_cell = GAIN x ADC + OFFSET [DS p.18]."""
    return (np.asarray(codes, dtype=np.float64) * gain_uv + offset_mv * 1e3) * 1e-6


def pack_volts(bat_code: int, cell_count: int, gain_uv: float, offset_mv: float) -> float:
    """V_BAT = 4 x GAIN x ADC + n x OFFSET, n = cells actually used (E2E #779061) [DS p.21]."""
    return (4.0 * gain_uv * bat_code + cell_count * offset_mv * 1e3) * 1e-6


def cc_amps(cc_hi: int, cc_lo: int, shunt_ohm: float) -> float:
    """Coulomb counter: signed 16-bit code x 8.44 uV over the shunt [DS p.20], > 0 charging."""
    cc = (cc_hi << 8) | cc_lo
    cc = cc - 0x10000 if cc & 0x8000 else cc
    return cc * r.CC_LSB_V / shunt_ohm
