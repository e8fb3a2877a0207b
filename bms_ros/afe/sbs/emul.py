"""An SBS smart battery on the wire (bq40z50-like), over the pack model and the pack's own simulated BMS.

Answers smbus2 ``i2c_rdwr`` transactions as a gauge at 0x0B would: words little-endian, blocks with a count
byte, a PEC byte after every read when ``pec`` (SpecificationInfo then says v1.1 with PEC). The fault injector
acts on transactions (NACK, timeout, a corrupted PEC byte); ``bms.trip(name)`` makes the pack trip its own
protection; ``silent = True`` makes the pack stop answering.
"""

from __future__ import annotations

import ctypes
import errno
import math

from bms_ros.afe.sbs import registers as r
from bms_ros.afe.sim.faults import FaultInjector
from bms_ros.afe.sim.pack_bms import SimPackBms
from bms_ros.afe.sim.pack_model import PackModel

__all__ = ["SbsEmul"]

I2C_M_RD = 0x0001  # linux/i2c.h read flag (as smbus2 sets it)
MAX_STEP_S = 1.0  # pack model integration step


def _u16(v: float) -> int:
    return int(min(max(round(v), 0), 0xFFFF))


class SbsEmul:
    def __init__(
        self,
        pack: PackModel,
        *,
        address: int = r.ADDRESS,
        pec: bool = True,
        capacity_mwh: bool = False,
        bms: SimPackBms | None = None,
        seed: int = 0,
        manufacturer: str = "SimBatt",
        device: str = "bq40z50-sim",
        chemistry: str = "LION",
    ):
        self.pack, self.address, self.pec = pack, int(address), bool(pec)
        self.bms = bms or SimPackBms(pack)
        self.faults = FaultInjector(seed)
        self.faults.attach(self)
        self.silent = False
        self.t = 0.0
        self.mode = r.BatteryMode.CAPACITY_MODE if capacity_mwh else r.BatteryMode(0)
        self.design_v = pack.chem.nominal_v * pack.cell_count
        self.strings: dict[int, str] = {
            r.Cmd.MANUFACTURER_NAME: manufacturer,
            r.Cmd.DEVICE_NAME: device,
            r.Cmd.DEVICE_CHEMISTRY: chemistry,
        }
        self.serial = 0x1234
        self.date = (2025 - 1980) << 9 | 6 << 5 | 15  # 2025-06-15 [LNX encoding]
        self.transactions = 0
        self.mac = 0  # last ManufacturerBlockAccess command

    # ---- time ---------------------------------------------------------------------------------------
    def advance_to(self, t: float) -> None:
        while self.t < t - 1e-9:
            dt = min(MAX_STEP_S, t - self.t)
            self.pack.step(dt)
            self.bms.step(dt)
            self.t += dt

    # ---- registers ----------------------------------------------------------------------------------
    def _capacity(self, ah: float) -> int:
        if self.mode & r.BatteryMode.CAPACITY_MODE:
            return _u16(ah * self.design_v / 0.01)  # 10 mWh units
        return _u16(ah * 1000.0)

    def status_word(self) -> int:
        prot = self.bms.protections
        s = r.BatteryStatus.INITIALIZED
        if self.pack.current_a <= 0:
            s |= r.BatteryStatus.DISCHARGING
        if "cell_overvoltage" in prot:
            s |= r.BatteryStatus.OVER_CHARGED_ALARM
        if not self.bms.charge_allowed():
            s |= r.BatteryStatus.TERMINATE_CHARGE_ALARM
        if prot & {"charge_overtemperature", "discharge_overtemperature"}:
            s |= r.BatteryStatus.OVER_TEMP_ALARM
        if not self.bms.discharge_allowed():
            s |= r.BatteryStatus.TERMINATE_DISCHARGE_ALARM
        if "cell_undervoltage" in prot:
            s |= r.BatteryStatus.FULLY_DISCHARGED
        if self.bms.reported_soc() >= 1.0:
            s |= r.BatteryStatus.FULLY_CHARGED
        return int(s)

    def word(self, cmd: int) -> int | None:
        p, C = self.pack, r.Cmd
        cap = float(p.capacity_ah.min())
        if C.CELL_VOLTAGE_4 <= cmd <= C.CELL_VOLTAGE_1:
            i = C.CELL_VOLTAGE_1 - cmd  # 0x3F = cell 1 [ZBQ]
            return _u16(p.cell_voltages()[i] * 1000.0) if i < p.cell_count else 0
        table: dict[int, float] = {
            C.MANUFACTURER_ACCESS: 0,
            C.BATTERY_MODE: int(self.mode),
            C.TEMPERATURE: _u16(p.temperature_c * 10.0 + r.KELVIN10_OFFSET),
            C.VOLTAGE: _u16(p.pack_voltage() * 1000.0),
            C.CURRENT: int(min(max(round(p.current_a * 1000.0), -32768), 32767)) & 0xFFFF,
            C.AVERAGE_CURRENT: int(min(max(round(p.current_a * 1000.0), -32768), 32767)) & 0xFFFF,
            C.RELATIVE_STATE_OF_CHARGE: _u16(self.bms.reported_soc() * 100.0),
            C.REMAINING_CAPACITY: self._capacity(self.bms.reported_soc() * cap),
            C.FULL_CHARGE_CAPACITY: self._capacity(cap),
            C.BATTERY_STATUS: self.status_word(),
            C.CYCLE_COUNT: int(self.bms.cycles),
            C.DESIGN_CAPACITY: self._capacity(p.cfg.capacity_ah),
            C.DESIGN_VOLTAGE: _u16(self.design_v * 1000.0),
            C.SPECIFICATION_INFO: 0x0031 if self.pec else 0x0021,  # version 3 = 1.1 with PEC [LNX]
            C.MANUFACTURE_DATE: self.date,
            C.SERIAL_NUMBER: self.serial,
            C.STATE_OF_HEALTH: _u16(100.0 * cap / p.cfg.capacity_ah),
        }
        v = table.get(cmd)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)

    # ---- the bus ------------------------------------------------------------------------------------
    def i2c_rdwr(self, *msgs) -> None:
        self.transactions += 1
        if self.silent:
            raise OSError(errno.EREMOTEIO, "simulated pack not answering")
        self.faults.before_transaction()
        cmd = None
        for m in msgs:
            if m.addr != self.address:
                raise OSError(errno.EREMOTEIO, f"no ACK from {m.addr:#04x}")
            if m.flags & I2C_M_RD:
                self._answer(m, cmd)
            else:
                data = ctypes.string_at(m.buf, m.len)
                cmd = data[0]
                if cmd == r.Cmd.MANUFACTURER_BLOCK_ACCESS and len(data) >= 4:
                    self._mac_write(data)
                elif len(data) >= 3:
                    self._write(cmd, data[1] | data[2] << 8, data)

    def _write(self, cmd: int, value: int, frame: bytes) -> None:
        if self.pec:
            if len(frame) < 4 or r.pec(bytes([self.address << 1]) + frame[:3]) != frame[3]:
                raise OSError(errno.EREMOTEIO, "bad write PEC: NACK")
        if cmd == r.Cmd.BATTERY_MODE:
            self.mode = r.BatteryMode(value & 0xE383)

    def _mac_write(self, frame: bytes) -> None:
        """Block write [0x44, len, mac_lo, mac_hi, (PEC)]: selects what a block read of 0x44 returns [ZBQ]."""
        n = frame[1]
        if self.pec and (len(frame) < 3 + n or r.pec(bytes([self.address << 1]) + frame[: 2 + n]) != frame[2 + n]):
            raise OSError(errno.EREMOTEIO, "bad block-write PEC: NACK")
        self.mac = frame[2] | frame[3] << 8

    def mac_data(self) -> bytes | None:
        """Emulator values (not a claim about a real gauge's numbers)."""
        if self.mac == r.MAC_DEVICE_TYPE:
            return bytes((0x00, 0x45))
        if self.mac == r.MAC_FIRMWARE_VERSION:
            return bytes((0x45, 0x00, 0x01, 0x02, 0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00))
        return None

    def _answer(self, m, cmd: int | None) -> None:
        if cmd is None:
            raise OSError(errno.EREMOTEIO, "read without a command")
        if cmd == r.Cmd.MANUFACTURER_BLOCK_ACCESS:
            payload = self.mac_data()
            if payload is None:
                raise OSError(errno.EREMOTEIO, f"unsupported MAC command {self.mac:#06x}: NACK")
            block = bytes((self.mac & 0xFF, self.mac >> 8)) + payload
            self._send(m, cmd, bytes((len(block),)) + block)
            return
        if cmd in self.strings:
            text = self.strings[cmd].encode()[: r.BLOCK_MAX]
            data = bytes([len(text)]) + text
        else:
            w = self.word(cmd)
            if w is None:
                raise OSError(errno.EREMOTEIO, f"unsupported command {cmd:#04x}: NACK")
            data = bytes((w & 0xFF, w >> 8))
        self._send(m, cmd, data)

    def _send(self, m, cmd: int, data: bytes) -> None:
        out = bytearray(data)
        if self.pec:
            a = self.address << 1
            out.append(r.pec(bytes((a, cmd, a | 1)) + data))
            if self.faults.take_crc_corruption():
                out[-1] ^= 0x01
        out.extend(b"\xff" * max(0, m.len - len(out)))  # a master reading on gets 0xFF (bus idle)
        ctypes.memmove(m.buf, bytes(out[: m.len]), m.len)

    def close(self) -> None:
        pass
