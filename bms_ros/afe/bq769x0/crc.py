"""The bq769x0 per-byte CRC-8 (not SMBus PEC).

Polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, no reflection, no final XOR [DS p.26]. With CRC enabled
there is one CRC byte after every data byte [DS p.17]:

* write: the first CRC covers (addr << 1), the register address and the first data byte; every later CRC covers
  its own data byte only [DS p.25-26];
* read: the first CRC covers ((addr << 1) | 1) and the first data byte ("calculated after the second start"),
  every later CRC its own data byte only [DS p.26].

This differs from the Linux/smbus2 PEC (one byte at the end over everything), so ``SMBus.pec`` must stay off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

POLY = 0x07


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc8(data: Iterable[int], crc: int = 0) -> int:
    """CRC-8/0x07 over ``data``, starting from ``crc``."""
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF]
    return crc


def write_frame(address: int, register: int, data: Sequence[int], use_crc: bool) -> list[int]:
    """Bytes after the address byte of a (block) write: register, then data with interleaved CRCs."""
    out = [register & 0xFF]
    for i, b in enumerate(data):
        out.append(b & 0xFF)
        if use_crc:
            out.append(crc8((address << 1, register, b)) if i == 0 else _TABLE[b & 0xFF])
    return out


def read_crc(address: int, data: Sequence[int]) -> list[int]:
    """The CRC byte the chip sends after each byte of a (block) read of ``data``."""
    return [crc8(((address << 1) | 1, b)) if i == 0 else _TABLE[b & 0xFF] for i, b in enumerate(data)]


def split_read(address: int, raw: Sequence[int]) -> tuple[list[int], int]:
    """Split an interleaved D0,C0,D1,C1,... read into data bytes; also return the number of bad CRCs."""
    data = list(raw[0::2])
    expected = read_crc(address, data)
    bad = sum(1 for got, want in zip(raw[1::2], expected) if got != want)
    return data, bad
