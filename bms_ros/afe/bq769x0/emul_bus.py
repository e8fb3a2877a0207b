"""The I2C target side of the bq769x0 emulator: message framing, auto-increment register pointer and the
per-byte CRC (generated on reads, checked on writes; a write byte with a bad CRC is NACKed and not applied
[DS p.26]). The chip behind it (:mod:`emul`) supplies ``_read_reg``/``_write_reg``; faults act per transaction.
"""

from __future__ import annotations

import ctypes
import errno
from typing import Any, Protocol

from bms_ros.afe.bq769x0.crc import crc8
from bms_ros.afe.wire import WireStats

I2C_M_RD = 0x0001  # linux/i2c.h read flag (as smbus2 sets it)

BusStats = WireStats  # traffic seen by the emulated chip: the same counts as the driver's


class BusFaults(Protocol):
    """What the bus needs of a fault injector (:class:`bms_ros.afe.sim.faults.FaultInjector`)."""

    def before_transaction(self) -> None: ...
    def corrupt_read(self, raw: bytearray, with_crc: bool) -> None: ...


class Bq769x0I2cTarget:
    """smbus2 ``SMBus.i2c_rdwr`` in front of a register file; subclasses implement the registers."""

    address: int
    crc: bool
    mode: str
    bus: WireStats
    faults: BusFaults
    _pointer: int

    def _read_reg(self, reg: int) -> int:
        raise NotImplementedError

    def _write_reg(self, reg: int, value: int) -> None:
        raise NotImplementedError

    def i2c_rdwr(self, *msgs: Any) -> None:
        """smbus2 ``SMBus.i2c_rdwr``: write messages set the register pointer (and write data), read messages
        return data from the pointer with auto-increment. Errors are OSError like a Linux adapter's."""
        self.bus.transactions += 1
        self.bus.conditions += len(msgs) + 1
        self.bus.bytes += sum(1 + m.len for m in msgs)
        self.faults.before_transaction()
        for m in msgs:
            if m.addr != self.address or self.mode != "normal":
                raise OSError(errno.EREMOTEIO, f"no ACK from {m.addr:#04x}")
            if m.flags & I2C_M_RD:
                self._answer_read(m)
            else:
                self._take_write(ctypes.string_at(m.buf, m.len))

    def _take_write(self, frame: bytes) -> None:
        if not frame:
            return
        reg = frame[0]
        self._pointer = reg
        data = frame[1:]
        if not self.crc:
            for b in data:
                self._write_reg(self._pointer, b)
                self._pointer = (self._pointer + 1) & 0xFF
            return
        for i in range(0, len(data) - 1, 2):  # a data byte without its CRC (STOP came first) is not applied
            b, c = data[i], data[i + 1]
            want = crc8((self.address << 1, reg, b)) if i == 0 else crc8((b,))
            if c != want:
                raise OSError(errno.EREMOTEIO, "bad write CRC: NACK, byte not written")  # [DS p.26]
            self._write_reg(self._pointer, b)
            self._pointer = (self._pointer + 1) & 0xFF

    def _answer_read(self, m: Any) -> None:
        n = m.len // 2 if self.crc else m.len
        out = bytearray()
        for i in range(n):
            b = self._read_reg(self._pointer)
            self._pointer = (self._pointer + 1) & 0xFF
            out.append(b)
            if self.crc:
                out.append(crc8(((self.address << 1) | 1, b)) if i == 0 else crc8((b,)))
        if len(out) < m.len:
            out.extend(bytes(m.len - len(out)))  # odd length with CRC: the master clocks one more byte
        self.faults.corrupt_read(out, self.crc)
        ctypes.memmove(m.buf, bytes(out), m.len)

    def close(self) -> None:
        pass
