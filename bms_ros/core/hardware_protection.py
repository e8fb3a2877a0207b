"""The AFE's own protection thresholds, derived from the software limits.

The chip's trips are the backstop: set just beyond the core's limits (and slower), so in normal operation
the core acts first, yet the pack stays protected if the host stops (crash, hang, lost I2C). The values
are requests: the driver quantises them to the nearest safe register code and reports what it programmed.
"""

from __future__ import annotations

from bms_ros.core.config import BmsConfig
from bms_ros.core.types import HardwareProtection

# The chip's OV / UV trip sits halfway between the software limit and the hard (always latching) one: beyond
# what the core acts on, inside what the cell tolerates (design choice, module docstring).
OV_UV_BETWEEN_SOFT_AND_HARD = 0.5
# The chip waits at least twice the software delay, so the core trips first (design choice), and never less than
# the second-shortest delay code of the chip (bq769x0 PROTECT3: OV 1/2/4/8 s, UV 1/4/8/16 s; see
# afe.bq769x0.protection_codes OV_DELAY_S, UV_DELAY_S).
DELAY_FACTOR = 2
MIN_OV_DELAY = 2.0  # s
MIN_UV_DELAY = 4.0  # s
# Discharge over-current: the chip trips 25 % above the core's fast level (design choice: beyond the core's limit,
# so the core acts first).
OCD_ABOVE_SOFTWARE = 1.25
# Delays and the short-circuit level as LibreSolar bms-firmware sets them in common_setup_bms_defaults
# (dis_oc_delay_ms = 320, dis_sc_delay_us = 200, short circuit at twice the over-current limit).
OCD_DELAY = 0.32  # s
SCD_PER_OCD = 2.0  # short-circuit level / over-current level
SCD_DELAY = 0.0002  # s (200 us)


def hardware_protection(cfg: BmsConfig) -> HardwareProtection:
    p = cfg.protection
    ov = OV_UV_BETWEEN_SOFT_AND_HARD * (p.cell_overvoltage.threshold + p.cell_overvoltage_hard.threshold)
    uv = OV_UV_BETWEEN_SOFT_AND_HARD * (p.cell_undervoltage.threshold + p.cell_undervoltage_deep.threshold)
    ocd = OCD_ABOVE_SOFTWARE * p.discharge_overcurrent.threshold
    return HardwareProtection(
        cell_overvoltage=ov,
        cell_overvoltage_delay=max(MIN_OV_DELAY, DELAY_FACTOR * p.cell_overvoltage.delay),
        cell_undervoltage=uv,
        cell_undervoltage_delay=max(MIN_UV_DELAY, DELAY_FACTOR * p.cell_undervoltage.delay),
        discharge_overcurrent=ocd,
        discharge_overcurrent_delay=OCD_DELAY,
        short_circuit=SCD_PER_OCD * ocd,
        short_circuit_delay=SCD_DELAY,
    )
