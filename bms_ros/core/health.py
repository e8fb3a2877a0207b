"""Pack health for consumers (BatteryState.power_supply_health, diagnostics): which faults matter now.

A fault of an operation that is not in use is not a health problem: a pack at -5 degC that may discharge but
not charge is healthy while it discharges, and COLD only once a charge is wanted (the charger contact, or a
current into the pack). An under-voltage cut-off is DEAD (the pack is empty), not an unspecified failure.
(ISSUE 14 item 6.)
"""

from __future__ import annotations

import enum

from bms_ros.core.faults import Fault


class Health(enum.Enum):
    GOOD = "GOOD"
    DEAD = "DEAD"
    OVERHEAT = "OVERHEAT"
    OVERVOLTAGE = "OVERVOLTAGE"
    COLD = "COLD"
    UNSPEC_FAILURE = "UNSPEC_FAILURE"


# faults of the charge window only: they matter while a charge is wanted
CHARGE_ONLY = int(Fault.CHARGE_OVERTEMPERATURE | Fault.CHARGE_UNDERTEMPERATURE)
_DEAD = int(
    Fault.CELL_UNDERVOLTAGE_DEEP | Fault.CELL_UNDERVOLTAGE | Fault.PACK_UNDERVOLTAGE | Fault.AFE_HW_UNDERVOLTAGE
)
_OVERHEAT = int(Fault.CHARGE_OVERTEMPERATURE | Fault.DISCHARGE_OVERTEMPERATURE | Fault.AFE_OVERTEMPERATURE)
_COLD = int(Fault.CHARGE_UNDERTEMPERATURE | Fault.DISCHARGE_UNDERTEMPERATURE)
_OVERVOLTAGE = int(
    Fault.CELL_OVERVOLTAGE | Fault.CELL_OVERVOLTAGE_HARD | Fault.PACK_OVERVOLTAGE | Fault.AFE_HW_OVERVOLTAGE
)


def relevant_faults(faults: int, charge_wanted: bool) -> int:
    """The fault bits that matter for the present operation (charge-window faults only with a charge wanted)."""
    return int(faults) if charge_wanted else int(faults) & ~CHARGE_ONLY


def health(faults: int, charge_wanted: bool) -> Health:
    """Most specific first; any other relevant fault is UNSPEC_FAILURE."""
    f = relevant_faults(faults, charge_wanted)
    for mask, h in (
        (_DEAD, Health.DEAD),
        (_OVERHEAT, Health.OVERHEAT),
        (_OVERVOLTAGE, Health.OVERVOLTAGE),
        (_COLD, Health.COLD),
    ):
        if f & mask:
            return h
    return Health.UNSPEC_FAILURE if f else Health.GOOD
