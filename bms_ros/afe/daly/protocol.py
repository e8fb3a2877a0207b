"""The Daly UART protocol: fixed 13-byte frames, checksum, and the parsers of its replies.

Sources: [DUP] Daly "UART/485 communications protocol" PDF (summarised in maland16/daly-bms-uart README.md);
[PDB] dreadnought/python-daly-bms dalybms/daly_bms.py and error_codes.py (field layout, current offset,
MOSFET commands 0xD9 / 0xDA); [TS] tomatensaus/bms daly.py (host address 0x40 on UART, reply address 0x01,
checksum = sum of the first 12 bytes mod 256).

Request: A5 40 cmd 08 <8 x 00> sum     Reply: A5 01 cmd 08 <8 data bytes> sum     (big-endian fields)
"""

from __future__ import annotations

import struct

from bms_ros.afe.serial_link import Extract
from bms_ros.core.types import AfeFlag

__all__ = [
    "CMD_CELLS",
    "CMD_CHARGE_MOS",
    "CMD_DISCHARGE_MOS",
    "CMD_FAILURES",
    "CMD_MOS",
    "CMD_SOC",
    "CMD_STATUS",
    "CMD_TEMPS",
    "FRAME_LEN",
    "ParseError",
    "decode_failures",
    "extract",
    "parse_cells",
    "parse_mos",
    "parse_soc",
    "parse_status",
    "parse_temps",
    "reply",
    "request",
]

START = 0xA5  # [DUP; TS]
HOST_ADDRESS = 0x40  # UART / RS485 host address [TS; dbus-serialbattery daly.py]
BMS_ADDRESS = 0x01  # address byte of the board's replies [TS checkReadCheckSum]
DATA_LEN = 0x08  # always 8 data bytes [DUP]
FRAME_LEN = 13
CMD_SOC, CMD_MOS, CMD_STATUS = 0x90, 0x93, 0x94  # [DUP; PDB]
CMD_CELLS, CMD_TEMPS, CMD_FAILURES = 0x95, 0x96, 0x98  # [DUP; PDB]
CMD_DISCHARGE_MOS, CMD_CHARGE_MOS = 0xD9, 0xDA  # data[0] 1 = on, 0 = off [PDB set_*_mosfet]
KNOWN = {CMD_SOC, CMD_MOS, CMD_STATUS, CMD_CELLS, CMD_TEMPS, CMD_FAILURES, CMD_DISCHARGE_MOS, CMD_CHARGE_MOS}
CURRENT_OFFSET = 30000  # current = (raw - 30000) x 0.1 A, > 0 charging [PDB get_soc; TS]
TEMP_OFFSET = 40  # temperatures: raw - 40 degC [DUP; PDB]
CELLS_PER_FRAME, TEMPS_PER_FRAME = 3, 7  # 0x95 / 0x96 frame layout [DUP; PDB]
MAX_CELLS, MAX_TEMPS = 48, 16

# 0x98 failure bits [PDB error_codes.py]: (byte, bit) -> (our word, AfeFlag); level-2 cell / current alarms
# are the board's protection trips, level 1 are warnings reported as words only
FAILURES: dict[tuple[int, int], tuple[str, AfeFlag]] = {
    (0, 0): ("cell_voltage_high_1", AfeFlag.NONE),
    (0, 1): ("cell_overvoltage", AfeFlag.OVERVOLTAGE),
    (0, 2): ("cell_voltage_low_1", AfeFlag.NONE),
    (0, 3): ("cell_undervoltage", AfeFlag.UNDERVOLTAGE),
    (0, 5): ("pack_overvoltage", AfeFlag.OVERVOLTAGE),
    (0, 7): ("pack_undervoltage", AfeFlag.UNDERVOLTAGE),
    (1, 1): ("charge_overtemperature", AfeFlag.NONE),
    (1, 3): ("charge_undertemperature", AfeFlag.NONE),
    (1, 5): ("discharge_overtemperature", AfeFlag.NONE),
    (1, 7): ("discharge_undertemperature", AfeFlag.NONE),
    (2, 1): ("charge_overcurrent", AfeFlag.NONE),
    (2, 3): ("discharge_overcurrent", AfeFlag.OVERCURRENT_DISCHARGE),
    (5, 0): ("frontend_error", AfeFlag.DEVICE_FAULT),
    (6, 2): ("short_circuit", AfeFlag.SHORT_CIRCUIT),
}
BY_WORD = {w: k for k, (w, _) in FAILURES.items()}


class ParseError(ValueError):
    """A frame that passed the checksum but cannot be a real reply (counted as implausible)."""


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def request(cmd: int, data: bytes = bytes(8)) -> bytes:
    body = bytes((START, HOST_ADDRESS, cmd, DATA_LEN)) + data.ljust(8, b"\x00")[:8]
    return body + bytes((checksum(body),))


