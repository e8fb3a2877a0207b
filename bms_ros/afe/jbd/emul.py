"""A JBD board on the wire: answers 0x03 / 0x04 / 0x05 reads and 0xE1 writes with the bytes a board sends,
over the pack model and the pack's own simulated BMS. Faults act on the reply bytes (SerialFaults)."""

from __future__ import annotations

import struct

from bms_ros.afe.jbd import protocol as p
from bms_ros.afe.serial_link import EmulatedPort
from bms_ros.afe.sim.link_faults import SerialFaults
from bms_ros.afe.sim.pack_bms import SimPackBms
from bms_ros.afe.sim.pack_model import PackModel

__all__ = ["JbdEmul"]

MAX_STEP_S = 1.0
_BIT = {w: i for i, (w, _) in enumerate(p.PROTECTION_BITS)}


def _u16(v: float) -> int:
    return int(min(max(round(v), 0), 0xFFFF))


class JbdEmul:
    def __init__(
        self,
        pack: PackModel,
        thermistor_count: int = 1,
        bms: SimPackBms | None = None,
        seed: int = 0,
        hardware: str = "JBD-SP04S020-sim",
    ):
        self.pack, self.nts = pack, int(thermistor_count)
        self.bms = bms or SimPackBms(pack)
        self.faults = SerialFaults(seed)
        self.faults.attach(self)
        self.hardware = hardware
        self.t = 0.0
        self.requests = 0

    @property
    def silent(self) -> bool:
        return self.faults.silent

    @silent.setter
    def silent(self, on: bool) -> None:
        self.faults.silent = bool(on)

    def advance_to(self, t: float) -> None:
        while self.t < t - 1e-9:
            dt = min(MAX_STEP_S, t - self.t)
            self.pack.step(dt)
            self.bms.step(dt)
            self.t += dt

    def port(self, timeout: float = 0.3) -> EmulatedPort:
        return EmulatedPort(self.respond, timeout)

    # ---- registers ----------------------------------------------------------------------------------
    def basic(self) -> bytes:
        pk, b = self.pack, self.bms
        cap = float(pk.capacity_ah.min())
        prot = 0
        for name in b.protections:
            prot |= 1 << _BIT[name]
        if b.host_block_charge or b.host_block_discharge:
            prot |= 1 << _BIT["mos_software_lock"]
        cur = int(min(max(round(pk.current_a * 100.0), -32768), 32767))
        data = struct.pack(
            ">HhHHHHHHH",
            _u16(pk.pack_voltage() * 100.0),
            cur,
            _u16(b.reported_soc() * cap * 100),
            _u16(cap * 100.0),
            int(b.cycles),
            (25 << 9) | (6 << 5) | 15,
            int(pk.bleed_mask) & 0xFFFF,
            0,
            prot,
        )
        fet = (1 if pk.charge_fet else 0) | (2 if pk.discharge_fet else 0)
        data += bytes((0x10, _u16(b.reported_soc() * 100.0), fet, pk.cell_count, self.nts))
        for _ in range(self.nts):
            data += struct.pack(">H", _u16(pk.temperature_c * 10.0 + p.KELVIN10_OFFSET))
        return data

    def cells(self) -> bytes:
        v = self.faults.apply_cells(self.pack.cell_voltages())
        return b"".join(struct.pack(">H", _u16(x * 1000.0)) for x in v)

    def respond(self, request: bytes) -> bytes:
        """The reply to one request frame (garbled by the injected faults)."""
        self.requests += 1
        if len(request) < 7 or request[0] != p.START or request[-1] != p.END:
            return b""
        kind, reg, n = request[1], request[2], request[3]
        body = request[2 : 4 + n]
        if p.checksum(body) != (request[4 + n] << 8 | request[5 + n]):
            return b""  # a board ignores a corrupted request
        if kind == p.READ and reg == p.REG_BASIC:
            out = p.reply(reg, self.basic())
        elif kind == p.READ and reg == p.REG_CELLS:
            out = p.reply(reg, self.cells())
        elif kind == p.READ and reg == p.REG_HWVER:
            hw = self.hardware.encode()
            out = p.reply(reg, bytes((len(hw),)) + hw)
        elif kind == p.WRITE and reg == p.REG_MOS and n == 2:
            bits = request[5]
            self.bms.host_block_charge, self.bms.host_block_discharge = bool(bits & 1), bool(bits & 2)
            self.bms.drive_fets()
            out = p.reply(reg, b"")
        else:
            out = p.reply(reg, b"", status=0x80)
        return self.faults.mangle(out, slice(-3, -1))

    def close(self) -> None:
        pass
