"""bq769x2 transport: I2C framing with the optional CRC, direct commands, subcommands, data memory, retries and
error counters. No chip logic: :mod:`driver` decides what to read and write.

CRC mode [AN; TRM "I2C communication"; FACTS Part B]: CRC-8 (polynomial 0x07, init 0) after every byte.
  write: the first CRC covers addr_w, register and data0; every later CRC its own data byte;
  read:  the first CRC covers addr_w, register, addr_r and data0 (unlike bq769x0, whose first read CRC covers
         only addr_r and data0); every later CRC its own data byte.
Subcommands [TRM 3.x; AN]: write the 16-bit subcommand (LE) to 0x3E/0x3F, poll 0x3E/0x3F until it reads back the
subcommand (the chip returns 0xFF while busy), read the length at 0x61 (data + 4), the data at 0x40.. and check
the checksum at 0x60 = ~(0x3E + 0x3F + sum(data)) & 0xFF. Writes put the data at 0x40.. and then checksum and
length at 0x60/0x61 in one transaction; data memory is written the same way (in CONFIG_UPDATE mode).
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smbus2 import i2c_msg

from bms_ros.afe.bq769x0.crc import crc8
from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.wire import WireStats

BUSY = 0xFF  # 0x3E/0x3F read 0xFF while a subcommand executes [TRM 3.x; AN]


class CommError(Exception):
    """A transaction failed after all retries (counted in :class:`Bq769x2Errors`)."""


@dataclass
class Bq769x2Errors:
    """Cumulative communication error counters (never reset by the driver); same fields as bq769x0's."""

    nack: int = 0
    timeout: int = 0
    crc: int = 0  # read transactions with at least one bad CRC byte
    checksum: int = 0  # subcommand replies whose 0x60 checksum or 0x61 length did not match
    busy: int = 0  # subcommands that did not complete within the polling budget
    retries: int = 0
    failed: int = 0
    reinit: int = 0

    @property
    def i2c(self) -> int:
        return self.nack + self.timeout


def checksum(subcommand: int, data: Sequence[int]) -> int:
    """The 0x60 checksum: ~(low + high + sum(data)) & 0xFF [TRM 3.x; example 0x9180 <- 0x307A gives 0x44]."""
    return ~((subcommand & 0xFF) + (subcommand >> 8 & 0xFF) + sum(b & 0xFF for b in data)) & 0xFF


def write_frame(address: int, register: int, data: Sequence[int], use_crc: bool) -> list[int]:
    """Bytes after the address byte of a write: register, then data with one CRC after each byte."""
    out = [register & 0xFF]
    for i, b in enumerate(data):
        out.append(b & 0xFF)
        if use_crc:
            out.append(crc8((address << 1, register, b & 0xFF)) if i == 0 else crc8((b & 0xFF,)))
    return out


def read_crcs(address: int, register: int, data: Sequence[int]) -> list[int]:
    """The CRC byte the chip sends after each byte of a read of ``data`` from ``register``."""
    return [crc8((address << 1, register, (address << 1) | 1, b)) if i == 0 else crc8((b,)) for i, b in enumerate(data)]


