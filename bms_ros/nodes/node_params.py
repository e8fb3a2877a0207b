"""bms_node's parameters: every config field declared once, with its description, unit and range, and a
runtime change checked by the same rules as a parameter file before anything is applied.

The values given at start (parameter files, ``-p``) are read through rclpy's public API: the node is created
with ``automatically_declare_parameters_from_overrides``, the given values are read back, validated as a
whole (ConfigError: one line, exit 2), and each parameter is then declared again with its descriptor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from bms_ros.config import ALL_SPECS, BmsRosConfig, is_ros_owned, load_config, resolve
from bms_ros.core import ConfigError, ParamSpec, build, flatten

__all__ = ["ParameterChange", "check_change", "declare_config", "descriptor"]


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(
        description=spec.description + (f" [{spec.unit}]" if spec.unit else ""), read_only=not spec.runtime
    )
    # numbers: `ros2 param set ... sim.load_current 4` sends an integer, which a YAML file may also give; rclpy
    # would refuse it for a DOUBLE before our callback runs, so the type is checked (and coerced) there instead
    d.dynamic_typing = spec.type in (float, list)
    if spec.choices:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.type is float and (spec.min is not None or spec.max is not None):
        d.floating_point_range = [
            FloatingPointRange(
                from_value=float(spec.min if spec.min is not None else -math.inf),
                to_value=float(spec.max if spec.max is not None else math.inf),
                step=0.0,
            )
        ]
    if spec.type is int and (spec.min is not None or spec.max is not None):
        d.integer_range = [
            IntegerRange(
                from_value=int(spec.min if spec.min is not None else -(2**63)),
                to_value=int(spec.max if spec.max is not None else 2**63 - 1),
                step=0,
            )
        ]
    return d


def plain(value: Any) -> Any:
    """rclpy parameter values (arrays, tuples) -> plain Python."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return list(value)
    return value


def _as_declared_types(params: list[Parameter]) -> list[Parameter]:
    """Integers given for number parameters become doubles before rclpy stores them (where rclpy has
    pre-set callbacks, Iron and newer), so `ros2 param get` keeps showing a double."""
    out = []
    for p in params:
        spec = ALL_SPECS.get(p.name)
        if spec is not None and spec.type is float and p.type_ == Parameter.Type.INTEGER:
            p = Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
        elif spec is not None and spec.type is list and p.type_ == Parameter.Type.INTEGER_ARRAY:
            p = Parameter(p.name, Parameter.Type.DOUBLE_ARRAY, [float(v) for v in p.value])
        out.append(p)
    return out


def declare_config(node: Node) -> BmsRosConfig:
    """The configuration from the values given at start (a node made with
    ``automatically_declare_parameters_from_overrides=True``); every parameter declared with its descriptor.
    Raises ConfigError with the reason when the values are rejected."""
    given = {name: plain(p.value) for name, p in node.get_parameters_by_prefix("").items() if not is_ros_owned(name)}
    values = resolve(given)
    cfg: BmsRosConfig = build(BmsRosConfig, values)
    for name in given:
        node.undeclare_parameter(name)
    for name, value in values.items():
        node.declare_parameter(name, value, descriptor(ALL_SPECS[name]), ignore_override=True)
    if hasattr(node, "add_pre_set_parameters_callback"):  # Iron+; Humble stores an integer as given
        node.add_pre_set_parameters_callback(_as_declared_types)
    return cfg


@dataclass(frozen=True)
class ParameterChange:
    """A runtime change that passed: the new configuration and the names that changed."""

    cfg: BmsRosConfig
    changed: frozenset[str]


def check_change(cfg: BmsRosConfig, params: list[Parameter]) -> ParameterChange | str:
    """The new configuration, or the reason the change is refused (nothing is applied then)."""
    changed = {p.name: plain(p.value) for p in params if not is_ros_owned(p.name)}
    for name in changed:
        spec = ALL_SPECS.get(name)
        if spec is None:
            return f"{name}: unknown parameter"
        if not spec.runtime:
            return f"{name}: cannot be changed at runtime"
    try:
        return ParameterChange(load_config(resolve({**flatten(cfg), **changed})), frozenset(changed))
    except ConfigError as e:
        return str(e)
