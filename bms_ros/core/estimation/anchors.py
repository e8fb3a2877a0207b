"""SoC anchors: rest, full and empty detection, the interval bound on flat plateaus, capacity anchors.

An anchor is a moment the voltage says the SoC outright: after ``rest_time`` at rest (the terminal voltage is
the OCV), at the end of a CC-CV charge (the full anchor, also the one end-of-charge detector) and at the
discharge cut-off under a small current (empty). ``AnchorDetector`` keeps the rest timer and the full/empty
latches and says which anchors a sample gives; the estimator applies them (``StateEstimator._apply_anchor``).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation.config import EstimationConfig
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimation.soh import Anchor, CapacityEstimator

__all__ = ["AnchorDetector", "bound_on_plateau", "plateau_span", "record_capacity_anchor"]

log = logging.getLogger(__name__)

# The rested voltage bounds the SoC to the points whose OCV lies within this many ocv_error of the reading
# (3 sigma: a cell outside that span is wrong whatever its variance says)
PLATEAU_SIGMAS = 3.0
# The voltage still relaxing at a rest anchor (a slow RC pair, diffusion) is extrapolated from three equally
# spaced points of the rest (a geometric tail, i.e. one exponential), for the capacity anchor only
RELAX_EMA_S = 60.0  # s: the voltage is smoothed over this during a rest (sensor noise); a tuning value
RELAX_SNAPSHOT_S = 30.0  # s: the smoothed voltage is kept every this often during a rest
RELAX_MAX_SNAPSHOTS = 2000  # then thinned to every other one (a rest of days)
# The end-of-CV SoC depends on the slow overpotential's history (the current decayed within its time constant)
# and the charger's tail: 0.5 point (1-sigma) beyond the anchor's own variance, for the capacity (a tuning value:
# the sim pack's CC-CV at 0.5C reads 0.3-0.7 points high at the tail)
FULL_ANCHOR_SOC_STD = 0.005
RELAX_MAX_RATIO = 0.8  # a tail decaying slower than this per third of the rest: extrapolated as if 0.8


class AnchorDetector:
    """The rest timer (``rest_s``, s) and the full / empty latches (``full_done``, ``empty_done``)."""

    def __init__(self, chem: Chemistry, design_ah: float):
        self.chem = chem
        self.design_ah = design_ah
        self.rest_s = 0.0
        self.rest_applied_at = -math.inf
        self.full_done = False
        self.empty_done = False
        self._ema: np.ndarray | None = None  # the smoothed voltage during the present rest
        self._snaps: list[tuple[float, np.ndarray]] = []  # (rest_s, smoothed voltage)
        self._v_last = np.zeros(0)  # the latest finite voltages at rest

    def _track_rest(self, v: np.ndarray, dt: float) -> None:
        if self.rest_s <= 0.0:
            self._ema, self._snaps = None, []
            return
        if not np.all(np.isfinite(v)):
            return
        self._v_last = v
        if self._ema is None or self._ema.shape != v.shape:
            self._ema = v.astype(float)
        else:
            self._ema = self._ema + (1.0 - math.exp(-dt / RELAX_EMA_S)) * (v - self._ema)
        if not self._snaps or self.rest_s - self._snaps[-1][0] >= RELAX_SNAPSHOT_S:
            self._snaps.append((self.rest_s, self._ema.copy()))
            if len(self._snaps) > RELAX_MAX_SNAPSHOTS:
                self._snaps = self._snaps[::2]

    def relaxation_left(self) -> np.ndarray | None:
        """Per cell, the relaxed voltage minus the latest reading (V): the smoothed voltage (no sensor noise)
        plus the change still to come, from the smoothed voltage at 1/3, 2/3 and all of the rest so far: the
        last third's change times q / (1 - q), q the ratio of the thirds' changes (exact for one exponential;
        the smoothing lags it alike). None before a rest has three usable points."""
        ema = self._ema
        if ema is None or len(self._snaps) < 3 or self.rest_s < 3.0 * RELAX_EMA_S or ema.shape != self._v_last.shape:
            return None
        t = np.array([s[0] for s in self._snaps])
        v = np.array([s[1] for s in self._snaps])
        v1 = np.array([np.interp(self.rest_s / 3.0, t, v[:, k]) for k in range(v.shape[1])])
        v2 = np.array([np.interp(2.0 * self.rest_s / 3.0, t, v[:, k]) for k in range(v.shape[1])])
        d1, d2 = v2 - v1, ema - v2
        # one decay ratio for the string (the cells relax alike; per cell it is noisy)
        s1, s2 = float(d1.sum()), float(d2.sum())
        q = min(s2 / s1, RELAX_MAX_RATIO) if s1 * s2 > 0.0 else 0.0
        return ema + d2 * (q / (1.0 - q)) - self._v_last

    def detect(self, ec: EstimationConfig, v: np.ndarray, it: float, i_meas: float, dt: float) -> list[str]:
        """Advance the rest timer by ``dt`` and return the anchors this sample gives, in the order to apply them
        ("rest", "full", "empty"); ``it`` is the offset-corrected current, ``i_meas`` the raw one (A)."""
        design = self.design_ah
        kinds: list[str] = []
        if min(abs(it), abs(i_meas)) <= ec.rest_current * design:
            self.rest_s += dt
        else:
            self.rest_s = 0.0
            self.rest_applied_at = -math.inf
        self._track_rest(v, dt)
        if self.rest_s >= ec.rest_time and self.rest_s - self.rest_applied_at >= ec.rest_time:
            self.rest_applied_at = self.rest_s
            kinds.append("rest")
        if it < -ec.rest_current * design:
            self.full_done = False
        if it > ec.rest_current * design:
            self.empty_done = False
        finite = np.isfinite(v)
        if not finite.any():
            return kinds
        if (
            not self.full_done
            and 0 < it <= ec.tail_current * design
            and np.max(v[finite]) >= self.chem.full_v - ec.full_voltage_margin
        ):
            self.full_done = True
            kinds.append("full")
        if (
            not self.empty_done
            and -ec.empty_anchor_current * design <= it < 0
            and np.min(v[finite]) <= self.chem.empty_v + ec.empty_voltage_margin
        ):
            self.empty_done = True
            kinds.append("empty")
        return kinds


def bound_on_plateau(
    chem: Chemistry,
    ekf: CellEkf,
    v: np.ndarray,
    s: np.ndarray,
    ocv_error: float | np.ndarray,
    temp_c: float,
    soc_error: float = 0.0,
) -> None:
    """Where the OCV is too flat to give an SoC (``s`` NaN), a rested voltage still bounds it: the SoC lies
    between the points whose OCV is PLATEAU_SIGMAS ``ocv_error`` below and above the reading (on LFP's plateaus a
    span of tens of points, but not all of them). A cell whose estimate lies outside that span is wrong whatever
    its variance says; it is moved into the span with the span's own uncertainty. Not a capacity anchor."""
    flat = ~np.isfinite(s) & np.isfinite(v)
    if not flat.any():
        return
    k = PLATEAU_SIGMAS * ocv_error
    lo, hi = plateau_span(chem, v, k, temp_c, PLATEAU_SIGMAS * soc_error)
    soc = ekf.soc
    outside = flat & ((soc < lo) | (soc > hi))
    if outside.any():
        mid, var = 0.5 * (lo + hi), (hi - lo) ** 2 / 12.0  # uniform over the span
        idx = np.flatnonzero(outside)
        ekf.inflate_soc(idx, (mid[idx] - soc[idx]) ** 2)  # as uncertain as it is shown to be wrong
        ekf.update_soc(np.where(outside, mid, math.nan), var)


