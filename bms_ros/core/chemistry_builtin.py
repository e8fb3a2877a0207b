"""The built-in chemistry tables (``CHEMISTRIES``) and ``get_chemistry``.

Values are typical figures for generic cells (datasheets and the literature on entropic coefficients and
ECM identification); every one can be overridden: the limits by configuration, the OCV curve and the ECM
by a user table (``core.chemistry_tables.load_chemistry_table``, CSV or YAML) measured on the actual cell.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bms_ros.core.chemistry_model import Chemistry

_SOC = np.linspace(0.0, 1.0, 21)
_Limits = tuple[float, float, float, float, float, float, float, float, float, float, float, float, float]
_Ecm = tuple[float, float, float, float, float]


def _chem(name: str, tech: int, limits: _Limits, ocv: Sequence[float], r0: float, dvdt_mv: Sequence[float],
          ecm: _Ecm) -> Chemistry:
    """One table row by keyword: ``limits`` in the order the comment at CHEMISTRIES gives, ``dvdt_mv`` in
    mV/K at the 21 SoC points, ``ecm`` = (R1 ohm*Ah, tau1 s, R2 ohm*Ah, tau2 s, Arrhenius Ea/R K)."""
    (nominal_v, full_v, empty_v, cell_ov, cell_ov_release, cell_ov_hard, cell_uv, cell_uv_release, cell_uv_deep,
     charge_temp_min, charge_temp_max, discharge_temp_min, discharge_temp_max) = limits
    r1, tau1, r2, tau2, ea = ecm
    return Chemistry(
        name=name, ros_technology=tech, nominal_v=nominal_v, full_v=full_v, empty_v=empty_v, cell_ov=cell_ov,
        cell_ov_release=cell_ov_release, cell_ov_hard=cell_ov_hard, cell_uv=cell_uv,
        cell_uv_release=cell_uv_release, cell_uv_deep=cell_uv_deep, charge_temp_min=charge_temp_min,
        charge_temp_max=charge_temp_max, discharge_temp_min=discharge_temp_min,
        discharge_temp_max=discharge_temp_max, ocv_soc=_SOC, ocv_v=np.array(ocv), r0_ohm_per_ah=r0,
        docv_dt=np.array(dvdt_mv) * 1e-3, r1_ohm_per_ah=r1, tau1_s=tau1, r2_ohm_per_ah=r2, tau2_s=tau2,
        r_activation_k=ea)


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

