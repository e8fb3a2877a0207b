"""The innovation monitor: a voltage innovation that stays large means a wrong SoC, not a noisy voltage.

A run of outliers (a spike lasts one sample) or a mean innovation that stays one-sided for about a minute
widens that cell's SoC uncertainty to what the innovation implies, so the voltage pulls the SoC back; after a
run of outliers the caller also re-reads the SoC from the voltage (one linearised EKF step across a large error
lands short, and over-confident, where the OCV curve bends). The filter keeps the statistics
(``CellEkf.outlier_run``, ``bias_ema``, ``bias_v``); this module decides.
"""

from __future__ import annotations

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation.ekf import CellEkf

__all__ = ["InnovationMonitor"]

BIAS_TAU_S = 60.0  # s, averaging time of the innovation bias monitor ("one-sided for a minute")
OUTLIER_RUN = 3  # consecutive outliers that mean a wrong state rather than a glitch
BIAS_LIMIT = 2.5  # |mean normalised innovation| beyond this: the SoC is wrong, not noisy
BIAS_MIN_SOC = 0.05  # ... if the mean innovation also means at least this much SoC
JUMP_MIN_SOC = 0.10  # a run of outliers re-reads the SoC from the voltage if they mean this much SoC
MONITOR_MAX_C = 1.0  # C; above it a persistent innovation is the model's (diffusion), not the SoC's
# V per unit SoC: the least OCV slope an innovation is converted with, so a flat plateau does not turn
# millivolts of model error into tens of points of SoC (a tuning value of this estimator)
MIN_SLOPE_V = 0.05
BIAS_SCALE = 2.0  # a mean bias widens the SoC as if the error were twice the mean (the mean lags it)
MAX_SOC_STD = 0.3  # SoC, 1-sigma: the most one widening adds (about a uniform SoC over [0, 1])


class InnovationMonitor:
    """Stateless: the statistics live in the filter; ``design_ah`` sets the C-rate gate."""

    def __init__(self, chem: Chemistry, design_ah: float):
        self.chem = chem
        self.design_ah = design_ah

    def active(self, it: float) -> bool:
        """The monitor averages and acts only below MONITOR_MAX_C."""
        return abs(it) <= MONITOR_MAX_C * self.design_ah

    def alpha(self, dt: float, it: float) -> float:
        """The bias average's weight for a step of ``dt`` s at current ``it`` (0: not averaged)."""
        return min(dt / BIAS_TAU_S, 1.0) if abs(it) <= MONITOR_MAX_C * self.design_ah else 0.0

    def check(
        self, ekf: CellEkf, innov: np.ndarray, surface: np.ndarray, temp_c: float, flat_slope: float
    ) -> np.ndarray | None:
        """Widen the SoC of the cells whose innovation means a wrong SoC; ``surface`` is each cell's surface SoC.
        Returns the mask of cells to re-read from the voltage (a run of outliers), or None when there are none."""
        jump = ekf.outlier_run >= OUTLIER_RUN
        drift = np.abs(ekf.bias_ema) > BIAS_LIMIT
        if not (jump.any() or drift.any()):
            return None
        # an innovation worth little SoC is the model's (OCV table, unmodelled diffusion and its relaxation), not
        # a wrong SoC: a single run of outliers must mean JUMP_MIN_SOC, a minute's mean bias BIAS_MIN_SOC
        min_slope = max(flat_slope, MIN_SLOPE_V)
        slope_all = np.maximum(self.chem.docv_dsoc(surface, temp_c), min_slope)
        jump &= np.abs(innov) >= JUMP_MIN_SOC * slope_all
        drift &= np.abs(ekf.bias_v) >= BIAS_MIN_SOC * slope_all
        bad = np.flatnonzero((jump | drift) & np.isfinite(innov))
        if bad.size == 0:
            return None
        slope = np.maximum(self.chem.docv_dsoc(surface[bad], temp_c), min_slope)
        y = np.where(jump[bad], innov[bad], BIAS_SCALE * ekf.bias_v[bad])
        floor = np.minimum((y / slope) ** 2, MAX_SOC_STD**2)
        ekf.inflate_soc(bad, floor)
        jumped = jump & np.isfinite(innov)
        return jumped if jumped.any() else None
