"""Cell chemistry data: open-circuit voltage curves, equivalent-circuit parameters and limits.

Values are typical figures for generic cells (datasheets and the literature on entropic coefficients and
ECM identification); every one can be overridden: the limits by configuration, the OCV curve and the ECM
by a user table (``load_chemistry_table``, CSV or YAML) measured on the actual cell.

SoC convention: 0 where the cell's open-circuit voltage equals ``empty_v``, 1 where it equals ``full_v``.

The equivalent circuit is OCV(SoC, T) + R0*I + two RC pairs (R1, tau1) and (R2, tau2), with I > 0 while
charging. Resistances are normalised to capacity (ohm * Ah: a 10 Ah cell has R0 = r0_ohm_per_ah / 10),
may depend on SoC (``ecm_soc`` breakpoints) and scale with temperature as Arrhenius,
``R(T) = R(25 degC) * exp(r_activation_k * (1/T - 1/298.15 K))``.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_SOC = np.linspace(0.0, 1.0, 21)
T_REF_C = 25.0
_T_REF_K = 298.15
# Temperatures at which the default tables are evaluated (OCV is linear in T between them, clamped outside).
_DEFAULT_TEMPS = (-20.0, 25.0, 60.0)


class ChemistryTableError(ValueError):
    """A user chemistry table could not be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Chemistry:
    name: str
    ros_technology: int        # sensor_msgs/BatteryState POWER_SUPPLY_TECHNOLOGY_*
    nominal_v: float
    full_v: float              # charge termination (CV) voltage, SoC = 1
    empty_v: float             # discharge cut-off, SoC = 0
    cell_ov: float             # software over-voltage trip
    cell_ov_release: float
    cell_ov_hard: float        # always latches
    cell_uv: float
    cell_uv_release: float
    cell_uv_deep: float        # always latches
    charge_temp_min: float     # degC
    charge_temp_max: float
    discharge_temp_min: float
    discharge_temp_max: float
    ocv_soc: np.ndarray        # SoC breakpoints, increasing
    ocv_v: np.ndarray          # OCV at 25 degC, strictly increasing
    r0_ohm_per_ah: float       # typical ohmic resistance x capacity (ohm*Ah), at 25 degC and mid SoC
    # --- added: temperature dependence of the OCV -------------------------------------------------------
    docv_dt: np.ndarray | None = None      # entropic coefficient dOCV/dT (V/K) at ocv_soc; None = 0
    ocv_temps_c: tuple[float, ...] = ()    # explicit OCV table per temperature (overrides docv_dt) ...
    ocv_v_by_temp: np.ndarray | None = None  # ... shape (len(ocv_temps_c), len(ocv_soc))
    # --- added: equivalent circuit (ohm*Ah at 25 degC; tables over ecm_soc, or scalars) -----------------
    r1_ohm_per_ah: float = 0.02
    tau1_s: float = 10.0
    r2_ohm_per_ah: float = 0.02
    tau2_s: float = 200.0
    r_activation_k: float = 3000.0         # Arrhenius Ea/R of all resistances, K
    ecm_soc: np.ndarray | None = None      # SoC breakpoints of the tables below (None: scalars above)
    r0_table: np.ndarray | None = None
    r1_table: np.ndarray | None = None
    r2_table: np.ndarray | None = None
    source: str = "built-in"               # where the data came from (a file path for user tables)
    # --- added: charge-direction resistances over ecm_soc (None: the same as discharge) -------------------
    r0_chg_table: np.ndarray | None = None
    r1_chg_table: np.ndarray | None = None
    r2_chg_table: np.ndarray | None = None
    # --- added: solid diffusion as a surface-SoC lag (0 = none). Under current the particles' surface runs
    # ahead of their average by diffusion_tau_s * 2 * dSoC/dt (the steady state of a first-order lag with time
    # constant diffusion_tau_s): the OCV is that of the surface. Where the OCV is flat this costs millivolts,
    # where it is steep (near empty) it is the collapse a constant-resistance circuit cannot follow. The final
    # rise to full is often set by the other electrode, with a diffusion time of its own: diffusion_tau_full_s
    # applies above diffusion_full_soc + 0.05, diffusion_tau_s below it - 0.05, blended between (None: one
    # constant throughout).
    diffusion_tau_s: float = 0.0
    diffusion_tau_full_s: float | None = None
    diffusion_full_soc: float = 0.9

    def __post_init__(self) -> None:
        soc = np.asarray(self.ocv_soc, dtype=float)
        v25 = np.asarray(self.ocv_v, dtype=float)
        object.__setattr__(self, "ocv_soc", soc)
        object.__setattr__(self, "ocv_v", v25)
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
        for field_name, scalar in (("r0_table", self.r0_ohm_per_ah), ("r1_table", self.r1_ohm_per_ah),
                                   ("r2_table", self.r2_ohm_per_ah)):
            tab = getattr(self, field_name)
            tab = np.full(ecm_soc.shape, float(scalar)) if tab is None else np.asarray(tab, dtype=float)
            object.__setattr__(self, field_name, tab)
        for field_name, dis in (("r0_chg_table", self.r0_table), ("r1_chg_table", self.r1_table),
                                ("r2_chg_table", self.r2_table)):
            tab = getattr(self, field_name)
            object.__setattr__(self, field_name, dis if tab is None else np.asarray(tab, dtype=float))
        self.check()

    # --- consistency ----------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ValueError unless the tables are usable: shapes agree, SoC and OCV strictly increase."""
        soc, table = self.ocv_soc, self.ocv_v_by_temp
        if soc.ndim != 1 or soc.size < 2 or not np.all(np.diff(soc) > 0):
            raise ValueError(f"{self.name}: OCV SoC breakpoints must strictly increase")
        if table.shape != (len(self.ocv_temps_c), soc.size) or self.ocv_v.shape != soc.shape:
            raise ValueError(f"{self.name}: OCV table shape does not match its SoC breakpoints")
        if not np.all(np.isfinite(table)) or not np.all(np.diff(table, axis=1) > 0):
            raise ValueError(f"{self.name}: OCV must strictly increase with SoC at every tabulated temperature")
        if len(self.ocv_temps_c) > 1 and not np.all(np.diff(self.ocv_temps_c) > 0):
            raise ValueError(f"{self.name}: OCV table temperatures must strictly increase")
        e = self.ecm_soc
        if e.ndim != 1 or e.size < 1 or (e.size > 1 and not np.all(np.diff(e) > 0)):
            raise ValueError(f"{self.name}: ECM SoC breakpoints must strictly increase")
        for tab in (self.r0_table, self.r1_table, self.r2_table, self.r0_chg_table, self.r1_chg_table,
                    self.r2_chg_table):
            if tab.shape != e.shape or not np.all(np.isfinite(tab)) or np.any(tab < 0):
                raise ValueError(f"{self.name}: ECM resistance tables must be finite, >= 0, one per ECM SoC point")
        if not (np.all(self.r0_table > 0) and np.all(self.r0_chg_table > 0)):
            raise ValueError(f"{self.name}: R0 must be > 0")
        if not (self.tau1_s > 0 and self.tau2_s > 0):
            raise ValueError(f"{self.name}: RC time constants must be > 0")
        if not 0.05 <= self.diffusion_full_soc <= 0.95:
            raise ValueError(f"{self.name}: diffusion_full_soc must be in [0.05, 0.95]")
        for key in ("diffusion_tau_s", "diffusion_tau_full_s"):
            tau = getattr(self, key)
            if tau is not None and not (math.isfinite(tau) and 0.0 <= tau <= 1e5):
                raise ValueError(f"{self.name}: {key} must be in [0, 1e5] s")
        if not self.empty_v < self.full_v:
            raise ValueError(f"{self.name}: empty_v must be below full_v")

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
        if len(temps) == 1 or not math.isfinite(temp_c):
            return self.ocv_v if not math.isfinite(temp_c) else self.ocv_v_by_temp[0]
        t = min(max(float(temp_c), temps[0]), temps[-1])
        k = min(int(np.searchsorted(temps, t, side="right")) - 1, len(temps) - 2)
        w = (t - temps[k]) / (temps[k + 1] - temps[k])
        return self.ocv_v_by_temp[k] * (1.0 - w) + self.ocv_v_by_temp[k + 1] * w

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

    def ecm(self, soc: np.ndarray | float, temp_c: float = T_REF_C,
            charging: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R0, R1, R2) in ohm*Ah at ``soc`` and ``temp_c``, for charge or discharge current; divide by the cell
        capacity for ohms."""
        f = self.arrhenius(temp_c)
        s = np.asarray(soc, dtype=float)
        t0, t1, t2 = (self.r0_chg_table, self.r1_chg_table, self.r2_chg_table) if charging else \
            (self.r0_table, self.r1_table, self.r2_table)
        if self.ecm_soc.size == 1:
            return np.full(s.shape, t0[0] * f), np.full(s.shape, t1[0] * f), np.full(s.shape, t2[0] * f)
        e = self.ecm_soc
        return np.interp(s, e, t0) * f, np.interp(s, e, t1) * f, np.interp(s, e, t2) * f


def _chem(name, tech, limits, ocv, r0, dvdt_mv, ecm) -> Chemistry:
    r1, tau1, r2, tau2, ea = ecm
    return Chemistry(name, tech, *limits, _SOC, np.array(ocv), r0, docv_dt=np.array(dvdt_mv) * 1e-3,
                     r1_ohm_per_ah=r1, tau1_s=tau1, r2_ohm_per_ah=r2, tau2_s=tau2, r_activation_k=ea)


# Limits: nominal, full, empty, OV, OV release, OV hard, UV, UV release, UV deep, charge Tmin, charge Tmax,
# discharge Tmin, discharge Tmax; all inside the chemistry's envelope (bms_ros.core.envelope, with sources: the
# NCA deep-discharge limit is the 2.50 V datasheet cut-off, LTO discharges within -30..60 degC).
# Entropic coefficients (mV/K at the 21 SoC points) are typical full-cell
# shapes from the calorimetry literature, rounded; they shift the OCV by a few mV over the working range.
CHEMISTRIES: dict[str, Chemistry] = {
    "nmc": _chem(
        "nmc", 2, (3.65, 4.20, 3.00, 4.25, 4.15, 4.35, 2.80, 3.00, 2.50, 0.0, 45.0, -20.0, 60.0),
        [3.00, 3.30, 3.42, 3.50, 3.55, 3.59, 3.62, 3.65, 3.68, 3.71, 3.74, 3.78, 3.82, 3.87,
         3.92, 3.97, 4.02, 4.06, 4.10, 4.15, 4.20], 0.060,
        [-0.40, -0.30, -0.22, -0.16, -0.12, -0.09, -0.06, -0.04, -0.02, 0.00, 0.02, 0.03, 0.04, 0.05,
         0.05, 0.05, 0.04, 0.03, 0.02, 0.01, 0.00],
        (0.025, 12.0, 0.025, 250.0, 3000.0)),
    "lfp": _chem(
        "lfp", 4, (3.20, 3.60, 2.50, 3.65, 3.45, 3.80, 2.30, 2.60, 2.00, 0.0, 45.0, -20.0, 60.0),
        [2.50, 2.95, 3.10, 3.17, 3.20, 3.22, 3.24, 3.255, 3.265, 3.275, 3.283, 3.29, 3.295,
         3.30, 3.305, 3.31, 3.32, 3.33, 3.34, 3.37, 3.60], 0.040,
        [-0.15, -0.12, -0.10, -0.09, -0.08, -0.07, -0.06, -0.05, -0.05, -0.04, -0.04, -0.04, -0.04,
         -0.04, -0.04, -0.04, -0.04, -0.04, -0.04, -0.05, -0.06],
        (0.015, 15.0, 0.020, 400.0, 3500.0)),
    "lto": _chem(
        "lto", 2, (2.40, 2.70, 1.80, 2.80, 2.65, 2.90, 1.70, 1.85, 1.50, -30.0, 55.0, -30.0, 60.0),
        [1.80, 2.05, 2.15, 2.20, 2.24, 2.27, 2.29, 2.31, 2.33, 2.35, 2.37, 2.39, 2.41, 2.43,
         2.45, 2.47, 2.50, 2.53, 2.57, 2.62, 2.70], 0.030,
        [-0.10, -0.08, -0.06, -0.05, -0.04, -0.03, -0.03, -0.02, -0.02, -0.02, -0.01, -0.01, -0.01,
         -0.01, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
        (0.010, 10.0, 0.010, 200.0, 2500.0)),
    "lco": _chem(
        "lco", 2, (3.70, 4.20, 3.00, 4.25, 4.15, 4.30, 2.80, 3.00, 2.50, 0.0, 45.0, -20.0, 60.0),
        [3.00, 3.35, 3.48, 3.56, 3.61, 3.65, 3.68, 3.70, 3.72, 3.74, 3.76, 3.79, 3.83, 3.87,
         3.92, 3.96, 4.00, 4.05, 4.10, 4.15, 4.20], 0.070,
        [-0.30, -0.25, -0.20, -0.15, -0.10, -0.08, -0.06, -0.04, -0.02, 0.00, 0.02, 0.04, 0.06, 0.08,
         0.09, 0.10, 0.10, 0.10, 0.09, 0.08, 0.07],
        (0.030, 12.0, 0.030, 300.0, 3000.0)),
    "nca": _chem(
        "nca", 2, (3.60, 4.20, 2.75, 4.25, 4.15, 4.30, 2.65, 2.90, 2.50, 0.0, 45.0, -20.0, 60.0),
        [2.75, 3.20, 3.36, 3.45, 3.51, 3.56, 3.60, 3.63, 3.66, 3.69, 3.72, 3.76, 3.80, 3.85,
         3.90, 3.95, 4.00, 4.05, 4.09, 4.14, 4.20], 0.050,
        [-0.35, -0.28, -0.20, -0.14, -0.10, -0.07, -0.05, -0.03, -0.02, -0.01, 0.00, 0.01, 0.02, 0.03,
         0.03, 0.03, 0.03, 0.02, 0.01, 0.00, -0.01],
        (0.020, 12.0, 0.020, 250.0, 3000.0)),
}


def get_chemistry(name: str) -> Chemistry:
    try:
        return CHEMISTRIES[name]
    except KeyError:
        raise ValueError(f"unknown chemistry {name!r}; known: {', '.join(CHEMISTRIES)}") from None


# --- user tables --------------------------------------------------------------------------------------
_SCALARS = ("nominal_v", "full_v", "empty_v", "r0_ohm_per_ah", "r1_ohm_per_ah", "tau1_s", "r2_ohm_per_ah",
            "tau2_s", "r_activation_k", "diffusion_tau_s", "diffusion_tau_full_s", "diffusion_full_soc")
_OCV_AT_T = re.compile(r"^ocv_v@(-?\d+(?:\.\d+)?)$")
_CSV_SCALAR = re.compile(r"^#\s*([a-z][a-z0-9_]*)\s*[:=]\s*(\S.*?)\s*$")   # "# full_v: 3.65" above the header


def load_chemistry_table(path: str | Path, base: Chemistry) -> Chemistry:
    """``base`` with the OCV curve and ECM parameters replaced from a user table.

    CSV: one row per SoC point; columns ``soc`` and either ``ocv_v`` (25 degC) or ``ocv_v@<T>`` for several
    temperatures (e.g. ``ocv_v@0,ocv_v@25,ocv_v@45``); optional ``docv_dt`` (V/K), and ``r0_ohm_ah``,
    ``r1_ohm_ah``, ``r2_ohm_ah`` (ECM tables over the same SoC points; ``r0_chg_ohm_ah`` etc. for the charge
    direction, default the same); ``tau1_s``, ``tau2_s`` and the diffusion columns (``diffusion_tau_s``,
    ``diffusion_tau_full_s``, ``diffusion_full_soc``) must be constant. The scalars (``name``, ``nominal_v``,
    ``full_v``, ``empty_v``, ``r_activation_k`` and the others YAML takes) stand in comment lines of the form
    ``# full_v: 3.65``; other comment lines are free text.

    YAML: a mapping with optional scalars (``name``, ``nominal_v``, ``full_v``, ``empty_v``, ``tau1_s``,
    ``tau2_s``, ``r_activation_k``, ``diffusion_tau_s``, ``diffusion_tau_full_s``, ``diffusion_full_soc``) and
    sections ``ocv: {soc, voltage | temperatures_c + voltage_by_temperature, docv_dt}`` and ``ecm: {soc,
    r0_ohm_ah, r1_ohm_ah, r2_ohm_ah}`` (lists or scalars; optional ``r0_chg_ohm_ah``, ``r1_chg_ohm_ah``,
    ``r2_chg_ohm_ah`` for charging, default the discharge values; the scalars ``tau1_s``, ``tau2_s``,
    ``r_activation_k`` and the diffusion ones may stand here too).

    Raises ChemistryTableError naming the file and the problem.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ChemistryTableError(f"{p}: cannot read chemistry table: {e.strerror or e}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text)
            if not isinstance(doc, Mapping):
                raise ChemistryTableError(f"{p}: top level must be a mapping")
            changes = _from_yaml(doc)
        else:
            changes = _from_csv(text)
        changes.setdefault("name", f"{base.name}:{p.stem}")
        changes["source"] = str(p)
        for k in ("r0_chg_table", "r1_chg_table", "r2_chg_table"):   # not given: the discharge table
            changes.setdefault(k, None)
        if "ecm_soc" in changes:  # a table the user did not give keeps the (base or user) scalar
            for field_name, scalar in (("r0_table", "r0_ohm_per_ah"), ("r1_table", "r1_ohm_per_ah"),
                                       ("r2_table", "r2_ohm_per_ah")):
                if field_name not in changes:
                    value = changes.get(scalar, getattr(base, scalar))
                    changes[field_name] = np.full(changes["ecm_soc"].shape, float(value))
        elif any(k in changes for k in ("r0_ohm_per_ah", "r1_ohm_per_ah", "r2_ohm_per_ah")):
            changes.update(ecm_soc=None, r0_table=None, r1_table=None, r2_table=None)
        return dataclasses.replace(base, **changes)
    except (ValueError, TypeError, KeyError) as e:
        raise ChemistryTableError(f"{p}: {e}") from None
    except Exception as e:  # yaml errors and the like: one clear line
        raise ChemistryTableError(f"{p}: {type(e).__name__}: {e}") from None


def _floats(x: Any, what: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if a.ndim != 1 or not np.all(np.isfinite(a)):
        raise ChemistryTableError(f"{what}: expected a finite number or a list of numbers")
    return a


def _from_yaml(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = set(_SCALARS) | {"name", "base", "ocv", "ecm", "envelope"}   # envelope: see core.envelope
    unknown = set(doc) - known
    if unknown:
        raise ChemistryTableError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if "name" in doc:
        out["name"] = str(doc["name"])
    for k in _SCALARS:
        if k in doc:
            out[k] = float(doc[k])
    ocv = doc.get("ocv")
    if ocv is not None:
        if not isinstance(ocv, Mapping) or "soc" not in ocv:
            raise ChemistryTableError("ocv: needs 'soc' and 'voltage' (or 'temperatures_c' + 'voltage_by_temperature')")
        soc = _floats(ocv["soc"], "ocv.soc")
        out["ocv_soc"] = soc
        if "voltage_by_temperature" in ocv:
            temps = _floats(ocv.get("temperatures_c", []), "ocv.temperatures_c")
            table = np.asarray(ocv["voltage_by_temperature"], dtype=float)
            if table.shape != (temps.size, soc.size):
                raise ChemistryTableError("ocv.voltage_by_temperature: one row per temperature, one column per soc")
            out["ocv_temps_c"] = tuple(temps)
            out["ocv_v_by_temp"] = table
            out["ocv_v"] = np.array([np.interp(T_REF_C, temps, table[:, j]) for j in range(soc.size)])
        elif "voltage" in ocv:
            out["ocv_v"] = _floats(ocv["voltage"], "ocv.voltage")
            out["ocv_temps_c"] = ()
            out["ocv_v_by_temp"] = None
            out["docv_dt"] = _floats(ocv["docv_dt"], "ocv.docv_dt") if "docv_dt" in ocv else None
        else:
            raise ChemistryTableError("ocv: needs 'voltage' or 'voltage_by_temperature'")
        if out["ocv_v"].shape != soc.shape:
            raise ChemistryTableError("ocv.voltage: one value per soc point")
        if out.get("docv_dt") is not None and out["docv_dt"].shape != soc.shape:
            raise ChemistryTableError("ocv.docv_dt: one value per soc point")
    ecm = doc.get("ecm")
    if ecm is not None:
        if not isinstance(ecm, Mapping):
            raise ChemistryTableError("ecm: must be a mapping")
        ecm_soc = _floats(ecm.get("soc", [0.5]), "ecm.soc")
        out["ecm_soc"] = ecm_soc
        for key, field_name in (("r0_ohm_ah", "r0_table"), ("r1_ohm_ah", "r1_table"), ("r2_ohm_ah", "r2_table"),
                                ("r0_chg_ohm_ah", "r0_chg_table"), ("r1_chg_ohm_ah", "r1_chg_table"),
                                ("r2_chg_ohm_ah", "r2_chg_table")):
            if key in ecm:
                v = _floats(ecm[key], f"ecm.{key}")
                out[field_name] = np.full(ecm_soc.shape, v[0]) if v.size == 1 else v
        for key in ("tau1_s", "tau2_s", "r_activation_k", "diffusion_tau_s", "diffusion_tau_full_s",
                    "diffusion_full_soc"):
            if key in ecm:
                out[key] = float(ecm[key])
    return out


def _csv_scalars(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        m = _CSV_SCALAR.match(line.strip())
        if m is None or (m.group(1) not in _SCALARS and m.group(1) != "name"):
            continue
        key, value = m.group(1), m.group(2)
        if key == "name":
            out[key] = value
            continue
        try:
            out[key] = float(value)
        except ValueError:
            raise ChemistryTableError(f"CSV: {key} must be a number, not {value!r}") from None
    return out


def _from_csv(text: str) -> dict[str, Any]:
    scalars = _csv_scalars(text)
    rows = list(csv.reader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))
    if len(rows) < 3:
        raise ChemistryTableError("CSV needs a header and at least two rows")
    header = [h.strip() for h in rows[0]]
    if "soc" not in header:
        raise ChemistryTableError("CSV header needs a 'soc' column")
    try:
        data = np.array([[float(x) for x in r] for r in rows[1:]], dtype=float)
    except ValueError as e:
        raise ChemistryTableError(f"CSV: not a number ({e})") from None
    if data.shape[1] != len(header):
        raise ChemistryTableError("CSV: every row needs one value per header column")
    col = {h: data[:, i] for i, h in enumerate(header)}
    out: dict[str, Any] = {"ocv_soc": col["soc"]}
    temp_cols = sorted((float(m.group(1)), h) for h in header if (m := _OCV_AT_T.match(h)))
    if temp_cols:
        temps = np.array([t for t, _ in temp_cols])
        table = np.array([col[h] for _, h in temp_cols])
        out["ocv_temps_c"] = tuple(temps)
        out["ocv_v_by_temp"] = table
        out["ocv_v"] = np.array([np.interp(T_REF_C, temps, table[:, j]) for j in range(table.shape[1])])
    elif "ocv_v" in header:
        out["ocv_v"] = col["ocv_v"]
        out["ocv_temps_c"] = ()
        out["ocv_v_by_temp"] = None
        out["docv_dt"] = col.get("docv_dt")
    else:
        raise ChemistryTableError("CSV header needs 'ocv_v' or 'ocv_v@<degC>' columns")
    have_ecm = False
    for key, field_name in (("r0_ohm_ah", "r0_table"), ("r1_ohm_ah", "r1_table"), ("r2_ohm_ah", "r2_table"),
                            ("r0_chg_ohm_ah", "r0_chg_table"), ("r1_chg_ohm_ah", "r1_chg_table"),
                            ("r2_chg_ohm_ah", "r2_chg_table")):
        if key in col:
            out[field_name] = col[key]
            have_ecm = True
    for key in ("tau1_s", "tau2_s", "diffusion_tau_s", "diffusion_tau_full_s", "diffusion_full_soc"):
        if key in col:
            if np.ptp(col[key]) > 0:
                raise ChemistryTableError(f"CSV column {key} must be constant")
            out[key] = float(col[key][0])
    if have_ecm:
        out["ecm_soc"] = col["soc"]
    return {**scalars, **out}
