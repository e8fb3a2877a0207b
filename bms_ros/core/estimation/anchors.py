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


class AnchorDetector:
    """The rest timer (``rest_s``, s) and the full / empty latches (``full_done``, ``empty_done``)."""

    def __init__(self, chem: Chemistry, design_ah: float):
        self.chem = chem
        self.design_ah = design_ah
        self.rest_s = 0.0
        self.rest_applied_at = -math.inf
        self.full_done = False
        self.empty_done = False

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


def record_capacity_anchor(capacity: CapacityEstimator, a: Anchor, rest_s: float, capacity_rest_time: float) -> None:
    """Hand an anchor to the capacity estimator. A rest shorter than ``capacity_rest_time`` only restarts the
    counting: its voltage still relaxes (diffusion is slower than the ECM's RC pairs), and always the same way
    after a discharge, which is fine for the SoC but a systematic error in dAh / dSoC."""
    if a.kind == "rest" and rest_s < capacity_rest_time:
        capacity.anchor = a
        return
    c = capacity.add_anchor(a)
    if c is not None:
        log.debug("capacity observation %.3f Ah (%s anchor) -> %.3f Ah", c, a.kind, capacity.capacity_ah)
