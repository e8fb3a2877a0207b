"""When the start-up check of a saved SoC against the open-circuit voltage may run: once a rest is seen.

A restart after the node was off for ``rest_time`` or longer says nothing about what the pack did meanwhile,
and one sample at zero current is no evidence of rest: right after a load pulse the terminal voltage is still
tens of mV from the OCV and relaxing, which on a flat curve is many points of SoC. So the check waits until the
pack has been seen at rest for ``CONFIRM_S`` with every cell's voltage settled; a load, or a rest long enough for
the ordinary rest anchor, ends the wait without a check (the filter and that anchor take over).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bms_ros.core.estimation import tuning as tun
from bms_ros.core.estimation.ekf import CellEkf

__all__ = ["CONFIRM_S", "SETTLED_V", "StartupRestCheck", "check_saved_soc", "resume_prior"]

log = logging.getLogger(__name__)

CONFIRM_S = 60.0  # s of observed rest: six time constants of the built-in chemistries' fast RC pair (10 s)
SETTLED_V = 0.002  # V a cell may move over CONFIRM_S and count as relaxed (2 mV/min; after a 1C pulse the
# slow pair, tau 200 s, still moves a cell by several mV per minute)


@dataclass
class StartupRestCheck:
    """A pending check: ``saved_std`` is the saved SoC's uncertainty (per cell) grown over the time off;
    ``var_scale`` widens the OCV's variance when the time off is unknown."""

    saved_std: np.ndarray
    var_scale: float
    since: float = math.nan
    v_ref: np.ndarray = field(default_factory=lambda: np.empty(0))

    def observe(self, t: float, v: np.ndarray, at_rest: bool, rest_s: float, rest_time: float) -> str:
        """'check' (run it now with ``v``), 'wait', or 'cancel' (a load, or the ordinary rest anchor's turn)."""
        if not at_rest or rest_s >= rest_time:
            return "cancel"
        if not math.isfinite(self.since) or self.v_ref.shape != v.shape:
            self.since, self.v_ref = t, v.copy()
            return "wait"
        if t - self.since < CONFIRM_S:
            return "wait"
        if np.all(np.abs(v - self.v_ref) <= SETTLED_V):
            return "check"
        self.since, self.v_ref = t, v.copy()  # still relaxing: a new window
        return "wait"


def resume_prior(
    pending: dict[str, Any], now: float, offset_prior_std: float, estimate_offset: bool
) -> tuple[np.ndarray, float, float, float]:
    """The filter's start from a saved state (``state.parse_state``) at ``now``: the per-cell SoC std grown over
    the time off, the current offset and its std, and the time off (s; NaN when unknown)."""
    elapsed = now - pending["stamp"] if math.isfinite(pending["stamp"]) else math.nan
    grow = tun.SELF_DISCHARGE_STD_PER_DAY * (elapsed / tun.S_PER_DAY) if elapsed >= 0 else tun.UNKNOWN_OFF_STD
    std = np.sqrt(np.asarray(pending["cell_soc_std"]) ** 2 + grow**2)
    off_std = max(pending["current_offset_std"], tun.OFFSET_STD_KEEP * offset_prior_std) if estimate_offset else 0.0
    off = pending["current_offset_a"] if estimate_offset else 0.0
    return std, off, off_std, elapsed


def check_saved_soc(ekf: CellEkf, s_ocv: np.ndarray, var_ocv: np.ndarray, chk: StartupRestCheck) -> np.ndarray:
    """The saved SoC against the rested voltages' SoC ``s_ocv``: a cell beyond STARTUP_SIGMAS takes the voltage's
    SoC (a pack swapped or charged while the node was off), the others are corrected by it. Returns the variance
    the voltages' SoC was used with."""
    var = var_ocv * chk.var_scale
    diff = s_ocv - ekf.soc
    bad = np.abs(diff) > tun.STARTUP_SIGMAS * np.sqrt(var + chk.saved_std**2)
    if np.any(bad & np.isfinite(diff)):
        log.warning(
            "saved SoC disagrees with the rested cell voltages (cells %s: saved %s, OCV %s); using the voltages",
            (np.flatnonzero(bad) + 1).tolist(),
            np.round(ekf.soc[bad], 3).tolist(),
            np.round(s_ocv[bad], 3).tolist(),
        )
        idx = np.flatnonzero(bad & np.isfinite(diff))
        ekf.reset_soc(idx, s_ocv, var)
    good = ~bad
    ekf.update_soc(np.where(good, s_ocv, math.nan), var)
    return var
