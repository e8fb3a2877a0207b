"""bms_aggregator's parameters (the same declarative schema as bms_node's; no ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bms_ros.core.aggregate import TOPOLOGIES
from bms_ros.core.config import specs_by_name
from bms_ros.core.energy_use import EnergyUseConfig
from bms_ros.core.low_battery import LowBatteryConfig
from bms_ros.core.params import ConfigError, ParamSpec, build, param

ROS_OWNED = ("use_sim_time", "start_type_description_service", "qos_overrides.", "diagnostic_updater.")


@dataclass
class AggregatorConfig:
    packs: str = param(
        "pack_left,pack_right", "The packs, comma separated; each name fills {pack} in the topic patterns below"
    )
    topology: str = param(
        "parallel", "How the packs are wired: parallel (one bus) or series (one string)", choices=TOPOLOGIES
    )
    battery_state_topic: str = param("{pack}/battery_state", "Each pack's sensor_msgs/BatteryState")
    status_topic: str = param(
        "{pack}/bms_node/status", "Each pack's bms_ros/BmsStatus (SoC sigma, energy, limits, FETs); '' = not used"
    )
    pack_timeout: float = param(1.0, "A pack silent for longer leaves the aggregate (hot swap)", "s", 0.05, 60.0)
    rate_hz: float = param(10.0, "Aggregate publish rate", "Hz", 0.5, 100.0)
    odometry_topic: str = param("odom", "nav_msgs/Odometry for idle power and energy per metre; '' = none")
    frame_id: str = param("battery", "frame_id of published headers")
    state_file: str = param(
        "",
        "File where each pack's lifetime energy and charge throughput persist (by "
        "serial number, else pack name); '' = not persisted",
    )
    state_save_period: float = param(60.0, "Save the lifetime counters this often (and at shutdown)", "s", 1.0, 86400.0)
    energy: EnergyUseConfig = field(default_factory=EnergyUseConfig)
    low_battery: LowBatteryConfig = field(default_factory=LowBatteryConfig)

    def pack_names(self) -> list[str]:
        return [p.strip() for p in self.packs.split(",") if p.strip()]

    def validate(self) -> None:
        names = self.pack_names()
        if not names:
            raise ConfigError("packs: name at least one pack")
        if len(set(names)) != len(names):
            raise ConfigError(f"packs: a pack is named twice in {self.packs!r}")
        for name in ("battery_state_topic", "status_topic"):
            value = getattr(self, name)
            if value and "{pack}" not in value and len(names) > 1:
                raise ConfigError(f"{name}: {value!r} has no {{pack}}, so every pack would share one topic")


AGGREGATOR_SPECS: dict[str, ParamSpec] = specs_by_name(AggregatorConfig)


def is_ros_owned(name: str) -> bool:
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in ROS_OWNED)


def load_aggregator_config(values: dict[str, Any]) -> AggregatorConfig:
    """Validated configuration from dotted names; ConfigError names the first bad one."""
    checked = {}
    for name, value in values.items():
        if is_ros_owned(name):
            continue
        spec = AGGREGATOR_SPECS.get(name)
        if spec is None:
            raise ConfigError(f"{name}: unknown parameter")
        if name == "packs" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)  # a YAML list of names works too
        checked[name] = spec.check(value)
    return build(AggregatorConfig, checked)
