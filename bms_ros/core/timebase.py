"""Core time: a monotonic time base built from sample stamps that a clock step cannot suspend.

Sample stamps come from the node clock (wall time, sim time) or a recording, and they jump: NTP corrects the
wall clock, Gazebo resets its clock, ``ros2 bag play --loop`` starts over, a board boots before its clock is
set. Every timer of the core (trip delays, release holds, data freshness, escalation windows, balancing) runs
on core time instead:

* a stamp that goes back (or is not finite) advances core time by the last regular sample interval: time goes
  on, nothing is suspended until the clock catches up, and the back step is reported once;
* a stamp that jumps forward advances core time by the whole jump (a long gap makes data stale and completes a
  trip delay that was running: both conservative) and is flagged as a *gap*: the estimator then treats the
  interval as unknown time instead of integrating the held current over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Sample intervals above this are a gap for the estimator: longer than any read period the node allows
# (rate_hz >= 0.5, 2 s) with margin for a late read, and short enough that holding a 1C current over it moves
# the SoC by < 1 point (30 s / 3600 s).
GAP_S = 30.0
# The interval assumed for a sample whose stamp went back or is not finite, when no regular interval is known yet.
DEFAULT_INTERVAL_S = 0.1
# Intervals longer than this do not become the "regular" interval used across a back step.
MAX_REGULAR_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Tick:
    t: float  # core time, s (monotonic, starts at the first sample's stamp when that is finite)
    dt: float  # core time since the previous sample, s (>= 0)
    gap: bool  # the stamps jumped forward by more than GAP_S: the interval is unknown time
    jump: str  # "" or what happened to the clock ("stepped back 1000 s", "stamp not finite", ...)


class CoreClock:
    """Core time = stamp + offset; the offset changes only at a back step, so between jumps core time is the
    stamp itself (bit for bit: replays and recordings keep their times)."""

    def __init__(self) -> None:
        self.t: float | None = None
        self._offset = 0.0
        self._last_stamp = math.nan
        self._interval = DEFAULT_INTERVAL_S

    def advance(self, stamp: float) -> Tick:
        prev = self.t
        if prev is None:
            if not math.isfinite(stamp):
                self.t = 0.0
                return Tick(0.0, 0.0, False, "stamp not finite")
            self.t, self._last_stamp = stamp, stamp
            return Tick(stamp, 0.0, False, "")
        jump, gap = "", False
        if not math.isfinite(stamp):
            t, jump = prev + self._interval, "stamp not finite"
        else:
            raw = stamp - self._last_stamp if math.isfinite(self._last_stamp) else self._interval
            self._last_stamp = stamp
            if raw < 0.0:
                self._offset = prev + self._interval - stamp
                jump = f"clock stepped back {-raw:.3f} s"
            elif raw > GAP_S:
                gap, jump = True, f"clock jumped forward {raw:.3f} s"
            elif 0.0 < raw <= MAX_REGULAR_INTERVAL_S:
                self._interval = raw
            t = max(stamp + self._offset, prev)  # after a non-finite stamp core time may already be ahead
        self.t = t
        return Tick(t, t - prev, gap, jump)


__all__ = ["GAP_S", "CoreClock", "Tick"]
