"""The state estimator: per-cell SoC (EKF), anchors, capacity and resistance learning, runtime, persistence.

``StateEstimator(config).update(sample) -> Estimate`` once per AFE sample; pure numpy, deterministic. The
coordinator: the diffusion lag, anchors, innovation monitor, saved state and constants live in their own modules
of this package (see its docstring).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bms_ros.core.chemistry import T_REF_C, Chemistry, ChemistryTableError, get_chemistry, load_chemistry_table
from bms_ros.core.estimation import tuning as tun
from bms_ros.core.estimation.anchors import AnchorDetector, bound_on_plateau, record_capacity_anchor
from bms_ros.core.estimation.diffusion import SurfaceLag
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimation.initialization import EstimatorStart
from bms_ros.core.estimation.model import EstimatorModel
from bms_ros.core.estimation.monitor import InnovationMonitor
from bms_ros.core.estimation.runtime import EnergyTable, pack_soc, remaining, times
from bms_ros.core.estimation.soh import Anchor, CapacityEstimator, ResistanceRls, step_observation
from bms_ros.core.estimation.startup_check import StartupRestCheck
from bms_ros.core.estimation.state import STATE_VERSION, EstimatorPersistence
from bms_ros.core.params import ConfigError
from bms_ros.core.timebase import GAP_S
from bms_ros.core.types import Estimate, PackSample

if TYPE_CHECKING:
    from bms_ros.core.config import BmsConfig

NAN = math.nan
__all__ = ["STATE_VERSION", "StateEstimator", "resolve_chemistry"]


def _clip01(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0.0), 1.0)


def resolve_chemistry(config: BmsConfig) -> Chemistry:
    """The chemistry named by ``pack.chemistry``, with ``estimation.chemistry_table`` applied."""
    base = get_chemistry(config.pack.chemistry)
    path = config.estimation.chemistry_table
    if not path:
        return base
    try:
        return load_chemistry_table(path, base)
    except ChemistryTableError as e:
        raise ConfigError(f"estimation.chemistry_table: {e}") from None


class StateEstimator(EstimatorModel, EstimatorStart, EstimatorPersistence):
    """The coordinator: the filter (``ekf``), the diffusion lag (``lag``), the anchors (``anchors``), the
    innovation monitor, capacity (``capacity``) and resistance (``rls``) learning, the output and persistence."""

    def __init__(self, config: BmsConfig, chemistry: Chemistry | None = None):
        self.cfg = config
        self.ec = config.estimation
        self.n = config.pack.cell_count
        self.design_ah = config.pack.design_capacity_ah
        self.chem = chemistry if chemistry is not None else resolve_chemistry(config)
        self.ekf = CellEkf(self.n, self.chem)
        self.lag = SurfaceLag(self.chem)
        self.anchors = AnchorDetector(self.chem, self.design_ah)
        self.monitor = InnovationMonitor(self.chem, self.design_ah)
        self.capacity = CapacityEstimator(
            self.design_ah,
            self.ec.capacity_min_delta_soc,
            self.ec.capacity_drift,
            self.ec.current_noise,
            self.ec.current_offset_std * self.design_ah,
            self.ec.current_offset_drift * self.design_ah,
        )
        self.rls = ResistanceRls(self.n, self.ec.resistance_forgetting)
        self.energy = EnergyTable(self.chem)
        self._init_model()
        self._mef = self._model_error_fraction()  # this step's overpotential error fraction
        self.initialized = False
        self.cycle_count = 0.0
        self.discharged_ah = 0.0
        self.ah_counter = 0.0  # net measured charge since start (anchors difference it)
        self.temperature_c = T_REF_C  # degC until a sample reports one
        self._pending: dict[str, Any] | None = None
        self._pending_now: float | None = None
        self._last_stamp: float | None = None
        self._last_i: float = NAN
        self._last_v: np.ndarray | None = None
        self._r_step: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._cap_cache: tuple[float, np.ndarray] | None = None
        self._i_avg = 0.0
        self._i_hi = 0.0  # envelope of the recent charge / discharge current (bounds the RC states)
        self._i_lo = 0.0
        self._startup: StartupRestCheck | None = None  # a saved SoC waiting for a seen rest to be checked
        self._last = Estimate(design_capacity_ah=self.design_ah, capacity_ah=self.design_ah, soh=1.0)

    # --- parameters at the present operating point ------------------------------------------------------
    def _cap(self) -> np.ndarray:
        c = self._cap_cache
        if c is None or c[0] != self.capacity.capacity_ah:
            c = self._cap_cache = (self.capacity.capacity_ah, np.full(self.n, self.capacity.capacity_ah))
        return c[1]

    # --- the diffusion lag (core.estimation.diffusion) ------------------------------------------------------
    @property
    def _surface(self) -> tuple[float, float]:
        """Surface minus average SoC (solid diffusion), low and high end."""
        return self.lag.surface

    @_surface.setter
    def _surface(self, value: tuple[float, float]) -> None:
        self.lag.surface = value

    def _steady_surface(self, i_t: float) -> tuple[float, float]:
        return self.lag.steady(i_t, self.capacity.capacity_ah, self.temperature_c)

    def _surface_at(self, soc: np.ndarray, surface: tuple[float, float] | None = None) -> np.ndarray | float:
        return self.lag.at(soc, surface)

    # --- the anchors' state (core.estimation.anchors) -------------------------------------------------------
    @property
    def _rest_s(self) -> float:
        """Seconds at rest so far."""
        return self.anchors.rest_s

    @_rest_s.setter
    def _rest_s(self, value: float) -> None:
        self.anchors.rest_s = value

    # --- public API (reset: core.estimation.initialization) -------------------------------------------
    @property
    def end_of_charge(self) -> bool:
        """The end of a CC-CV charge (the full anchor: the top cell within ``full_voltage_margin`` of full and
        the current at or below ``tail_current``), until the pack discharges beyond ``rest_current``. The one
        detector behind the full anchor, BmsOutput.charge_complete, FULL and the 100 % SoC (ISSUE 14 item 5)."""
        return self.anchors.full_done

    def update(self, sample: PackSample) -> Estimate:
        i_meas = sample.current
        if not sample.comm_ok or not math.isfinite(i_meas) or sample.cell_voltages.shape != (self.n,):
            return self._last
        temps = sample.temperatures
        if temps.size:
            t_mean = float(temps.sum()) / temps.size
            if math.isfinite(t_mean):
                self.temperature_c = t_mean
            else:
                temps = temps[np.isfinite(temps)]
                if temps.size:
                    self.temperature_c = float(temps.mean())
        v = np.asarray(sample.cell_voltages, dtype=float)
        if not self.initialized:
            if not np.all(np.isfinite(v)):
                return self._last
            self._initialize(sample.stamp, v, i_meas)
            self._last_stamp, self._last_i, self._last_v = sample.stamp, i_meas, v
            self._last = self._output(sample.stamp)
            return self._last
        if self._last_stamp is None:  # started by reset(): the first sample starts the clock
            self._last_stamp, self._last_i, self._last_v = sample.stamp, i_meas, v
            self._last = self._output(sample.stamp)
            return self._last
        dt = sample.stamp - self._last_stamp
        if not dt > 0:
            return self._last
        ec, ekf = self.ec, self.ekf
        i_prev = self._last_i
        if dt > GAP_S:
            dt, i_prev = self._unknown_time(dt), i_meas
        i_in = 0.5 * (i_prev + i_meas) if dt <= tun.MAX_STEP_S and math.isfinite(i_prev) else i_meas
        if ec.learn_resistance and dt <= tun.R_STEP_MAX_DT_S and self._last_v is not None:
            self._resistance_step(v, i_prev, i_meas, dt)
        # predict
        soc = ekf.soc
        charging = i_in - ekf.offset > 0.0
        r0, r1, r2 = self._r_step = self._resistances(soc, charging)
        cap = self._cap()
        it_in = i_in - ekf.offset
        ekf.taus = taus = self._taus()
        a1 = math.exp(-dt / taus[0])
        a2 = math.exp(-dt / taus[1])
        ds = abs(it_in) * dt / (tun.S_PER_H * cap[0])
        q_soc = self._soc_process_var(ds, dt)
        mef = self._mef = self._model_error_fraction()
        floor = tun.RC_NOISE_FLOOR_V**2
        q_v1 = ((mef * r1 * it_in) ** 2 + floor) * (1.0 - a1 * a1)
        # the slow RC state also carries the model's persistent voltage error (OCV table, hysteresis, diffusion)
        # as a Gauss-Markov process of stationary std voltage_model_error and correlation time tau2: the filter
        # can then explain a few mV of offset without moving the SoC, and the SoC variance cannot collapse
        # below what that error allows
        q_v2 = ((mef * r2 * it_in) ** 2 + max(floor, ec.voltage_model_error**2)) * (1.0 - a2 * a2)
        q_b = (ec.current_offset_drift * self.design_ah) ** 2 * dt / tun.S_PER_H if ec.estimate_current_offset else 0.0
        ekf.predict(i_in, dt, cap, r1, r2, q_soc, q_v1, q_v2, q_b)
        if self.lag.enabled:
            self.lag.step(it_in, dt, self.capacity.capacity_ah, self.temperature_c)
        self._adapt(sample.stamp, v, it_in, dt, ds, charging)
        var_predicted = ekf.soc_var.copy()
        # correct with the voltages (the hysteresis offset removed: the filter's OCV is the chemistry's curve)
        it = i_meas - ekf.offset
        # overpotential the model explains; the slow state also carries up to a few sigma of model error, which is
        # not current-driven and must not scale the error term
        over = np.abs(ekf.v1 + r0 * it) + np.maximum(
            np.abs(ekf.v2) - tun.MODEL_ERROR_SIGMAS * ec.voltage_model_error, 0.0
        )
        # the model's error (a fitted overpotential) persists for model_error_time: each sample carries only
        # dt / model_error_time of independent information about it, so its variance is scaled up by the ratio
        r_model = (mef * over) ** 2
        r_ocv, r_ocv_bias = self._ocv_noise(ds, dt)
        r_var = ec.voltage_noise**2 * max(1.0, tun.NOISE_REF_DT_S / dt) + r_model * max(1.0, ec.model_error_time / dt)
        alpha = self.monitor.alpha(dt, it)
        innov = ekf.update_voltage(
            v - self.hyst.offset(),
            i_meas,
            self.temperature_c,
            r0,
            r_var + r_ocv,
            ec.outlier_sigma,
            alpha,
            ec.ocv_flat_slope,
            ec.voltage_noise**2 + r_model + r_ocv_bias,
            self._surface_at(ekf.soc),
        )
        self._swing_read(var_predicted)
        self._bound_rc(it_in, a2, r1, r2)
        if self.monitor.active(it):
            self._check_bias(innov, v, it)
        if ec.estimate_current_offset:
            ekf.clamp_offset(tun.OFFSET_CLAMP_SIGMA * self._offset_prior_std())
        if (
            ec.offset_from_open_fets
            and not sample.charge_fet
            and not sample.discharge_fet
            and abs(i_meas) < tun.OPEN_FET_MAX_C * self.design_ah
            and ec.estimate_current_offset
        ):
            ekf.update_offset(i_meas, (tun.OPEN_FET_OFFSET_STD_C * self.design_ah) ** 2)
        # bookkeeping with the corrected current; the capacity counter uses the raw reading, since at constant
        # current the filter cannot tell an offset from a capacity error (the offset spec bounds that error)
        self.ah_counter += i_in * dt / tun.S_PER_H
        it = i_in - ekf.offset
        dah = it * dt / tun.S_PER_H
        if dah < 0:
            self.discharged_ah -= dah
            dc = -dah / self.design_ah
            self.cycle_count += dc
            self.capacity.age(dc)
        self._i_avg += (1.0 - math.exp(-dt / ec.load_time_constant)) * (it - self._i_avg)
        self._anchors(sample.stamp, v, i_meas, ekf.offset, dt)
        if self._startup is not None:
            verdict = self._startup.observe(
                sample.stamp, v, self._at_rest(i_meas, ekf.offset), self._rest_s, ec.rest_time
            )
            if verdict == "check":
                self._startup_rest_check(sample.stamp, v, i_meas, self._startup)
            if verdict != "wait":
                self._startup = None
        self._last_stamp, self._last_i, self._last_v = sample.stamp, i_meas, v
        self._last = self._output(sample.stamp)
        return self._last

    def set_config(self, config: BmsConfig) -> None:
        """Apply changed runtime ``estimation.*`` parameters. Most are read from ``self.ec`` at each use; these
        three were copied into helpers at construction and are pushed on here."""
        self.cfg, self.ec = config, config.estimation
        self.capacity.min_delta = self.ec.capacity_min_delta_soc
        self.capacity.gain_error = self.ec.current_noise
        self.rls.lam = self.ec.resistance_forgetting

    def _unknown_time(self, gap_s: float) -> float:
        """An interval without usable samples: no charge is counted over it (not the held current, not a
        cycle); the SoC uncertainty grows with its length instead. Returns the step the filter resumes with."""
        grow = tun.GAP_UNKNOWN_C_RATE * gap_s / tun.S_PER_H
        var = np.minimum(self.ekf.soc_var + grow * grow, tun.SOC_VAR_MAX)
        self.ekf.inflate_soc(np.arange(self.n), var)
        self._rest_s = 0.0
        return tun.GAP_RESUME_DT_S

    def _soc_from_voltage(self, v: np.ndarray, i_t: float, use_rc: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell SoC from the voltage with the modelled overpotential removed, and its variance (NaN where
        the OCV curve is too flat to say anything). The voltage gives the particles' surface SoC; the average
        lies behind it by the tracked diffusion offset (``use_rc``) or its steady value at ``i_t``."""
        soc = self.ekf.soc if self.initialized else np.full(self.n, tun.MID_SOC)
        r0, r1, r2 = self._resistances(soc, i_t > 0.0)
        if use_rc:
            over = r0 * i_t + self.ekf.v1 + self.ekf.v2
            surface = self._surface
        else:
            over = (r0 + r1 + r2) * i_t
            surface = self._steady_surface(i_t)
        s_surface = self.chem.soc_from_ocv(v - over - self.hyst.offset(), self.temperature_c)
        slope = np.maximum(self.chem.docv_dsoc(s_surface, self.temperature_c), tun.MIN_OCV_SLOPE_V)
        s = s_surface - self._surface_at(s_surface, surface)
        err = self.ec.ocv_error**2 + self._ocv_error_var() + (self._model_error_fraction() * over) ** 2
        var = err / slope**2 + self.chem.ocv_soc_uncertainty**2
        var = np.where(var <= tun.MAX_OCV_SOC_STD**2, var, NAN)
        return np.where(np.isfinite(var), s, NAN), var

    # --- anchors ----------------------------------------------------------------------------------------
    def _anchors(self, stamp: float, v: np.ndarray, i_meas: float, offset: float, dt: float) -> None:
        it = i_meas - offset
        for kind in self.anchors.detect(self.ec, v, it, i_meas, dt):
            self._apply_anchor(stamp, v, it, kind)

    def _apply_anchor(self, stamp: float, v: np.ndarray, it: float, kind: str) -> None:
        if kind == "rest":  # rested: the terminal voltage is the OCV
            s, var = self._soc_from_voltage(v, 0.0, use_rc=False)
            self._rest_interval_check(v, s)
        else:
            # full: at the end of CV the current has decayed for many RC time constants, so the overpotential
            # is the steady one, (R0 + R1 + R2) I, whatever the filter's RC states went through in CV
            s, var = self._soc_from_voltage(v, it, use_rc=kind != "full")
        var_before = self.ekf.soc_var.copy()
        self.ekf.update_soc(s, var)
        self._swing_read(var_before)
        self._record_anchor(stamp, s, var, kind)

    def _rest_interval_check(self, v: np.ndarray, s: np.ndarray) -> None:
        # the span the rested voltage allows: the reading's own error, the curve's and the hysteresis offset's
        err = np.sqrt(self.ec.ocv_error**2 + self._ocv_error_var())
        bound_on_plateau(
            self.chem, self.ekf, v - self.hyst.offset(), s, err, self.temperature_c, self.chem.ocv_soc_uncertainty
        )

    def _record_anchor(self, stamp: float, s: np.ndarray, var: np.ndarray, kind: str) -> None:
        if not self.ec.learn_capacity or not np.isfinite(s).any():
            return
        a = Anchor(stamp, s.copy(), var.copy(), self.ah_counter, self.ekf.offset_var, kind)
        record_capacity_anchor(self.capacity, a, self.anchors, self.ec.capacity_rest_time, self.temperature_c)

    # --- monitors ---------------------------------------------------------------------------------------
    def _check_bias(self, innov: np.ndarray, v: np.ndarray, it: float) -> None:
        """The innovation monitor (core.estimation.monitor); after a run of outliers the SoC is re-read from the
        voltage by inverting the OCV."""
        ekf = self.ekf
        surface = ekf.soc + self._surface_at(ekf.soc)
        jumped = self.monitor.check(ekf, innov, surface, self.temperature_c, self.ec.ocv_flat_slope)
        if jumped is not None:
            s, var = self._soc_from_voltage(v, it)
            ekf.update_soc(np.where(jumped, s, NAN), var)

    def _resistance_step(self, v: np.ndarray, i_prev: float, i_now: float, dt: float) -> None:
        di = i_now - i_prev
        if not (math.isfinite(di) and abs(di) >= self.ec.resistance_step * self.design_ah) or self._last_v is None:
            return
        y, phi, noise = step_observation(
            self.chem,
            self.ekf,
            _clip01(self.ekf.soc),
            v - self._last_v,
            i_prev,
            di,
            dt,
            self.temperature_c,
            self.design_ah,
            self._cap(),
        )
        self.rls.update(y, phi, noise)

    # --- output -----------------------------------------------------------------------------------------
    def _output(self, stamp: float) -> Estimate:
        ekf = self.ekf
        cap = self._cap()
        cell_soc = _clip01(ekf.soc)
        soc, soc_std = pack_soc(cell_soc, ekf.soc_cov, cap)
        # this step's resistances (at the SoC before the correction: they vary slowly with SoC)
        r0, r1, r2 = self._r_step if self._r_step is not None else self._resistances(cell_soc)
        self._r_step = None
        charge, wh, to_full = remaining(
            self.chem, self.energy, cell_soc, cap, r0 + r1 + r2, self._i_avg, self.temperature_c
        )
        min_i = self.ec.min_runtime_current * self.design_ah
        tte, ttf = times(charge, to_full, self._i_avg, min_i)
        return Estimate(
            soc=soc,
            soc_std=soc_std,
            cell_soc=cell_soc,
            soh=self.capacity.capacity_ah / self.design_ah,
            capacity_ah=self.capacity.capacity_ah,
            capacity_std_ah=self.capacity.std,
            design_capacity_ah=self.design_ah,
            charge_ah=charge,
            resistance_ohm=float(r0.sum()),
            energy_wh=wh,
            time_to_empty_s=tte,
            time_to_full_s=ttf,
            cycle_count=self.cycle_count,
            current_offset_a=ekf.offset if self.ec.estimate_current_offset else NAN,
            polarisation_resistance_ohm=float((r1 + r2).sum()),
            resistance_scale=float(self.rls.k.sum()) / self.n,
            polarisation_scale=float(self.pol.k.sum()) / (2 * self.n),
            hysteresis_state=float(self.hyst.h.sum()) / self.n,
        )
