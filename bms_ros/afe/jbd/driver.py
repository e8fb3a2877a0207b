"""A JBD board as a supervisory pack source (``afe.type: jbd``): basic info, cell voltages and hardware
version over UART / RS485, and charge / discharge MOSFET control (register 0xE1).

FETs: the board switches its FETs itself; 0xE1 only adds a host block [MAP 0xE1]. So ``set_fets(True, ...)``
removes our block and the FET closes only when the board's own protections allow it too; the core's decisions
(trips, stale data, host requests) reach the board as blocks. The read-back FET bits are the board's.
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import AfeError
from bms_ros.afe.jbd import protocol as p
from bms_ros.afe.pack_source import PackIdentity, PackSource
from bms_ros.afe.serial_link import FrameReader, LinkTimeout, Port
from bms_ros.core.types import PackReport, PackSample

__all__ = ["JbdPack"]


class JbdPack(PackSource):
    accepts_fet_commands = True

    def __init__(self, port: Port, cell_count: int, thermistor_count: int = 1, timeout: float = 0.3, retries: int = 1):
        super().__init__(cell_count, max(1, thermistor_count))
        self.reader = FrameReader(port, p.extract, self.stats, timeout=timeout)
        self.retries = int(retries)
        self.last_error = ""
        self.answered = False
        self.last_fet_command: tuple[bool, bool] | None = None

    def _ask(self, request: bytes, reg: int) -> bytes:
        err: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                frame = self.reader.transact(request, accept=lambda f: f[1] == reg)
                return p.payload(frame, reg)
            except LinkTimeout as e:
                err = e
            except p.ParseError as e:
                self.stats.implausible += 1
                err = e
        raise AfeError(str(err))

    def _parse(self, fn, *args):
        try:
            return fn(*args)
        except p.ParseError as e:
            self.stats.implausible += 1
            raise AfeError(str(e)) from e

    def read(self, now: float) -> PackSample:
        try:
            if not self.identity.hardware:
                self._identify()
            basic = self._parse(p.parse_basic, self._ask(p.read_request(p.REG_BASIC), p.REG_BASIC))
            if basic.cell_count != self.cell_count:
                self.stats.implausible += 1
                raise AfeError(f"board reports {basic.cell_count} cells, pack.cell_count is {self.cell_count}")
            cells = self._parse(p.parse_cells, self._ask(p.read_request(p.REG_CELLS), p.REG_CELLS), self.cell_count)
        except AfeError as e:
            self.last_error = str(e)
            return PackSample.missing(
                now,
                self.cell_count,
                self.thermistor_count,
                read_errors=self.stats.timeouts,
                crc_errors=self.stats.rejects,
            )
        self.answered, self.last_error = True, ""
        return self.to_sample(now, basic, cells)

    def _identify(self) -> None:
        try:
            hw = p.parse_hwver(self._ask(p.read_request(p.REG_HWVER), p.REG_HWVER))
        except AfeError:
            return  # optional: retried next cycle, the pack is still read
        self.identity = PackIdentity(manufacturer="JBD", hardware=hw or "?", serial=hw)

    def to_sample(self, now: float, b: p.BasicInfo, cells: tuple[float, ...]) -> PackSample:
        flags, words = p.decode_protection(b.protection)
        temps = np.full(self.thermistor_count, np.nan)
        k = min(len(b.temperatures_c), self.thermistor_count)
        temps[:k] = b.temperatures_c[:k]
        if self.identity.date != b.date and b.date:
            self.identity = PackIdentity(**{**self.identity.__dict__, "date": b.date})
        report = PackReport(
            soc=b.soc,
            remaining_ah=b.remaining_ah,
            full_capacity_ah=b.full_ah,
            cycle_count=float(b.cycles),
            protection=words,
            fets_controllable=True,
        )
        return PackSample(
            stamp=now,
            cell_voltages=np.array(cells),
            pack_voltage=b.voltage_v,
            current=b.current_a,
            temperatures=temps,
            afe_flags=flags,
            charge_fet=b.charge_fet,
            discharge_fet=b.discharge_fet,
            balancing_mask=b.balance_mask & ((1 << self.cell_count) - 1),
            read_errors=self.stats.timeouts,
            crc_errors=self.stats.rejects,
            pack_report=report,
        )

    def set_fets(self, charge: bool, discharge: bool) -> None:
        """Write our block (0xE1); the board acknowledges with an empty reply to 0xE1."""
        try:
            self.reader.transact(p.mos_request(charge, discharge), accept=lambda f: f[1] == p.REG_MOS)
        except LinkTimeout as e:
            raise AfeError(f"MOSFET command not acknowledged: {e}") from e
        self.last_fet_command = (bool(charge), bool(discharge))

    @property
    def status_reason(self) -> str:
        return "" if self.answered or not self.last_error else f"JBD board not answering: {self.last_error}"

    def close(self) -> None:
        self.reader.port.close()
