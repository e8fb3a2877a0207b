"""The core's configuration tree (see core.params for the mechanism)."""
from __future__ import annotations

from dataclasses import dataclass, field

from bms_ros.core.chemistry import CHEMISTRIES, get_chemistry
from bms_ros.core.params import ConfigError, param


@dataclass
class PackConfig:
    cell_count: int = param(4, "Cells in series", min=1, max=100)
    chemistry: str = param("nmc", "Cell chemistry (selects OCV curve and default limits)",
                           choices=tuple(CHEMISTRIES))
    design_capacity_ah: float = param(10.0, "Rated capacity of the pack", "Ah", min=0.01, max=10000.0)


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


@dataclass
class BmsConfig:
    pack: PackConfig = field(default_factory=PackConfig)
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)


def chemistry_defaults(name: str) -> dict[str, object]:
    """Dotted-name defaults that depend on the chemistry; explicit settings override them."""
    c = get_chemistry(name)
    return {
        "protection.cell_overvoltage": c.cell_ov,
        "protection.cell_overvoltage_release": c.cell_ov_release,
        "protection.cell_undervoltage": c.cell_uv,
        "protection.cell_undervoltage_release": c.cell_uv_release,
        "protection.charge_temp_min": c.charge_temp_min,
        "protection.charge_temp_max": c.charge_temp_max,
    }
