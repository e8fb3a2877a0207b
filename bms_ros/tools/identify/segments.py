"""Where a recording says what: rests (the OCV), steady segments (low-rate charge or discharge: the OCV's
shape), current steps (R0). Thresholds are relative to the recording's peak current, so one setting serves a
0.2 Ah cell and a 50 Ah pack."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bms_ros.tools.identify.recording import Recording

REST_FRACTION = 0.01  # |i| below 1 % of the peak current is a rest ...
REST_MIN_A = 0.03  # ... or below 30 mA (a current sensor's offset and noise)
MIN_REST_S = 600.0  # a rest shorter than 10 min is not relaxed enough to read the OCV from
REST_TAIL_S = 60.0  # the OCV is the mean voltage of a rest's last minute
STEADY_MIN_S = 900.0  # a steady segment: one sign, no current step, at least 15 min ...
STEADY_SKIP_S = 300.0  # ... of which the first 5 min (the RC transients) are not used
STEADY_STEP_FRACTION = 0.05  # a change of 5 % of the peak current in one sample ends a steady segment
STEP_FRACTION = 0.2  # a change of 20 % of the peak in one sample is a step R0 is read from


@dataclass(frozen=True)
class Segments:
    rest_current_a: float
    rests: list[tuple[int, int]]  # [start, stop) sample ranges
    steady: list[tuple[int, int]]
    steps: np.ndarray  # sample indices k: the current changed between k-1 and k


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) ranges where ``mask`` is true."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def find(rec: Recording, rest_current_a: float | None = None) -> Segments:
    peak = float(np.max(np.abs(rec.i)))
    thr = rest_current_a if rest_current_a is not None else max(REST_FRACTION * peak, REST_MIN_A)
    quiet = np.abs(rec.i) <= thr
    rests = [(a, b) for a, b in runs(quiet) if (b - a) * rec.dt >= MIN_REST_S]
    di = np.abs(np.diff(rec.i, prepend=rec.i[0]))
    sign = np.sign(rec.i) * ~quiet
    steady_mask = (sign != 0) & (di < STEADY_STEP_FRACTION * peak)
    steady = []
    for a, b in runs(steady_mask):
        # one sign throughout: split where it changes
        cuts = [a, *(a + np.flatnonzero(np.diff(sign[a:b]) != 0) + 1).tolist(), b]
        steady += [(x, y) for x, y in itertools.pairwise(cuts) if (y - x) * rec.dt >= STEADY_MIN_S]
    steps = np.flatnonzero(di >= STEP_FRACTION * peak)
    steps = steps[steps > 0]
    return Segments(thr, rests, steady, steps)


def current_offset(rec: Recording, seg: Segments) -> float:
    """The current sensor's offset (A): the mean current over the rests, where the true current is zero."""
    idx = np.concatenate([np.arange(a, b) for a, b in seg.rests]) if seg.rests else np.array([], dtype=int)
    return float(np.mean(rec.i[idx])) if idx.size else 0.0


def charge_ah(rec: Recording, offset_a: float = 0.0) -> np.ndarray:
    """Cumulative charge (Ah, > 0 charging) with the current offset removed, trapezoid."""
    i = rec.i - offset_a
    dq = 0.5 * (i[1:] + i[:-1]) * rec.dt
    return np.concatenate(([0.0], np.cumsum(dq))) / 3600.0
