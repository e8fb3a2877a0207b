"""Protection: thresholds, delays, hysteresis and latching for every fault (skeleton; see issue 4)."""
from __future__ import annotations

from dataclasses import dataclass

from bms_ros.core.params import ConfigError, param


@dataclass
class ProtectionConfig:
    cell_overvoltage: float = param(4.25, "Cell over-voltage trip (software)", "V", 1.0, 5.0, runtime=True)
    cell_overvoltage_release: float = param(4.15, "Cell over-voltage release", "V", 1.0, 5.0, runtime=True)
    cell_undervoltage: float = param(2.8, "Cell under-voltage trip (software)", "V", 0.5, 5.0, runtime=True)
    cell_undervoltage_release: float = param(3.0, "Cell under-voltage release", "V", 0.5, 5.0, runtime=True)
    charge_temp_min: float = param(0.0, "Lowest temperature charging is allowed at", "degC", -60.0, 100.0,
                                   runtime=True)
    charge_temp_max: float = param(45.0, "Highest temperature charging is allowed at", "degC", -60.0, 100.0,
                                   runtime=True)
    stale_timeout: float = param(1.0, "FETs open when no valid sample arrived for this long", "s", 0.05, 60.0,
                                 runtime=True)

    def validate(self) -> None:
        if self.cell_overvoltage_release >= self.cell_overvoltage:
            raise ConfigError("protection.cell_overvoltage_release: must be below protection.cell_overvoltage")
        if self.cell_undervoltage_release <= self.cell_undervoltage:
            raise ConfigError("protection.cell_undervoltage_release: must be above protection.cell_undervoltage")
        if self.charge_temp_min >= self.charge_temp_max:
            raise ConfigError("protection.charge_temp_min: must be below protection.charge_temp_max")
