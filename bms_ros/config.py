"""The whole package's configuration: the core's tree plus AFE, simulation and node settings.

No ROS import: the node declares ROS parameters from these specs, and bms-replay reads the same YAML.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bms_ros.core.config import BmsConfig, chemistry_defaults
from bms_ros.core.params import ConfigError, ParamSpec, build, flatten_yaml, param, specs

# Parameters rclpy or its tools own; they may appear in parameter files and are not ours to check.
ROS_OWNED = ("use_sim_time", "start_type_description_service", "qos_overrides.", "diagnostic_updater.")


@dataclass
class AfeConfig:
    type: str = param("sim", "AFE driver: sim (simulated pack) or bq769x0 (I2C)", choices=("sim", "bq769x0"))
    i2c_bus: int = param(1, "I2C bus number (/dev/i2c-N)", min=0, max=255)
    i2c_address: int = param(8, "7-bit I2C address (0x08 or 0x18)", choices=None, min=1, max=127)
    crc: bool = param(True, "The part checks a CRC-8 per byte (order code ...01/...03/7693007)")
    shunt_resistance: float = param(0.001, "Current sense shunt", "ohm", 1e-5, 1.0)
    thermistor_count: int = param(1, "Thermistors wired to TS1..TS3", min=0, max=3)
    thermistor_beta: float = param(3435.0, "NTC Beta (25/85 degC)", "K", 1000.0, 10000.0)
    thermistor_r25: float = param(10000.0, "NTC resistance at 25 degC", "ohm", 100.0, 1e6)


@dataclass
class SimConfig:
    initial_soc: float = param(0.8, "Simulated pack: initial state of charge", min=0.0, max=1.0)
    ambient_temperature: float = param(25.0, "Simulated pack: ambient temperature", "degC", -40.0, 80.0,
                                       runtime=True)
    seed: int = param(1, "Simulated pack: seed of the cell-to-cell variation", min=0, max=2**31 - 1)
    load_current: float = param(2.0, "Simulated load drawn from the pack (> 0 discharges)", "A", -1000.0,
                                1000.0, runtime=True)
    charger_connected: bool = param(False, "Simulated charger on the pack terminals", runtime=True)
    charger_current: float = param(5.0, "Simulated charger constant-current limit", "A", 0.0, 1000.0,
                                   runtime=True)


@dataclass
class BmsRosConfig(BmsConfig):
    rate_hz: float = param(10.0, "AFE read and battery_state publish rate", "Hz", 0.5, 100.0)
    frame_id: str = param("battery", "frame_id of published headers")
    location: str = param("", "BatteryState.location (slot or connector)")
    serial_number: str = param("", "BatteryState.serial_number")
    afe: AfeConfig = field(default_factory=AfeConfig)
    sim: SimConfig = field(default_factory=SimConfig)


ALL_SPECS: dict[str, ParamSpec] = {s.name: s for s in specs(BmsRosConfig)}


def is_ros_owned(name: str) -> bool:
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in ROS_OWNED)


def resolve(values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` (dotted names) and fill every parameter: explicit > chemistry default > default.

    Raises ConfigError naming the first bad parameter.
    """
    ours = {k: v for k, v in values.items() if not is_ros_owned(k)}
    for name in ours:
        if name not in ALL_SPECS:
            raise ConfigError(f"{name}: unknown parameter")
    chem = ALL_SPECS["pack.chemistry"].check(ours.get("pack.chemistry", ALL_SPECS["pack.chemistry"].default))
    merged = {n: s.default for n, s in ALL_SPECS.items()}
    merged.update(chemistry_defaults(chem))
    merged.update(ours)
    return {n: ALL_SPECS[n].check(v) for n, v in merged.items()}


def load_config(values: dict[str, Any]) -> BmsRosConfig:
    """Validated, typed configuration from dotted-name values."""
    return build(BmsRosConfig, resolve(values))


def read_params_file(path: str | Path, node_name: str = "bms_node") -> dict[str, Any]:
    """Dotted-name values from a ROS 2 parameter file (``/**`` and ``<node>`` sections, ``ros__parameters``)."""
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read parameter file: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a ROS 2 parameter file (top level is not a mapping)")
    out: dict[str, Any] = {}
    for key, section in doc.items():
        name = str(key).lstrip("/")
        if name in ("**", node_name) or name.endswith("/" + node_name) or name.endswith("/**"):
            if not isinstance(section, dict) or "ros__parameters" not in section:
                raise ConfigError(f"{path}: section {key!r} has no ros__parameters")
            out.update(flatten_yaml(section["ros__parameters"] or {}))
    return out


def is_unset(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
