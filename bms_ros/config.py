"""The whole package's configuration: the core's tree plus AFE, simulation and node settings.

No ROS import: the node declares ROS parameters from these specs, and bms-replay reads the same YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bms_ros.afe.config import CHIP_AFE_TYPES, PACK_SOURCE_TYPES, AfeConfig, SimConfig
from bms_ros.can_frames import CanConfig
from bms_ros.core.config import BmsConfig, resolve_values, specs_by_name
from bms_ros.core.params import ConfigError, ParamSpec, build, flatten_yaml, param

# Parameters rclpy or its tools own; they may appear in parameter files and are not ours to check.
ROS_OWNED = ("use_sim_time", "start_type_description_service", "qos_overrides.", "diagnostic_updater.")


@dataclass
class BmsRosConfig(BmsConfig):
    rate_hz: float = param(10.0, "AFE read and battery_state publish rate", "Hz", 0.5, 100.0)
    frame_id: str = param("battery", "frame_id of published headers")
    location: str = param("", "BatteryState.location (slot or connector)")
    serial_number: str = param("", "BatteryState.serial_number")
    state_file: str = param(
        "",
        "File where latched faults, the fault log, SoC, learned capacity and cycle count "
        "persist across restarts (written atomically); '' = not persisted",
    )
    shutdown_fets: str = param(
        "charge_off",
        "FETs when the node stops: off (both open), charge_off (no unsupervised charging; "
        "discharge as it was, the AFE's own UV/OCD/SCD still protect) or keep",
        choices=("off", "charge_off", "keep"),
    )
    afe: AfeConfig = field(default_factory=AfeConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    can: CanConfig = field(default_factory=CanConfig)

    def validate(self) -> None:
        parent = getattr(super(), "validate", None)
        if parent is not None:
            parent()
        f = self.sim.fault
        needs_chip = f.bus_or_sensor_faults()
        if needs_chip and self.afe.type not in CHIP_AFE_TYPES:
            raise ConfigError(
                f"sim.fault.{needs_chip[0]}: needs a wire-level emulator, afe.type one of "
                f"{', '.join(CHIP_AFE_TYPES)} (bus and sensor faults are injected there)"
            )
        if f.pack_trip != "none" and self.afe.type not in PACK_SOURCE_TYPES:
            raise ConfigError(
                "sim.fault.pack_trip: needs a smart-pack emulator (afe.type sim_sbs, sim_jbd or sim_daly)"
            )
        for name in ("stuck_cell", "open_wire_cell", "soft_short_cell"):
            if getattr(f, name) > self.pack.cell_count:
                raise ConfigError(
                    f"sim.fault.{name}: cell {getattr(f, name)} does not exist in a {self.pack.cell_count}-cell pack"
                )
        self._check_chip()

    def _check_chip(self) -> None:
        """What the chip can be wired for: bq769x0 3..15 cells, one TS input per 5-cell group [DS p.39-40];
        bq769x2 3..16 cells (BQ76942: 3..10)."""
        if self.afe.type in ("bq769x2", "sim_bq769x2"):
            top = 10 if self.afe.chip == "bq76942" else 16
            if self.afe.chip not in ("", "bq76952", "bq76942") or not 3 <= self.pack.cell_count <= top:
                raise ConfigError(
                    f"pack.cell_count: {self.pack.cell_count} cells on afe.chip "
                    f"{self.afe.chip or 'bq76952'!r} (afe.type {self.afe.type}: 3..{top} cells)"
                )
            return
        if self.afe.type in ("sbs", "sim_sbs") and not 1 <= self.pack.cell_count <= 4:
            raise ConfigError(
                f"pack.cell_count: {self.pack.cell_count} cells, but afe.type {self.afe.type} reads "
                f"per-cell voltages from the bq40z50 registers (1..4 cells); a pack that reports none "
                f"would leave the cell protections blind"
            )
        if self.afe.type not in ("bq769x0", "sim_bq769x0"):
            return
        from bms_ros.afe.bq769x0.registers import select_chip

        try:
            chip = select_chip(self.pack.cell_count, self.afe.chip or None)
        except ValueError as e:
            raise ConfigError(f"pack.cell_count: {e} (afe.type {self.afe.type})") from None
        if self.afe.thermistor_count > chip.groups:
            raise ConfigError(
                f"afe.thermistor_count: {self.afe.thermistor_count} thermistors, but a "
                f"{self.pack.cell_count}-cell pack uses a {chip.name}, which has {chip.groups} TS "
                f"input(s)"
            )

    def envelope_violations(self) -> list[str]:
        out = super().envelope_violations()
        n, m = self.afe.thermistor_count, self.protection.sensor_loss.min_thermistors
        if n > 0 and m == 0:
            out.append(
                f"protection.sensor_loss.min_thermistors: 0 turns temperature sensing off although "
                f"afe.thermistor_count is {n}: a lost thermistor would go unnoticed and charging would go "
                f"on without a temperature (IEC 62619's BMS requirements: charging within the cell's "
                f"temperature range); set it to 1..{n}"
            )
        return out


ALL_SPECS: dict[str, ParamSpec] = specs_by_name(BmsRosConfig)


def is_ros_owned(name: str) -> bool:
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in ROS_OWNED)


def resolve(values: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of the package, checked (raises ConfigError naming the first bad one)."""
    return resolve_values(BmsRosConfig, values, is_ros_owned)


