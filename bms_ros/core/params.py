"""Declarative, validated configuration shared by the node (ROS parameters) and bms-replay (YAML).

Each module describes its settings as a dataclass whose fields carry ``param(...)`` metadata; nested
dataclasses become dotted names (``protection.cell_overvoltage.threshold``), exactly like ROS parameters
loaded from a nested YAML file. One schema gives the ROS parameter descriptors, the validation and the
typed config objects, so the node and the offline tools cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration value was rejected; the message names the parameter and the reason.

    Always one line: line breaks in it (from a parameter name or value in a file) are shown escaped."""

    def __init__(self, message: str = "") -> None:
        super().__init__(str(message).translate(_ESCAPE_BREAKS))


# every character str.splitlines() breaks at -> its escape
_ESCAPE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type  # bool, int, float, str, or list (of float)
    default: Any
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    runtime: bool = False  # safe to change while running

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise ConfigError with the reason."""
        v = _coerce(self.name, self.type, value)
        values = v if isinstance(v, list) else [v]
        for x in values:
            if isinstance(x, float) and math.isnan(x):
                raise ConfigError(f"{self.name}: NaN is not a valid value")
            if self.min is not None and isinstance(x, (int, float)) and x < self.min:
                raise ConfigError(f"{self.name}: {x}{self.unit and ' ' + self.unit} is below the minimum {self.min}")
            if self.max is not None and isinstance(x, (int, float)) and x > self.max:
                raise ConfigError(f"{self.name}: {x}{self.unit and ' ' + self.unit} is above the maximum {self.max}")
        if self.choices is not None and v not in self.choices:
            raise ConfigError(f"{self.name}: {v!r} is not one of {', '.join(self.choices)}")
        return v


def _coerce(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, int) and value.bit_length() > 1000:
                raise ConfigError(f"{name}: an integer of {value.bit_length()} bits is not a usable number")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is list:
        if isinstance(value, (list, tuple)) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
        ):
            return [_coerce(name, float, x) for x in value]
    raise ConfigError(f"{name}: expected {_type_name(kind)}, got {type(value).__name__} {_short(value)}")


def _short(value: Any, limit: int = 80) -> str:
    """repr() for a message: at most ``limit`` characters (a value from a file can be huge)."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long for str() (sys.set_int_max_str_digits)
        return f"<{value.bit_length()}-bit integer>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list of numbers"}[kind]


def param(
    default: Any,
    description: str,
    unit: str = "",
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    runtime: bool = False,
) -> Any:
    """A dataclass field that is also a parameter. Lists are copied per instance."""
    meta = {"bms_param": dict(description=description, unit=unit, min=min, max=max, choices=choices, runtime=runtime)}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _field_type(cls: type, f: dataclasses.Field) -> type:
    hint = typing.get_type_hints(cls)[f.name]
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return list
    return hint


def _is_config_class(hint: Any) -> typing.TypeGuard[type]:
    """A nested config section: a dataclass type (not an instance)."""
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _default(f: dataclasses.Field[Any]) -> Any:
    """A field's default value (``param()`` gives a list a factory, so each instance owns its copy)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"config field {f.name} has no default")


def specs(cls: type, prefix: str = "") -> list[ParamSpec]:
    """Every parameter of a config dataclass tree, with dotted names."""
    out: list[ParamSpec] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        hint = hints[f.name]
        if _is_config_class(hint):
            out.extend(specs(hint, name + "."))
            continue
        meta = f.metadata.get("bms_param")
        if meta is None:
            continue
        default = _default(f)
        out.append(ParamSpec(name=name, type=_field_type(cls, f), default=default, **meta))
    return out


def build(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    """Construct ``cls`` from flat dotted ``values`` (already checked), defaults elsewhere."""
    kwargs = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        hint = hints[f.name]
        if _is_config_class(hint):
            kwargs[f.name] = build(hint, values, name + ".")
        elif name in values:
            kwargs[f.name] = values[name]
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check()  # cross-field rules; raises ConfigError
    return obj


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """The inverse of build(): dotted name -> value."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            out.update(flatten(v, prefix + f.name + "."))
        elif "bms_param" in f.metadata:
            out[prefix + f.name] = v
    return out


def flatten_yaml(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML mapping -> dotted names, as ROS does with a parameter file."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(flatten_yaml(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
