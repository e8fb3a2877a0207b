"""Byte-level faults for the serial-pack emulators (JBD, Daly): the same injector as the chip emulators, with
the I2C words read as their serial meaning.

    nack_rate          the pack does not answer a request (a dropped frame)
    timeout_rate       the answer is cut short (trailing bytes dropped: the host times out)
    crc_corrupt_rate   one bit of the answer's checksum flips
    garbage_rate       random bytes arrive before the answer (line noise: the host must resync)
    silent = True      the pack stops answering altogether (link loss) until set False
"""

from __future__ import annotations

from bms_ros.afe.sim.faults import FaultInjector

__all__ = ["SerialFaults"]


class SerialFaults(FaultInjector):
    def __init__(self, seed: int = 0):
        super().__init__(seed)
        self.garbage_rate = 0.0
        self.silent = False
        self.injected.update({"garbage": 0, "silent": 0})

    def hit(self, rate: float) -> bool:
        """One draw of the seeded generator: True with probability ``rate``."""
        return rate > 0 and self._rng.random() < rate

    def pick(self, n: int) -> int:
        """A seeded choice in 0..n-1."""
        return self._rng.randrange(n)

    def mangle(self, reply: bytes, checksum_at: slice) -> bytes:
        """What reaches the host instead of ``reply`` (``checksum_at``: where the checksum bytes are)."""
        if self.silent:
            self.injected["silent"] += 1
            return b""
        try:
            self.before_transaction()
        except TimeoutError:
            return reply[: self._rng.randrange(len(reply))] if reply else b""
        except OSError:
            return b""
        out = bytearray(reply)
        idx = list(range(len(out)))[checksum_at]
        if idx and self.take_crc_corruption():
            out[self._rng.choice(idx)] ^= 1 << self._rng.randrange(8)
        if self.hit(self.garbage_rate):
            self.injected["garbage"] += 1
            out[:0] = bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 12)))
        return bytes(out)
