"""The ``Chemistry`` dataclass: OCV curve (over SoC and temperature), equivalent circuit and limits.

SoC convention: 0 where the cell's open-circuit voltage equals ``empty_v``, 1 where it equals ``full_v``.

The equivalent circuit is OCV(SoC, T) + R0*I + two RC pairs (R1, tau1) and (R2, tau2), with I > 0 while
charging. Resistances are normalised to capacity (ohm * Ah: a 10 Ah cell has R0 = r0_ohm_per_ah / 10),
may depend on SoC (``ecm_soc`` breakpoints) and scale with temperature as Arrhenius,
``R(T) = R(25 degC) * exp(r_activation_k * (1/T - 1/298.15 K))``. The built-in tables are in
``core.chemistry_builtin``, the user-table loader in ``core.chemistry_tables``; ``core.chemistry`` exports all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

T_REF_C = 25.0
_T_REF_K = 298.15
# Temperatures at which the default tables are evaluated (OCV is linear in T between them, clamped outside).
_DEFAULT_TEMPS: tuple[float, ...] = (-20.0, 25.0, 60.0)


def _filled(a: np.ndarray | None) -> np.ndarray:
    """A table field, which ``__post_init__`` always fills (None is only an input: "derive it")."""
    if a is None:
        raise ValueError("chemistry table field not filled (Chemistry.__post_init__ did not run)")
    return a


@dataclass(frozen=True)
class Chemistry:
    """One cell chemistry. The Optional array fields are inputs only: ``__post_init__`` fills them (from
    the scalars or the 25 degC curve), so after construction every one is an array."""

    name: str
    ros_technology: int  # sensor_msgs/BatteryState POWER_SUPPLY_TECHNOLOGY_*
    nominal_v: float
    full_v: float  # charge termination (CV) voltage, SoC = 1
    empty_v: float  # discharge cut-off, SoC = 0
    cell_ov: float  # software over-voltage trip
    cell_ov_release: float
    cell_ov_hard: float  # always latches
    cell_uv: float
    cell_uv_release: float
    cell_uv_deep: float  # always latches
    charge_temp_min: float  # degC
    charge_temp_max: float
    discharge_temp_min: float
    discharge_temp_max: float
    ocv_soc: np.ndarray  # SoC breakpoints, increasing
    ocv_v: np.ndarray  # OCV at 25 degC, strictly increasing
    r0_ohm_per_ah: float  # typical ohmic resistance x capacity (ohm*Ah), at 25 degC and mid SoC
    # temperature dependence of the OCV
    docv_dt: np.ndarray | None = None  # entropic coefficient dOCV/dT (V/K) at ocv_soc; None = 0
    ocv_temps_c: tuple[float, ...] = ()  # explicit OCV table per temperature (overrides docv_dt) ...
    ocv_v_by_temp: np.ndarray | None = None  # ... shape (len(ocv_temps_c), len(ocv_soc))
    # equivalent circuit (ohm*Ah at 25 degC; tables over ecm_soc, or scalars)
    r1_ohm_per_ah: float = 0.02
    tau1_s: float = 10.0
    r2_ohm_per_ah: float = 0.02
    tau2_s: float = 200.0
    r_activation_k: float = 3000.0  # Arrhenius Ea/R of all resistances, K
    ecm_soc: np.ndarray | None = None  # SoC breakpoints of the tables below (None: scalars above)
    r0_table: np.ndarray | None = None
    r1_table: np.ndarray | None = None
    r2_table: np.ndarray | None = None
    source: str = "built-in"  # where the data came from (a file path for user tables)
    # charge-direction resistances over ecm_soc (None: the same as discharge)
    r0_chg_table: np.ndarray | None = None
    r1_chg_table: np.ndarray | None = None
    r2_chg_table: np.ndarray | None = None
    # solid diffusion as a surface-SoC lag (0 = none). Under current the particles' surface runs
    # ahead of their average by diffusion_tau_s * 2 * dSoC/dt (the steady state of a first-order lag with time
    # constant diffusion_tau_s): the OCV is that of the surface. Where the OCV is flat this costs millivolts,
    # where it is steep (near empty) it is the collapse a constant-resistance circuit cannot follow. The final
    # rise to full is often set by the other electrode, with a diffusion time of its own: diffusion_tau_full_s
    # applies above diffusion_full_soc + 0.05, diffusion_tau_s below it - 0.05, blended between (None: one
    # constant throughout).
    diffusion_tau_s: float = 0.0
    diffusion_tau_full_s: float | None = None
    diffusion_full_soc: float = 0.9
    # how well this curve and circuit fit the actual cell (ISSUE 13 item 3): the 1-sigma error of the OCV curve
    # (V) and the relative 1-sigma error of the resistances. A generic built-in curve is tens of mV off a given
    # cell; a table measured on the cell a few mV (``TABLE_OCV_UNCERTAINTY_V`` in core.chemistry_tables)
    ocv_uncertainty_v: float = 0.003
    ocv_soc_uncertainty: float = 0.0  # ... and its SoC axis (1-sigma): where the knees and plateaus lie
    ecm_uncertainty: float = 0.15
    # one-state hysteresis (ISSUE 13 item 4): the OCV after a long charge lies hysteresis_v above the curve,
    # after a long discharge as far below; the state moves between the two over hysteresis_soc of charge
    hysteresis_v: float = 0.0
    hysteresis_soc: float = 0.05
    # Arrhenius Ea/R (K) of the RC time constants (0: fixed); tau(T) = tau(25 degC) * exp(k (1/T - 1/298.15 K))
    tau_activation_k: float = 0.0

    def __post_init__(self) -> None:
        soc = np.asarray(self.ocv_soc, dtype=float)
        v25 = np.asarray(self.ocv_v, dtype=float)
        object.__setattr__(self, "ocv_soc", soc)
        object.__setattr__(self, "ocv_v", v25)
        temps: tuple[float, ...]
        if self.ocv_v_by_temp is None:
            dvdt = np.zeros_like(soc) if self.docv_dt is None else np.asarray(self.docv_dt, dtype=float)
            temps = _DEFAULT_TEMPS
            table = np.array([v25 + dvdt * (t - T_REF_C) for t in temps])
        else:
            temps = tuple(float(t) for t in self.ocv_temps_c)
            table = np.asarray(self.ocv_v_by_temp, dtype=float)
        object.__setattr__(self, "ocv_temps_c", temps)
        object.__setattr__(self, "ocv_v_by_temp", table)
        if self.ecm_soc is None:
            object.__setattr__(self, "ecm_soc", np.array([0.0, 1.0]))
        ecm_soc = np.asarray(self.ecm_soc, dtype=float)
        object.__setattr__(self, "ecm_soc", ecm_soc)
        for field_name, scalar in (
            ("r0_table", self.r0_ohm_per_ah),
            ("r1_table", self.r1_ohm_per_ah),
            ("r2_table", self.r2_ohm_per_ah),
        ):
            tab = getattr(self, field_name)
            tab = np.full(ecm_soc.shape, float(scalar)) if tab is None else np.asarray(tab, dtype=float)
            object.__setattr__(self, field_name, tab)
        for field_name, dis in (
            ("r0_chg_table", self.r0_table),
            ("r1_chg_table", self.r1_table),
            ("r2_chg_table", self.r2_table),
        ):
            tab = getattr(self, field_name)
            object.__setattr__(self, field_name, dis if tab is None else np.asarray(tab, dtype=float))
        self.check()

    # --- consistency ----------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ValueError unless the tables are usable: shapes agree, SoC and OCV strictly increase."""
        soc, table = self.ocv_soc, _filled(self.ocv_v_by_temp)
        if soc.ndim != 1 or soc.size < 2 or not np.all(np.diff(soc) > 0):
            raise ValueError(f"{self.name}: OCV SoC breakpoints must strictly increase")
        if table.shape != (len(self.ocv_temps_c), soc.size) or self.ocv_v.shape != soc.shape:
            raise ValueError(f"{self.name}: OCV table shape does not match its SoC breakpoints")
        if not np.all(np.isfinite(table)) or not np.all(np.diff(table, axis=1) > 0):
            raise ValueError(f"{self.name}: OCV must strictly increase with SoC at every tabulated temperature")
        if len(self.ocv_temps_c) > 1 and not np.all(np.diff(self.ocv_temps_c) > 0):
            raise ValueError(f"{self.name}: OCV table temperatures must strictly increase")
        e = _filled(self.ecm_soc)
        if e.ndim != 1 or e.size < 1 or (e.size > 1 and not np.all(np.diff(e) > 0)):
            raise ValueError(f"{self.name}: ECM SoC breakpoints must strictly increase")
        r0, r0_chg = _filled(self.r0_table), _filled(self.r0_chg_table)
        for tab in (
            r0,
            _filled(self.r1_table),
            _filled(self.r2_table),
            r0_chg,
            _filled(self.r1_chg_table),
            _filled(self.r2_chg_table),
        ):
            if tab.shape != e.shape or not np.all(np.isfinite(tab)) or np.any(tab < 0):
                raise ValueError(f"{self.name}: ECM resistance tables must be finite, >= 0, one per ECM SoC point")
        if not (np.all(r0 > 0) and np.all(r0_chg > 0)):
            raise ValueError(f"{self.name}: R0 must be > 0")
        if not (self.tau1_s > 0 and self.tau2_s > 0):
            raise ValueError(f"{self.name}: RC time constants must be > 0")
        if not 0.05 <= self.diffusion_full_soc <= 0.95:
            raise ValueError(f"{self.name}: diffusion_full_soc must be in [0.05, 0.95]")
        for key in ("diffusion_tau_s", "diffusion_tau_full_s"):
            tau = getattr(self, key)
            if tau is not None and not (math.isfinite(tau) and 0.0 <= tau <= 1e5):
                raise ValueError(f"{self.name}: {key} must be in [0, 1e5] s")
        self._check_model_error()
        if not self.empty_v < self.full_v:
            raise ValueError(f"{self.name}: empty_v must be below full_v")

    def _check_model_error(self) -> None:
        if not (0.0 <= self.ocv_uncertainty_v <= 0.5 and 0.0 <= self.ecm_uncertainty <= 5.0):
            raise ValueError(f"{self.name}: ocv_uncertainty_v must be in [0, 0.5] V, ecm_uncertainty in [0, 5]")
        if not 0.0 <= self.ocv_soc_uncertainty <= 0.3:
            raise ValueError(f"{self.name}: ocv_soc_uncertainty must be in [0, 0.3]")
        if not (0.0 <= self.hysteresis_v <= 0.2 and 0.001 <= self.hysteresis_soc <= 1.0):
            raise ValueError(f"{self.name}: hysteresis_v must be in [0, 0.2] V, hysteresis_soc in [0.001, 1]")
        if not 0.0 <= self.tau_activation_k <= 2e4:
            raise ValueError(f"{self.name}: tau_activation_k must be in [0, 20000] K")

    # --- OCV ------------------------------------------------------------------------------------------
    def ocv_table_at(self, temp_c: float = T_REF_C) -> np.ndarray:
        """The OCV breakpoints (at ``ocv_soc``) at one temperature: linear in T, clamped to the table."""
        cached = self.__dict__.get("_table_cache")
        if cached is not None and cached[0] == temp_c:
            return cached[1]
        table = self._table_at(temp_c)
        object.__setattr__(self, "_table_cache", (temp_c, table, np.diff(table) / np.diff(self.ocv_soc)))
        return table

    def _slopes_at(self, temp_c: float) -> np.ndarray:
        self.ocv_table_at(temp_c)
        return self.__dict__["_table_cache"][2]

    def _table_at(self, temp_c: float) -> np.ndarray:
        temps = self.ocv_temps_c
        by_temp = _filled(self.ocv_v_by_temp)
        if len(temps) == 1 or not math.isfinite(temp_c):
            return self.ocv_v if not math.isfinite(temp_c) else by_temp[0]
        t = min(max(float(temp_c), temps[0]), temps[-1])
        k = min(int(np.searchsorted(temps, t, side="right")) - 1, len(temps) - 2)
        w = (t - temps[k]) / (temps[k + 1] - temps[k])
        return by_temp[k] * (1.0 - w) + by_temp[k + 1] * w

    def ocv(self, soc: np.ndarray | float, temp_c: float = T_REF_C) -> np.ndarray:
        """Open-circuit voltage at ``soc`` (clamped to 0..1) and cell temperature ``temp_c``."""
        table = self.ocv_v if temp_c == T_REF_C else self.ocv_table_at(temp_c)
        return np.interp(soc, self.ocv_soc, table)

    def soc_from_ocv(self, v: np.ndarray | float, temp_c: float = T_REF_C) -> np.ndarray:
        """Inverse of ocv(): the SoC whose OCV is ``v`` (clamped to 0..1)."""
        table = self.ocv_v if temp_c == T_REF_C else self.ocv_table_at(temp_c)
        return np.interp(v, table, self.ocv_soc)

    def docv_dsoc(self, soc: np.ndarray | float, temp_c: float = T_REF_C) -> np.ndarray:
        """Slope of the OCV curve (V per unit SoC) on the segment containing ``soc``."""
        slopes = self._slopes_at(temp_c)
        k = np.searchsorted(self.ocv_soc, soc, side="right") - 1
        return slopes[np.minimum(np.maximum(k, 0), slopes.size - 1)]

    def ocv_and_slope(self, soc: np.ndarray, temp_c: float = T_REF_C) -> tuple[np.ndarray, np.ndarray]:
        """(OCV, dOCV/dSoC) at ``soc``, both from the segment containing it; outside 0..1 the end segments
        are extrapolated linearly (keeps a filter observable there)."""
        table = self.ocv_table_at(temp_c)
        slopes = self.__dict__["_table_cache"][2]
        k = np.searchsorted(self.ocv_soc, soc, side="right") - 1
        np.minimum(np.maximum(k, 0, out=k), slopes.size - 1, out=k)
        slope = slopes[k]
        return table[k] + slope * (soc - self.ocv_soc[k]), slope

    # --- equivalent circuit ---------------------------------------------------------------------------
    @property
    def diffusion_taus(self) -> tuple[float, float]:
        """The diffusion lag's time constants (s, at 25 degC) for the low and the high end of the SoC range."""
        full = self.diffusion_tau_s if self.diffusion_tau_full_s is None else self.diffusion_tau_full_s
        return self.diffusion_tau_s, full

    def diffusion_weight(self, soc: np.ndarray | float) -> np.ndarray:
        """Share of the high-end lag in the surface offset at ``soc`` (0 to 1 across diffusion_full_soc +- 0.05)."""
        return np.minimum(np.maximum((np.asarray(soc) - (self.diffusion_full_soc - 0.05)) * 10.0, 0.0), 1.0)

    def arrhenius(self, temp_c: float) -> float:
        """Resistance factor relative to 25 degC (temperature clamped to -40..80 degC)."""
        if not math.isfinite(temp_c):
            return 1.0
        t_k = min(max(temp_c, -40.0), 80.0) + 273.15
        return math.exp(self.r_activation_k * (1.0 / t_k - 1.0 / _T_REF_K))

    def taus(self, temp_c: float = T_REF_C) -> tuple[float, float]:
        """The RC time constants (s) at ``temp_c``: continuous in temperature (``tau_activation_k``)."""
        if self.tau_activation_k == 0.0 or not math.isfinite(temp_c):
            return self.tau1_s, self.tau2_s
        t_k = min(max(temp_c, -40.0), 80.0) + 273.15
        f = math.exp(self.tau_activation_k * (1.0 / t_k - 1.0 / _T_REF_K))
        return self.tau1_s * f, self.tau2_s * f

    def ecm(
        self, soc: np.ndarray | float, temp_c: float = T_REF_C, charging: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R0, R1, R2) in ohm*Ah at ``soc`` and ``temp_c``, for charge or discharge current; divide by the cell
        capacity for ohms."""
        f = self.arrhenius(temp_c)
        s = np.asarray(soc, dtype=float)
        t0, t1, t2 = (
            (self.r0_chg_table, self.r1_chg_table, self.r2_chg_table)
            if charging
            else (self.r0_table, self.r1_table, self.r2_table)
        )
        t0, t1, t2 = _filled(t0), _filled(t1), _filled(t2)
        e = _filled(self.ecm_soc)
        if e.size == 1:
            return np.full(s.shape, t0[0] * f), np.full(s.shape, t1[0] * f), np.full(s.shape, t2[0] * f)
        return np.interp(s, e, t0) * f, np.interp(s, e, t1) * f, np.interp(s, e, t2) * f
