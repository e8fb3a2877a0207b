"""The core's configuration tree (see core.params for the mechanism)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bms_ros.core.balancing import BalancingConfig
from bms_ros.core.charge_limits import ChargeVoltageConfig, validate_charge_config
from bms_ros.core.chemistry import CHEMISTRIES, get_chemistry
from bms_ros.core.envelope import current_trip_defaults, envelope_for, violations
from bms_ros.core.estimation.config import EstimationConfig
from bms_ros.core.fet_control import FetConfig
from bms_ros.core.heater import HeaterConfig
from bms_ros.core.limits import LimitsConfig
from bms_ros.core.params import ConfigError, ParamSpec, build, param, specs
from bms_ros.core.protection import ProtectionConfig


@dataclass
class PackConfig:
    cell_count: int = param(4, "Cells in series", min=1, max=100)
    chemistry: str = param("nmc", "Cell chemistry (selects OCV curve and default limits)", choices=tuple(CHEMISTRIES))
    design_capacity_ah: float = param(10.0, "Rated capacity of the pack", "Ah", min=0.01, max=10000.0)


@dataclass
class ProtectionSettings(ProtectionConfig):
    """ProtectionConfig plus the envelope override (kept here: the protection package holds the fault machinery)."""

    allow_outside_envelope: bool = param(
        False,
        "Accept protection settings outside the chemistry envelope (cell voltage, temperature windows, "
        "C-rate of the current trips, trip delays; see bms_ros.core.envelope). Every such setting is then logged "
        "as an error at every start: only for a cell whose datasheet allows it and no chemistry table can "
        "describe",
    )


@dataclass
class BmsConfig:
    pack: PackConfig = field(default_factory=PackConfig)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    fet: FetConfig = field(default_factory=FetConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    balancing: BalancingConfig = field(default_factory=BalancingConfig)
    estimation: EstimationConfig = field(default_factory=EstimationConfig)
    cvl: ChargeVoltageConfig = field(default_factory=ChargeVoltageConfig)
    heater: HeaterConfig = field(default_factory=HeaterConfig)

    def validate(self) -> None:
        """Rules across sections (each section checks its own); the envelope first: a setting the chemistry
        cannot take is the reason to give, before the rules it may also break."""
        p, lim, bal = self.protection, self.limits, self.balancing
        outside = self.envelope_violations()
        if outside and not p.allow_outside_envelope:
            raise ConfigError(f"{outside[0]}; only protection.allow_outside_envelope: true accepts it")

        def inside(name: str, value: float, lo_name: str, lo: float, hi_name: str, hi: float) -> None:
            if not lo <= value <= hi:
                raise ConfigError(f"{name}: {value} must lie between {lo_name} ({lo}) and {hi_name} ({hi})")

        ut, ot = "protection.charge_undertemperature.threshold", "protection.charge_overtemperature.threshold"
        for n in ("charge_temp_full_min", "charge_temp_full_max"):
            inside(
                f"limits.{n}",
                getattr(lim, n),
                ut,
                p.charge_undertemperature.threshold,
                ot,
                p.charge_overtemperature.threshold,
            )
        ut, ot = "protection.discharge_undertemperature.threshold", "protection.discharge_overtemperature.threshold"
        for n in ("discharge_temp_full_min", "discharge_temp_full_max"):
            inside(
                f"limits.{n}",
                getattr(lim, n),
                ut,
                p.discharge_undertemperature.threshold,
                ot,
                p.discharge_overtemperature.threshold,
            )
        if lim.charge_temp_full_min > lim.charge_temp_full_max:
            raise ConfigError("limits.charge_temp_full_min: must not exceed limits.charge_temp_full_max")
        if lim.discharge_temp_full_min > lim.discharge_temp_full_max:
            raise ConfigError("limits.discharge_temp_full_min: must not exceed limits.discharge_temp_full_max")
        if not lim.charge_voltage_derate_start < p.cell_overvoltage.threshold:
            raise ConfigError("limits.charge_voltage_derate_start: must be below protection.cell_overvoltage.threshold")
        if not lim.discharge_voltage_derate_start > p.cell_undervoltage.threshold:
            raise ConfigError(
                "limits.discharge_voltage_derate_start: must be above protection.cell_undervoltage.threshold"
            )
        if bal.delta_stop >= bal.delta_start:
            raise ConfigError("balancing.delta_stop: must be below balancing.delta_start")
        if not bal.start_voltage < p.cell_overvoltage.threshold:
            raise ConfigError("balancing.start_voltage: must be below protection.cell_overvoltage.threshold")
        validate_charge_config(self.heater, p)

    def envelope_violations(self) -> list[str]:
        """Settings outside the chemistry envelope (bms_ros.core.envelope), one line each; [] when inside.

        With ``protection.allow_outside_envelope`` they are accepted and the caller logs them as errors.
        """
        env = envelope_for(self.pack.chemistry, self.estimation.chemistry_table)
        return violations(self.protection, env, self.pack.design_capacity_ah, self.pack.chemistry)


def chemistry_defaults(name: str) -> dict[str, object]:
    """Dotted-name defaults that depend on the chemistry; explicit settings override them."""
    c = get_chemistry(name)
    r = round
    return {
        "protection.cell_overvoltage.threshold": c.cell_ov,
        "protection.cell_overvoltage.release": c.cell_ov_release,
        "protection.cell_undervoltage.threshold": c.cell_uv,
        "protection.cell_undervoltage.release": c.cell_uv_release,
        "protection.cell_overvoltage_hard.threshold": c.cell_ov_hard,
        "protection.cell_overvoltage_hard.release": c.cell_ov,
        "protection.cell_undervoltage_deep.threshold": c.cell_uv_deep,
        "protection.cell_undervoltage_deep.release": c.cell_uv,
        "protection.pack_overvoltage.threshold": c.cell_ov,
        "protection.pack_overvoltage.release": c.cell_ov_release,
        "protection.pack_undervoltage.threshold": c.cell_uv,
        "protection.pack_undervoltage.release": c.cell_uv_release,
        "protection.charge_undertemperature.threshold": c.charge_temp_min,
        "protection.charge_undertemperature.release": c.charge_temp_min + 3.0,
        "protection.charge_overtemperature.threshold": c.charge_temp_max,
        "protection.charge_overtemperature.release": c.charge_temp_max - 5.0,
        "protection.discharge_undertemperature.threshold": c.discharge_temp_min,
        "protection.discharge_undertemperature.release": c.discharge_temp_min + 3.0,
        "protection.discharge_overtemperature.threshold": c.discharge_temp_max,
        "protection.discharge_overtemperature.release": c.discharge_temp_max - 5.0,
        "protection.implausible_data.cell_max": r(c.cell_ov_hard + 0.65, 3),
        "limits.charge_temp_full_min": min(c.charge_temp_min + 10.0, c.charge_temp_max),
        "limits.charge_temp_full_max": max(c.charge_temp_max - 10.0, c.charge_temp_min),
        "limits.discharge_temp_full_min": min(c.discharge_temp_min + 20.0, c.discharge_temp_max),
        "limits.discharge_temp_full_max": max(c.discharge_temp_max - 15.0, c.discharge_temp_min),
        "limits.charge_voltage_derate_start": r(c.full_v - 0.1 * (c.full_v - c.nominal_v) * 2, 3),
        "limits.discharge_voltage_derate_start": r(c.cell_uv + 0.5 * (c.nominal_v - c.cell_uv), 3),
        "balancing.start_voltage": r(float(c.ocv(0.8)), 3),
        "cvl.cell_voltage": r(min(c.full_v, c.cell_ov - 0.01), 3),
        "cvl.discharge_cell_voltage": r(c.cell_uv_release, 3),
    }


@cache
def specs_by_name(cls: type) -> dict[str, ParamSpec]:
    return {s.name: s for s in specs(cls)}


def resolve_values(
    cls: type, values: dict[str, Any], ignore: Callable[[str], bool] = lambda name: False
) -> dict[str, Any]:
    """Check ``values`` (dotted names) against the config tree ``cls`` and fill every parameter:
    explicit > chemistry (and pack size) default > default. Names ``ignore`` accepts are skipped (ROS-owned ones).

    Raises ConfigError naming the first bad parameter.
    """
    all_specs = specs_by_name(cls)
    ours = {k: v for k, v in values.items() if not ignore(k)}
    for name in ours:
        if name not in all_specs:
            raise ConfigError(f"{name}: unknown parameter")
    chem = all_specs["pack.chemistry"].check(ours.get("pack.chemistry", all_specs["pack.chemistry"].default))
    cap = all_specs["pack.design_capacity_ah"]
    capacity = cap.check(ours.get(cap.name, cap.default))
    merged = {n: s.default for n, s in all_specs.items()}
    merged.update(chemistry_defaults(chem))
    merged.update(current_trip_defaults(chem, capacity, merged))
    merged.update(ours)
    return {n: all_specs[n].check(v) for n, v in merged.items()}


def core_config(values: dict[str, Any] | None = None) -> BmsConfig:
    """A validated core configuration from dotted names (``bms_ros.config.load_config`` does the same for the
    package's whole tree: node, AFE and simulation sections)."""
    return build(BmsConfig, resolve_values(BmsConfig, dict(values or {})))
