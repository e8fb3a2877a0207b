"""Cell chemistry data: open-circuit voltage curves and voltage/temperature limits.

Values are typical datasheet figures for generic cells; every one can be overridden by configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SOC = np.linspace(0.0, 1.0, 21)


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
    r0_ohm_per_ah: float       # typical ohmic resistance x capacity (ohm*Ah)

    def ocv(self, soc: np.ndarray | float) -> np.ndarray:
        return np.interp(soc, self.ocv_soc, self.ocv_v)

    def soc_from_ocv(self, v: np.ndarray | float) -> np.ndarray:
        return np.interp(v, self.ocv_v, self.ocv_soc)


CHEMISTRIES: dict[str, Chemistry] = {
    "nmc": Chemistry(
        "nmc", 2, 3.65, 4.20, 3.00, 4.25, 4.15, 4.35, 2.80, 3.00, 2.50, 0.0, 45.0, -20.0, 60.0, _SOC,
        np.array([3.00, 3.30, 3.42, 3.50, 3.55, 3.59, 3.62, 3.65, 3.68, 3.71, 3.74, 3.78, 3.82, 3.87,
                  3.92, 3.97, 4.02, 4.06, 4.10, 4.15, 4.20]), 0.060),
    "lfp": Chemistry(
        "lfp", 4, 3.20, 3.60, 2.50, 3.65, 3.45, 3.80, 2.30, 2.60, 2.00, 0.0, 45.0, -20.0, 60.0, _SOC,
        np.array([2.50, 2.95, 3.10, 3.17, 3.20, 3.22, 3.24, 3.255, 3.265, 3.275, 3.283, 3.29, 3.295,
                  3.30, 3.305, 3.31, 3.32, 3.33, 3.34, 3.37, 3.60]), 0.040),
    "lto": Chemistry(
        "lto", 2, 2.40, 2.70, 1.80, 2.80, 2.65, 2.90, 1.70, 1.85, 1.50, -30.0, 55.0, -40.0, 65.0, _SOC,
        np.array([1.80, 2.05, 2.15, 2.20, 2.24, 2.27, 2.29, 2.31, 2.33, 2.35, 2.37, 2.39, 2.41, 2.43,
                  2.45, 2.47, 2.50, 2.53, 2.57, 2.62, 2.70]), 0.030),
    "lco": Chemistry(
        "lco", 2, 3.70, 4.20, 3.00, 4.25, 4.15, 4.30, 2.80, 3.00, 2.50, 0.0, 45.0, -20.0, 60.0, _SOC,
        np.array([3.00, 3.35, 3.48, 3.56, 3.61, 3.65, 3.68, 3.70, 3.72, 3.74, 3.76, 3.79, 3.83, 3.87,
                  3.92, 3.96, 4.00, 4.05, 4.10, 4.15, 4.20]), 0.070),
}


def get_chemistry(name: str) -> Chemistry:
    try:
        return CHEMISTRIES[name]
    except KeyError:
        raise ValueError(f"unknown chemistry {name!r}; known: {', '.join(CHEMISTRIES)}") from None
