"""A simulated dock that obeys the BMS: its charger follows the CVL/CCL and it switches the pack heater.

What a real dock controller does with ``~/charge_limits`` (or a charger with the 0x35x CAN frames): the
constant-voltage setpoint is the CVL, the constant-current limit the smaller of its own rating and the CCL, and
the heater output follows the BMS's heater decision (the heater is fed by the charger, see PackModel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.afe.sim.pack_model import PackModel
from bms_ros.core.types import BmsOutput


@dataclass
class SimDock:
    pack: PackModel
    rated_current_a: float  # the charger's own constant-current limit
    follow_limits: bool = True  # False: a plain CC-CV charger that ignores the BMS (the heater still follows)

    def apply(self, out: BmsOutput) -> None:
        """The BMS's latest decision reaches the dock (one sample later, as over a bus)."""
        p = self.pack
        p.heater_on = bool(out.heater_on)
        if not self.follow_limits:
            return
        ccl = out.charge_current_limit
        p.charger_current_a = min(self.rated_current_a, ccl) if math.isfinite(ccl) else 0.0
        cvl = out.charge_voltage_limit
        p.charger_voltage_v = float(cvl) if math.isfinite(cvl) else None
