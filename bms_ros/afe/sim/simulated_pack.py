"""A real smart-pack driver over its wire-level emulator and the pack model (``afe.type: sim_sbs / sim_jbd /
sim_daly``): the node runs the same parser and driver code as on hardware, over bytes.

``read(now)`` advances the emulated pack to ``now`` on the caller's clock (the first call anchors it), then runs
the driver's read. ``faults`` is the emulator's injector; ``bms`` the pack's own simulated BMS (``bms.trip``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bms_ros.afe.pack_source import PackSource
from bms_ros.afe.sim.pack_model import PackModel
from bms_ros.core.types import AfeFlag, BalancingConstraints, BmsOutput, HardwareProtection, PackSample

__all__ = ["SimulatedPack"]


class SimulatedPack(PackSource):
    def __init__(self, pack: PackModel, emul: Any, driver: PackSource, start_time: float | None = None):
        self.pack, self.emul, self.driver = pack, emul, driver
        self._offset = start_time
        self.accepts_fet_commands = driver.accepts_fet_commands
        self.fet_refusal = driver.fet_refusal

    @property
    def faults(self):
        return self.emul.faults

    @property
    def bms(self):
        return self.emul.bms

    @property
    def stats(self):  # overrides an attribute of PackSource with the driver's
        return self.driver.stats

    @property
    def identity(self):
        return self.driver.identity

    @property
    def last_fet_command(self):
        return self.driver.last_fet_command

    def advance(self, now: float) -> None:
        if self._offset is None:
            self._offset = now - self.emul.t
        self.emul.advance_to(now - self._offset)

    @property
    def cell_count(self) -> int:
        return self.driver.cell_count

    @property
    def thermistor_count(self) -> int:
        return self.driver.thermistor_count

    @property
    def balancing_constraints(self) -> BalancingConstraints:
        return self.driver.balancing_constraints

    def read(self, now: float) -> PackSample:
        self.advance(now)
        return self.driver.read(now)

    def set_fets(self, charge: bool, discharge: bool) -> None:
        self.driver.set_fets(charge, discharge)

    def set_balancing(self, mask: int) -> None:
        self.driver.set_balancing(mask)

    def set_balancing_transfer(self, transfer_a: np.ndarray) -> None:
        self.driver.set_balancing_transfer(transfer_a)

    def clear_faults(self, flags: AfeFlag) -> None:
        self.driver.clear_faults(flags)

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        return self.driver.configure_protection(wanted)

    def apply(self, out: BmsOutput) -> None:
        self.driver.apply(out)

    @property
    def status_reason(self) -> str:
        return self.driver.status_reason

    def link_counters(self) -> dict[str, int]:
        return self.driver.link_counters()

    def close(self) -> None:
        self.driver.close()
        self.emul.close()
