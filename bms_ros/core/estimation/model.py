"""The model the filter runs on at the present operating point, and how far to trust it (ISSUE 13 items 1, 3, 4).

``EstimatorModel`` is a mixin of ``StateEstimator``: the cell resistances and time constants at the present
temperature (continuous in it) scaled by what was learned (R0 by ``rls``, the RC pairs by ``pol``), the
hysteresis offset, and the noise terms that make the reported sigma cover the model's error as well as the
sensors':

- the OCV curve's own error (``Chemistry.ocv_uncertainty_v``, tens of mV for a generic curve) and the hysteresis
  offset's, which persist while the SoC stands still: the voltage is worth one independent reading of them per
  ``OCV_ERROR_CORR_SOC`` of SoC moved (or per ``OCV_ERROR_CORR_S`` at rest), so a rest cannot talk the filter
  into certainty about a curve that is off;
- the overpotential's error, a fraction of the modelled overpotential that starts at the chemistry's
  ``ecm_uncertainty`` and falls as the adaptation learns the polarisation: a sag under load is only as
  informative as the model of the sag;
- the capacity's error, which a coulomb count carries in proportion to the charge counted since the last anchor
  (correlated, not a random walk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation import tuning as tun
from bms_ros.core.estimation.adaptation import Hysteresis, PolarisationRls

if TYPE_CHECKING:
    from bms_ros.core.estimation.config import EstimationConfig
    from bms_ros.core.estimation.ekf import CellEkf
    from bms_ros.core.estimation.soh import CapacityEstimator, ResistanceRls

__all__ = ["EstimatorModel"]

# The OCV curve's error is correlated over this much SoC (the curves of two cells differ in broad waves: on the
# training cells the built-in curves' error keeps its sign over 20-40 % of SoC) ...
OCV_ERROR_CORR_SOC = 0.3
# ... and, with the SoC standing still, over this long (temperature and relaxation change the reading slowly)
OCV_ERROR_CORR_S = 3600.0


def _clip01(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0.0), 1.0)


class EstimatorModel:
    """Resistances, time constants, hysteresis and the model-error terms (see the module docstring)."""

    ec: EstimationConfig
    chem: Chemistry
    n: int
    design_ah: float
    ekf: CellEkf
    rls: ResistanceRls
    capacity: CapacityEstimator
    temperature_c: float
    pol: PolarisationRls
    hyst: Hysteresis
    _swing: np.ndarray
    _r_base: tuple[np.ndarray, np.ndarray, np.ndarray]
    _mef: np.ndarray
    _i_hi: float
    _i_lo: float

    def _init_model(self) -> None:
        self.pol = PolarisationRls(self.n, self.chem)
        self.hyst = Hysteresis(self.n, self.chem)
        self._mef_cache: tuple[tuple[int, int, float], np.ndarray] | None = None
        self._swing = np.zeros(self.n)  # SoC counted since the SoC was last read (the capacity error's lever)

    def _base_resistances(self, soc: np.ndarray, charging: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chemistry's (or table's) resistances in ohm at the present temperature, before learning."""
        r0, r1, r2 = self.chem.ecm(_clip01(soc), self.temperature_c, charging)
        d = self.design_ah
        return r0 / d, r1 / d, r2 / d

    def _resistances(self, soc: np.ndarray, charging: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell resistances (ohm) for a charge or discharge current with what was learned: R0 scaled by the
        current steps (``rls``), R1 and R2 by the relaxations (``pol``); R0 and the charge-transfer and
        diffusion parts behind R1, R2 change differently with temperature and age, so each has its own scale."""
        r0, r1, r2 = self._r_base = self._base_resistances(soc, charging)
        k = self.pol.k
        return r0 * self.rls.k, r1 * k[0], r2 * k[1]

    def _taus(self) -> tuple[float, float]:
        return self.chem.taus(self.temperature_c)

    def _model_error_fraction(self) -> np.ndarray:
        """The overpotential's relative error per cell: the configured floor, widened while the polarisation
        (and R0) is not yet learned."""
        key = (self.rls.updates, self.pol.updates, self.ec.model_error_fraction)
        c = self._mef_cache
        if c is not None and c[0] == key:
            return c[1]
        r0_var = np.minimum(self.rls.p, self.chem.ecm_uncertainty**2)
        mef = np.sqrt(self.ec.model_error_fraction**2 + self.pol.rel_var + r0_var)
        self._mef_cache = (key, mef)
        return mef

    def _ocv_error_var(self) -> np.ndarray | float:
        """Variance (V^2) of the OCV curve at the cell: the curve's own error and the hysteresis offset's."""
        return self.chem.ocv_uncertainty_v**2 + self.hyst.var()

    def _hyst_offset(self) -> np.ndarray | float:
        return self.hyst.offset()

    def _soc_process_var(self, ds: float, dt: float) -> np.ndarray:
        """SoC variance added over a step that counted ``ds`` (SoC, unsigned): the current sensor's noise, the
        unexplained random walk and the capacity's error on the charge counted. The last is correlated, not a
        random walk: the SoC's error from it is ``swing * dC/C``, with ``swing`` the charge counted since the SoC
        was last read, so its variance grows as the increment of ``var_c swing^2``. A voltage correction reads
        the SoC in part and shrinks the swing by the same share (``_swing_read``): a consider-filter term."""
        ec = self.ec
        c = self.capacity.capacity_ah
        cap_rel_var = self.capacity.var / (c * c) if c > 0 else 0.0
        q = ec.current_noise**2 * ds + ec.soc_process_noise**2 * dt / 3600.0
        g = self._swing
        out = q + cap_rel_var * ds * (2.0 * g + ds)
        g += ds
        return out

    def _swing_read(self, var_before: np.ndarray) -> None:
        """After a correction: the share of the SoC's variance left is the share of the swing left."""
        after = self.ekf.soc_var
        self._swing *= np.sqrt(np.minimum(after / np.maximum(var_before, 1e-30), 1.0))

    def _ocv_noise(self, ds: float, dt: float) -> tuple[np.ndarray | float, np.ndarray | float]:
        """(per-sample variance, persistent variance) of the OCV error in the voltage measurement."""
        var = self._ocv_error_var()
        su = self.chem.ocv_soc_uncertainty
        if su > 0.0:  # the curve's SoC axis: a voltage error of slope * su
            var = var + (self.chem.docv_dsoc(self.ekf.soc, self.temperature_c) * su) ** 2
        w = min(max(ds / OCV_ERROR_CORR_SOC, dt / OCV_ERROR_CORR_S), 1.0)
        return var / w, var

    def _adapt(self, stamp: float, v: np.ndarray, it: float, dt: float, ds: float, charging: bool) -> None:
        """Advance the hysteresis and the polarisation learning by one sample (``it`` the true current, A)."""
        rest_a = self.ec.rest_current * self.design_ah
        self.hyst.step(it, ds, rest_a)
        if not self.ec.learn_resistance:
            return
        _r0, r1, r2 = self._r_base  # this step's (set by _resistances)
        self.pol.step(stamp, v, it, dt, r1, r2, self._taus(), self.ekf.soc, self._ocv_at, self.capacity.capacity_ah)

    def _ocv_at(self, soc: np.ndarray) -> np.ndarray:
        """The OCV (V) at ``soc`` and the present temperature, hysteresis included."""
        return self.chem.ocv(_clip01(soc), self.temperature_c) + self.hyst.offset()

    def adapted_parameters(self) -> dict[str, float]:
        """The learned model, for status and diagnostics: mean scales of R0, R1, R2 (1 = the chemistry's or the
        table's), the relative 1-sigma of the polarisation, the mean hysteresis state."""
        return {
            "r0_scale": float(np.mean(self.rls.k)),
            "r1_scale": float(np.mean(self.pol.k[0])),
            "r2_scale": float(np.mean(self.pol.k[1])),
            "polarisation_rel_std": float(np.mean(np.sqrt(self.pol.rel_var))),
            "hysteresis_state": float(np.mean(self.hyst.h)),
            "polarisation_updates": float(self.pol.updates),
        }

    def _bound_rc(self, it: float, a_slow: float, r1: np.ndarray, r2: np.ndarray) -> None:
        """Keep the RC voltages where the current history allows them: between R times the (decaying) envelope
        of the recent discharge and charge currents, plus the model error the slow state carries. Without
        this, a wrong SoC at a start under load is explained by RC voltages of the wrong sign or several times
        their possible size, and stays hidden for many time constants."""
        self._i_hi = max(it, self._i_hi * a_slow, 0.0)
        self._i_lo = min(it, self._i_lo * a_slow, 0.0)
        k = 1.0 + tun.RC_ENVELOPE_ERRORS * self._mef
        m = self.ec.voltage_model_error
        m2 = tun.RC_BOUND_SIGMAS * m
        self.ekf.clamp_rc(
            (k * self._i_lo) * r1 - m, (k * self._i_hi) * r1 + m, (k * self._i_lo) * r2 - m2, (k * self._i_hi) * r2 + m2
        )
