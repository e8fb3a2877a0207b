"""Pure-Python BMS core: data types, protection, FET control, balancing and state estimation.

Nothing here imports ROS: the same code runs in the node, in bms-replay and in unit tests. This is the core's
public API: nodes and tools import from ``bms_ros.core`` only (test/test_layering.py). Names load lazily
(PEP 562), so importing one part does not import the rest, and no import cycle can run through here.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule ("submodule:attribute" where the attribute is named like its submodule, which the
# import system would otherwise shadow with the submodule itself)
_WHERE = {
    "AGGREGATOR_SPECS": "aggregator_config",
    "AfeFlag": "types",
    "Aggregate": "aggregate",
    "AggregatorConfig": "aggregator_config",
    "Bms": "bms",
    "BmsOutput": "types",
    "Chemistry": "chemistry",
    "ConfigError": "params",
    "EnergyMeter": "energy_use",
    "EnergyUse": "energy_use",
    "Fault": "faults",
    "HardwareProtection": "types",
    "Health": "health",
    "Level": "low_battery",
    "LowBatteryMonitor": "low_battery",
    "LowBatteryState": "low_battery",
    "MemoryStore": "persistence",
    "PackReading": "aggregate",
    "PackRoster": "pack_roster",
    "PackSample": "types",
    "ParamSpec": "params",
    "ROWS": "safety_case",
    "Row": "safety_case",
    "StateStore": "persistence",
    "Throughput": "energy_use",
    "aggregate_packs": "aggregate:aggregate",
    "build": "params",
    "fault_names": "faults",
    "get_chemistry": "chemistry",
    "flatten": "params",
    "hardware_protection_settings": "hardware_protection:hardware_protection",
    "pack_health": "health:health",
    "load_aggregator_config": "aggregator_config",
    "load_chemistry_table": "chemistry",
    "policy_table": "protection",
    "relevant_faults": "health",
    "shutdown_fet_state": "fet_control",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = _WHERE[name].partition(":")  # "module:attr" where a name equals its module's
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
