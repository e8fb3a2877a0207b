"""The equivalent circuit the estimator runs (``Chemistry``): v = OCV(surface SoC) + R0*i + two RC pairs,
the surface SoC ahead of the average by a first-order diffusion lag, resistances Arrhenius-scaled from 25 degC.

R0 per SoC band from the current steps (dV/dI over one sample, the estimator's discretisation). R1, R2 per
band by non-negative least squares on the rest of the overpotential; tau1, tau2 and the diffusion time
constant shared: a grid, then Nelder-Mead from its best point (scipy), on the median band's error. The lag at
the top of the charge (``diffusion_tau_full_s``, where the other electrode may set it) is chosen afterwards
on the samples above ``diffusion_full_soc``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.core import Chemistry
from bms_ros.tools.identify.recording import IdentifyError, Recording

BAND = 0.1  # SoC width of one ECM band
MIN_BAND_S = 300.0  # a band needs this much time under load to be fitted ...
LOADED_FRACTION = 0.05  # ... under load: above 5 % of the recording's peak current
MIN_STEPS = 3  # R0 of a band from its own steps only with at least this many; else the recording's median
TAU1_GRID = (2.0, 5.0, 10.0, 20.0, 40.0, 70.0)  # s
TAU2_GRID = (100.0, 200.0, 350.0, 600.0, 1000.0, 1500.0, 2500.0)  # s
TAU_D_GRID = (0.0, 30.0, 60.0, 120.0, 200.0, 350.0, 600.0)  # s
TAU_BOUNDS = ((1.0, 90.0), (60.0, 5000.0), (0.0, 1500.0))  # tau1, tau2, diffusion tau (s)
REFINE_ITERATIONS = 80


@dataclass
class EcmFit:
    soc: np.ndarray  # band centres
    r0: np.ndarray  # ohm*Ah at 25 degC, per band
    r1: np.ndarray
    r2: np.ndarray
    tau1_s: float
    tau2_s: float
    diffusion_tau_s: float
    diffusion_tau_full_s: float | None
    rms_mv: float  # fit residual over the whole recording
    steps_used: int
    v_model: np.ndarray  # the model's voltage at every sample (the report's plot)


def rc_response(i: np.ndarray, tau: float, dt: float) -> np.ndarray:
    """Voltage of a 1-ohm RC pair (time constant ``tau``) under ``i``; trapezoid input like the estimator."""
    from scipy.signal import lfilter

    if tau <= 0:
        return np.zeros_like(i)
    a = math.exp(-dt / tau)
    u = np.concatenate(([i[0]], 0.5 * (i[1:] + i[:-1])))
    return lfilter([1.0 - a], [1.0, -a], u)


def surface_offset(i: np.ndarray, tau_d: float, cap: float, dt: float) -> np.ndarray:
    """Surface minus average SoC for the diffusion lag (``Chemistry.diffusion_tau_s``)."""
    return 2.0 * tau_d / (3600.0 * cap) * rc_response(i, tau_d, dt)


class _Problem:
    """The data of one fit: per-sample SoC, Arrhenius factor, band index, R0 per sample."""

    def __init__(self, rec: Recording, soc: np.ndarray, ocv, cap: float, base: Chemistry, steps: np.ndarray):
        self.rec, self.soc, self.ocv, self.cap, self.base = rec, soc, ocv, cap, base
        temp = np.where(np.isfinite(rec.temp_c), rec.temp_c, 25.0)
        self.arr = np.exp(base.r_activation_k * (1.0 / (temp + 273.15) - 1.0 / 298.15))
        edges = np.arange(0.0, 1.0 + BAND / 2, BAND)
        band = np.clip(np.searchsorted(edges, soc, side="right") - 1, 0, edges.size - 2)
        loaded = np.abs(rec.i) > LOADED_FRACTION * np.max(np.abs(rec.i))
        keep = [b for b in range(edges.size - 1) if np.sum(loaded & (band == b)) * rec.dt >= MIN_BAND_S]
        if not keep:
            keep = [int(np.bincount(band).argmax())]
        self.bands = [np.flatnonzero(band == b) for b in keep]
        self.centres = np.array([float(np.clip(np.mean(soc[idx]), 0.0, 1.0)) for idx in self.bands])
        self.r0, self.steps_used = self._r0(steps, band, keep)
        self.r0_sample = np.interp(soc, self.centres, self.r0) * self.arr  # ohm
        self._ocv_cache: dict[tuple[float, float | None], np.ndarray] = {}

    def _r0(self, steps: np.ndarray, band: np.ndarray, keep: list[int]) -> tuple[np.ndarray, int]:
        rec = self.rec
        di = rec.i[steps] - rec.i[steps - 1]
        r = (rec.v[steps] - rec.v[steps - 1]) / di / self.arr[steps]
        good = np.isfinite(r) & (r > 0)
        if not good.any():
            raise IdentifyError(f"{rec.source}: no current step to read R0 from (the recording never changes load)")
        overall = float(np.median(r[good]))
        out = []
        for b in keep:
            mine = good & (band[steps] == b)
            out.append(float(np.median(r[mine])) if mine.sum() >= MIN_STEPS else overall)
        return np.array(out), int(good.sum())

    def ocv_at(self, tau_d: float, tau_full: float | None = None) -> np.ndarray:
        key = (round(tau_d, 3), None if tau_full is None else round(tau_full, 3))
        if key not in self._ocv_cache:
            if len(self._ocv_cache) > 64:
                self._ocv_cache.clear()
            off = surface_offset(self.rec.i, tau_d, self.cap, self.rec.dt)
            if tau_full is not None:
                hi = surface_offset(self.rec.i, tau_full, self.cap, self.rec.dt)
                off = off + self.base.diffusion_weight(self.soc) * (hi - off)
            self._ocv_cache[key] = self.ocv(self.soc + off)
        return self._ocv_cache[key]

    def _regressors(self, tau1: float, tau2: float) -> tuple[np.ndarray, np.ndarray]:
        dt = self.rec.dt
        return rc_response(self.rec.i, tau1, dt) * self.arr, rc_response(self.rec.i, tau2, dt) * self.arr

    def solve(self, tau1: float, tau2: float, tau_d: float, tau_full: float | None = None):
        """(R1, R2 per band in ohm*Ah, cost: the median band's mean squared residual, so that the shared time
        constants are those of the typical band, not of the steep end where the OCV is least certain)."""
        from scipy.optimize import nnls

        x1, x2 = self._regressors(tau1, tau2)
        eta = self.rec.v - self.ocv_at(tau_d, tau_full) - self.r0_sample * self.rec.i
        r1, r2, mse = [], [], []
        for idx in self.bands:
            a = np.stack([x1[idx], x2[idx]], axis=1)
            x, _ = nnls(a, eta[idx])
            mse.append(float(np.mean((eta[idx] - a @ x) ** 2)))
            r1.append(x[0] * self.cap)
            r2.append(x[1] * self.cap)
        return np.array(r1), np.array(r2), float(np.median(mse))

    def model(self, taus: tuple[float, float, float, float | None], r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
        """The estimator's voltage at every sample, resistances interpolated over SoC like its tables."""
        x1, x2 = self._regressors(taus[0], taus[1])
        r1s = np.interp(self.soc, self.centres, r1) / self.cap
        r2s = np.interp(self.soc, self.centres, r2) / self.cap
        return self.ocv_at(taus[2], taus[3]) + self.r0_sample * self.rec.i + r1s * x1 + r2s * x2


