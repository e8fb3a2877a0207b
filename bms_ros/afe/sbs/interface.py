"""SBS transport: SMBus word and block reads (with PEC when the pack uses it), word writes, bq40z50
ManufacturerBlockAccess, retries and error counting. No battery logic: :mod:`driver` decides what to read.

Every read is one ``i2c_rdwr`` (write the command, repeated START, read), so the PEC is checked here: CRC-8 over
addr_w, cmd, addr_r and the data bytes [AP get_PEC]. Words are little-endian [AP]. A block read is
[count, data..., (PEC)] with count <= 32 [AP read_block].
"""

from __future__ import annotations

import time
from collections.abc import Callable

from smbus2 import i2c_msg

from bms_ros.afe.pack_source import LinkStats
from bms_ros.afe.sbs import registers as r

__all__ = ["SbsBus", "SbsCommError"]


class SbsCommError(Exception):
    """A transaction failed after all retries (counted in :class:`LinkStats`)."""


class SbsBus:
    def __init__(
        self,
        bus,
        address: int = r.ADDRESS,
        use_pec: bool = False,
        retries: int = 2,
        stats: LinkStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.bus, self.address, self.use_pec, self.retries = bus, int(address), bool(use_pec), int(retries)
        self.stats = stats or LinkStats()
        self.sleep = sleep

    def _transfer(self, cmd: int, length: int, payload_len: Callable[[bytes], int]) -> bytes:
        """Read ``length`` bytes after writing ``cmd``; ``payload_len(raw)`` says how many leading bytes carry
        data (the PEC byte follows them). Retries NACKs, timeouts, PEC and framing errors; each one counted."""
        last: Exception | None = None
        a = self.address << 1
        for _ in range(self.retries + 1):
            w = i2c_msg.write(self.address, [cmd & 0xFF])
            rd = i2c_msg.read(self.address, length)
            try:
                self.bus.i2c_rdwr(w, rd)
            except OSError as e:
                self.stats.timeouts += 1
                last = e
                continue
            raw = bytes(rd)
            n = payload_len(raw)
            if n < 0:
                self.stats.framing_errors += 1
                last = SbsCommError(f"command {cmd:#04x}: block count {raw[0]} > {r.BLOCK_MAX}")
                continue
            if self.use_pec and r.pec(bytes((a, cmd & 0xFF, a | 1)) + raw[:n]) != raw[n]:
                self.stats.checksum_errors += 1
                last = SbsCommError(f"PEC mismatch on command {cmd:#04x}")
                continue
            return raw[:n]
        raise SbsCommError(f"command {cmd:#04x}: {last}")

    def read_word(self, cmd: int) -> int:
        raw = self._transfer(cmd, 2 + self.use_pec, lambda _raw: 2)
        return raw[0] | raw[1] << 8

    def read_int16(self, cmd: int) -> int:
        w = self.read_word(cmd)
        return w - 0x10000 if w & 0x8000 else w

    def read_block(self, cmd: int) -> bytes:
        """Block read [count, data..., PEC]; the PEC covers the count byte; a count > 32 is a framing error."""
        raw = self._transfer(
            cmd, 1 + r.BLOCK_MAX + self.use_pec, lambda raw: 1 + raw[0] if raw[0] <= r.BLOCK_MAX else -1
        )
        return raw[1:]

    def mac_read(self, mac: int) -> bytes:
        """ManufacturerBlockAccess (bq40z50): block-write [2, mac_lo, mac_hi] to 0x44, block-read 0x44 back as
        [len, mac_lo, mac_hi, data...] [ZBQ]; a reply for another MAC command is a framing error."""
        self._write([r.Cmd.MANUFACTURER_BLOCK_ACCESS, 2, mac & 0xFF, mac >> 8 & 0xFF])
        raw = self.read_block(r.Cmd.MANUFACTURER_BLOCK_ACCESS)
        if len(raw) < 2 or raw[0] != mac & 0xFF or raw[1] != mac >> 8 & 0xFF:
            self.stats.framing_errors += 1
            raise SbsCommError(f"ManufacturerBlockAccess {mac:#06x}: reply for another command")
        return raw[2:]

    def write_word(self, cmd: int, value: int) -> None:
        self._write([cmd & 0xFF, value & 0xFF, (value >> 8) & 0xFF])

    def _write(self, data: list[int]) -> None:
        cmd = data[0]
        if self.use_pec:
            data = [*data, r.pec(bytes([self.address << 1, *data]))]  # writes: addr_w, cmd, data [AP]
        for _ in range(self.retries + 1):
            try:
                self.bus.i2c_rdwr(i2c_msg.write(self.address, data))
                return
            except OSError:
                self.stats.timeouts += 1
        raise SbsCommError(f"write {cmd:#04x} failed")
