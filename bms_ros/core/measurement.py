"""The validated-measurement layer: what the protections look at, derived once per sample.

Every cell and thermistor reading is classified per sample:

* **valid**: finite, inside the physical range, not stuck;
* **held**: invalid now, but a good reading is younger than the hold time (``protection.stale_timeout``): the
  protections see the *worst* plausible value of that channel (the peak of its recent good readings), which
  can count a trip up but never down;
* **invalid**: no good reading within the hold time, or the reading is stuck: the channel is unknown.

A statistic over channels (``cell_max``, ``temp_min`` ...) is *exact* when every channel is valid. When some
are held or unknown it is only a bound (the worst of the known ones): beyond a limit it counts, inside it does not,
so an invalid channel can never make a protection count down or release (see ``protection.Protection``).

Patterns that are faults in their own right are recognised here: an open sense wire (readings that alternate
between plausible and 0 V / full scale, an adjacent low/high pair that still sums to two plausible cells, or
two neighbours whose readings jump apart while their sum holds), a stuck cell reading (bit-identical while
most other cells moved by ``cell_reading_stuck.voltage_delta``), and frozen values of the whole pack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bms_ros.core.measurement_channels import (
    HELD,
    INVALID,
    PEAK_DECAY_K_PER_S,
    PEAK_DECAY_V_PER_S,
    VALID,
    Channels,
    worst,
)
from bms_ros.core.types import AfeFlag, PackSample

if TYPE_CHECKING:
    from bms_ros.core.protection import ProtectionConfig

MEASURES: tuple[str, ...] = (
    "cell_max",
    "cell_min",
    "pack_avg",
    "charge_current",
    "discharge_current",
    "flag_short_circuit",
    "temp_max",
    "temp_min",
    "die_temp",
    "cell_spread",
    "implausible",
    "sensor_loss",
    "comm_loss",
    "flag_device_fault",
    "flag_hw_ov",
    "flag_hw_uv",
    "flag_hw_oc",
    "open_wire",
    "stuck_cell",
    "self_discharge",
    "lock",
)
MI: dict[str, int] = {k: i for i, k in enumerate(MEASURES)}
# the AFE status flag behind each flag measure (a test checks POLICY's flag rules agree)
FLAG_MEASURES: tuple[tuple[int, int], ...] = tuple(
    (MI[k], int(f))
    for k, f in (
        ("flag_short_circuit", AfeFlag.SHORT_CIRCUIT),
        ("flag_device_fault", AfeFlag.DEVICE_FAULT),
        ("flag_hw_ov", AfeFlag.OVERVOLTAGE),
        ("flag_hw_uv", AfeFlag.UNDERVOLTAGE),
        ("flag_hw_oc", AfeFlag.OVERCURRENT_DISCHARGE),
    )
)

# Open sense wire: a channel counts one event per switch from a plausible reading to 0 V or full scale. The
# count decays with this time constant; this many events within it are an open wire (a lone glitch is not).
OPEN_WIRE_EVENT_TAU_S = 10.0
OPEN_WIRE_EVENTS = 3.0
# A partly open wire between two cells shifts their readings in opposite directions while their sum holds: an
# event when two neighbours move apart by more than this in one read while their sum moves less than a tenth of
# it (a real cell moves < 10 mV between reads at rest; a current step moves every cell the same way).
OPEN_WIRE_SPLIT_V = 0.1
OPEN_WIRE_SUM_FRACTION = 0.1  # the pair's sum moves less than this fraction of OPEN_WIRE_SPLIT_V

_I_COMM, _I_OPEN_WIRE, _I_STUCK, _I_IMPLAUSIBLE = (
    MI[k] for k in ("comm_loss", "open_wire", "stuck_cell", "implausible")
)
_I_CELL_MAX, _I_CELL_MIN, _I_SPREAD, _I_PACK_AVG = (MI[k] for k in ("cell_max", "cell_min", "cell_spread", "pack_avg"))
_I_CHARGE, _I_DISCHARGE, _I_SENSOR_LOSS = (MI[k] for k in ("charge_current", "discharge_current", "sensor_loss"))
_I_TEMP_MAX, _I_TEMP_MIN, _I_DIE = (MI[k] for k in ("temp_max", "temp_min", "die_temp"))

_ALL_EXACT = np.ones(len(MEASURES), dtype=bool)
_ALL_EXACT.setflags(write=False)


@dataclass
class Measurement:
    """One sample as the protections see it (values per MEASURES key, NaN when unknown)."""

    stamp: float  # the sample's own stamp (for logs)
    t: float  # core time: monotonic seconds, what every timer runs on (core.timebase)
    valid: bool  # complete, plausible, every channel valid: may refresh freshness, switch FETs on
    values: np.ndarray
    exact: np.ndarray = field(default_factory=lambda: _ALL_EXACT)  # False: the value is a bound (see module doc)
    invalid_reason: str = ""
    cell_max: float = math.nan
    cell_min: float = math.nan
    temp_max: float = math.nan
    temp_min: float = math.nan
    load_present: bool = True  # AFE load detection with CHG off (bq769x0 LOAD_PRESENT); unknown counts as present
    cell_status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    thermistor_status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))

    def set(self, key: str, value: float) -> None:
        """A value that comes from outside the sample (the self-discharge monitor, the lock condition)."""
        self.values[MI[key]] = value


class Measurer:
    """Sample -> Measurement. Keeps the per-channel history the validation needs."""

    def __init__(self, cfg: ProtectionConfig, cell_count: int):
        self.cfg = cfg
        self.n = cell_count
        self.cells = Channels(cell_count, PEAK_DECAY_V_PER_S)
        self.therm: Channels | None = None
        self._prev_cells: np.ndarray | None = None
        self._prev_current = math.nan
        self._frozen_since = math.nan
        self._t_prev: float | None = None
        self._wire_events = np.zeros(cell_count)
        self._prev_ok = np.ones(cell_count, dtype=bool)
        self._stuck_ref: np.ndarray | None = None  # row i: the cells when cell i's reading last changed
        self._stuck_base: np.ndarray | None = None  # set: every row of _stuck_ref is this (built when needed)
        self._prev_list: list[float] | None = None  # _prev_cells as floats (the quiet path compares them)
        self._wire_quiet = True  # no open-wire event counted (every _wire_events entry is 0)
        self._all_ok = np.ones(cell_count, dtype=bool)
        self._all_ok.setflags(write=False)

    def measure(self, s: PackSample, t: float, reason: str = "") -> Measurement:
        """``t``: core time (monotonic). ``reason``: why the sample layer already rejected this sample."""
        if not reason and s.comm_ok:
            quiet = self._measure_quiet(s, t)
            if quiet is not None:
                return quiet
        cfg = self.cfg
        imp = cfg.implausible_data
        hold = cfg.stale_timeout
        dt = 0.0 if self._t_prev is None else t - self._t_prev
        self._t_prev = t
        v = np.full(len(MEASURES), math.nan)
        exact = np.ones(len(MEASURES), dtype=bool)
        v[MI["comm_loss"]] = 0.0 if s.comm_ok else 1.0
        n = self.n
        cells = s.cell_voltages if s.cell_voltages.shape == (n,) else np.full(n, math.nan)
        with np.errstate(invalid="ignore"):
            in_range = np.isfinite(cells) & (cells >= imp.cell_min) & (cells <= imp.cell_max)
        stuck = self._stuck(cells, in_range)
        ok = in_range & ~stuck
        hi, lo, cstat = self.cells.update(t, dt, cells, ok, hold)
        vmax, vmin, cexact = worst(hi, lo, cstat)
        v[MI["open_wire"]] = 1.0 if self._open_wire(cells, in_range, dt) else 0.0
        v[MI["stuck_cell"]] = 1.0 if stuck.any() else 0.0
        current, pack = s.current, s.pack_voltage
        if not reason and not s.comm_ok:
            reason = "AFE read failed"
        if reason:
            pass
        elif not in_range.all():
            reason = "cell voltage NaN" if not np.isfinite(cells).all() else "cell voltage outside the physical range"
        elif stuck.any():
            reason = f"cell {int(np.flatnonzero(stuck)[0]) + 1} reading stuck"
        elif not math.isfinite(current):
            reason = "current not finite"
        elif not math.isfinite(pack):
            reason = "pack voltage not finite"
        elif abs(float(cells.sum()) - pack) > imp.pack_tolerance_per_cell * n:
            reason = f"sum of cells {float(cells.sum()):.3f} V vs pack {pack:.3f} V"
        reason = self._frozen(t, cells, current, reason) if s.comm_ok else reason
        v[MI["implausible"]] = (1.0 if reason else 0.0) if s.comm_ok else math.nan
        v[MI["cell_max"]], v[MI["cell_min"]] = vmax, vmin
        exact[MI["cell_max"]] = exact[MI["cell_min"]] = cexact
        v[MI["cell_spread"]] = vmax - vmin if (cstat == VALID).all() else math.nan
        if math.isfinite(pack) and n and s.comm_ok:
            v[MI["pack_avg"]] = pack / n
        if math.isfinite(current) and s.comm_ok:
            v[MI["charge_current"]] = current
            v[MI["discharge_current"]] = -current
        tmax, tmin, texact, tstat, lost = self._temperatures(s, t, dt, hold)
        v[MI["sensor_loss"]] = (1.0 if lost else 0.0) if s.comm_ok else math.nan
        v[MI["temp_max"]], v[MI["temp_min"]] = tmax, tmin
        exact[MI["temp_max"]] = exact[MI["temp_min"]] = texact
        v[MI["die_temp"]] = s.die_temperature if math.isfinite(s.die_temperature) else math.nan
        flags = int(s.afe_flags)
        for key, bit in FLAG_MEASURES:
            v[key] = (1.0 if flags & bit else 0.0) if s.comm_ok else math.nan
        # LOAD_PRESENT only means something while the charge FET is off [DS p.24]; with CHG on: unknown
        load_present = bool(s.load_present) or bool(s.charge_fet)
        valid = not reason and bool((cstat == VALID).all())
        return Measurement(s.stamp, t, valid, v, exact, reason, vmax, vmin, tmax, tmin, load_present, cstat, tstat)

    def _measure_quiet(self, s: PackSample, t: float) -> Measurement | None:
        """``measure`` for the common sample, in Python floats, or None when the sample is not one.

        The common sample: every cell and thermistor reading valid and in range (none held, none intermittent),
        every cell changed since the last sample, which was such a sample too, by less than an open-wire split,
        no open-wire event pending, pack voltage and current finite and the cells summing to the pack. Then the
        full path's patterns cannot fire (no stuck cell: each reading changed; no frozen values; no open wire)
        and this computes the same values and state with a few calls (test_measurement_quiet_path checks both
        paths agree on random streams)."""
        prev = self._prev_list
        n = self.n
        cells = s.cell_voltages
        therm = self.therm
        temps = s.temperatures
        m = temps.shape[0]
        if prev is None or not self._wire_quiet or not self.cells.clean or cells.shape != (n,):
            return None
        if therm is None or therm.n != m or not m or not therm.clean:
            return None
        cfg = self.cfg
        imp, sl = cfg.implausible_data, cfg.sensor_loss
        cl = cells.tolist()
        current, pack = s.current, s.pack_voltage
        total = float(cells.sum())
        if not (math.isfinite(total) and math.isfinite(current) and math.isfinite(pack)):
            return None
        vmax, vmin = max(cl), min(cl)
        if vmin < imp.cell_min or vmax > imp.cell_max or abs(total - pack) > imp.pack_tolerance_per_cell * n:
            return None
        tl = temps.tolist()
        t_sum = math.fsum(tl)
        if not math.isfinite(t_sum):
            return None
        tmax, tmin = max(tl), min(tl)
        if tmin < sl.temperature_min or tmax > sl.temperature_max:
            return None
        split = OPEN_WIRE_SPLIT_V
        for a, b in zip(cl, prev, strict=True):
            if a == b or abs(a - b) > split:  # unchanged: the stuck / frozen tests; a big move: the split test
                return None
        # the same state the full path leaves; one copy of the readings serves every array below (all of them
        # are replaced, never written in place)
        own, own_t = cells.copy(), temps.copy()
        self._t_prev = t
        # every reading changed: each row of the stuck reference is these cells (built if a full step needs it)
        self._stuck_ref = None
        self._stuck_base = own if n >= 2 and cfg.cell_reading_stuck.voltage_delta > 0 else None
        # the open-wire event counts stay 0 (nothing to decay, no rail reading, no split)
        self._prev_ok = self._all_ok
        self._frozen_since = math.nan
        self._prev_cells = own
        self._prev_current = current
        self._prev_list = cl
        for ch, x in ((self.cells, own), (therm, own_t)):
            ch.good_t[:] = t
            ch.hi = ch.lo = x
        v = [math.nan] * len(MEASURES)
        v[_I_COMM] = 0.0
        v[_I_OPEN_WIRE] = v[_I_STUCK] = v[_I_IMPLAUSIBLE] = 0.0
        v[_I_CELL_MAX], v[_I_CELL_MIN], v[_I_SPREAD] = vmax, vmin, vmax - vmin
        if n:
            v[_I_PACK_AVG] = pack / n
        v[_I_CHARGE], v[_I_DISCHARGE] = current, -current
        v[_I_SENSOR_LOSS] = 1.0 if m < sl.min_thermistors else 0.0
        v[_I_TEMP_MAX], v[_I_TEMP_MIN] = tmax, tmin
        die = s.die_temperature
        v[_I_DIE] = die if math.isfinite(die) else math.nan
        flags = int(s.afe_flags)
        for key, bit in FLAG_MEASURES:
            v[key] = 1.0 if flags & bit else 0.0
        load_present = bool(s.load_present) or bool(s.charge_fet)
        return Measurement(
            s.stamp,
            t,
            True,
            np.array(v),
            _ALL_EXACT,  # read-only: a reader takes copies (Protection indexes it)
            "",
            vmax,
            vmin,
            tmax,
            tmin,
            load_present,
            np.zeros(n, dtype=np.int8),
            np.zeros(m, dtype=np.int8),
        )

    # ---------------------------------------------------------------------------------------------- patterns
    def _stuck(self, cells: np.ndarray, in_range: np.ndarray) -> np.ndarray:
        """Cells whose reading stayed bit-identical while most other cells moved by more than
        ``cell_reading_stuck.voltage_delta``: in series they carry the same current, so a real cell moves too
        (one other cell moving alone is not enough: cells relax differently at rest)."""
        delta = self.cfg.cell_reading_stuck.voltage_delta
        n = self.n
        prev = self._prev_cells
        if n < 2 or delta <= 0 or prev is None or not in_range.all():
            self._stuck_ref = self._stuck_base = None
            return np.zeros(n, dtype=bool)
        if self._stuck_base is not None:  # left by the quiet path
            self._stuck_ref, self._stuck_base = np.tile(self._stuck_base, (n, 1)), None
        if self._stuck_ref is None:
            self._stuck_ref = np.tile(cells, (n, 1))
        changed = cells != prev
        self._stuck_ref[changed] = cells  # row i: every cell when cell i's reading last changed
        moved = np.abs(cells - self._stuck_ref) > delta
        np.fill_diagonal(moved, False)
        return moved.sum(axis=1) >= (n - 1) // 2 + 1  # a majority of the others

    def _open_wire(self, cells: np.ndarray, in_range: np.ndarray, dt: float) -> bool:
        imp = self.cfg.implausible_data
        with np.errstate(invalid="ignore"):
            rail = (cells < imp.cell_min) | (cells > imp.cell_max)  # 0 V or full scale (NaN is neither)
        self._wire_events *= math.exp(-dt / OPEN_WIRE_EVENT_TAU_S)
        self._wire_events += self._prev_ok & rail
        prev = self._prev_cells
        if prev is not None and self.n >= 2 and bool(in_range.all()) and bool(self._prev_ok.all()):
            d = cells - prev
            split = (
                (d[:-1] * d[1:] < 0)
                & (np.minimum(np.abs(d[:-1]), np.abs(d[1:])) > OPEN_WIRE_SPLIT_V)
                & (np.abs(d[:-1] + d[1:]) < OPEN_WIRE_SUM_FRACTION * OPEN_WIRE_SPLIT_V)
            )
            self._wire_events[:-1] += split
            self._wire_events[1:] += split
        self._prev_ok = in_range
        # a steady open wire: one cell near 0 V beside one above range whose sum is two plausible cells
        pair = False
        if self.n >= 2:
            with np.errstate(invalid="ignore"):
                low, high = cells[:-1], cells[1:]
                s2 = low + high
                lo_hi = ((low < imp.cell_min) & (high > imp.cell_max)) | ((high < imp.cell_min) & (low > imp.cell_max))
                pair = bool((lo_hi & (s2 >= 2 * imp.cell_min) & (s2 <= 2 * imp.cell_max)).any())
        self._wire_quiet = not self._wire_events.any()
        return pair or bool((self._wire_events >= OPEN_WIRE_EVENTS).any())

    def _frozen(self, t: float, cells: np.ndarray, current: float, reason: str) -> str:
        """Every cell and the current bit-identical to the previous read while a current flows: the cells' charge
        must change then; a stuck ADC or a cached register read does not."""
        imp = self.cfg.implausible_data
        if (
            imp.frozen_time > 0
            and abs(current) > imp.frozen_min_current
            and self._prev_cells is not None
            and current == self._prev_current
            and np.array_equal(self._prev_cells, cells)
        ):
            if math.isnan(self._frozen_since):
                self._frozen_since = t
            elif t - self._frozen_since >= imp.frozen_time and not reason:
                reason = f"values frozen for {t - self._frozen_since:.0f} s"
        else:
            self._frozen_since = math.nan
        self._prev_cells = cells.copy()
        self._prev_list = cells.tolist()
        self._prev_current = current
        return reason

    def _temperatures(
        self, s: PackSample, t: float, dt: float, hold: float
    ) -> tuple[float, float, bool, np.ndarray, bool]:
        sl = self.cfg.sensor_loss
        temps = s.temperatures
        m = temps.shape[0]
        if self.therm is None or self.therm.n != m:
            self.therm = Channels(m, PEAK_DECAY_K_PER_S)
        if not m:
            return math.nan, math.nan, True, np.zeros(0, dtype=np.int8), m < sl.min_thermistors
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(temps) & (temps >= sl.temperature_min) & (temps <= sl.temperature_max)
        hi, lo, stat = self.therm.update(t, dt, temps, ok, hold)
        tmax, tmin, texact = worst(hi, lo, stat)
        lost = (not bool(ok.all()) and s.comm_ok) or m < sl.min_thermistors
        return tmax, tmin, texact, stat, lost


__all__ = ["FLAG_MEASURES", "HELD", "INVALID", "MEASURES", "MI", "VALID", "Measurement", "Measurer"]
