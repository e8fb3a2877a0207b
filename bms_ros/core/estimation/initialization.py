"""The estimator's start: from a given SoC (``reset``), from the first voltage reading, or from a saved state
(``_pending``, checked against the OCV once a rest is seen: core.estimation.startup_check).

``EstimatorStart`` is a mixin of ``StateEstimator`` (which sets every attribute declared here and provides the
methods stubbed here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation import tuning as tun
from bms_ros.core.estimation.anchors import plateau_span
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimation.startup_check import StartupRestCheck, check_saved_soc, resume_prior

if TYPE_CHECKING:
    from bms_ros.core.estimation.config import EstimationConfig

__all__ = ["EstimatorStart"]


class EstimatorStart:
    """``reset``, ``_initialize`` (the first sample) and the priors they use."""

    ec: EstimationConfig
    chem: Chemistry
    n: int
    design_ah: float
    ekf: CellEkf
    initialized: bool
    temperature_c: float
    _surface: tuple[float, float]
    _pending: dict[str, Any] | None
    _pending_now: float | None
    _startup: StartupRestCheck | None
    _i_hi: float
    _i_lo: float

    def _resistances(self, soc: np.ndarray, charging: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _steady_surface(self, i_t: float) -> tuple[float, float]:
        raise NotImplementedError

    def _soc_from_voltage(self, v: np.ndarray, i_t: float, use_rc: bool = True) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _record_anchor(self, stamp: float, s: np.ndarray, var: np.ndarray, kind: str) -> None:
        raise NotImplementedError

    def reset(self, soc: float | np.ndarray, soc_std: float | None = None) -> None:
        """Start from a given SoC (all cells, or one per cell) instead of the first voltage reading."""
        soc_std = self.ec.initial_soc_std if soc_std is None else soc_std
        self.ekf.init(
            np.broadcast_to(np.asarray(soc, dtype=float), (self.n,)).copy(),
            soc_std,
            offset=0.0,
            offset_std=self._offset_prior_std(),
            rc_std=self.ec.ocv_error,
        )
        self._init_model_error()
        self._surface = (0.0, 0.0)
        self.initialized = True
        self._pending = None
        self._startup = None

    def _offset_prior_std(self) -> float:
        return self.ec.current_offset_std * self.design_ah if self.ec.estimate_current_offset else 0.0

    def _rc_prior_std(self, i_meas: float) -> float:
        """Uncertainty of the RC voltages at start: small after a rest, up to their full value under load."""
        _r0, r1, r2 = self._resistances(np.full(self.n, tun.MID_SOC))
        return float(self.ec.ocv_error + np.max(r1 + r2) * abs(i_meas))

    def _init_model_error(self) -> None:
        """The slow RC state starts with at least the stationary model error as its uncertainty."""
        self._i_hi = self._i_lo = 0.0
        self.ekf.floor_rc_slow_var(self.ec.voltage_model_error**2)

    def _initialize(self, stamp: float, v: np.ndarray, i_meas: float) -> None:
        self._surface = self._steady_surface(i_meas)
        s_ocv, var_ocv = self._soc_from_voltage(v, i_meas, use_rc=False)
        pending, self._pending = self._pending, None
        if pending is None:
            s0, std = self._first_reading(v, i_meas, s_ocv, var_ocv)
            self.ekf.init(s0, std, 0.0, self._offset_prior_std(), rc_std=self._rc_prior_std(i_meas))
            self._init_model_error()
            self.initialized = True
            return
        now = self._pending_now if self._pending_now is not None else stamp
        std, off, off_std, elapsed = resume_prior(
            pending, now, self._offset_prior_std(), self.ec.estimate_current_offset
        )
        self.ekf.init(
            np.asarray(pending["cell_soc"], dtype=float), std, off, off_std, rc_std=self._rc_prior_std(i_meas)
        )
        self._init_model_error()
        self.initialized = True
        if not (elapsed >= 0) or elapsed >= self.ec.rest_time:
            # the pack may have rested while the node was off: check the saved SoC against the OCV once a rest
            # is seen (core.estimation.startup_check); one sample at zero current is no evidence of rest
            self._startup = StartupRestCheck(std, 1.0 if elapsed >= 0 else tun.UNKNOWN_OFF_VAR_SCALE)
            self._startup.observe(stamp, v, self._at_rest(i_meas, off), 0.0, self.ec.rest_time)

    def _first_reading(
        self, v: np.ndarray, i_meas: float, s_ocv: np.ndarray, var_ocv: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """SoC and its 1-sigma from the first voltage reading. At rest (for how long is unknown) the OCV's own
        sigma, widened; under load at least ``initial_soc_std``; where the curve is too flat to read (within its
        error) the span of SoCs it allows, as a uniform spread: a reading is never more certain than the curve."""
        ocv_std = np.sqrt(var_ocv)
        if abs(i_meas) <= self.ec.rest_current * self.design_ah:
            std = np.maximum(tun.START_OCV_SIGMAS * ocv_std, tun.START_STD_MIN)
        else:
            std = np.maximum(ocv_std, self.ec.initial_soc_std)
        flat = ~np.isfinite(s_ocv)
        if not flat.any():
            return s_ocv, std
        k = tun.START_OCV_SIGMAS * np.sqrt(self.ec.ocv_error**2 + self._ocv_error_var())
        r0, r1, r2 = self._resistances(np.full(self.n, tun.MID_SOC), i_meas > 0.0)
        v_ocv = v - (r0 + r1 + r2) * i_meas - self._hyst_offset()
        ks = tun.START_OCV_SIGMAS * self.chem.ocv_soc_uncertainty
        lo, hi = plateau_span(self.chem, v_ocv, k, self.temperature_c, ks)
        s_read = self.chem.soc_from_ocv(v_ocv, self.temperature_c)
        # the reading itself is the likeliest point; the span on either side of it as a uniform spread
        span_std = np.maximum(np.maximum(s_read - lo, hi - s_read) / np.sqrt(3.0), self.ec.initial_soc_std)
        return np.where(flat, s_read, s_ocv), np.where(flat, span_std, std)

    def _ocv_error_var(self) -> np.ndarray | float:
        raise NotImplementedError

    def _hyst_offset(self) -> np.ndarray | float:
        raise NotImplementedError

    def _at_rest(self, i_meas: float, offset: float) -> bool:
        return min(abs(i_meas), abs(i_meas - offset)) <= self.ec.rest_current * self.design_ah

    def _startup_rest_check(self, stamp: float, v: np.ndarray, i_meas: float, chk: StartupRestCheck) -> None:
        """The saved SoC against the rested voltages (core.estimation.startup_check.check_saved_soc)."""
        s_ocv, var_ocv = self._soc_from_voltage(v, i_meas, use_rc=False)
        var = check_saved_soc(self.ekf, s_ocv, var_ocv, chk)
        self._record_anchor(stamp, s_ocv, var, "startup-rest")
