"""The state estimator: per-cell SoC (EKF), anchors, capacity and resistance learning, runtime, persistence.

``StateEstimator(config).update(sample) -> Estimate`` once per AFE sample; pure numpy, deterministic.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bms_ros.core.chemistry import Chemistry, ChemistryTableError, get_chemistry, load_chemistry_table
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimation.runtime import EnergyTable, pack_soc, remaining, times
from bms_ros.core.estimation.soh import Anchor, CapacityEstimator, ResistanceRls
from bms_ros.core.estimation.startup_check import StartupRestCheck
from bms_ros.core.params import ConfigError
from bms_ros.core.timebase import GAP_S
from bms_ros.core.types import Estimate, PackSample

if TYPE_CHECKING:
    from bms_ros.core.config import BmsConfig

log = logging.getLogger(__name__)

NAN = math.nan
STATE_VERSION = 1
_MAX_STEP_S = 10.0          # longer gaps: the present current is held over the gap
# Longer intervals between usable samples are unknown time (core.timebase.GAP_S): the current is not integrated
# over them; the SoC uncertainty grows as if up to _GAP_UNKNOWN_C_RATE (1-sigma) flowed either way.
_GAP_UNKNOWN_C_RATE = 1.0
_GAP_RESUME_DT_S = 0.1       # the filter resumes after a gap as after one ordinary read period
_SOC_VAR_MAX = 1.0 / 12.0    # a SoC known only to lie in [0, 1] (uniform): the most a gap can add
_SELF_DISCHARGE_STD_PER_DAY = 0.0005   # SoC uncertainty added per day of unrecorded time
_BIAS_TAU_S = 60.0           # averaging time of the innovation bias monitor
_OUTLIER_RUN = 3             # consecutive outliers that mean a wrong state rather than a glitch
_BIAS_LIMIT = 2.5            # |mean normalised innovation| beyond this: the SoC is wrong, not noisy
_BIAS_MIN_SOC = 0.05         # ... if the mean innovation also means at least this much SoC
_JUMP_MIN_SOC = 0.10         # a run of outliers re-reads the SoC from the voltage if they mean this much SoC
_MONITOR_MAX_C = 1.0         # above this C-rate a persistent innovation is the model's (diffusion), not the SoC's


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


class StateEstimator:
    def __init__(self, config: BmsConfig, chemistry: Chemistry | None = None):
        self.cfg = config
        self.ec = config.estimation
        self.n = config.pack.cell_count
        self.design_ah = config.pack.design_capacity_ah
        self.chem = chemistry if chemistry is not None else resolve_chemistry(config)
        self.ekf = CellEkf(self.n, self.chem)
        self._has_diffusion = max(self.chem.diffusion_taus) > 0.0
        self.capacity = CapacityEstimator(self.design_ah, self.ec.capacity_min_delta_soc, self.ec.capacity_drift,
                                          self.ec.current_noise)
        self.rls = ResistanceRls(self.n, self.ec.resistance_forgetting)
        self.energy = EnergyTable(self.chem)
        self.initialized = False
        self.cycle_count = 0.0
        self.discharged_ah = 0.0
        self.ah_counter = 0.0            # net measured charge since start (anchors difference it)
        self.temperature_c = 25.0
        self._pending: dict[str, Any] | None = None
        self._pending_now: float | None = None
        self._last_stamp: float | None = None
        self._last_i: float = NAN
        self._last_v: np.ndarray | None = None
        self._r_step: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._cap_cache: tuple[float, np.ndarray] | None = None
        self._i_avg = 0.0
        self._i_hi = 0.0                 # envelope of the recent charge / discharge current (bounds the RC states)
        self._i_lo = 0.0
        self._surface = (0.0, 0.0)       # surface minus average SoC (solid diffusion), low and high end
        self._rest_s = 0.0
        self._rest_applied_at = -math.inf
        self._startup: StartupRestCheck | None = None   # a saved SoC waiting for a seen rest to be checked
        self._full_done = False
        self._empty_done = False
        self._last = Estimate(design_capacity_ah=self.design_ah, capacity_ah=self.design_ah, soh=1.0)

    # --- parameters at the present operating point ------------------------------------------------------
    def _cap(self) -> np.ndarray:
        c = self._cap_cache
        if c is None or c[0] != self.capacity.capacity_ah:
            c = self._cap_cache = (self.capacity.capacity_ah, np.full(self.n, self.capacity.capacity_ah))
        return c[1]

    def _resistances(self, soc: np.ndarray, charging: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell resistances (ohm) for a charge or discharge current (the chemistry may tell them apart). The
        learned scale applies to R0 only: a one-sample current step measures R0, and R0 and the charge-transfer
        and diffusion parts behind R1, R2 change differently with temperature and age (scaling all three by
        the step's ratio over-stated the RC overpotential in the cold and biased the SoC)."""
        r0, r1, r2 = self.chem.ecm(_clip01(soc), self.temperature_c, charging)
        d = self.design_ah
        return r0 * (self.rls.k / d), r1 / d, r2 / d

    def _diffusion_taus(self) -> tuple[float, float]:
        """The chemistry's diffusion time constants (low and high SoC end) at the present temperature:
        diffusion slows in the cold like the resistances do (the same Arrhenius factor)."""
        f = self.chem.arrhenius(self.temperature_c)
        lo, hi = self.chem.diffusion_taus
        return lo * f, hi * f

    def _steady_surface(self, i_t: float, taus: tuple[float, float] | None = None) -> tuple[float, float]:
        """Surface minus average SoC (low and high end) after a long constant current ``i_t`` (A)."""
        k = 2.0 * i_t / (3600.0 * self.capacity.capacity_ah)
        lo, hi = self._diffusion_taus() if taus is None else taus
        return k * lo, k * hi

    def _update_surface(self, it: float, dt: float) -> None:
        """First-order lags towards the steady surface offsets, discretised like the RC pairs."""
        def lag(x: float, x_ss: float, tau: float) -> float:
            return x + (1.0 - math.exp(-dt / tau)) * (x_ss - x) if tau > 0.0 else 0.0

        taus = self._diffusion_taus()
        ss_lo, ss_hi = self._steady_surface(it, taus)
        self._surface = (lag(self._surface[0], ss_lo, taus[0]), lag(self._surface[1], ss_hi, taus[1]))

    def _surface_at(self, soc: np.ndarray, surface: tuple[float, float] | None = None) -> np.ndarray | float:
        """The surface offset each cell sees at ``soc``: the low-end lag, the high-end one, or a blend."""
        lo, hi = self._surface if surface is None else surface
        if lo == hi:
            return float(lo)
        return lo + self.chem.diffusion_weight(soc) * (hi - lo)

    # --- public API -----------------------------------------------------------------------------------
    def reset(self, soc: float | np.ndarray, soc_std: float | None = None) -> None:
        """Start from a given SoC (all cells, or one per cell) instead of the first voltage reading."""
        soc_std = self.ec.initial_soc_std if soc_std is None else soc_std
        self.ekf.init(np.broadcast_to(np.asarray(soc, dtype=float), (self.n,)).copy(), soc_std,
                      offset=0.0, offset_std=self._offset_prior_std(), rc_std=self.ec.ocv_error)
        self._init_model_error()
        self._surface = (0.0, 0.0)
        self.initialized = True
        self._pending = None
        self._startup = None

    @property
    def end_of_charge(self) -> bool:
        """The end of a CC-CV charge (the full anchor: the top cell within ``full_voltage_margin`` of full and
        the current at or below ``tail_current``), until the pack discharges beyond ``rest_current``. The one
        detector behind the full anchor, BmsOutput.charge_complete, FULL and the 100 % SoC (ISSUE 14 item 5)."""
        return self._full_done

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
        if self._last_stamp is None:     # started by reset(): the first sample starts the clock
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
        i_in = 0.5 * (i_prev + i_meas) if dt <= _MAX_STEP_S and math.isfinite(i_prev) else i_meas
        if ec.learn_resistance and dt <= 2.0 and self._last_v is not None:
            self._resistance_step(v, i_prev, i_meas, dt)
        # predict
        soc = ekf.soc
        r0, r1, r2 = self._r_step = self._resistances(soc, i_in - ekf.offset > 0.0)
        cap = self._cap()
        it_in = i_in - ekf.offset
        a1 = math.exp(-dt / self.chem.tau1_s)
        a2 = math.exp(-dt / self.chem.tau2_s)
        ds = abs(it_in) * dt / (3600.0 * cap)
        q_soc = ec.current_noise ** 2 * ds + ec.soc_process_noise ** 2 * dt / 3600.0
        floor = 5e-4 ** 2
        q_v1 = ((ec.model_error_fraction * r1 * it_in) ** 2 + floor) * (1.0 - a1 * a1)
        # the slow RC state also carries the model's persistent voltage error (OCV table, hysteresis, diffusion)
        # as a Gauss-Markov process of stationary std voltage_model_error and correlation time tau2: the filter
        # can then explain a few mV of offset without moving the SoC, and the SoC variance cannot collapse
        # below what that error allows
        q_v2 = ((ec.model_error_fraction * r2 * it_in) ** 2 + max(floor, ec.voltage_model_error ** 2)) \
            * (1.0 - a2 * a2)
        q_b = (ec.current_offset_drift * self.design_ah) ** 2 * dt / 3600.0 if ec.estimate_current_offset else 0.0
        ekf.predict(i_in, dt, cap, r1, r2, q_soc, q_v1, q_v2, q_b)
        if self._has_diffusion:
            self._update_surface(it_in, dt)
        # correct with the voltages
        it = i_meas - ekf.offset
        # overpotential the model explains; the slow state also carries up to a few sigma of model error, which is
        # not current-driven and must not scale the error term
        over = np.abs(ekf.v1 + r0 * it) + np.maximum(np.abs(ekf.v2) - 2.0 * ec.voltage_model_error, 0.0)
        # the model's error (a fitted overpotential) persists for model_error_time: each sample carries only
        # dt / model_error_time of independent information about it, so its variance is scaled up by the ratio
        r_model = (ec.model_error_fraction * over) ** 2
        r_var = ec.voltage_noise ** 2 * max(1.0, 1.0 / dt) + r_model * max(1.0, ec.model_error_time / dt)
        # the bias monitor averages only below _MONITOR_MAX_C: above it a persistent innovation is the model's
        alpha = min(dt / _BIAS_TAU_S, 1.0) if abs(it) <= _MONITOR_MAX_C * self.design_ah else 0.0
        innov = ekf.update_voltage(v, i_meas, self.temperature_c, r0, r_var, ec.outlier_sigma, alpha,
                                   ec.ocv_flat_slope, ec.voltage_noise ** 2 + r_model,
                                   self._surface_at(ekf.soc))
        self._bound_rc(it_in, a2, r1, r2)
        if abs(it) <= _MONITOR_MAX_C * self.design_ah:
            self._check_bias(innov, v, it)
        if ec.estimate_current_offset:
            # a sensor offset beyond 3 sigma of its specification is the filter explaining something else
            ekf.clamp_offset(3.0 * self._offset_prior_std())
        if ec.offset_from_open_fets and not sample.charge_fet and not sample.discharge_fet \
                and abs(i_meas) < 0.05 * self.design_ah and ec.estimate_current_offset:
            ekf.update_offset(i_meas, (0.002 * self.design_ah) ** 2)
        # bookkeeping with the corrected current; the capacity counter uses the raw reading, since at constant
        # current the filter cannot tell an offset from a capacity error (the offset spec bounds that error)
        self.ah_counter += i_in * dt / 3600.0
        it = i_in - ekf.offset
        dah = it * dt / 3600.0
        if dah < 0:
            self.discharged_ah -= dah
            dc = -dah / self.design_ah
            self.cycle_count += dc
            self.capacity.age(dc)
        self._i_avg += (1.0 - math.exp(-dt / ec.load_time_constant)) * (it - self._i_avg)
        self._anchors(sample.stamp, v, i_meas, ekf.offset, dt)
        if self._startup is not None:
            verdict = self._startup.observe(sample.stamp, v, self._at_rest(i_meas, ekf.offset), self._rest_s,
                                            ec.rest_time)
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
        grow = _GAP_UNKNOWN_C_RATE * gap_s / 3600.0
        var = np.minimum(self.ekf.soc_var + grow * grow, _SOC_VAR_MAX)
        self.ekf.inflate_soc(np.arange(self.n), var)
        self._rest_s = 0.0
        return _GAP_RESUME_DT_S

    # --- initialisation ---------------------------------------------------------------------------------
    def _offset_prior_std(self) -> float:
        return self.ec.current_offset_std * self.design_ah if self.ec.estimate_current_offset else 0.0

    def _rc_prior_std(self, i_meas: float) -> float:
        """Uncertainty of the RC voltages at start: small after a rest, up to their full value under load."""
        _r0, r1, r2 = self._resistances(np.full(self.n, 0.5))
        return float(self.ec.ocv_error + np.max(r1 + r2) * abs(i_meas))

    def _bound_rc(self, it: float, a_slow: float, r1: np.ndarray, r2: np.ndarray) -> None:
        """Keep the RC voltages where the current history allows them: between R times the (decaying) envelope
        of the recent discharge and charge currents, plus the model error the slow state carries. Without
        this, a wrong SoC at a start under load is explained by RC voltages of the wrong sign or several times
        their possible size, and stays hidden for many time constants."""
        self._i_hi = max(it, self._i_hi * a_slow, 0.0)
        self._i_lo = min(it, self._i_lo * a_slow, 0.0)
        k = 1.0 + 2.0 * self.ec.model_error_fraction
        m = self.ec.voltage_model_error
        self.ekf.clamp_rc((k * self._i_lo) * r1 - m, (k * self._i_hi) * r1 + m,
                          (k * self._i_lo) * r2 - 3.0 * m, (k * self._i_hi) * r2 + 3.0 * m)

    def _init_model_error(self) -> None:
        """The slow RC state starts with at least the stationary model error as its uncertainty."""
        self._i_hi = self._i_lo = 0.0
        self.ekf.floor_rc_slow_var(self.ec.voltage_model_error ** 2)

    def _initialize(self, stamp: float, v: np.ndarray, i_meas: float) -> None:
        self._surface = self._steady_surface(i_meas)
        s_ocv, var_ocv = self._soc_from_voltage(v, i_meas, use_rc=False)
        pending, self._pending = self._pending, None
        if pending is None:
            std = np.full(self.n, self.ec.initial_soc_std)
            if abs(i_meas) <= self.ec.rest_current * self.design_ah:
                # at rest, though for how long is unknown: the OCV says more than the generic prior where steep
                std = np.minimum(std, np.nan_to_num(np.maximum(2.0 * np.sqrt(var_ocv), 0.01), nan=1.0))
            s0 = np.where(np.isfinite(s_ocv), s_ocv, self.chem.soc_from_ocv(v, self.temperature_c))
            self.ekf.init(s0, std, 0.0, self._offset_prior_std(), rc_std=self._rc_prior_std(i_meas))
            self._init_model_error()
            self.initialized = True
            return
        now = self._pending_now if self._pending_now is not None else stamp
        elapsed = now - pending["stamp"] if math.isfinite(pending["stamp"]) else NAN
        grow = _SELF_DISCHARGE_STD_PER_DAY * (elapsed / 86400.0) if elapsed >= 0 else 0.02
        std = np.sqrt(np.asarray(pending["cell_soc_std"]) ** 2 + grow ** 2)
        off_std = max(pending["current_offset_std"], 0.5 * self._offset_prior_std()) \
            if self.ec.estimate_current_offset else 0.0
        off = pending["current_offset_a"] if self.ec.estimate_current_offset else 0.0
        self.ekf.init(np.asarray(pending["cell_soc"], dtype=float), std, off, off_std,
                      rc_std=self._rc_prior_std(i_meas))
        self._init_model_error()
        self.initialized = True
        if not (elapsed >= 0) or elapsed >= self.ec.rest_time:
            # the pack may have rested while the node was off: check the saved SoC against the OCV once a rest
            # is seen (core.estimation.startup_check); one sample at zero current is no evidence of rest
            self._startup = StartupRestCheck(std, 1.0 if elapsed >= 0 else 4.0)
            self._startup.observe(stamp, v, self._at_rest(i_meas, off), 0.0, self.ec.rest_time)

    def _at_rest(self, i_meas: float, offset: float) -> bool:
        return min(abs(i_meas), abs(i_meas - offset)) <= self.ec.rest_current * self.design_ah

    def _startup_rest_check(self, stamp: float, v: np.ndarray, i_meas: float, chk: StartupRestCheck) -> None:
        """The saved SoC against the rested voltages: a cell beyond 3 sigma takes the voltage's SoC (a pack swapped
        or charged while the node was off), the others are corrected by it."""
        s_ocv, var_ocv = self._soc_from_voltage(v, i_meas, use_rc=False)
        var = var_ocv * chk.var_scale
        diff = s_ocv - self.ekf.soc
        bad = np.abs(diff) > 3.0 * np.sqrt(var + chk.saved_std ** 2)
        if np.any(bad & np.isfinite(diff)):
            log.warning("saved SoC disagrees with the rested cell voltages (cells %s: saved %s, OCV %s); "
                        "using the voltages", (np.flatnonzero(bad) + 1).tolist(),
                        np.round(self.ekf.soc[bad], 3).tolist(), np.round(s_ocv[bad], 3).tolist())
            idx = np.flatnonzero(bad & np.isfinite(diff))
            self.ekf.reset_soc(idx, s_ocv, var)
        good = ~bad
        self.ekf.update_soc(np.where(good, s_ocv, NAN), var)
        self._record_anchor(stamp, s_ocv, var, "startup-rest")

    def _soc_from_voltage(self, v: np.ndarray, i_t: float, use_rc: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Per-cell SoC from the voltage with the modelled overpotential removed, and its variance (NaN where
        the OCV curve is too flat to say anything). The voltage gives the particles' surface SoC; the average
        lies behind it by the tracked diffusion offset (``use_rc``) or its steady value at ``i_t``."""
        soc = self.ekf.soc if self.initialized else np.full(self.n, 0.5)
        r0, r1, r2 = self._resistances(soc, i_t > 0.0)
        if use_rc:
            over = r0 * i_t + self.ekf.v1 + self.ekf.v2
            surface = self._surface
        else:
            over = (r0 + r1 + r2) * i_t
            surface = self._steady_surface(i_t)
        s_surface = self.chem.soc_from_ocv(v - over, self.temperature_c)
        slope = np.maximum(self.chem.docv_dsoc(s_surface, self.temperature_c), 1e-6)
        s = s_surface - self._surface_at(s_surface, surface)
        err = self.ec.ocv_error ** 2 + (self.ec.model_error_fraction * over) ** 2
        var = err / slope ** 2
        var = np.where(var <= 0.1 ** 2, var, NAN)
        return np.where(np.isfinite(var), s, NAN), var

    # --- anchors ----------------------------------------------------------------------------------------
    def _anchors(self, stamp: float, v: np.ndarray, i_meas: float, offset: float, dt: float) -> None:
        ec, design = self.ec, self.design_ah
        it = i_meas - offset
        if min(abs(it), abs(i_meas)) <= ec.rest_current * design:
            self._rest_s += dt
        else:
            self._rest_s = 0.0
            self._rest_applied_at = -math.inf
        if self._rest_s >= ec.rest_time and self._rest_s - self._rest_applied_at >= ec.rest_time:
            self._rest_applied_at = self._rest_s
            self._apply_anchor(stamp, v, it, "rest")
        if it < -ec.rest_current * design:
            self._full_done = False
        if it > ec.rest_current * design:
            self._empty_done = False
        finite = np.isfinite(v)
        if not finite.any():
            return
        if (not self._full_done and 0 < it <= ec.tail_current * design
                and np.max(v[finite]) >= self.chem.full_v - ec.full_voltage_margin):
            self._full_done = True
            self._apply_anchor(stamp, v, it, "full")
        if (not self._empty_done and -ec.empty_anchor_current * design <= it < 0
                and np.min(v[finite]) <= self.chem.empty_v + ec.empty_voltage_margin):
            self._empty_done = True
            self._apply_anchor(stamp, v, it, "empty")

    def _apply_anchor(self, stamp: float, v: np.ndarray, it: float, kind: str) -> None:
        if kind == "rest":   # rested: the terminal voltage is the OCV
            s, var = self._soc_from_voltage(v, 0.0, use_rc=False)
            self._rest_interval_check(v, s)
        else:
            # full: at the end of CV the current has decayed for many RC time constants, so the overpotential
            # is the steady one, (R0 + R1 + R2) I, whatever the filter's RC states went through in CV
            s, var = self._soc_from_voltage(v, it, use_rc=kind != "full")
        self.ekf.update_soc(s, var)
        self._record_anchor(stamp, s, var, kind)

    def _rest_interval_check(self, v: np.ndarray, s: np.ndarray) -> None:
        """Where the OCV is too flat to give an SoC, a rested voltage still bounds it: the SoC lies between the
        points whose OCV is 3 ``ocv_error`` below and above the reading (on LFP's plateaus a span of tens of
        points, but not all of them). A cell whose estimate lies outside that span is wrong whatever its
        variance says; it is moved into the span with the span's own uncertainty. Not a capacity anchor."""
        flat = ~np.isfinite(s) & np.isfinite(v)
        if not flat.any():
            return
        k = 3.0 * self.ec.ocv_error
        lo = self.chem.soc_from_ocv(v - k, self.temperature_c)
        hi = self.chem.soc_from_ocv(v + k, self.temperature_c)
        soc = self.ekf.soc
        outside = flat & ((soc < lo) | (soc > hi))
        if outside.any():
            mid, var = 0.5 * (lo + hi), (hi - lo) ** 2 / 12.0     # uniform over the span
            idx = np.flatnonzero(outside)
            self.ekf.inflate_soc(idx, (mid[idx] - soc[idx]) ** 2)  # as uncertain as it is shown to be wrong
            self.ekf.update_soc(np.where(outside, mid, NAN), var)

    def _record_anchor(self, stamp: float, s: np.ndarray, var: np.ndarray, kind: str) -> None:
        if not self.ec.learn_capacity or not np.isfinite(s).any():
            return
        a = Anchor(stamp, s.copy(), var.copy(), self.ah_counter, self.ekf.offset_var, kind)
        if kind == "rest" and self._rest_s < self.ec.capacity_rest_time:
            # a short rest's voltage still relaxes (diffusion is slower than the ECM's RC pairs), and always
            # the same way after a discharge: fine for the SoC, but a systematic error in dAh / dSoC
            self.capacity.anchor = a
            return
        c = self.capacity.add_anchor(a)
        if c is not None:
            log.debug("capacity observation %.3f Ah (%s anchor) -> %.3f Ah", c, kind, self.capacity.capacity_ah)

    # --- monitors ---------------------------------------------------------------------------------------
    def _check_bias(self, innov: np.ndarray, v: np.ndarray, it: float) -> None:
        """The SoC is wrong (stale state, wrong start), not the voltage noisy, when the innovation stays beyond
        the outlier bound for several samples (a spike lasts one) or its mean stays one-sided for a minute:
        widen that cell's SoC uncertainty to what the innovation implies, so the voltage pulls it back. After a
        run of outliers the SoC is re-read from the voltage by inverting the OCV (one linearised EKF step
        across a large error lands short, and over-confident, where the OCV curve bends)."""
        ekf = self.ekf
        jump = ekf.outlier_run >= _OUTLIER_RUN
        drift = np.abs(ekf.bias_ema) > _BIAS_LIMIT
        if not (jump.any() or drift.any()):
            return
        # an innovation worth little SoC is the model's (OCV table, unmodelled diffusion and its relaxation), not
        # a wrong SoC: a single run of outliers must mean _JUMP_MIN_SOC, a minute's mean bias _BIAS_MIN_SOC
        min_slope = max(self.ec.ocv_flat_slope, 0.05)
        surface = ekf.soc + self._surface_at(ekf.soc)
        slope_all = np.maximum(self.chem.docv_dsoc(surface, self.temperature_c), min_slope)
        jump &= np.abs(innov) >= _JUMP_MIN_SOC * slope_all
        drift &= np.abs(ekf.bias_v) >= _BIAS_MIN_SOC * slope_all
        bad = np.flatnonzero((jump | drift) & np.isfinite(innov))
        if bad.size == 0:
            return
        slope = np.maximum(self.chem.docv_dsoc(surface[bad], self.temperature_c), min_slope)
        y = np.where(jump[bad], innov[bad], 2.0 * ekf.bias_v[bad])
        floor = np.minimum((y / slope) ** 2, 0.3 ** 2)
        ekf.inflate_soc(bad, floor)
        jumped = jump & np.isfinite(innov)
        if jumped.any():
            s, var = self._soc_from_voltage(v, it)
            ekf.update_soc(np.where(jumped, s, NAN), var)

    def _resistance_step(self, v: np.ndarray, i_prev: float, i_now: float, dt: float) -> None:
        di = i_now - i_prev
        if not (math.isfinite(di) and abs(di) >= self.ec.resistance_step * self.design_ah):
            return
        ekf = self.ekf
        b = ekf.offset
        soc = ekf.soc
        r0, r1, r2 = self.chem.ecm(_clip01(soc), self.temperature_c)
        r0, r1, r2 = r0 / self.design_ah, r1 / self.design_ah, r2 / self.design_ah
        a1 = math.exp(-dt / self.chem.tau1_s)
        a2 = math.exp(-dt / self.chem.tau2_s)
        it_prev = i_prev - b
        drift = ((1 - a1) * (r1 * it_prev - ekf.v1) + (1 - a2) * (r2 * it_prev - ekf.v2)
                 + self.chem.docv_dsoc(soc, self.temperature_c) * it_prev * dt / (3600.0 * self._cap()))
        y = (v - self._last_v) - drift - (r1 * (1 - a1) + r2 * (1 - a2)) * di
        phi = r0 * di
        noise = 2 * 0.003 ** 2 + (0.2 * phi) ** 2     # sensor noise + how well a 1 s step fits the model
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
        charge, wh, to_full = remaining(self.chem, self.energy, cell_soc, cap, r0 + r1 + r2, self._i_avg,
                                        self.temperature_c)
        min_i = self.ec.min_runtime_current * self.design_ah
        tte, ttf = times(charge, to_full, self._i_avg, min_i)
        return Estimate(
            soc=soc, soc_std=soc_std, cell_soc=cell_soc, soh=self.capacity.capacity_ah / self.design_ah,
            capacity_ah=self.capacity.capacity_ah, design_capacity_ah=self.design_ah, charge_ah=charge,
            resistance_ohm=float(r0.sum()), energy_wh=wh, time_to_empty_s=tte, time_to_full_s=ttf,
            cycle_count=self.cycle_count,
            current_offset_a=ekf.offset if self.ec.estimate_current_offset else NAN)

    # --- persistence ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What survives a restart (JSON-serialisable)."""
        d: dict[str, Any] = {
            "version": STATE_VERSION, "chemistry": self.chem.name, "cell_count": self.n,
            "design_capacity_ah": self.design_ah, "capacity_ah": self.capacity.capacity_ah,
            "capacity_std": math.sqrt(self.capacity.var), "capacity_updates": self.capacity.updates,
            "resistance_scale": self.rls.k.tolist(), "resistance_var": self.rls.p.tolist(),
            "cycle_count": self.cycle_count, "discharged_ah": self.discharged_ah,
            "stamp": NAN, "cell_soc": None, "cell_soc_std": None, "current_offset_a": 0.0,
            "current_offset_std": self._offset_prior_std(),
        }
        if self.initialized:
            d.update(stamp=self._last_stamp if self._last_stamp is not None else NAN,
                     cell_soc=self.ekf.soc.tolist(), cell_soc_std=np.sqrt(self.ekf.soc_var).tolist(),
                     current_offset_a=self.ekf.offset, current_offset_std=math.sqrt(self.ekf.offset_var))
        elif self._pending is not None:
            d.update({k: self._pending[k] for k in ("stamp", "cell_soc", "cell_soc_std", "current_offset_a",
                                                     "current_offset_std")})
        return d

    def load_state(self, d: dict[str, Any], now: float | None = None) -> bool:
        """Restore from state_dict(); ``now`` is the present time on the samples' clock (None: unknown, the
        first sample's stamp is used). Anything invalid: a warning, and defaults are kept. The SoC is checked
        against the open-circuit voltage at the first sample when the pack has rested long enough."""
        try:
            st = self._parse_state(d)
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError) as e:
            log.warning("estimator state rejected (%s): starting from defaults (SoC from voltage, rated capacity)",
                        e)
            return False
        self.capacity.capacity_ah = st["capacity_ah"]
        self.capacity.var = st["capacity_std"] ** 2
        self.capacity.updates = st["capacity_updates"]
        self.rls.k[:] = st["resistance_scale"]
        self.rls.p[:] = st["resistance_var"]
        self.cycle_count = st["cycle_count"]
        self.discharged_ah = st["discharged_ah"]
        if st["cell_soc"] is not None:
            self._pending = st
            self._pending_now = now
            self.initialized = False
        self._last = Estimate(design_capacity_ah=self.design_ah, capacity_ah=st["capacity_ah"],
                                          soh=st["capacity_ah"] / self.design_ah, cycle_count=self.cycle_count)
        return True

    def _parse_state(self, d: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise TypeError("not a mapping")
        # Types are checked, never coerced: "0.5" is not a number, true is not 1 (a wrong type rejects the state).
        def number(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        if d.get("version") != STATE_VERSION or not number(d.get("version")):
            raise ValueError(f"version {d.get('version')!r}, expected {STATE_VERSION}")
        if d.get("cell_count") != self.n or not number(d.get("cell_count")):
            raise ValueError(f"saved for {d.get('cell_count')!r} cells, the pack has {self.n}")
        if d.get("chemistry") != self.chem.name:
            raise ValueError(f"saved for chemistry {d.get('chemistry')!r}, configured {self.chem.name!r}")

        def num(key: str, lo: float, hi: float) -> float:
            if not number(d[key]):
                raise TypeError(f"{key}: expected a number, got {type(d[key]).__name__} {d[key]!r:.60}")
            try:
                x = float(d[key])
            except OverflowError:
                raise ValueError(f"{key}: a number too large for a float") from None
            if not (math.isfinite(x) and lo <= x <= hi):
                raise ValueError(f"{key} = {d[key]!r} is out of range [{lo}, {hi}]")
            return x

        def vec(key: str, lo: float, hi: float) -> np.ndarray:
            v = d[key]
            if not isinstance(v, list) or not all(number(x) for x in v):
                raise TypeError(f"{key}: expected a list of {self.n} numbers, got {type(v).__name__} {v!r:.60}")
            a = np.asarray(v, dtype=float)
            if a.shape != (self.n,) or not np.all(np.isfinite(a)) or np.any(a < lo) or np.any(a > hi):
                raise ValueError(f"{key} must be {self.n} numbers in [{lo}, {hi}]")
            return a

        stamp = d.get("stamp")
        if stamp is not None and not number(stamp):
            raise TypeError(f"stamp: expected a number or null, got {type(stamp).__name__} {stamp!r:.60}")
        st: dict[str, Any] = {"stamp": NAN if stamp is None else float(stamp)}
        if not number(d["design_capacity_ah"]):
            raise TypeError(f"design_capacity_ah: expected a number, got {d['design_capacity_ah']!r:.60}")
        if abs(float(d["design_capacity_ah"]) - self.design_ah) > 1e-9 * self.design_ah:
            raise ValueError(f"saved for a design capacity of {d['design_capacity_ah']} Ah, configured "
                             f"{self.design_ah} Ah")
        st["capacity_ah"] = num("capacity_ah", 0.3 * self.design_ah, 1.5 * self.design_ah)
        st["capacity_std"] = num("capacity_std", 0.0, self.design_ah)
        st["capacity_updates"] = int(num("capacity_updates", 0, 1e12))
        st["resistance_scale"] = vec("resistance_scale", 0.2, 10.0)
        st["resistance_var"] = vec("resistance_var", 0.0, 1.0)
        st["cycle_count"] = num("cycle_count", 0.0, 1e7)
        st["discharged_ah"] = num("discharged_ah", 0.0, 1e12)
        if d.get("cell_soc") is None:
            st["cell_soc"] = None
        else:
            st["cell_soc"] = vec("cell_soc", -0.1, 1.1)
            st["cell_soc_std"] = vec("cell_soc_std", 0.0, 1.0)
            st["current_offset_a"] = num("current_offset_a", -self.design_ah, self.design_ah)
            st["current_offset_std"] = num("current_offset_std", 0.0, self.design_ah)
        return st
