"""The AFE's own protection thresholds, derived from the software limits.

The chip's trips are the backstop: set just beyond the core's limits (and slower), so in normal operation
the core acts first, yet the pack stays protected if the host stops (crash, hang, lost I2C). The values
are requests: the driver quantises them to the nearest safe register code and reports what it programmed.
"""
from __future__ import annotations

from bms_ros.core.config import BmsConfig
from bms_ros.core.types import HardwareProtection


def hardware_protection(cfg: BmsConfig) -> HardwareProtection:
    p = cfg.protection
    ov = 0.5 * (p.cell_overvoltage.threshold + p.cell_overvoltage_hard.threshold)
    uv = 0.5 * (p.cell_undervoltage.threshold + p.cell_undervoltage_deep.threshold)
    ocd = 1.25 * p.discharge_overcurrent.threshold
    return HardwareProtection(
        cell_overvoltage=ov,
        cell_overvoltage_delay=max(2.0, 2 * p.cell_overvoltage.delay),
        cell_undervoltage=uv,
        cell_undervoltage_delay=max(4.0, 2 * p.cell_undervoltage.delay),
        discharge_overcurrent=ocd,
        discharge_overcurrent_delay=0.32,
        short_circuit=2.0 * ocd,
        short_circuit_delay=0.0002,
    )
