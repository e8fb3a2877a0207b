"""An SBS smart battery (bq40z50 / bq4050 class) as a supervisory pack source (``afe.type: sbs``).

Start-up (retried at every read until it succeeds): SpecificationInfo decides PEC (``pec="auto"``), BatteryMode
the capacity unit (mAh, or 10 mWh: converted with DesignVoltage), then the identity strings. Each read: voltage,
current, temperature, the bq40z50 cell voltages (0x3F = cell 1 down to 0x3C = cell 4 [ZBQ]), BatteryStatus and
the gauge's own SoC, capacities and cycle count (into ``pack_report``, beside our estimate).

Cells: only packs that report per-cell voltages are supported (the bq40z50 registers, up to 4 cells); a pack
that reports none would leave our cell protections blind, so ``cell_count`` > 4 is refused at construction.
FETs: an SBS pack switches its own FETs and takes no FET command; the charge/discharge FET states reported are
what the gauge says it permits (TERMINATE_CHARGE / TERMINATE_DISCHARGE alarms cleared [SBS 5.1.21]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.afe.pack_source import PackIdentity, PackSource
from bms_ros.afe.sbs import registers as r
from bms_ros.afe.sbs.interface import SbsBus, SbsCommError
from bms_ros.core.types import AfeFlag, PackReport, PackSample

__all__ = ["SbsPack", "SbsReading", "plausible", "status_to_flags"]

MAX_CELLS = 4  # bq40z50 CellVoltage1..4 [ZBQ]
CELL_V_RANGE = (0.5, 5.0)  # V: outside, the word is not a Li-ion cell reading
TEMP_C_RANGE = (-40.0, 100.0)  # degC: outside, not a pack temperature
PACK_SUM_TOLERANCE = 0.05  # pack voltage within 5 % (+ 50 mV per cell) of the cell sum


@dataclass(frozen=True)
class SbsReading:
    """One cycle's words, decoded to SI (what the parser accepts)."""

    voltage_v: float
    current_a: float
    temperature_c: float
    cells_v: tuple[float, ...]
    status: int
    rsoc: float  # 0..1
    remaining_ah: float
    full_ah: float
    cycles: int


def status_to_flags(status: int) -> tuple[AfeFlag, tuple[str, ...]]:
    """BatteryStatus alarms as AfeFlags (what the core maps to faults) and as words for ``pack_report``."""
    s = r.BatteryStatus(status & ~r.ERROR_CODE_MASK & 0xFFFF)
    flags = AfeFlag.NONE
    words = []
    if s & r.BatteryStatus.OVER_CHARGED_ALARM:
        flags |= AfeFlag.OVERVOLTAGE
        words.append("over_charged")
    if s & r.BatteryStatus.TERMINATE_CHARGE_ALARM:
        words.append("terminate_charge")
    if s & r.BatteryStatus.OVER_TEMP_ALARM:
        words.append("over_temperature")
    if s & r.BatteryStatus.TERMINATE_DISCHARGE_ALARM:
        words.append("terminate_discharge")
        if s & r.BatteryStatus.FULLY_DISCHARGED:
            flags |= AfeFlag.UNDERVOLTAGE  # the gauge stopped discharge at empty
    return flags, tuple(words)


def plausible(rd: SbsReading) -> str:
    """'' when the reading can be a real pack's; else why not (the sample is rejected and counted)."""
    lo, hi = CELL_V_RANGE
    if not all(lo <= v <= hi for v in rd.cells_v):
        return "cell voltage out of range"
    if not TEMP_C_RANGE[0] <= rd.temperature_c <= TEMP_C_RANGE[1]:
        return "temperature out of range"
    total = sum(rd.cells_v)
    if abs(rd.voltage_v - total) > PACK_SUM_TOLERANCE * total + 0.05 * len(rd.cells_v):
        return f"pack voltage {rd.voltage_v:.2f} V does not match the cell sum {total:.2f} V"
    return ""


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip("\x00 ").replace("\ufffd", "?")


