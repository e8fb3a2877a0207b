"""Columnar replay input: recorded samples as numpy arrays, one row per sample (ISSUE 15 item 3).

A bag's AfeSample messages all have the same layout when the cell count, the thermistor count and the header's
frame_id do not change (every recording of one pack): their CDR payloads are then the same length and every
field sits at the same offset. ``decode_afe_cdr`` reads a block of them as one (messages x bytes) array and takes
each field as a view at its offset (no per-message deserialisation); a block whose layout varies, or that is not
little-endian CDR, returns None and the caller decodes it through rosbags. CSV recordings are parsed a block at a
time by numpy (``parse_csv_block``), falling back to the row parser for a block that is not plain numbers.

``SampleColumns.samples()`` turns the arrays back into the PackSamples ``Bms.step`` takes, the same values as
the per-message path (test_columns.py checks both against rosbags and the row parser).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from bms_ros.core import AfeFlag, PackSample

# CDR encapsulation header of a little-endian plain CDR payload (ROS 2's default): 00 01 00 00
_CDR_LE = b"\x00\x01"
_HEAD = 4  # encapsulation header bytes; CDR alignment counts from after them
_TAIL = 33  # bytes from die_temperature to the end of an AfeSample (see _layout)


@dataclass
class SampleColumns:
    """Samples as columns: arrays of length k, cells (k, n), temperatures (k, m)."""

    stamp: np.ndarray
    cells: np.ndarray
    pack_voltage: np.ndarray
    current: np.ndarray
    temperatures: np.ndarray
    die_temperature: np.ndarray
    afe_flags: np.ndarray
    charge_fet: np.ndarray
    discharge_fet: np.ndarray
    balancing_mask: np.ndarray
    comm_ok: np.ndarray
    read_errors: np.ndarray
    crc_errors: np.ndarray
    load_present: np.ndarray

    def __len__(self) -> int:
        return int(self.stamp.shape[0])

    def samples(self) -> Iterator[PackSample]:
        """The rows as PackSamples (cell and thermistor arrays are rows of the block, not copies)."""
        flags: dict[int, AfeFlag] = {}
        cells, temps = self.cells, self.temperatures
        for k, (t, pv, i, die, f, cf, df, bm, ok, re, ce, lp) in enumerate(
            zip(
                self.stamp.tolist(),
                self.pack_voltage.tolist(),
                self.current.tolist(),
                self.die_temperature.tolist(),
                self.afe_flags.tolist(),
                self.charge_fet.tolist(),
                self.discharge_fet.tolist(),
                self.balancing_mask.tolist(),
                self.comm_ok.tolist(),
                self.read_errors.tolist(),
                self.crc_errors.tolist(),
                self.load_present.tolist(),
                strict=True,
            )
        ):
            flag = flags.get(f)
            if flag is None:
                flag = flags[f] = AfeFlag(f)
            yield PackSample(t, cells[k], pv, i, temps[k], die, flag, cf, df, bm, ok, re, ce, lp)

    @staticmethod
    def from_samples(samples: Sequence[PackSample]) -> SampleColumns:
        """Columns of samples that share one cell and one thermistor count (the fallback path's block)."""
        return SampleColumns(
            stamp=np.array([s.stamp for s in samples], dtype=float),
            cells=np.array([s.cell_voltages for s in samples], dtype=float).reshape(len(samples), -1),
            pack_voltage=np.array([s.pack_voltage for s in samples], dtype=float),
            current=np.array([s.current for s in samples], dtype=float),
            temperatures=np.array([s.temperatures for s in samples], dtype=float).reshape(len(samples), -1),
            die_temperature=np.array([s.die_temperature for s in samples], dtype=float),
            afe_flags=np.array([int(s.afe_flags) for s in samples], dtype=np.int64),
            charge_fet=np.array([s.charge_fet for s in samples], dtype=bool),
            discharge_fet=np.array([s.discharge_fet for s in samples], dtype=bool),
            balancing_mask=np.array([s.balancing_mask for s in samples], dtype=np.int64),
            comm_ok=np.array([s.comm_ok for s in samples], dtype=bool),
            read_errors=np.array([s.read_errors for s in samples], dtype=np.int64),
            crc_errors=np.array([s.crc_errors for s in samples], dtype=np.int64),
            load_present=np.array([s.load_present for s in samples], dtype=bool),
        )


def _align(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def _u32(b: bytes | memoryview, off: int) -> int:
    return int.from_bytes(b[_HEAD + off : _HEAD + off + 4], "little")


def _layout(raw: bytes) -> tuple[int, int, int, int, int] | None:
    """(sample_time offset, cell count, offset after the cells, thermistor count, die_temperature offset) of
    one AfeSample payload, offsets from after the encapsulation header; None when it is not plain LE CDR.

    header.stamp (int32 sec, uint32 nanosec) 0..8, header.frame_id (uint32 length incl. NUL, bytes) from 8, then
    float64 sample_time (8-aligned), float64[] cell_voltages (uint32 count, data 8-aligned), pack_voltage, current,
    float64[] temperatures, die_temperature, uint32 afe_flags, bool charge_fet, bool discharge_fet, uint32
    balancing_mask, bool comm_ok, uint32 read_errors, uint32 crc_errors, bool load_present."""
    if len(raw) < _HEAD + 12 or raw[:2] != _CDR_LE:
        return None
    a = _align(12 + _u32(raw, 8), 8)
    if len(raw) < _HEAD + a + 12:
        return None
    n = _u32(raw, a + 8)
    b = a + 16 + 8 * n
    if len(raw) < _HEAD + b + 20:
        return None
    m = _u32(raw, b + 16)
    c = b + 24 + 8 * m
    if len(raw) != _HEAD + c + _TAIL:
        return None
    return a, n, b, m, c


def decode_afe_cdr(raws: Sequence[bytes]) -> SampleColumns | None:
    """A block of AfeSample CDR payloads as columns, or None when their layouts differ (then use rosbags)."""
    if not raws:
        return None
    lay = _layout(raws[0])
    if lay is None:
        return None
    a, n, b, m, c = lay
    size = len(raws[0])
    joined = b"".join(raws)
    k = len(raws)
    if len(joined) != size * k:
        return None
    whole = np.frombuffer(joined, dtype=np.uint8).reshape(k, size)
    first = whole[0]
    # the same layout in every row: encapsulation, frame_id length, cell and thermistor counts
    for lo, hi in (
        (0, _HEAD),
        (_HEAD + 8, _HEAD + 12),
        (_HEAD + a + 8, _HEAD + a + 12),
        (_HEAD + b + 16, _HEAD + b + 20),
    ):
        if not (whole[:, lo:hi] == first[lo:hi]).all():
            return None
    arr = whole[:, _HEAD:]

    def f64(off: int, count: int = 1) -> np.ndarray:
        return arr[:, off : off + 8 * count].copy().view("<f8").astype(np.float64, copy=False)

    def u32(off: int) -> np.ndarray:
        return arr[:, off : off + 4].copy().view("<u4").ravel().astype(np.int64)

    def flag(off: int) -> np.ndarray:
        return arr[:, off] != 0

    return SampleColumns(
        stamp=f64(a).ravel(),
        cells=f64(a + 16, n).reshape(k, n),
        pack_voltage=f64(b).ravel(),
        current=f64(b + 8).ravel(),
        temperatures=f64(b + 24, m).reshape(k, m),
        die_temperature=f64(c).ravel(),
        afe_flags=u32(c + 8),
        charge_fet=flag(c + 12),
        discharge_fet=flag(c + 13),
        balancing_mask=u32(c + 16),
        comm_ok=flag(c + 20),
        read_errors=u32(c + 24),
        crc_errors=u32(c + 28),
        load_present=flag(c + 32),
    )


# --- CSV -------------------------------------------------------------------------------------------------
def parse_csv_block(lines: Sequence[str], cells: int, temps: int, last_t: float) -> np.ndarray | None:
    """A block of CSV data lines (t,current,cells..,temps..) as a (k, 2 + cells + temps) float array, or None
    when the block is not plain numbers in order (an empty field, a quote, a blank line, t not finite or going
    back from ``last_t``): the row parser then reads it and names the line that is wrong."""
    text = "".join(lines)
    if '"' in text or ",," in text or "\n\n" in text or not text.strip():
        return None
    width = 2 + cells + temps
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty line is a warning in loadtxt: the row parser handles it
            arr = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except (ValueError, UserWarning):
        return None
    if arr.shape != (len(lines), width):
        return None
    t = arr[:, 0]
    if not np.isfinite(t).all() or (t.size and (t[0] < last_t or bool((np.diff(t) < 0).any()))):
        return None
    return arr


def csv_columns(arr: np.ndarray, cells: int) -> SampleColumns:
    """Columns of parsed CSV rows: no FET read-back in a recording (both reported closed: the current flowed), a
    row with neither a finite cell voltage nor a finite current is a failed read (``PackSample.missing``)."""
    k = arr.shape[0]
    cv = arr[:, 2 : 2 + cells]
    tp = arr[:, 2 + cells :]
    current = arr[:, 1].copy()
    ok = np.isfinite(cv).any(axis=1) | np.isfinite(current)
    cv = np.ascontiguousarray(np.where(ok[:, None], cv, math.nan))
    pack = cv.sum(axis=1)  # per row the same pairwise sum as the row parser's np.sum (a test checks)
    return SampleColumns(
        stamp=arr[:, 0].copy(),
        cells=cv,
        pack_voltage=pack,
        current=np.where(ok, current, math.nan),
        temperatures=np.where(ok[:, None], tp, math.nan),
        die_temperature=np.full(k, math.nan),
        afe_flags=np.zeros(k, dtype=np.int64),
        charge_fet=ok.copy(),
        discharge_fet=ok.copy(),
        balancing_mask=np.zeros(k, dtype=np.int64),
        comm_ok=ok,
        read_errors=np.zeros(k, dtype=np.int64),
        crc_errors=np.zeros(k, dtype=np.int64),
        load_present=np.zeros(k, dtype=bool),
    )


__all__ = ["SampleColumns", "csv_columns", "decode_afe_cdr", "parse_csv_block"]
