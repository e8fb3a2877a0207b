"""Per-channel validity for the measurement layer (``core.measurement``): valid, held or invalid, with a
decaying worst-case peak for a held channel (see ``core.measurement``'s docstring)."""

from __future__ import annotations

import math

import numpy as np

VALID, HELD, INVALID = 0, 1, 2  # channel status codes (Measurement.cell_status, thermistor_status)

# A held channel's worst value fades at this rate: faster than any real cell or thermistor moves (a cell at 5C
# moves < 10 mV/s; a pack heats < 1 K/s), so a real value is never under-estimated, and an old peak is gone in
# seconds once the channel reads again.
PEAK_DECAY_V_PER_S = 0.1
PEAK_DECAY_K_PER_S = 1.0


class Channels:
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


def worst(hi: np.ndarray, lo: np.ndarray, status: np.ndarray) -> tuple[float, float, bool]:
    """(max, min, exact) over the known (valid or held) channels; NaN when none is known. Exact only when every
    channel read valid: a held value may count a trip up, never down (it is not a reading)."""
    known = status != INVALID
    if not known.any():
        return math.nan, math.nan, False
    return float(hi[known].max()), float(lo[known].min()), bool((status == VALID).all())


__all__ = ["HELD", "INVALID", "PEAK_DECAY_K_PER_S", "PEAK_DECAY_V_PER_S", "VALID", "Channels", "worst"]
