"""TI bq769x0 (BQ76920/BQ76930/BQ76940) battery monitor: driver, register map, CRC and protection codes."""
from bms_ros.afe.bq769x0.driver import Bq769x0Afe, Bq769x0Errors, WireStats

__all__ = ["Bq769x0Afe", "Bq769x0Errors", "WireStats"]
