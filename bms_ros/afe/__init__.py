"""Analog front ends and smart packs: the narrow interface the core consumes (``Afe``), real drivers,
wire emulators and simulators.

Like a Linux or Zephyr driver, each chip driver talks to an injectable bus object; the emulators behind that
same bus run the very same driver code in tests and on robots. This is the layer's public API: nodes and tools
import from ``bms_ros.afe`` only (test/test_layering.py). Names load lazily (PEP 562): ``import bms_ros.afe``
imports no driver, no emulator and no optional library.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Afe": "base",
    "AfeError": "base",
    "LoadInput": "sim.load_model",
    "PackModel": "sim.pack_model",
    "RobotPowerModel": "sim.load_model",
    "SimConfig": "config",
    "SimDock": "sim.dock",
    "apply_sim_faults": "factory",
    "apply_sim_inputs": "factory",
    "hardware_id": "factory",
    "make_afe": "factory",
    "pack_blocks": "pack_source",
    "pack_model_of": "factory",
    "pack_serial": "pack_source",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
