"""A Daly board as a supervisory pack source (``afe.type: daly``) over UART / RS485: SoC frame, MOS status,
status (cell and sensor counts, cycles), cell voltages, temperatures, failure bits, and MOSFET commands
(0xDA charge, 0xD9 discharge [PDB]). Like JBD, the board keeps its own protections: "on" only removes our block.
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import AfeError
from bms_ros.afe.daly import protocol as p
from bms_ros.afe.pack_source import PackIdentity, PackSource
from bms_ros.afe.serial_link import FrameReader, LinkTimeout, Port
from bms_ros.core.types import PackReport, PackSample

__all__ = ["DalyPack"]


class DalyPack(PackSource):
    accepts_fet_commands = True

    def __init__(
        self,
        port: Port | None,
        cell_count: int,
        thermistor_count: int = 1,
        timeout: float = 0.3,
        retries: int = 1,
        can_bus=None,
    ):
        """``port``: a pyserial port (UART / RS485); or ``can_bus``: a python-can bus (Daly over CAN)."""
        super().__init__(cell_count, max(1, thermistor_count))
        if can_bus is not None:
            from bms_ros.afe.daly.can_link import DalyCanLink

            self.reader: FrameReader | DalyCanLink = DalyCanLink(can_bus, self.stats, timeout=timeout)
        elif port is not None:
            self.reader = FrameReader(port, p.extract, self.stats, timeout=timeout)
        else:
            raise ValueError("a Daly pack needs a serial port or a CAN bus")
        self.retries = int(retries)
        self.last_error = ""
        self.answered = False
        self.last_fet_command: tuple[bool, bool] | None = None
        self.identity = PackIdentity(manufacturer="Daly")

    def _one(self, cmd: int) -> bytes:
        return p.data_of(self._ask(cmd)[0])

    def _ask(self, cmd: int, frames: int = 1, data: bytes = bytes(8)) -> list[bytes]:
        err: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                return self.reader.transact_frames(p.request(cmd, data), frames, accept=lambda f: f[2] == cmd)
            except LinkTimeout as e:
                err = e
        raise AfeError(str(err))

    def _parse(self, fn, *args):
        try:
            return fn(*args)
        except p.ParseError as e:
            self.stats.implausible += 1
            raise AfeError(str(e)) from e

    def read(self, now: float) -> PackSample:
        n, nts = self.cell_count, self.thermistor_count
        try:
            cells_reported, temps_reported, cycles = self._parse(p.parse_status, self._one(p.CMD_STATUS))
            if cells_reported != n:
                self.stats.implausible += 1
                raise AfeError(f"board reports {cells_reported} cells, pack.cell_count is {n}")
            volts, current, soc = self._parse(p.parse_soc, self._one(p.CMD_SOC))
            chg, dsg, remaining = self._parse(p.parse_mos, self._one(p.CMD_MOS))
            cells = self._parse(p.parse_cells, self._ask(p.CMD_CELLS, -(-n // p.CELLS_PER_FRAME)), n)
            temps: tuple[float, ...] = ()
            if temps_reported:
                temps = self._parse(
                    p.parse_temps, self._ask(p.CMD_TEMPS, -(-temps_reported // p.TEMPS_PER_FRAME)), temps_reported
                )
            flags, words = p.decode_failures(self._one(p.CMD_FAILURES))
        except AfeError as e:
            self.last_error = str(e)
            return PackSample.missing(now, n, nts, read_errors=self.stats.timeouts, crc_errors=self.stats.rejects)
        self.answered, self.last_error = True, ""
        t = np.full(nts, np.nan)
        k = min(len(temps), nts)
        t[:k] = temps[:k]
        report = PackReport(
            soc=soc, remaining_ah=remaining, cycle_count=float(cycles), protection=words, fets_controllable=True
        )
        return PackSample(
            stamp=now,
            cell_voltages=np.array(cells),
            pack_voltage=volts,
            current=current,
            temperatures=t,
            afe_flags=flags,
            charge_fet=chg,
            discharge_fet=dsg,
            read_errors=self.stats.timeouts,
            crc_errors=self.stats.rejects,
            pack_report=report,
        )

    def set_fets(self, charge: bool, discharge: bool) -> None:
        """One command per FET, each acknowledged by an echo frame; blocks are written before releases, so a
        failure half way leaves the safer state."""
        order = sorted(((p.CMD_CHARGE_MOS, charge), (p.CMD_DISCHARGE_MOS, discharge)), key=lambda c: c[1])
        for cmd, on in order:
            self._ask(cmd, data=bytes((1 if on else 0,)))
        self.last_fet_command = (bool(charge), bool(discharge))

    @property
    def status_reason(self) -> str:
        return "" if self.answered or not self.last_error else f"Daly board not answering: {self.last_error}"

    def close(self) -> None:
        self.reader.port.close()
