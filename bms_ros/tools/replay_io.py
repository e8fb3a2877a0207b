"""bms-replay's CSV source and sink (``bms_ros.tools.replay`` re-exports them): ``CsvSampleSource`` yields
PackSample from a recording, ``CsvOutputSink`` writes one ``OUTPUT_COLUMNS`` row per (sample, BmsOutput) pair.
``SampleSource`` and ``OutputSink`` are the protocols other inputs and outputs (bags, the HTML report) follow.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from bms_ros.core import BmsOutput, PackSample
from bms_ros.tools.columns import csv_columns, parse_csv_block

CSV_BLOCK = 4096  # rows parsed as one block


class ReplayError(Exception):
    """Bad input, config or output: reported as one line, exit code 2."""


# --- sources ---------------------------------------------------------------------------------------------
class SampleSource(Protocol):
    cell_count: int
    thermistor_count: int

    def __iter__(self) -> Iterator[PackSample]: ...


def _parse_header(header: list[str], path: str) -> tuple[int, int]:
    """Validate the column layout; returns (cell count, thermistor count)."""
    h = [c.strip() for c in header]
    if h[:2] != ["t", "current"]:
        raise ReplayError(f"{path}: header must start with 't,current', found {','.join(h[:2])!r}")
    rest = h[2:]
    cells = 0
    while cells < len(rest) and rest[cells] == f"cell_voltage_{cells + 1}":
        cells += 1
    temps = rest[cells:]
    for k, name in enumerate(temps):
        if name != f"temperature_{k + 1}":
            expected = f"cell_voltage_{cells + 1} or temperature_{k + 1}" if k == 0 else f"temperature_{k + 1}"
            raise ReplayError(f"{path}: header column {cells + k + 3} is {name!r}, expected {expected}")
    if cells == 0:
        raise ReplayError(f"{path}: no cell_voltage_1.. columns in the header")
    return cells, len(temps)


def _num(x: str) -> float:
    x = x.strip()
    return math.nan if x == "" or x.lower() == "nan" else float(x)


class CsvSampleSource:
    """PackSamples from a CSV recording. The recording has no FET read-back: both are reported closed (the
    recorded current did flow)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        try:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
        except OSError as e:
            raise ReplayError(f"{self.path}: cannot read: {e.strerror or e}") from None
        if header is None:
            raise ReplayError(f"{self.path}: empty file")
        self.cell_count, self.thermistor_count = _parse_header(header, self.path)

    def count_rows(self) -> int:
        with open(self.path, "rb") as f:
            return max(sum(1 for line in f if line.strip()) - 1, 0)

    def __iter__(self) -> Iterator[PackSample]:
        """Blocks of rows parsed by numpy as columns (``columns.parse_csv_block``); a block that is not plain
        numbers in order goes through the row parser, which names the line that is wrong."""
        n, m = self.cell_count, self.thermistor_count
        last_t = -math.inf
        with open(self.path, newline="") as f:
            f.readline()
            line_no = 1  # lines read so far (the header)
            while True:
                lines = list(itertools.islice(f, CSV_BLOCK))
                if not lines:
                    return
                arr = parse_csv_block(lines, n, m, last_t)
                if arr is not None:
                    yield from csv_columns(arr, n).samples()
                    last_t = float(arr[-1, 0])
                else:
                    for sample in self._rows(lines, line_no, last_t):
                        last_t = sample.stamp
                        yield sample
                line_no += len(lines)

    def _rows(self, lines: list[str], line_no: int, last_t: float) -> Iterator[PackSample]:
        n, m = self.cell_count, self.thermistor_count
        width = 2 + n + m
        reader = csv.reader(lines)
        for row in reader:
            line = line_no + reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != width:
                raise ReplayError(f"{self.path}:{line}: {len(row)} fields, the header has {width}")
            try:
                vals = [_num(c) for c in row]
            except ValueError:
                bad = next(c for c in row if not _is_number(c))
                raise ReplayError(f"{self.path}:{line}: not a number: {bad.strip()!r}") from None
            t = vals[0]
            if not math.isfinite(t):
                raise ReplayError(f"{self.path}:{line}: t must be a number")
            if t < last_t:
                raise ReplayError(f"{self.path}:{line}: t goes backwards ({t} after {last_t})")
            last_t = t
            cells = np.array(vals[2 : 2 + n])
            temps = np.array(vals[2 + n :])
            current = vals[1]
            comm_ok = bool(np.isfinite(cells).any() or math.isfinite(current))
            if not comm_ok:
                yield PackSample.missing(t, n, m)
                continue
            yield PackSample(
                stamp=t,
                cell_voltages=cells,
                pack_voltage=float(np.sum(cells)),
                current=current,
                temperatures=temps,
                charge_fet=True,
                discharge_fet=True,
            )


def _is_number(x: str) -> bool:
    try:
        _num(x)
        return True
    except ValueError:
        return False


# --- sinks -----------------------------------------------------------------------------------------------
class OutputSink(Protocol):
    def write(self, sample: PackSample, out: BmsOutput) -> None: ...

    def close(self) -> None: ...


OUTPUT_COLUMNS = (
    "t",
    "soc",
    "soc_std",
    "soh",
    "capacity_ah",
    "resistance_ohm",
    "time_to_empty_s",
    "time_to_full_s",
    "charge_ah",
    "energy_wh",
    "cycle_count",
    "current_offset_a",
    "state",
    "faults",
    "fault_names",
    "charge_allowed",
    "discharge_allowed",
    "balancing",
)


# one row as one str.format call (a csv.writer and a formatting call per field cost several times more); no field
# can contain a comma, quote or newline (numbers, state and fault names), so no quoting is ever needed. Numbers
# are written with 9 significant digits, and an infinite one as "nan", like NaN.
_ROW = ",".join(["{:.9g}"] * 12 + ["{}"] * 6) + "\n"
_INF = math.inf


class CsvOutputSink:
    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._names: dict[int, str] = {}  # fault mask -> "A|B" (a handful of masks occur in a run)
        stream.write(",".join(OUTPUT_COLUMNS) + "\n")

    def write(self, sample: PackSample, out: BmsOutput) -> None:
        e = out.estimate
        vals = (
            out.stamp,
            e.soc,
            e.soc_std,
            e.soh,
            e.capacity_ah,
            e.resistance_ohm,
            e.time_to_empty_s,
            e.time_to_full_s,
            e.charge_ah,
            e.energy_wh,
            e.cycle_count,
            e.current_offset_a,
        )
        if _INF in vals or -_INF in vals:  # inf is written as "nan" (NaN formats as "nan" already)
            vals = tuple(x if math.isfinite(x) else math.nan for x in vals)
        faults = int(out.faults_active) | int(out.faults_latched)
        names = self._names.get(faults)
        if names is None:
            from bms_ros.core import fault_names

            names = self._names[faults] = "|".join(fault_names(faults))
        self._stream.write(
            _ROW.format(
                *vals, out.state.name, faults, names, int(out.charge_fet), int(out.discharge_fet), out.balancing_mask
            )
        )

    def close(self) -> None:
        self._stream.flush()
