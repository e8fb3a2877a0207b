"""When the start-up check of a saved SoC against the open-circuit voltage may run: once a rest is seen.

A restart after the node was off for ``rest_time`` or longer says nothing about what the pack did meanwhile,
and one sample at zero current is no evidence of rest: right after a load pulse the terminal voltage is still
tens of mV from the OCV and relaxing, which on a flat curve is many points of SoC. So the check waits until the
pack has been seen at rest for ``CONFIRM_S`` with every cell's voltage settled; a load, or a rest long enough for
the ordinary rest anchor, ends the wait without a check (the filter and that anchor take over).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CONFIRM_S", "SETTLED_V", "StartupRestCheck"]

CONFIRM_S = 60.0     # s of observed rest: six time constants of the built-in chemistries' fast RC pair (10 s)
SETTLED_V = 0.002    # V a cell may move over CONFIRM_S and count as relaxed (2 mV/min; after a 1C pulse the
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
        self.since, self.v_ref = t, v.copy()       # still relaxing: a new window
        return "wait"