def reply(cmd: int, data: bytes) -> bytes:
    body = bytes((START, BMS_ADDRESS, cmd, DATA_LEN)) + data.ljust(8, b"\x00")[:8]
    return body + bytes((checksum(body),))


def extract(buf: bytearray) -> Extract:
    """One reply frame at the start of ``buf``: resync to A5 01, check command, length and checksum."""
    if buf[0] != START:
        k = buf.find(bytes((START,)))
        return Extract(None, len(buf) if k < 0 else k, "resync")
    if len(buf) < FRAME_LEN:
        return Extract(None, 0)
    if buf[1] != BMS_ADDRESS or buf[3] != DATA_LEN or buf[2] not in KNOWN:
        return Extract(None, 1, "framing")
    if checksum(bytes(buf[:12])) != buf[12]:
        return Extract(None, 1, "checksum")
    return Extract(bytes(buf[:FRAME_LEN]), FRAME_LEN)


def data_of(frame: bytes) -> bytes:
    return frame[4:12]


def parse_soc(d: bytes) -> tuple[float, float, float]:
    """0x90: (pack V, current A > 0 charging, SoC 0..1) [PDB get_soc]."""
    v, _gathered, raw_i, soc = struct.unpack(">HHHH", d)
    if soc > 1000:
        raise ParseError(f"SoC {soc / 10} % out of range")
    return v / 10.0, (raw_i - CURRENT_OFFSET) / 10.0, soc / 1000.0


def parse_mos(d: bytes) -> tuple[bool, bool, float]:
    """0x93: (charge FET, discharge FET, remaining Ah) [PDB get_mosfet_status]."""
    state, chg, dsg, _life = d[0], d[1], d[2], d[3]
    if state > 2 or chg > 1 or dsg > 1:
        raise ParseError(f"MOS status bytes out of range {d[:4].hex()}")
    return bool(chg), bool(dsg), struct.unpack(">I", d[4:8])[0] / 1000.0


def parse_status(d: bytes) -> tuple[int, int, int]:
    """0x94: (cells, temperature sensors, cycles) [PDB get_status]."""
    cells, temps = d[0], d[1]
    if not 1 <= cells <= MAX_CELLS or temps > MAX_TEMPS:
        raise ParseError(f"status: {cells} cells, {temps} sensors")
    return cells, temps, struct.unpack(">H", d[5:7])[0]


def parse_cells(frames: list[bytes], cell_count: int) -> tuple[float, ...]:
    """0x95: frame number (1-based) then 3 x mV per frame [DUP; PDB get_cell_voltages]; every frame once."""
    volts: dict[int, float] = {}
    for f in frames:
        d = data_of(f)
        k = d[0]
        if not 1 <= k <= -(-cell_count // CELLS_PER_FRAME) or (k - 1) * CELLS_PER_FRAME in volts:
            raise ParseError(f"cell frame number {k} unexpected")
        for j in range(CELLS_PER_FRAME):
            i = (k - 1) * CELLS_PER_FRAME + j
            if i < cell_count:
                volts[i] = struct.unpack_from(">H", d, 1 + 2 * j)[0] / 1000.0
    if len(volts) != cell_count:
        raise ParseError("cell frames missing")
    cells = tuple(volts[i] for i in range(cell_count))
    if any(not 0.5 <= c <= 5.0 for c in cells):
        raise ParseError(f"cell voltage out of range {cells}")
    return cells


def parse_temps(frames: list[bytes], count: int) -> tuple[float, ...]:
    """0x96: frame number then 7 x (degC + 40) per frame [DUP; PDB get_temperatures]."""
    temps: dict[int, float] = {}
    for f in frames:
        d = data_of(f)
        k = d[0]
        if not 1 <= k <= -(-count // TEMPS_PER_FRAME) or (k - 1) * TEMPS_PER_FRAME in temps:
            raise ParseError(f"temperature frame number {k} unexpected")
        for j in range(TEMPS_PER_FRAME):
            i = (k - 1) * TEMPS_PER_FRAME + j
            if i < count:
                temps[i] = float(d[1 + j] - TEMP_OFFSET)
    if len(temps) != count:
        raise ParseError("temperature frames missing")
    out = tuple(temps[i] for i in range(count))
    if any(not -40.0 <= t <= 120.0 for t in out):
        raise ParseError(f"temperature out of range {out}")
    return out


def decode_failures(d: bytes) -> tuple[AfeFlag, tuple[str, ...]]:
    """0x98: failure bit field, bytes 0..6 [PDB error_codes.py]; unknown bits are ignored."""
    flags, words = AfeFlag.NONE, []
    for (byte, bit), (word, flag) in FAILURES.items():
        if d[byte] >> bit & 1:
            flags |= flag
            words.append(word)
    return flags, tuple(words)


def encode_failures(words: set[str]) -> bytes:
    """The emulator's side of 0x98."""
    out = bytearray(8)
    for w in words:
        if w in BY_WORD:
            byte, bit = BY_WORD[w]
            out[byte] |= 1 << bit
    return bytes(out)
