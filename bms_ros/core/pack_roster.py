"""Which packs are in the robot's battery now (hot-swap), with the reason for each one that is not (no ROS).

A pack is in while it keeps publishing (its last battery_state is younger than the timeout) and says
present = true. A pack that stops or is pulled leaves at the next evaluation, and one that comes back rejoins
with its first message. Times are the aggregator's clock, s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.core.aggregate import PackReading


@dataclass
class PackSlot:
    name: str
    reading: PackReading | None = None
    received: float = -math.inf  # clock time of the last battery_state, s


class PackRoster:
    def __init__(self, names: list[str], timeout_s: float):
        if len(set(names)) != len(names) or not names:
            raise ValueError("pack names: at least one, each once")
        self.timeout_s = timeout_s
        self.slots = {n: PackSlot(n) for n in names}

    def update(self, reading: PackReading, now: float) -> None:
        slot = self.slots[reading.name]
        slot.reading, slot.received = reading, now

    def why_out(self, name: str, now: float) -> str:
        """'' when the pack is in the aggregate, else why not (for diagnostics and the status message)."""
        slot = self.slots[name]
        if slot.reading is None:
            return "no battery_state received yet"
        age = now - slot.received
        if age > self.timeout_s:
            return f"silent for {age:.1f} s (timeout {self.timeout_s:g} s)"
        if not slot.reading.present:
            return "reports present = false"
        return ""

    def members(self, now: float) -> list[PackReading]:
        return [s.reading for n, s in self.slots.items() if s.reading is not None and not self.why_out(n, now)]

    def missing(self, now: float) -> dict[str, str]:
        return {n: r for n in self.slots if (r := self.why_out(n, now))}
