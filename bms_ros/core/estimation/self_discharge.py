"""Self-discharge of each cell against the others: how a soft internal short shows.

A soft internal short (a separator defect, lithium dendrites) drains one cell through a few ohms: a few hundred
mA at 10 ohm, amperes at 1 ohm. It is in series with the others, so the pack current does not show it; the
cell's state of charge does, drifting below the others at rest and under load alike.

Each cell's deviation from the median cell SoC is fitted, over an exponentially weighted window, to

    dev_i(t) = a_i + b_i * t + c_i * q(t) + d_i * i(t)

where ``t`` is time (h), ``q`` the charge through the pack (in capacities) and ``i`` the current (C-rate). The
``q`` term takes up a cell whose capacity differs from the others (it drifts with throughput, not with time),
the ``i`` term one whose resistance differs (its SoC reads off under load). What is left in ``b_i`` is charge
the cell loses by itself: its self-discharge current is ``-b_i * capacity`` (A). Healthy cells lose µA to mA.

The weighted sums are kept with the newest point at the origin (old points shift by the step), so one 4x4
solve per update serves every cell. Balancing bleeds cells on purpose: while it runs the fit starts over.
"""

from __future__ import annotations

import math

import numpy as np

# Window of the fit: long enough to see a 10-ohm short (0.37 A, ~4 %/h on a 10 Ah cell) above the SoC noise of
# the filter, short enough to find it within tens of minutes.
WINDOW_S = 1200.0
# No estimate until the window holds this much history (a slope needs a span of time).
MIN_AGE_S = 600.0
# Updated at most this often: the drift is slow, the fit is not worth doing at 10 Hz.
UPDATE_PERIOD_S = 1.0
# The fit runs only while every cell lies in this SoC range: there the OCV reads the SoC well; near empty and
# full the cells' estimates spread with their capacity and model error (healthy cells reached 0.023 C there in
# the simulated 3-hour drive of test_protection_robust, against 0.015 C in the middle).
SOC_RANGE = (0.15, 0.95)


class SelfDischargeMonitor:
    def __init__(self, n_cells: int):
        self.n = n_cells
        self.current_a = math.nan  # the largest per-cell self-discharge current (A); NaN until known
        self.rate_c = math.nan  # the same per Ah of capacity (C-rate, 1/h): what the protection sees
        self.cell_current_a = np.full(n_cells, math.nan)
        self.restart()

    def restart(self) -> None:
        self._sxx = np.zeros((4, 4))
        self._sxy = np.zeros((4, self.n))
        self._t: float | None = None
        self._q = 0.0
        self._age = 0.0
        self.current_a = math.nan
        self.rate_c = math.nan
        self.cell_current_a[:] = math.nan

    def update(self, t: float, cell_soc: np.ndarray, current_a: float, capacity_ah: float, balancing: bool) -> float:
        """One observation (core time ``t``, s); returns the largest self-discharge current (A, NaN unknown)."""
        if (
            balancing
            or cell_soc.shape != (self.n,)
            or self.n < 3
            or not np.isfinite(cell_soc).all()
            or not math.isfinite(current_a)
            or not capacity_ah > 0
        ):
            if balancing:
                self.restart()
            return self.current_a
        if not (SOC_RANGE[0] <= float(cell_soc.min()) and float(cell_soc.max()) <= SOC_RANGE[1]):
            return self.current_a
        if self._t is not None and t - self._t < UPDATE_PERIOD_S:
            return self.current_a
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        self._age += dt
        dq = current_a * dt / 3600.0 / capacity_ah
        # shift the origin to the new point (t -= dt h, q -= dq), decay, add the point z = (1, 0, 0, i)
        a = np.eye(4)
        a[1, 0], a[2, 0] = -dt / 3600.0, -dq
        lam = math.exp(-dt / WINDOW_S)
        z = np.array([1.0, 0.0, 0.0, current_a / capacity_ah])
        dev = cell_soc - float(np.median(cell_soc))
        self._sxx = lam * (a @ self._sxx @ a.T) + np.outer(z, z)
        self._sxy = lam * (a @ self._sxy) + np.outer(z, dev)
        if self._age < MIN_AGE_S:
            return self.current_a
        try:
            beta = np.linalg.lstsq(self._sxx, self._sxy, rcond=1e-10)[0]
        except np.linalg.LinAlgError:
            return self.current_a
        self.cell_current_a = -beta[1] * capacity_ah
        self.current_a = max(float(self.cell_current_a.max()), 0.0)
        self.rate_c = self.current_a / capacity_ah
        return self.current_a


__all__ = ["SelfDischargeMonitor"]
