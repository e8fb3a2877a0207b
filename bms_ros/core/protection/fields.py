"""The parameters every protection section shares, declared once: each returns a ``param(...)`` field.

``what`` names the fault in every description (``protection.<section>.<field>``); the ranges of the delay,
hold and escalation parameters are the same for every fault.
"""

from __future__ import annotations

from typing import Any

from bms_ros.core.params import param

# (unit, lowest, highest) of the threshold / release of a section, by quantity
VOLTS = ("V", 0.0, 6.0)
AMPS = ("A", 0.0, 10000.0)
DEGC = ("degC", -60.0, 150.0)

MAX_DELAY = 600.0  # s: longest trip delay accepted
MAX_HOLD = 3600.0  # s: longest release hold accepted
MAX_ESCALATION_COUNT = 100  # trips
ESCALATION_WINDOW = 600.0  # s: default escalation window (ten minutes)
MIN_ESCALATION_WINDOW = 1.0  # s
MAX_ESCALATION_WINDOW = 86400.0  # s: one day


def threshold_param(default: float, what: str, unit: str, lo: float, hi: float) -> Any:
    return param(default, f"{what}: trip threshold", unit, lo, hi, runtime=True)


def release_param(default: float, what: str, unit: str, lo: float, hi: float) -> Any:
    return param(
        default,
        f"{what}: the value must be back past this (hysteresis) before the fault releases",
        unit,
        lo,
        hi,
        runtime=True,
    )


def delay_param(default: float, what: str) -> Any:
    return param(default, f"{what}: the condition must persist this long to trip", "s", 0.0, MAX_DELAY, runtime=True)


def hold_param(default: float, what: str) -> Any:
    return param(default, f"{what}: the condition must be gone this long to release", "s", 0.0, MAX_HOLD, runtime=True)


def latch_param(what: str) -> Any:
    return param(False, f"{what}: latch until a fault reset instead of releasing on its own", runtime=True)


def escalation_count_param(default: int, what: str) -> Any:
    return param(
        default,
        f"{what}: latch when it trips this many times within escalation_window (0 = never)",
        min=0,
        max=MAX_ESCALATION_COUNT,
        runtime=True,
    )


def escalation_window_param(what: str) -> Any:
    return param(
        ESCALATION_WINDOW,
        f"{what}: window for escalation_count",
        "s",
        MIN_ESCALATION_WINDOW,
        MAX_ESCALATION_WINDOW,
        runtime=True,
    )