class SbsPack(PackSource):
    fet_refusal = "an SBS smart battery switches its own FETs and accepts no FET command from the host"

    def __init__(self, bus, cell_count: int, *, address: int = r.ADDRESS, pec: str = "auto", retries: int = 2):
        if not 1 <= cell_count <= MAX_CELLS:
            raise ValueError(
                f"afe.type sbs reads per-cell voltages from the bq40z50 registers (1..{MAX_CELLS} "
                f"cells); pack.cell_count is {cell_count}"
            )
        if pec not in ("auto", "on", "off"):
            raise ValueError("pec must be auto, on or off")
        super().__init__(cell_count, 1)
        self.pec_mode = pec
        self.io = SbsBus(bus, address, use_pec=(pec == "on"), retries=retries, stats=self.stats)
        self.capacity_scale_ah = math.nan  # Ah per capacity unit (set at start-up)
        self.started = False
        self.last_error = ""
        self._design_ah = math.nan

    # ---- start-up -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Read what decides how to read the rest (PEC, capacity unit) and the identity."""
        if self.pec_mode == "auto":
            self.io.use_pec = False  # SpecificationInfo is read plain (a PEC byte would be ignored)
            self.io.use_pec = r.uses_pec(self.io.read_word(r.Cmd.SPECIFICATION_INFO))
        mode = self.io.read_word(r.Cmd.BATTERY_MODE)
        if mode & r.BatteryMode.CAPACITY_MODE:
            design_v = self.io.read_word(r.Cmd.DESIGN_VOLTAGE) / 1000.0
            if not 1.0 <= design_v <= 5.0 * self.cell_count:
                self.stats.implausible += 1
                raise SbsCommError(f"DesignVoltage {design_v} V implausible (needed for 10 mWh units)")
            self.capacity_scale_ah = 0.01 / design_v  # 10 mWh per unit / V = Ah [SBS 5.1.4]
        else:
            self.capacity_scale_ah = 0.001  # mAh
        self._design_ah = self.io.read_word(r.Cmd.DESIGN_CAPACITY) * self.capacity_scale_ah
        ident = {}
        for key, cmd in (
            ("manufacturer", r.Cmd.MANUFACTURER_NAME),
            ("device", r.Cmd.DEVICE_NAME),
            ("chemistry", r.Cmd.DEVICE_CHEMISTRY),
        ):
            try:
                ident[key] = _text(self.io.read_block(cmd))
            except SbsCommError:
                ident[key] = ""  # optional strings: a pack that does not answer them is still usable
        serial = self.io.read_word(r.Cmd.SERIAL_NUMBER)
        date = r.decode_date(self.io.read_word(r.Cmd.MANUFACTURE_DATE))
        self.identity = PackIdentity(serial=f"{serial:04X}", date=date, hardware=self._gauge_version(), **ident)
        self.started = True

    def _gauge_version(self) -> str:
        """DeviceType and firmware through ManufacturerBlockAccess (bq40z50 class [ZBQ]); '' for a gauge without
        it (not an error: a generic SBS pack NACKs 0x44)."""
        try:
            dev = self.io.mac_read(r.MAC_DEVICE_TYPE)
            fw = self.io.mac_read(r.MAC_FIRMWARE_VERSION)
        except SbsCommError:
            return ""
        if len(dev) < 2:
            return ""
        return f"device 0x{dev[1]:02X}{dev[0]:02X}" + (f" fw {fw[:6].hex()}" if fw else "")

    # ---- reading --------------------------------------------------------------------------------------
    def read_words(self) -> SbsReading:
        io = self.io
        cells = tuple(io.read_word(c) / 1000.0 for c in r.CELL_VOLTAGE_1_TO_4[: self.cell_count])
        scale = self.capacity_scale_ah
        return SbsReading(
            voltage_v=io.read_word(r.Cmd.VOLTAGE) / 1000.0,
            current_a=io.read_int16(r.Cmd.CURRENT) / 1000.0,  # > 0 charging, as the spec [AP, LNX]
            temperature_c=(io.read_word(r.Cmd.TEMPERATURE) - r.KELVIN10_OFFSET) / 10.0,
            cells_v=cells,
            status=io.read_word(r.Cmd.BATTERY_STATUS),
            rsoc=min(io.read_word(r.Cmd.RELATIVE_STATE_OF_CHARGE), 100) / 100.0,  # may exceed 100 [LNX]
            remaining_ah=io.read_word(r.Cmd.REMAINING_CAPACITY) * scale,
            full_ah=io.read_word(r.Cmd.FULL_CHARGE_CAPACITY) * scale,
            cycles=io.read_word(r.Cmd.CYCLE_COUNT),
        )

    def read(self, now: float) -> PackSample:
        try:
            if not self.started:
                self.start()
            rd = self.read_words()
        except SbsCommError as e:
            self.last_error = str(e)
            return self._missing(now)
        why = plausible(rd)
        if why:
            self.stats.implausible += 1
            self.last_error = why
            return self._missing(now)
        self.stats.frames_ok += 1
        self.last_error = ""
        return self.to_sample(now, rd)

    def to_sample(self, now: float, rd: SbsReading) -> PackSample:
        flags, words = status_to_flags(rd.status)
        st = r.BatteryStatus(rd.status & 0xFFF0)
        report = PackReport(
            soc=rd.rsoc,
            remaining_ah=rd.remaining_ah,
            full_capacity_ah=rd.full_ah,
            design_capacity_ah=self._design_ah,
            cycle_count=float(rd.cycles),
            protection=words,
            fets_controllable=False,
        )
        return PackSample(
            stamp=now,
            cell_voltages=np.array(rd.cells_v),
            pack_voltage=rd.voltage_v,
            current=rd.current_a,
            temperatures=np.array([rd.temperature_c]),
            afe_flags=flags,
            charge_fet=not st & (r.BatteryStatus.TERMINATE_CHARGE_ALARM | r.BatteryStatus.OVER_CHARGED_ALARM),
            discharge_fet=not st & r.BatteryStatus.TERMINATE_DISCHARGE_ALARM,
            read_errors=self.stats.timeouts,
            crc_errors=self.stats.rejects,
            pack_report=report,
        )

    def _missing(self, now: float) -> PackSample:
        return PackSample.missing(
            now, self.cell_count, self.thermistor_count, read_errors=self.stats.timeouts, crc_errors=self.stats.rejects
        )

    @property
    def status_reason(self) -> str:
        if not self.started and self.last_error:
            return f"SBS pack not answering: {self.last_error}"
        return ""

    def close(self) -> None:
        close = getattr(self.io.bus, "close", None)
        if close is not None:
            close()
