"""What protection reports: ``FaultEvent`` (one trip, latch, release, reset or unlock, for the fault log) and
``ProtectionResult`` (the state of every fault after one evaluation, as ``Fault`` bit masks)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LOG_DECIMALS = 6  # decimals of a value in the fault log: 1 uV, 1 uA, 1 udegC resolution


@dataclass(frozen=True)
class FaultEvent:
    stamp: float
    fault: str
    event: str  # trip, latch, release, reset, unlock
    value: float  # the measured value (NaN for flags)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.stamp,
            "fault": self.fault,
            "event": self.event,
            "value": None if math.isnan(self.value) else round(self.value, LOG_DECIMALS),
            "detail": self.detail,
        }


@dataclass
class ProtectionResult:
    active: int  # Fault bits tripped and not yet released
    latched: int  # Fault bits latched until a reset
    warnings: int  # condition beyond threshold, delay running
    block_charge: int  # Fault bits (active or latched) that forbid charging
    block_discharge: int
    afe_flags_to_clear: int  # AfeFlag bits the node should clear in the AFE
    events: list[FaultEvent]
