"""A Daly board on the wire: 13-byte replies to 0x90..0x98 reads and 0xD9 / 0xDA MOSFET commands, over the
pack model and the pack's own simulated BMS. Faults act on the reply bytes (SerialFaults)."""

from __future__ import annotations

import struct

from bms_ros.afe.daly import protocol as p
from bms_ros.afe.serial_link import EmulatedPort
from bms_ros.afe.sim.link_faults import SerialFaults
from bms_ros.afe.sim.pack_bms import SimPackBms
from bms_ros.afe.sim.pack_model import PackModel

__all__ = ["DalyEmul"]

MAX_STEP_S = 1.0


def _u(v: float, hi: int) -> int:
    return int(min(max(round(v), 0), hi))


class DalyEmul:
    def __init__(self, pack: PackModel, thermistor_count: int = 1, bms: SimPackBms | None = None, seed: int = 0):
        self.pack, self.nts = pack, int(thermistor_count)
        self.bms = bms or SimPackBms(pack)
        self.faults = SerialFaults(seed)
        self.faults.attach(self)
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

    def frames(self, cmd: int, data: bytes) -> list[bytes]:
        pk, b = self.pack, self.bms
        if cmd == p.CMD_SOC:
            v = _u(pk.pack_voltage() * 10.0, 0xFFFF)
            i = _u(pk.current_a * 10.0 + p.CURRENT_OFFSET, 0xFFFF)
            return [struct.pack(">HHHH", v, v, i, _u(b.reported_soc() * 1000.0, 1000))]
        if cmd == p.CMD_MOS:
            state = 1 if pk.current_a > 0.05 else 2 if pk.current_a < -0.05 else 0
            rem = _u(b.reported_soc() * float(pk.capacity_ah.min()) * 1000.0, 0xFFFFFFFF)
            return [bytes((state, int(pk.charge_fet), int(pk.discharge_fet), 0)) + struct.pack(">I", rem)]
        if cmd == p.CMD_STATUS:
            return [bytes((pk.cell_count, self.nts, 0, 0, 0)) + struct.pack(">H", int(b.cycles)) + b"\x00"]
        if cmd == p.CMD_CELLS:
            cells = self.faults.apply_cells(pk.cell_voltages())
            out = []
            for k in range(0, pk.cell_count, p.CELLS_PER_FRAME):
                words = [_u(x * 1000.0, 0xFFFF) for x in cells[k : k + p.CELLS_PER_FRAME]]
                words += [0] * (p.CELLS_PER_FRAME - len(words))
                out.append(bytes((k // p.CELLS_PER_FRAME + 1,)) + struct.pack(">HHH", *words) + b"\x00")
            return out
        if cmd == p.CMD_TEMPS:
            t = _u(pk.temperature_c + p.TEMP_OFFSET, 255)
            return [
                bytes((k // p.TEMPS_PER_FRAME + 1,)) + bytes([t] * p.TEMPS_PER_FRAME)
                for k in range(0, self.nts, p.TEMPS_PER_FRAME)
            ]
        if cmd == p.CMD_FAILURES:
            return [p.encode_failures(b.protections)]
        if cmd in (p.CMD_CHARGE_MOS, p.CMD_DISCHARGE_MOS):
            block = data[0] == 0
            if cmd == p.CMD_CHARGE_MOS:
                b.host_block_charge = block
            else:
                b.host_block_discharge = block
            b.drive_fets()
            return [data]
        return []

    def respond(self, req: bytes) -> bytes:
        self.requests += 1
        if len(req) != p.FRAME_LEN or req[0] != p.START or req[1] != p.HOST_ADDRESS or p.checksum(req[:12]) != req[12]:
            return b""  # a board ignores what it cannot read
        out = b"".join(self.faults.mangle(p.reply(req[2], d), slice(12, 13)) for d in self.frames(req[2], req[4:12]))
        return out

    def close(self) -> None:
        pass
