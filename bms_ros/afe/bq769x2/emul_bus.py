"""The I2C target side of the bq769x2 emulator (:mod:`emul`): direct-command reads, auto-increment, the bq769x2
CRC (a write byte with a bad CRC is NACKed and not applied), subcommands through 0x3E/0x3F with their busy period,
the 32-byte transfer buffer with checksum and length, and data-memory writes (only in CONFIG_UPDATE mode). The
chip model behind it supplies the data memory, FET state and safety status; faults act per transaction.
"""

from __future__ import annotations

import ctypes
import errno
import struct
from typing import TYPE_CHECKING

from bms_ros.afe.bq769x0.crc import crc8
from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.wire import WireStats

if TYPE_CHECKING:
    from bms_ros.afe.sim.faults import FaultInjector

I2C_M_RD = 0x0001


class Bq769x2I2cTarget:
    """smbus2 ``SMBus.i2c_rdwr`` and the subcommand interface of :class:`bms_ros.afe.bq769x2.emul.Bq769x2Emul`."""

    address: int
    crc: bool
    mode: str
    bus: WireStats
    faults: FaultInjector
    t: float
    events: list[tuple[float, str]]
    violations: list[tuple[float, str]]
    busy_polls: int
    device_number: int
    regs: bytearray
    dm: bytearray
    cfgupdate: bool
    por: bool
    fet_en: bool
    host_off: int
    cb_active: int
    safety: list[int]
    _pointer: int
    _sub: int
    _sub_polls: int
    _buf: bytearray
    _csum_len: tuple[int, int]
    _shutdown_cmds: int

    if TYPE_CHECKING:

        def boot(self) -> None: ...
        def _dm_set(self, addr: int, data: bytes) -> None: ...
        def dm_u(self, addr: int, fmt: str = "<B") -> int: ...
        def fet_status(self) -> int: ...
        def _sync_pack(self) -> None: ...

    # ---- subcommands -------------------------------------------------------------------------------------------
    def _reply(self, data: bytes) -> None:
        self._buf[: len(data)] = data
        self._csum_len = (~((self._sub & 0xFF) + (self._sub >> 8) + sum(data)) & 0xFF, len(data) + r.SUBCMD_OVERHEAD)

    def _subcommand(self, sub: int) -> None:
        self._sub, self._sub_polls = sub, self.busy_polls
        if r.DM_FIRST <= sub <= r.DM_LAST:
            off = sub - r.DM_FIRST
            self._reply(bytes(self.dm[off : off + r.TRANSFER_BUFFER_SIZE]))
        elif sub == r.DEVICE_NUMBER:
            self._reply(struct.pack("<H", self.device_number))
        elif sub == r.MFG_STATUS:
            self._reply(struct.pack("<H", r.MFG_FET_EN if self.fet_en else 0))
        elif sub == r.CB_ACTIVE_CELLS:
            self._reply(struct.pack("<H", self.cb_active))
        elif sub == r.SET_CFGUPDATE:
            self.cfgupdate = True
        elif sub == r.EXIT_CFGUPDATE:
            self.cfgupdate, self.por = False, False
        elif sub == r.FET_ENABLE:
            self.fet_en = not self.fet_en
        elif sub == r.ALL_FETS_OFF:
            self.host_off = 0x0F
        elif sub == r.ALL_FETS_ON:
            self.host_off = 0
        elif sub == r.RESET:
            self.boot()
        elif sub == r.SHUTDOWN:
            self._shutdown_cmds += 1
            if self._shutdown_cmds >= 2:
                self.mode = "shutdown"
                self.events.append((self.t, "shutdown"))
        self._sync_pack()

    def _commit(self, csum: int, length: int) -> None:
        data = bytes(self._buf[: max(0, length - 4)])
        if csum != (~((self._sub & 0xFF) + (self._sub >> 8) + sum(data)) & 0xFF):
            self.violations.append((self.t, f"bad checksum for {self._sub:#06x}"))
            return
        if r.DM_FIRST <= self._sub <= r.DM_LAST:
            if not self.cfgupdate:
                self.violations.append((self.t, f"data memory {self._sub:#06x} written outside CONFIG_UPDATE"))
                return
            self._dm_set(self._sub, data)
        elif self._sub == r.FET_CONTROL:
            self.host_off = data[0] & 0x0F
        elif self._sub == r.CB_ACTIVE_CELLS:
            mask = struct.unpack("<H", data[:2])[0]
            if bin(mask).count("1") > self.dm_u(r.CBAL_MAX_CELLS) or mask & (mask >> 1):
                self.violations.append((self.t, f"CB_ACTIVE_CELLS {mask:#06x} refused (CBAL rules)"))
                return
            self.cb_active = mask
        self._sync_pack()

    # ---- the bus -----------------------------------------------------------------------------------------------
    def _read_byte(self, reg: int) -> int:
        if reg in (r.SUBCMD_LOW, r.SUBCMD_HIGH):
            if self._sub_polls > 0:
                return 0xFF  # busy [TRM 3.x]
            return (self._sub >> (8 * (reg - r.SUBCMD_LOW))) & 0xFF
        if r.TRANSFER_BUFFER <= reg < r.CHECKSUM:
            return self._buf[reg - r.TRANSFER_BUFFER]
        if reg == r.CHECKSUM:
            return self._csum_len[0]
        if reg == r.LENGTH:
            return self._csum_len[1]
        if reg in (r.SAFETY_STATUS_A, r.SAFETY_ALERT_A):
            return self.safety[0]
        if reg in (r.SAFETY_STATUS_B, r.SAFETY_ALERT_B):
            return self.safety[1]
        if reg in (r.SAFETY_STATUS_C, r.SAFETY_ALERT_C):
            return self.safety[2]
        if reg in (r.BATTERY_STATUS, r.BATTERY_STATUS + 1):
            st = (r.BS_CFGUPDATE if self.cfgupdate else 0) | (r.BS_POR if self.por else 0)
            return (st >> (8 * (reg - r.BATTERY_STATUS))) & 0xFF
        if reg == r.FET_STATUS:
            return self.fet_status()
        return self.regs[reg & 0x7F]

    def i2c_rdwr(self, *msgs) -> None:
        self.bus.transactions += 1
        self.bus.conditions += len(msgs) + 1
        self.bus.bytes += sum(1 + m.len for m in msgs)
        self.faults.before_transaction()
        reg = None
        for m in msgs:
            if m.addr != self.address or self.mode != "normal":
                raise OSError(errno.EREMOTEIO, f"no ACK from {m.addr:#04x}")
            if m.flags & I2C_M_RD:
                self._answer_read(m, reg if reg is not None else self._pointer)
            else:
                reg = self._take_write(ctypes.string_at(m.buf, m.len))

    def _take_write(self, frame: bytes) -> int:
        reg = frame[0]
        self._pointer = reg
        data = frame[1:]
        if self.crc:
            pairs = [(data[i], data[i + 1]) for i in range(0, len(data) - 1, 2)]
            for i, (b, c) in enumerate(pairs):
                if c != (crc8((self.address << 1, reg, b)) if i == 0 else crc8((b,))):
                    raise OSError(errno.EREMOTEIO, "bad write CRC: NACK, byte not written")
            data = bytes(b for b, _ in pairs)
        if not data:
            return reg
        if reg == r.SUBCMD_LOW and len(data) >= 2:
            self._subcommand(data[0] | data[1] << 8)
        elif r.TRANSFER_BUFFER <= reg < r.CHECKSUM:
            self._buf[reg - r.TRANSFER_BUFFER : reg - r.TRANSFER_BUFFER + len(data)] = data
        elif reg == r.CHECKSUM and len(data) >= 2:
            self._commit(data[0], data[1])
        return reg

    def _answer_read(self, m, reg: int) -> None:
        n = m.len // 2 if self.crc else m.len
        out = bytearray()
        polled = reg == r.SUBCMD_LOW
        for i in range(n):
            b = self._read_byte((reg + i) & 0xFF)
            out.append(b)
            if self.crc:
                out.append(crc8((self.address << 1, reg, (self.address << 1) | 1, b)) if i == 0 else crc8((b,)))
        if polled and self._sub_polls > 0:
            self._sub_polls -= 1
        if len(out) < m.len:
            out.extend(bytes(m.len - len(out)))
        self.faults.corrupt_read(out, self.crc)
        ctypes.memmove(m.buf, bytes(out), m.len)

    def close(self) -> None:
        pass
