"""The JBD (Jiabaida / Xiaoxiang) board protocol: frames, checksum, and the parsers of its replies.

Sources: [MAP] JBD register map (bms-tools JBD_REGISTER_MAP.md, mirrored in FurTrader/OverkillSolarBMS
Comm_Protocol_Documentation/JBD_REGISTER_MAP.md); [V13] JBD "Software Board General Protocol V13";
[JT] sshoecraft/jbdtool jbd.c (0xE1 MOS control, bit values); [EH] syssi/esphome-jbd-bms (reply checksum over
status, length and data). Values big-endian [MAP, V13].

Request:  DD  A5|5A  reg  len  data...  chk_hi chk_lo  77      checksum over reg, len, data
Reply:    DD  reg  status  len  data...  chk_hi chk_lo  77     checksum over status, len, data
checksum = (0x10000 - sum) & 0xFFFF [MAP "Checksum"; e.g. DD A5 03 00 FF FD 77].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bms_ros.afe.serial_link import Extract
from bms_ros.core.types import AfeFlag

__all__ = [
    "END",
    "READ",
    "REG_BASIC",
    "REG_CELLS",
    "REG_HWVER",
    "REG_MOS",
    "START",
    "WRITE",
    "BasicInfo",
    "ParseError",
    "decode_protection",
    "extract",
    "mos_request",
    "parse_basic",
    "parse_cells",
    "parse_hwver",
    "read_request",
]

START, END = 0xDD, 0x77  # frame start / end [MAP "Packet details"]
READ, WRITE = 0xA5, 0x5A  # [MAP "Payload to BMS"]
REG_BASIC, REG_CELLS, REG_HWVER = 0x03, 0x04, 0x05  # [MAP register descriptions; V13 3.x]
REG_MOS = 0xE1  # MOSFET control: bit 0 disables CHG, bit 1 disables DSG [MAP; JT JBD_MOS_*]
STATUS_OK = 0x00  # reply status; 0x80 = error [MAP "Payload from BMS"]
MAX_DATA = 0x7F  # longest data we accept (32 cells x 2 bytes + margins); longer = framing error
KELVIN10_OFFSET = 2731  # NTC values in 0.1 K [MAP 0x03 offset 0x16]
MAX_CELLS, MAX_NTC = 32, 8  # balance status covers 32 cells [MAP 0x0C/0x0E]; ntc_config 8 bits [MAP 0x2E]

# protection status bits [MAP 0x03 offset 0x10]: (our word, AfeFlag the core maps to a fault)
PROTECTION_BITS: tuple[tuple[str, AfeFlag], ...] = (
    ("cell_overvoltage", AfeFlag.OVERVOLTAGE),  # bit 0
    ("cell_undervoltage", AfeFlag.UNDERVOLTAGE),  # bit 1
    ("pack_overvoltage", AfeFlag.OVERVOLTAGE),  # bit 2
    ("pack_undervoltage", AfeFlag.UNDERVOLTAGE),  # bit 3
    ("charge_overtemperature", AfeFlag.NONE),  # bit 4 (our own temperature rules see the NTCs)
    ("charge_undertemperature", AfeFlag.NONE),  # bit 5
    ("discharge_overtemperature", AfeFlag.NONE),  # bit 6
    ("discharge_undertemperature", AfeFlag.NONE),  # bit 7
    ("charge_overcurrent", AfeFlag.NONE),  # bit 8 (our charge_overcurrent rule sees the current)
    ("discharge_overcurrent", AfeFlag.OVERCURRENT_DISCHARGE),  # bit 9
    ("short_circuit", AfeFlag.SHORT_CIRCUIT),  # bit 10
    ("frontend_error", AfeFlag.DEVICE_FAULT),  # bit 11
    ("mos_software_lock", AfeFlag.NONE),  # bit 12: FET locked by config / 0xE1
)


class ParseError(ValueError):
    """A frame that passed the checksum but cannot be a real reply (counted as implausible)."""


def checksum(payload: bytes) -> int:
    return (0x10000 - sum(payload)) & 0xFFFF


def _frame(kind: int, reg: int, data: bytes = b"") -> bytes:
    body = bytes((reg, len(data))) + data
    return bytes((START, kind)) + body + struct.pack(">H", checksum(body)) + bytes((END,))


def read_request(reg: int) -> bytes:
    return _frame(READ, reg)


def mos_request(charge_on: bool, discharge_on: bool) -> bytes:
    """0xE1 write: [0x00, bits] with bit 0 = charge FET disabled, bit 1 = discharge FET disabled [MAP; JT]."""
    bits = (0 if charge_on else 1) | (0 if discharge_on else 2)
    return _frame(WRITE, REG_MOS, bytes((0x00, bits)))


def reply(reg: int, data: bytes, status: int = STATUS_OK) -> bytes:
    """A board's reply frame (the emulator's side)."""
    body = bytes((status, len(data))) + data
    return bytes((START, reg)) + body + struct.pack(">H", checksum(body)) + bytes((END,))


def extract(buf: bytearray) -> Extract:
    """One reply frame at the start of ``buf``: resync to 0xDD, check length, end byte and checksum."""
    if buf[0] != START:
        k = buf.find(bytes((START,)))
        return Extract(None, len(buf) if k < 0 else k, "resync")
    if len(buf) < 4:
        return Extract(None, 0)
    n = buf[3]
    if n > MAX_DATA:
        return Extract(None, 1, "framing")
    total = 4 + n + 3
    if len(buf) < total:
        return Extract(None, 0)
    if buf[total - 1] != END:
        return Extract(None, 1, "framing")
    chk = buf[total - 3] << 8 | buf[total - 2]
    if checksum(bytes(buf[2 : 4 + n])) != chk:
        return Extract(None, 1, "checksum")
    return Extract(bytes(buf[:total]), total)


def payload(frame: bytes, reg: int) -> bytes:
    """The data of a good reply to ``reg`` (ParseError for an error status or another register)."""
    if frame[1] != reg:
        raise ParseError(f"reply to register {frame[1]:#04x}, expected {reg:#04x}")
    if frame[2] != STATUS_OK:
        raise ParseError(f"register {reg:#04x}: board answered error status {frame[2]:#04x}")
    return frame[4 : 4 + frame[3]]


@dataclass(frozen=True)
class BasicInfo:
    """Register 0x03 decoded to SI [MAP 0x03]."""

    voltage_v: float
    current_a: float  # > 0 charging [MAP: negative values indicate discharge]
    remaining_ah: float
    full_ah: float
    cycles: int
    date: str
    balance_mask: int
    protection: int
    soc: float  # 0..1
    charge_fet: bool
    discharge_fet: bool
    cell_count: int
    temperatures_c: tuple[float, ...]


def decode_protection(bits: int) -> tuple[AfeFlag, tuple[str, ...]]:
    flags, words = AfeFlag.NONE, []
    for i, (word, flag) in enumerate(PROTECTION_BITS):
        if bits >> i & 1:
            flags |= flag
            words.append(word)
    return flags, tuple(words)


def parse_basic(data: bytes) -> BasicInfo:
    # offsets: nine 16-bit words (0x00..0x11), then software version 0x12, RSOC 0x13, FET 0x14, cells 0x15,
    # NTC count 0x16, NTCs from 0x17 [V13 "Basic Information 0x03"; MAP lists the bytes after the 16-bit
    # protection word at 0x10 one lower, which cannot be: 0x10..0x11 is that word]
    if len(data) < 0x17:
        raise ParseError(f"basic info: {len(data)} bytes, at least 23 needed")
    v, i, rem, full, cyc, date, bal_lo, bal_hi, prot = struct.unpack_from(">HhHHHHHHH", data, 0)
    soc, fet, cells, ntc = data[0x13], data[0x14], data[0x15], data[0x16]
    if len(data) != 0x17 + 2 * ntc:
        raise ParseError(f"basic info: {len(data)} bytes for {ntc} NTCs")
    if not 1 <= cells <= MAX_CELLS or ntc > MAX_NTC or soc > 100 or fet > 3:
        raise ParseError(f"basic info: implausible cells {cells}, NTCs {ntc}, SoC {soc} % or FET byte {fet}")
    temps = tuple((struct.unpack_from(">H", data, 0x17 + 2 * k)[0] - KELVIN10_OFFSET) / 10.0 for k in range(ntc))
    if any(not -40.0 <= t <= 120.0 for t in temps):
        raise ParseError(f"basic info: temperature out of range {temps}")
    if rem > full and full:
        raise ParseError("basic info: remaining capacity above full capacity")
    day, month, year = date & 0x1F, (date >> 5) & 0xF, 2000 + (date >> 9)  # [MAP 0x03 offset 0x0A]
    return BasicInfo(
        voltage_v=v / 100.0,
        current_a=i / 100.0,
        remaining_ah=rem / 100.0,
        full_ah=full / 100.0,
        cycles=cyc,
        date=f"{year:04d}-{month:02d}-{day:02d}" if 1 <= day <= 31 and 1 <= month <= 12 else "",
        balance_mask=bal_lo | bal_hi << 16,
        protection=prot,
        soc=soc / 100.0,
        charge_fet=bool(fet & 1),
        discharge_fet=bool(fet & 2),
        cell_count=cells,
        temperatures_c=temps,
    )


def parse_cells(data: bytes, cell_count: int) -> tuple[float, ...]:
    """Register 0x04: one big-endian mV word per cell [MAP 0x04]."""
    if len(data) != 2 * cell_count:
        raise ParseError(f"cell voltages: {len(data)} bytes for {cell_count} cells")
    cells = tuple(v / 1000.0 for v in struct.unpack(f">{cell_count}H", data))
    if any(not 0.5 <= c <= 5.0 for c in cells):
        raise ParseError(f"cell voltage out of range {cells}")
    return cells


def parse_hwver(data: bytes) -> str:
    """Register 0x05: the hardware version / device name string, length-prefixed in [MAP 0x05]."""
    if data and data[0] == len(data) - 1:
        data = data[1:]
    return data.decode("ascii", "replace").strip("\x00 ").replace("\ufffd", "?")