def plateau_span(
    chem: Chemistry, v: np.ndarray, k: float | np.ndarray, temp_c: float, ks: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The SoCs whose OCV lies ``k`` (V) below and above the (rested) voltage ``v``, widened by ``ks`` (SoC)."""
    return chem.soc_from_ocv(v - k, temp_c) - ks, chem.soc_from_ocv(v + k, temp_c) + ks


def record_capacity_anchor(
    capacity: CapacityEstimator, a: Anchor, detector: AnchorDetector, capacity_rest_time: float, temp_c: float = 25.0
) -> None:
    """Hand an anchor to the capacity estimator. A rest shorter than ``capacity_rest_time`` only restarts the
    counting. A rest anchor's voltage still relaxes (a slow RC pair, diffusion), always the same way after a
    discharge: fine for the SoC, but a systematic error in dAh / dSoC (it read 2-3 % low on a 20-minute park).
    The tail still to come (``AnchorDetector.relaxation_left``) is added to its SoC, and the same again to its
    variance (the tail's shape is a guess)."""
    rest_s = detector.rest_s
    if a.kind == "rest" and rest_s < capacity_rest_time:
        capacity.anchor = a
        return
    if a.kind == "full":
        a = Anchor(a.stamp, a.soc, a.var + FULL_ANCHOR_SOC_STD**2, a.ah, a.offset_var, a.kind)
    left = detector.relaxation_left() if a.kind == "rest" else None
    if left is not None and left.shape == a.soc.shape:
        chem = detector.chem
        slope = np.maximum(chem.docv_dsoc(np.clip(np.nan_to_num(a.soc, nan=0.5), 0.0, 1.0), temp_c), 1e-3)
        shift = left / slope
        a = Anchor(a.stamp, a.soc + shift, a.var + shift**2, a.ah, a.offset_var, a.kind)
    c = capacity.add_anchor(a)
    if c is not None:
        log.debug("capacity observation %.3f Ah (%s anchor) -> %.3f Ah", c, a.kind, capacity.capacity_ah)
