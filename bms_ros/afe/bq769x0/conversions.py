"""bq769x0 conversions from register codes to SI values and status flags [DS p.18-22, p.30]."""
from __future__ import annotations

import math

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
TS_SETTLE_S = r.TEMP_PERIOD_S + r.ADC_PERIOD_S   # a TEMP_SEL change shows within 2 s [DS p.21]


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
    if v >= 3.2 or v <= 0.05:     # outside ~ -50..+150 degC for a 10 k NTC: open or short, not a temperature
        return math.nan
    res = r.TS_PULLUP_OHM * v / (r.TS_BIAS_V - v)
    return 1.0 / (1.0 / (25.0 + T0_K) + math.log(res / r25) / beta) - T0_K


def die_celsius(code: int) -> float:
    """Die temperature: V = ADC x 382 uV, T = 25 - (V - 1.200) / 0.0042 [DS p.21]."""
    v = (code & r.ADC_MASK) * r.TS_LSB_V
    return 25.0 + (v - r.DIE_V25) / r.DIE_DV_PER_C
