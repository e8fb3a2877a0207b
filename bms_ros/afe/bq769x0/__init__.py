"""TI bq769x0 (BQ76920/BQ76930/BQ76940) battery monitor: register map, interface, conversions, driver and emulator.

The shape of LibreSolar's ``drivers/bms_ic`` (registers / interface / chip / emulator side by side). The driver's
names load on first use (PEP 562), so importing the pure-data ``registers`` or ``crc`` loads neither the driver
nor smbus2, and the package ``__init__`` forms no import cycle with its modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bms_ros.afe.bq769x0.driver import Bq769x0Afe
    from bms_ros.afe.bq769x0.interface import Bq769x0Errors
    from bms_ros.afe.wire import WireStats

_WHERE = {
    "Bq769x0Afe": "bms_ros.afe.bq769x0.driver",
    "Bq769x0Errors": "bms_ros.afe.bq769x0.interface",
    "WireStats": "bms_ros.afe.wire",
}

__all__ = ["Bq769x0Afe", "Bq769x0Errors", "WireStats"]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
