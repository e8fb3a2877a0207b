"""bq769x0 transport: I2C framing with the optional per-byte CRC, retries and error counters. No chip logic:
:mod:`driver` decides what to read and write (the ``di->bus`` of Linux bq27xxx, LibreSolar's ``_interface.c``).

The bus object only needs ``i2c_rdwr(*msgs)`` with :class:`smbus2.i2c_msg` messages: the per-byte CRC of the CRC
parts needs raw bytes (it is not SMBus PEC), and a write + read pair in one ``i2c_rdwr`` is the repeated-start
read of [DS Fig 8-4].
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from smbus2 import i2c_msg

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.crc import split_read, write_frame
from bms_ros.afe.wire import WireStats

BYTE_BITS = 9  # 8 data bits + ACK [I2C spec]
# bus cost of one transaction beyond its data bytes: START, Sr, STOP [I2C spec; DS Fig 8-4]
READ_CONDITIONS = 3  # START, repeated START, STOP
WRITE_CONDITIONS = 2  # START, STOP
READ_HEADER_BYTES = 3  # addr_w, register, addr_r
WRITE_HEADER_BYTES = 1  # addr_w (the register byte is part of the frame)


class I2cBus(Protocol):
    """The part of ``smbus2.SMBus`` the transport uses."""

    def i2c_rdwr(self, *msgs: Any) -> None: ...
    def close(self) -> None: ...


class CommError(Exception):
    """A transaction failed after all retries (counted in :class:`Bq769x0Errors`)."""


@dataclass
class Bq769x0Errors:
    """Cumulative communication error counters (never reset by the driver)."""

    nack: int = 0  # OSError other than a timeout (NACK: EREMOTEIO/ENXIO/EIO)
    timeout: int = 0  # ETIMEDOUT / TimeoutError
    crc: int = 0  # read transactions with at least one bad CRC byte
    retries: int = 0  # attempts that were repeated
    failed: int = 0  # transactions that failed after all retries
    reinit: int = 0  # times the driver re-ran init (chip reset seen, XREADY recovery)
    adc_restored: int = 0  # times ADC_EN was found cleared (glitch, another bus master) and set again

    @property
    def i2c(self) -> int:
        return self.nack + self.timeout


class Bq769x0Bus:
    """Register reads and writes over an smbus2-compatible ``i2c_rdwr`` with ``retries`` extra attempts after a
    NACK, timeout or CRC error. Raises :class:`CommError` when all attempts failed."""

    def __init__(self, bus: I2cBus, address: int, crc: bool, retries: int):
        self.bus = bus
        self.address = address
        self.crc = bool(crc)
        self.retries = int(retries)
        self.errors = Bq769x0Errors()
        self.wire = WireStats()

    def _count_os_error(self, e: OSError) -> None:
        if isinstance(e, TimeoutError) or e.errno == errno.ETIMEDOUT:
            self.errors.timeout += 1
        else:
            self.errors.nack += 1

    def read(self, reg: int, n: int) -> list[int]:
        """Auto-increment block read of ``n`` registers from ``reg`` with a repeated start [DS Fig 8-4]."""
        nbytes = 2 * n if self.crc else n
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.errors.retries += 1
            w = i2c_msg.write(self.address, [reg])
            rd = i2c_msg.read(self.address, nbytes)
            self.wire.transactions += 1
            self.wire.bytes += READ_HEADER_BYTES + nbytes
            self.wire.conditions += READ_CONDITIONS
            try:
                self.bus.i2c_rdwr(w, rd)
            except OSError as e:
                self._count_os_error(e)
                last = f"read {reg:#04x}: {e}"
                continue
            raw = bytes(rd)
            if not self.crc:
                return list(raw)
            data, bad = split_read(self.address, raw)
            if bad:
                self.errors.crc += 1
                last = f"read {reg:#04x}: {bad} bad CRC byte(s)"
                continue
            return data
        self.errors.failed += 1
        raise CommError(last)

    def write(self, reg: int, data: Sequence[int]) -> None:
        frame = write_frame(self.address, reg, data, self.crc)
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.errors.retries += 1
            self.wire.transactions += 1
            self.wire.bytes += WRITE_HEADER_BYTES + len(frame)
            self.wire.conditions += WRITE_CONDITIONS
            try:
                self.bus.i2c_rdwr(i2c_msg.write(self.address, frame))
                return
            except OSError as e:
                self._count_os_error(e)
                last = f"write {reg:#04x}: {e}"
        self.errors.failed += 1
        raise CommError(last)

    def write_verify(self, reg: int, data: list[int], mask: int) -> None:
        """Write, read back and compare the bits in ``mask``."""
        self.write(reg, data)
        back = self.read(reg, len(data))
        if any((a ^ b) & mask for a, b in zip(back, data)):
            raise CommError(f"register {reg:#04x} reads back {bytes(back).hex()} after writing {bytes(data).hex()}")


def detect_crc(bus: I2cBus, address: int = r.ADDRESSES[0]) -> bool:
    """Find out whether the part uses CRC: write CC_CFG = 0x19 with CRC and read it back, else without
    (the approach of LibreSolar's bq769x0_detect_crc). Raises AfeError if neither works."""
    if address not in r.ADDRESSES:
        raise ValueError(f"bq769x0 address must be 0x08 or 0x18 [DS p.3], got {address:#x}")
    for crc in (True, False):
        probe = Bq769x0Bus(bus, address, crc, retries=1)
        try:
            probe.write(r.CC_CFG, [r.CC_CFG_VALUE])
            if probe.read(r.CC_CFG, 1)[0] & r.CC_CFG_MASK == r.CC_CFG_VALUE:
                return crc
        except CommError:
            pass
    raise AfeError(f"no bq769x0 answered at {address:#04x} with or without CRC")


def block_read_plan(registers: Iterable[int], crc: bool) -> list[tuple[int, int]]:
    """(first register, count) block reads covering ``registers``; a gap is read through when that costs fewer
    bus bits than a new transaction (address + register + address again + Sr/STOP ~ 30 bit times)."""
    per_reg_bits = BYTE_BITS * (2 if crc else 1)
    overhead_bits = READ_HEADER_BYTES * BYTE_BITS + READ_CONDITIONS
    plan: list[list[int]] = []
    for reg in sorted(registers):
        if plan and (reg - (plan[-1][0] + plan[-1][1])) * per_reg_bits <= overhead_bits:
            plan[-1][1] = reg - plan[-1][0] + 1
        else:
            plan.append([reg, 1])
    return [(a, n) for a, n in plan]


def open_i2c(bus_number: int) -> I2cBus:
    """``smbus2.SMBus(n)`` for /dev/i2c-N (PEC off: the chip's CRC is per byte), after checking the bus clock
    against the chip's 100 kHz limit where the system reports it. Raises AfeError if it cannot be opened."""
    from smbus2 import SMBus

    from bms_ros.afe.i2c_clock import warn_if_faster

    warn_if_faster(bus_number, r.BUS_HZ, "bq769x0")
    try:
        return SMBus(bus_number)
    except OSError as e:
        raise AfeError(f"cannot open /dev/i2c-{bus_number}: {e}") from e
