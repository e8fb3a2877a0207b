"""The solid-diffusion lag: how far the particles' surface SoC runs ahead of their average under current.

Under a constant current the surface leads the average by ``tau * 2 * dSoC/dt`` (the steady state of a
first-order lag with time constant ``tau``); the OCV the terminal shows is the surface's. The chemistry gives
one time constant for the low end of the SoC range and one for the high end (``Chemistry.diffusion_taus``),
blended by ``Chemistry.diffusion_weight``; both slow in the cold with the resistances' Arrhenius factor.
"""

from __future__ import annotations

import math

import numpy as np

from bms_ros.core.chemistry import Chemistry

__all__ = ["SurfaceLag"]

_S_PER_H = 3600.0


class SurfaceLag:
    """Surface minus average SoC at the low and the high end of the SoC range (``surface``)."""

    def __init__(self, chem: Chemistry):
        self.chem = chem
        self.surface: tuple[float, float] = (0.0, 0.0)
        self.enabled = max(chem.diffusion_taus) > 0.0

    def taus(self, temp_c: float) -> tuple[float, float]:
        """The time constants (s, low and high SoC end) at ``temp_c``: diffusion slows in the cold like the
        resistances do (the same Arrhenius factor)."""
        f = self.chem.arrhenius(temp_c)
        lo, hi = self.chem.diffusion_taus
        return lo * f, hi * f

    def steady(
        self, i_t: float, capacity_ah: float, temp_c: float, taus: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        """Surface minus average SoC (low and high end) after a long constant current ``i_t`` (A)."""
        k = 2.0 * i_t / (_S_PER_H * capacity_ah)
        lo, hi = self.taus(temp_c) if taus is None else taus
        return k * lo, k * hi

    def step(self, i_t: float, dt: float, capacity_ah: float, temp_c: float) -> None:
        """First-order lags towards the steady offsets over ``dt`` s, discretised like the RC pairs."""

        def lag(x: float, x_ss: float, tau: float) -> float:
            return x + (1.0 - math.exp(-dt / tau)) * (x_ss - x) if tau > 0.0 else 0.0

        taus = self.taus(temp_c)
        ss_lo, ss_hi = self.steady(i_t, capacity_ah, temp_c, taus)
        self.surface = (lag(self.surface[0], ss_lo, taus[0]), lag(self.surface[1], ss_hi, taus[1]))

    def at(self, soc: np.ndarray, surface: tuple[float, float] | None = None) -> np.ndarray | float:
        """The surface offset each cell sees at ``soc``: the low-end lag, the high-end one, or a blend."""
        lo, hi = self.surface if surface is None else surface
        if lo == hi:
            return float(lo)
        return lo + self.chem.diffusion_weight(soc) * (hi - lo)