def load_config(values: dict[str, Any]) -> BmsRosConfig:
    """Validated, typed configuration from dotted-name values."""
    return build(BmsRosConfig, resolve(values))


def read_params_file(path: str | Path, node_name: str = "bms_node") -> dict[str, Any]:
    """Dotted-name values from a ROS 2 parameter file (``/**`` and ``<node>`` sections, ``ros__parameters``).

    The file is held to what rcl accepts (so bms-replay and the node agree): every top-level section has a
    ``ros__parameters`` mapping and a list holds one type. Anything wrong raises ConfigError with one line.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read parameter file: {getattr(e, 'strerror', None) or e}") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}: not valid YAML: {_one_line(e.problem or e.context or 'syntax error')}{where}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except Exception as e:  # other YAML errors, bad dates (ValueError) and the like: one line, never a traceback
        raise ConfigError(f"{path}: not valid YAML: {type(e).__name__}: {_one_line(str(e))}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a ROS 2 parameter file (top level is not a mapping)")
    out: dict[str, Any] = {}
    for key, section in doc.items():
        if (
            not isinstance(section, dict)
            or "ros__parameters" not in section
            or not isinstance(section["ros__parameters"], (dict, type(None)))
        ):
            raise ConfigError(f"{path}: section {key!r} has no ros__parameters mapping")
        name = str(key).lstrip("/")
        if name in ("**", node_name) or name.endswith("/" + node_name) or name.endswith("/**"):
            try:
                values = flatten_yaml(section["ros__parameters"] or {})
            except RecursionError:
                raise ConfigError(f"{path}: section {key!r}: parameters nested too deeply") from None
            for pname, value in values.items():
                _check_homogeneous(path, pname, value)
            out.update(values)
    return out


def _check_homogeneous(path: str | Path, name: str, value: Any) -> None:
    """rcl rejects a list whose items differ in type (1 and 2.0 differ): say so, naming the parameter."""
    if not isinstance(value, list) or not value:
        return
    kinds = {type(x).__name__ for x in value}
    if len(kinds) > 1:
        hint = " (write 1.0, not 1, in a list of numbers)" if kinds == {"int", "float"} else ""
        raise ConfigError(
            f"{path}: {name}: a parameter list holds one type, this one mixes {', '.join(sorted(kinds))}{hint}"
        )
    if isinstance(value[0], (list, dict)):
        raise ConfigError(f"{path}: {name}: a parameter list holds plain values, not nested lists or mappings")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
