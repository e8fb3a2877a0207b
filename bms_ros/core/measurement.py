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

VALID, HELD, INVALID = 0, 1, 2  # channel status codes (Measurement.cell_status, thermistor_status)

# A held channel's worst value fades at this rate: faster than any real cell or thermistor moves (a cell at 5C
# moves < 10 mV/s; a pack heats < 1 K/s), so a real value is never under-estimated, and an old peak is gone in
# seconds once the channel reads again.
PEAK_DECAY_V_PER_S = 0.1
PEAK_DECAY_K_PER_S = 1.0
# Open sense wire: a channel counts one event per switch from a plausible reading to 0 V or full scale. The
# count decays with this time constant; this many events within it are an open wire (a lone glitch is not).
OPEN_WIRE_EVENT_TAU_S = 10.0
OPEN_WIRE_EVENTS = 3.0
# A partly open wire between two cells shifts their readings in opposite directions while their sum holds: an
# event when two neighbours move apart by more than this in one read while their sum moves less than a tenth of
# it (a real cell moves < 10 mV between reads at rest; a current step moves every cell the same way).
OPEN_WIRE_SPLIT_V = 0.1
OPEN_WIRE_SUM_FRACTION = 0.1  # the pair's sum moves less than this fraction of OPEN_WIRE_SPLIT_V

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


class _Channels:
    """Valid / held / invalid per channel with a decaying worst-case peak (see the module docstring)."""

    def __init__(self, n: int, decay_per_s: float):
        self.n = n
        self.decay = decay_per_s
        self.good_t = np.full(n, -math.inf)  # core time of the last good reading
        self.hi = np.full(n, math.nan)  # worst high / low plausible value
        self.lo = np.full(n, math.nan)
        self.flaky_until = np.full(n, -math.inf)  # core time until which the channel counts as intermittent
        self.clean = False  # every channel valid and none intermittent (the fast path)

    def update(
        self, t: float, dt: float, x: np.ndarray, ok: np.ndarray, hold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(high values, low values, status) for this sample."""
        if self.clean and bool(ok.all()):
            self.good_t[:] = t
            self.hi, self.lo = x.copy(), x.copy()
            return self.hi, self.lo, np.zeros(self.n, dtype=np.int8)
        flaky = t < self.flaky_until
        fade = self.decay * dt
        with np.errstate(invalid="ignore"):  # held: the peak as it was; valid but intermittent: a fading peak
            hi = np.where(ok, np.where(flaky, np.fmax(x, self.hi - fade), x), self.hi)
            lo = np.where(ok, np.where(flaky, np.fmin(x, self.lo + fade), x), self.lo)
        self.good_t = np.where(ok, t, self.good_t)
        held = ~ok & (t - self.good_t <= hold)
        status = np.where(ok, VALID, np.where(held, HELD, INVALID)).astype(np.int8)
        hi = np.where(status == INVALID, math.nan, hi)
        lo = np.where(status == INVALID, math.nan, lo)
        self.flaky_until = np.where(ok, self.flaky_until, t + hold)
        self.hi, self.lo = np.where(status == INVALID, self.hi, hi), np.where(status == INVALID, self.lo, lo)
        self.clean = bool(ok.all()) and not bool((t < self.flaky_until).any())
        return hi, lo, status


def _worst(hi: np.ndarray, lo: np.ndarray, status: np.ndarray) -> tuple[float, float, bool]:
    """(max, min, exact) over the known (valid or held) channels; NaN when none is known. Exact only when every
    channel read valid: a held value may count a trip up, never down (it is not a reading)."""
    known = status != INVALID
    if not known.any():
        return math.nan, math.nan, False
    return float(hi[known].max()), float(lo[known].min()), bool((status == VALID).all())


class Measurer:
    """Sample -> Measurement. Keeps the per-channel history the validation needs."""

    def __init__(self, cfg: ProtectionConfig, cell_count: int):
        self.cfg = cfg
        self.n = cell_count
        self.cells = _Channels(cell_count, PEAK_DECAY_V_PER_S)
        self.therm: _Channels | None = None
        self._prev_cells: np.ndarray | None = None
        self._prev_current = math.nan
        self._frozen_since = math.nan
        self._t_prev: float | None = None
        self._wire_events = np.zeros(cell_count)
        self._prev_ok = np.ones(cell_count, dtype=bool)
        self._stuck_ref: np.ndarray | None = None  # row i: the cells when cell i's reading last changed

    def measure(self, s: PackSample, t: float, reason: str = "") -> Measurement:
        """``t``: core time (monotonic). ``reason``: why the sample layer already rejected this sample."""
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
        vmax, vmin, cexact = _worst(hi, lo, cstat)
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

    # ---------------------------------------------------------------------------------------------- patterns
    def _stuck(self, cells: np.ndarray, in_range: np.ndarray) -> np.ndarray:
        """Cells whose reading stayed bit-identical while most other cells moved by more than
        ``cell_reading_stuck.voltage_delta``: in series they carry the same current, so a real cell moves too
        (one other cell moving alone is not enough: cells relax differently at rest)."""
        delta = self.cfg.cell_reading_stuck.voltage_delta
        n = self.n
        prev = self._prev_cells
        if n < 2 or delta <= 0 or prev is None or not in_range.all():
            self._stuck_ref = None
            return np.zeros(n, dtype=bool)
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
        self._prev_current = current
        return reason

    def _temperatures(
        self, s: PackSample, t: float, dt: float, hold: float
    ) -> tuple[float, float, bool, np.ndarray, bool]:
        sl = self.cfg.sensor_loss
        temps = s.temperatures
        m = temps.shape[0]
        if self.therm is None or self.therm.n != m:
            self.therm = _Channels(m, PEAK_DECAY_K_PER_S)
        if not m:
            return math.nan, math.nan, True, np.zeros(0, dtype=np.int8), m < sl.min_thermistors
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(temps) & (temps >= sl.temperature_min) & (temps <= sl.temperature_max)
        hi, lo, stat = self.therm.update(t, dt, temps, ok, hold)
        tmax, tmin, texact = _worst(hi, lo, stat)
        lost = (not bool(ok.all()) and s.comm_ok) or m < sl.min_thermistors
        return tmax, tmin, texact, stat, lost


__all__ = ["FLAG_MEASURES", "HELD", "INVALID", "MEASURES", "MI", "VALID", "Measurement", "Measurer"]
