"""The core's configuration tree (see core.params for the mechanism)."""
from __future__ import annotations

from dataclasses import dataclass, field

from bms_ros.core.chemistry import CHEMISTRIES, get_chemistry
from bms_ros.core.estimation.config import EstimationConfig
from bms_ros.core.params import param
from bms_ros.core.protection import ProtectionConfig


@dataclass
class PackConfig:
    cell_count: int = param(4, "Cells in series", min=1, max=100)
    chemistry: str = param("nmc", "Cell chemistry (selects OCV curve and default limits)",
                           choices=tuple(CHEMISTRIES))
    design_capacity_ah: float = param(10.0, "Rated capacity of the pack", "Ah", min=0.01, max=10000.0)


@dataclass
class BmsConfig:
    pack: PackConfig = field(default_factory=PackConfig)
    protection: ProtectionConfig = field(default_factory=ProtectionConfig)
    estimation: EstimationConfig = field(default_factory=EstimationConfig)


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
