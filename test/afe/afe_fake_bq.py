"""An independent byte-level bq769x0 fake for driver tests, written from the datasheet alone.

No physics and no code shared with the driver or the simulator: a register file, the per-byte CRC as a bitwise
loop (x^8 + x^2 + x + 1, init 0 [DS p.26]), auto-increment, W1C SYS_STAT and a log of every message on the wire.
"""

from __future__ import annotations

import ctypes
import errno

I2C_M_RD = 0x0001


def crc8_bitwise(data) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class FakeBq:
    """Registers as given; ``regs`` may be poked by tests. ``log`` holds (kind, bytes) per message."""

    def __init__(self, address=0x08, crc=False, adcgain1=0x05, adcgain2=0x82, adcoffset=0x00):
        self.address = address
        self.crc = crc
        self.regs = bytearray(256)
        self.regs[0x09], self.regs[0x0A] = 0xAC, 0x97  # OV_TRIP / UV_TRIP reset values [DS p.34-35]
        self.regs[0x04] = 0x10  # ADC_EN after boot [DS p.17]
        self.regs[0x50], self.regs[0x51], self.regs[0x59] = adcgain1, adcoffset, adcgain2
        self.pointer = 0
        self.log: list[tuple[str, bytes]] = []
        self.nack_next = 0
        self.corrupt_next = 0
        self.writes: list[tuple[int, int]] = []  # (register, value) applied

    def i2c_rdwr(self, *msgs):
        if self.nack_next:
            self.nack_next -= 1
            raise OSError(errno.EREMOTEIO, "fake NACK")
        for m in msgs:
            if m.addr != self.address:
                raise OSError(errno.EREMOTEIO, "address NACK")
            if m.flags & I2C_M_RD:
                self._read(m)
            else:
                self._write(ctypes.string_at(m.buf, m.len))

    def _write(self, frame: bytes):
        self.log.append(("w", frame))
        reg = frame[0]
        self.pointer = reg
        data = frame[1:]
        step = 2 if self.crc else 1
        for i in range(0, len(data) - (step - 1), step):
            b = data[i]
            if self.crc:
                covered = [self.address << 1, reg, b] if i == 0 else [b]
                if data[i + 1] != crc8_bitwise(covered):
                    raise OSError(errno.EREMOTEIO, "bad CRC")
            if self.pointer == 0x00:
                self.regs[0] &= ~b & 0xFF  # write 1 to clear
            else:
                self.regs[self.pointer] = b
            self.writes.append((self.pointer, b))
            self.pointer = (self.pointer + 1) & 0xFF

    def _read(self, m):
        n = m.len // 2 if self.crc else m.len
        out = []
        for i in range(n):
            b = self.regs[self.pointer]
            self.pointer = (self.pointer + 1) & 0xFF
            out.append(b)
            if self.crc:
                out.append(crc8_bitwise([(self.address << 1) | 1, b] if i == 0 else [b]))
        if self.corrupt_next and self.crc:
            self.corrupt_next -= 1
            out[1] ^= 0x01
        raw = bytes(out)
        self.log.append(("r", raw))
        ctypes.memmove(m.buf, raw, m.len)

    def set_word(self, reg: int, value: int):
        self.regs[reg], self.regs[reg + 1] = (value >> 8) & 0xFF, value & 0xFF

    def written(self, reg: int) -> list[int]:
        return [v for r, v in self.writes if r == reg]
