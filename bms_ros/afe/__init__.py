"""Analog front ends: the narrow interface the core consumes (``base.Afe``), real drivers and simulators.

Like a Linux or Zephyr driver, each chip driver talks to an injectable bus object; the simulators in
``afe.sim`` emulate the chip behind that same bus, so the very same driver code runs in tests and on robots.

The public API is :data:`__all__`; nodes and tools import from here. Every name is loaded on first use (PEP 562),
so ``import bms_ros.afe`` loads nothing else, and the factory still imports the implementations inside
``make_afe`` only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bms_ros.afe.base import Afe, AfeError
    from bms_ros.afe.config import AfeConfig, SimConfig, SimFaultConfig
    from bms_ros.afe.factory import (
        apply_sim_faults,
        apply_sim_inputs,
        hardware_id,
        make_afe,
        make_pack_model,
        pack_model_of,
    )
    from bms_ros.afe.pack_source import pack_blocks, pack_serial
    from bms_ros.afe.sim.dock import SimDock
    from bms_ros.afe.sim.load_model import LoadInput, RobotPowerModel
    from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig

_WHERE = {
    "Afe": "base",
    "AfeError": "base",
    "AfeConfig": "config",
    "SimConfig": "config",
    "SimFaultConfig": "config",
    "make_afe": "factory",
    "make_pack_model": "factory",
    "hardware_id": "factory",
    "pack_model_of": "factory",
    "apply_sim_inputs": "factory",
    "apply_sim_faults": "factory",
    "pack_serial": "pack_source",
    "pack_blocks": "pack_source",
    "SimDock": "sim.dock",
    "LoadInput": "sim.load_model",
    "RobotPowerModel": "sim.load_model",
    "PackModel": "sim.pack_model",
    "PackModelConfig": "sim.pack_model",
}

__all__ = [
    "Afe",
    "AfeConfig",
    "AfeError",
    "LoadInput",
    "PackModel",
    "PackModelConfig",
    "RobotPowerModel",
    "SimConfig",
    "SimDock",
    "SimFaultConfig",
    "apply_sim_faults",
    "apply_sim_inputs",
    "hardware_id",
    "make_afe",
    "make_pack_model",
    "pack_blocks",
    "pack_model_of",
    "pack_serial",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
