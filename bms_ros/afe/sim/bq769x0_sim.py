"""Former home of the bq769x0 emulator, now :mod:`bms_ros.afe.bq769x0.emul` beside its driver (kept as an alias)."""

from bms_ros.afe.bq769x0.emul import Bq769x0Sim, BusStats

__all__ = ["Bq769x0Sim", "BusStats"]