def _clip_taus(x: np.ndarray) -> tuple[float, float, float]:
    t1, t2, td = (float(np.clip(v, lo, hi)) for v, (lo, hi) in zip(x, TAU_BOUNDS, strict=True))
    return min(t1, t2), max(t1, t2), td


def fit_ecm(rec: Recording, soc: np.ndarray, ocv, cap: float, base: Chemistry, steps: np.ndarray) -> EcmFit:
    """``ocv(soc)`` the fitted curve, ``cap`` the capacity (Ah), ``steps`` sample indices of current steps."""
    from scipy.optimize import minimize

    p = _Problem(rec, soc, ocv, cap, base, steps)
    best = min(
        ((p.solve(t1, t2, td)[2], (t1, t2, td)) for td in TAU_D_GRID for t1 in TAU1_GRID for t2 in TAU2_GRID),
        key=lambda c: c[0],
    )
    res = minimize(
        lambda x: p.solve(*_clip_taus(x))[2],
        np.array(best[1]),
        method="Nelder-Mead",
        options={"maxiter": REFINE_ITERATIONS, "initial_simplex": _simplex(best[1])},
    )
    tau1, tau2, tau_d = _clip_taus(res.x) if res.fun < best[0] else best[1]
    top = base.diffusion_weight(soc) > 0
    tau_full = None
    if np.sum(top & (np.abs(rec.i) > 0)) * rec.dt >= MIN_BAND_S:

        def top_error(tf: float) -> float:
            r1, r2, _ = p.solve(tau1, tau2, tau_d, tf)
            return float(np.mean((rec.v - p.model((tau1, tau2, tau_d, tf), r1, r2))[top] ** 2))

        tau_full = min(TAU_D_GRID, key=top_error)
    r1, r2, _ = p.solve(tau1, tau2, tau_d, tau_full)
    v_model = p.model((tau1, tau2, tau_d, tau_full), r1, r2)
    resid = rec.v - v_model
    return EcmFit(
        soc=p.centres,
        r0=p.r0 * cap,
        r1=r1,
        r2=r2,
        tau1_s=tau1,
        tau2_s=tau2,
        diffusion_tau_s=tau_d,
        diffusion_tau_full_s=tau_full,
        rms_mv=float(np.sqrt(np.mean(resid**2))) * 1e3,
        steps_used=p.steps_used,
        v_model=v_model,
    )


def _simplex(x0: tuple[float, float, float]) -> np.ndarray:
    x = np.array(x0, dtype=float)
    return np.array([x, x * [1.5, 1.0, 1.0], x * [1.0, 1.5, 1.0], x * [1.0, 1.0, 1.5] + [0.0, 0.0, 20.0]])