class Bq769x2Bus:
    """Framing and retries over an smbus2-compatible ``i2c_rdwr``. ``sleep`` waits between subcommand polls
    (inject a no-op in simulation)."""

    def __init__(
        self,
        bus,
        address: int = r.DEFAULT_ADDRESS,
        crc: bool = False,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        poll_limit: int = r.SUBCMD_POLLS,
    ):
        self.bus = bus
        self.address = int(address)
        self.crc = bool(crc)
        self.retries = int(retries)
        self.sleep = sleep
        self.poll_limit = int(poll_limit)
        self.errors = Bq769x2Errors()
        self.wire = WireStats()

    # ---- raw transactions ------------------------------------------------------------------------------------
    def _count_os_error(self, e: OSError) -> None:
        if isinstance(e, TimeoutError) or e.errno == errno.ETIMEDOUT:
            self.errors.timeout += 1
        else:
            self.errors.nack += 1

    def read(self, register: int, n: int) -> bytes:
        """Block read of ``n`` bytes from ``register`` with a repeated start; CRC-checked in CRC mode."""
        nbytes = 2 * n if self.crc else n
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.errors.retries += 1
            w = i2c_msg.write(self.address, [register])
            rd = i2c_msg.read(self.address, nbytes)
            self.wire.transactions += 1
            self.wire.bytes += 3 + nbytes
            self.wire.conditions += 3
            try:
                self.bus.i2c_rdwr(w, rd)
            except OSError as e:
                self._count_os_error(e)
                last = f"read {register:#04x}: {e}"
                continue
            raw = bytes(rd)
            if not self.crc:
                return raw
            data = raw[0::2]
            if list(raw[1::2]) != read_crcs(self.address, register, data):
                self.errors.crc += 1
                last = f"read {register:#04x}: bad CRC"
                continue
            return bytes(data)
        self.errors.failed += 1
        raise CommError(last)

    def write(self, register: int, data: Sequence[int]) -> None:
        frame = write_frame(self.address, register, data, self.crc)
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.errors.retries += 1
            self.wire.transactions += 1
            self.wire.bytes += 1 + len(frame)
            self.wire.conditions += 2
            try:
                self.bus.i2c_rdwr(i2c_msg.write(self.address, frame))
                return
            except OSError as e:
                self._count_os_error(e)
                last = f"write {register:#04x}: {e}"
        self.errors.failed += 1
        raise CommError(last)

    # ---- direct commands ---------------------------------------------------------------------------------------
    def direct_i2(self, command: int) -> int:
        """A signed 16-bit direct command, both bytes in one transaction (no torn reading, E2E #1328137)."""
        return int(struct.unpack("<h", self.read(command, 2))[0])

    # ---- subcommands -------------------------------------------------------------------------------------------
    def _wait_done(self, subcommand: int) -> None:
        want = bytes((subcommand & 0xFF, subcommand >> 8))
        for _ in range(self.poll_limit):
            if self.read(r.SUBCMD_LOW, 2) == want:
                return
            self.sleep(r.SUBCMD_POLL_S)
        self.errors.busy += 1
        raise CommError(f"subcommand {subcommand:#06x} did not complete in {self.poll_limit} polls")

    def command(self, subcommand: int) -> None:
        """A command-only subcommand (no data, no completion wait needed)."""
        self.write(r.SUBCMD_LOW, (subcommand & 0xFF, subcommand >> 8))

    def subcommand_read(self, subcommand: int, n: int) -> bytes:
        """Run a subcommand and read ``n`` bytes of its reply, checked against length and checksum."""
        for attempt in range(self.retries + 1):
            if attempt:
                self.errors.retries += 1
            self.command(subcommand)
            self._wait_done(subcommand)
            data = self.read(r.TRANSFER_BUFFER, n)
            csum, length = self.read(r.CHECKSUM, 2)
            # the checksum covers the whole reply: with n < length - 4 read the rest to check it
            if length - r.SUBCMD_OVERHEAD > n:
                rest = self.read(r.TRANSFER_BUFFER + n, length - r.SUBCMD_OVERHEAD - n)
            else:
                rest = b""
            if length - r.SUBCMD_OVERHEAD >= n and checksum(subcommand, data + rest) == csum:
                return data
            self.errors.checksum += 1
        self.errors.failed += 1
        raise CommError(f"subcommand {subcommand:#06x}: checksum or length mismatch")

    def subcommand_write(self, subcommand: int, data: Sequence[int]) -> None:
        """A subcommand (or data-memory address) with data: 0x3E/0x3F, data at 0x40, then checksum + length."""
        self.write(r.SUBCMD_LOW, (subcommand & 0xFF, subcommand >> 8))
        self.write(r.TRANSFER_BUFFER, data)
        self.write(r.CHECKSUM, (checksum(subcommand, data), len(data) + r.SUBCMD_OVERHEAD))

    # ---- data memory -------------------------------------------------------------------------------------------
    def dm_read(self, address: int, n: int) -> bytes:
        return self.subcommand_read(address, n)

    def dm_write(self, address: int, data: bytes) -> None:
        if not r.DM_FIRST <= address <= r.DM_LAST:
            raise ValueError(f"{address:#06x} is not a data-memory address")
        self.subcommand_write(address, data)

    def dm_write_verify(self, address: int, data: bytes) -> None:
        self.dm_write(address, data)
        back = self.dm_read(address, len(data))
        if back != bytes(data):
            raise CommError(f"data memory {address:#06x} reads back {back.hex()} after writing {bytes(data).hex()}")


def u1(v: int) -> bytes:
    return struct.pack("<B", v & 0xFF)


def i1(v: int) -> bytes:
    return struct.pack("<b", v)


def u2(v: int) -> bytes:
    return struct.pack("<H", v & 0xFFFF)


def i2(v: int) -> bytes:
    return struct.pack("<h", v)


def f4(v: float) -> bytes:
    return struct.pack("<f", v)
