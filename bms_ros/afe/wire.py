"""Bus traffic accounting shared by the chip drivers and their emulators."""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_MODE_HZ = 100_000  # I2C standard mode (the bq769x0 limit [bq769x0 DS p.14, p.25])


@dataclass
class WireStats:
    """What the driver put on the bus (all attempts): 9 bit times per byte, one per START/Sr and STOP."""

    transactions: int = 0
    bytes: int = 0  # address bytes + register/data/CRC bytes
    conditions: int = 0  # START, repeated START and STOP

    @property
    def bit_times(self) -> int:
        return 9 * self.bytes + self.conditions

    def seconds_at(self, hz: float = STANDARD_MODE_HZ) -> float:
        return self.bit_times / hz

    def reset(self) -> None:
        self.transactions = self.bytes = self.conditions = 0
