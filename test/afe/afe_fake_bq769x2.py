"""An independent byte-level bq769x2 fake for driver tests, written from TI's documents alone.

Shares no code with the driver or the emulator: its own bitwise CRC-8 (0x07, init 0), its own checksum, a
direct-command map poked by tests, subcommand replies, a data-memory dict and a log of every message. Worked
examples it must reproduce (see the tests): CRC [0x10 0x3E 0x22] -> 0x63, [0x10 0x14 0x11 0x68] -> 0x33,
[0x0B] -> 0x31 (SLUAA11B); writing 0x307A to 0x9180 gives checksum 0x44, length 0x06 (SLUUBY2B).
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


def ti_checksum(low: int, high: int, data) -> int:
    total = low + high
    for b in data:
        total += b
    return 0xFF - (total & 0xFF)  # one's complement of the 8-bit sum


class FakeBq769x2:
    def __init__(self, address=0x08, crc=False, device_number=0x7695):
        self.address, self.crc = address, crc
        self.direct = bytearray(0x80)  # direct-command bytes as tests set them
        self.dm: dict[int, int] = {}  # data-memory byte address -> value
        self.replies = {0x0001: device_number.to_bytes(2, "little"), 0x0057: b"\x00\x00", 0x0083: b"\x00\x00"}
        self.commands: list[int] = []  # every subcommand written to 0x3E/0x3F
        self.data_writes: list[tuple[int, bytes]] = []  # (subcommand, data) accepted via 0x60/0x61
        self.cfgupdate = False
        self.por = True  # Battery Status bit 3 after power-on, cleared by EXIT_CFGUPDATE
        self.log: list[tuple[str, bytes]] = []
        self.buf = bytearray(32)
        self.sub = 0
        self.pointer = 0
        self.nack_next = 0
        self.bad_checksum_next = 0

    def set_i16(self, cmd: int, value: int) -> None:
        self.direct[cmd : cmd + 2] = (value & 0xFFFF).to_bytes(2, "little")

    def i2c_rdwr(self, *msgs):
        if self.nack_next:
            self.nack_next -= 1
            raise OSError(errno.EREMOTEIO, "fake NACK")
        reg = None
        for m in msgs:
            if m.addr != self.address:
                raise OSError(errno.EREMOTEIO, "address NACK")
            if m.flags & I2C_M_RD:
                self._read(m, reg)
            else:
                reg = self._write(ctypes.string_at(m.buf, m.len))

    def _write(self, frame: bytes) -> int:
        self.log.append(("w", frame))
        reg, rest = frame[0], frame[1:]
        if self.crc:
            data = []
            for i in range(0, len(rest), 2):
                covered = [self.address << 1, reg, rest[i]] if i == 0 else [rest[i]]
                if rest[i + 1] != crc8_bitwise(covered):
                    raise OSError(errno.EREMOTEIO, "bad CRC")
                data.append(rest[i])
        else:
            data = list(rest)
        if reg == 0x3E and len(data) == 2:
            self.sub = data[0] | data[1] << 8
            self.commands.append(self.sub)
            if self.sub == 0x0090:
                self.cfgupdate = True
            elif self.sub == 0x0092:
                self.cfgupdate = self.por = False
            if self.sub >= 0x9180:
                reply = bytes(self.dm.get(self.sub + k, 0) for k in range(32))
            else:
                reply = self.replies.get(self.sub, b"")
            self.buf[: len(reply)] = reply
            self.reply_len = len(reply)
        elif 0x40 <= reg < 0x60:
            self.buf[reg - 0x40 : reg - 0x40 + len(data)] = bytes(data)
        elif reg == 0x60 and len(data) == 2:
            payload = bytes(self.buf[: data[1] - 4])
            if data[0] != ti_checksum(self.sub & 0xFF, self.sub >> 8, payload):
                raise OSError(errno.EREMOTEIO, "bad checksum")
            self.data_writes.append((self.sub, payload))
            if self.sub >= 0x9180:
                for k, b in enumerate(payload):
                    self.dm[self.sub + k] = b
        return reg

    def _byte(self, reg: int) -> int:
        if reg == 0x3E:
            return self.sub & 0xFF
        if reg == 0x3F:
            return self.sub >> 8
        if 0x40 <= reg < 0x60:
            return self.buf[reg - 0x40]
        if reg == 0x60:
            bad = 0
            if self.bad_checksum_next:
                self.bad_checksum_next -= 1
                bad = 0x5A
            return ti_checksum(self.sub & 0xFF, self.sub >> 8, self.buf[: self.reply_len]) ^ bad
        if reg == 0x61:
            return self.reply_len + 4
        if reg == 0x12:
            return self.direct[0x12] | (1 if self.cfgupdate else 0) | (0x08 if self.por else 0)
        return self.direct[reg]

    def _read(self, m, reg):
        n = m.len // 2 if self.crc else m.len
        out = []
        for i in range(n):
            b = self._byte(reg + i)
            out.append(b)
            if self.crc:
                covered = [self.address << 1, reg, (self.address << 1) | 1, b] if i == 0 else [b]
                out.append(crc8_bitwise(covered))
        self.log.append(("r", bytes(out)))
        ctypes.memmove(m.buf, bytes(out), m.len)

    def dm_value(self, addr: int, n: int) -> int:
        return int.from_bytes(bytes(self.dm.get(addr + k, 0) for k in range(n)), "little", signed=False)
