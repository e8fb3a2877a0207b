"""The real bq769x2 driver over the register-level emulator and a pack model (``afe.type: sim_bq769x2``).

    afe = SimulatedBq769x2.create(cell_count=16, chemistry="lfp", seed=1)
    afe.read(0.0)

Like :class:`SimulatedBq769x0`: ``read(now)`` advances chip and pack to ``now`` on the caller's clock (the first
call anchors it), then runs the driver's read. The chip starts warm (a full measurement set done), so the first
read is valid; ``sim_kwargs={"warm": False}`` shows the power-on window. Subcommand polling does not sleep.
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import Afe
from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.bq769x2.driver import Bq769x2Afe
from bms_ros.afe.bq769x2.emul import Bq769x2Emul
from bms_ros.afe.sim.faults import FaultInjector
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import AfeFlag, BalancingConstraints, HardwareProtection, PackSample


def _no_sleep(_s: float) -> None:
    """Subcommand polls in simulation: the emulator counts polls, not time."""


class SimulatedBq769x2(Afe):
    def __init__(
        self,
        pack: PackModel,
        *,
        crc: bool = True,
        address: int = r.DEFAULT_ADDRESS,
        shunt_ohm: float = 0.001,
        thermistor_count: int = 1,
        protection: HardwareProtection | None = None,
        start_time: float | None = None,
        sim_kwargs: dict | None = None,
        driver_kwargs: dict | None = None,
    ):
        r.channel_map(pack.cell_count, 16)  # clear error for 1, 2 or 17+ cells
        self.pack = pack
        self.chip = Bq769x2Emul(
            pack, address=address, crc=crc, shunt_ohm=shunt_ohm, **{"warm": True, **(sim_kwargs or {})}
        )
        self._offset = start_time
        self.driver = Bq769x2Afe(
            self.chip,
            pack.cell_count,
            address=address,
            crc=crc,
            shunt_ohm=shunt_ohm,
            thermistor_count=thermistor_count,
            protection=protection,
            sleep=_no_sleep,
            **(driver_kwargs or {}),
        )

    @classmethod
    def from_config(cls, pack: PackModel, cfg, **kwargs) -> SimulatedBq769x2:
        return cls(
            pack,
            crc=bool(cfg.crc),
            address=int(cfg.i2c_address),
            shunt_ohm=float(cfg.shunt_resistance),
            thermistor_count=int(cfg.thermistor_count),
            **kwargs,
        )

    @classmethod
    def create(
        cls,
        cell_count: int = 4,
        chemistry: str = "nmc",
        capacity_ah: float = 10.0,
        initial_soc: float = 0.5,
        seed: int = 1,
        **kwargs,
    ) -> SimulatedBq769x2:
        r.channel_map(cell_count, 16)
        pack = PackModel(
            get_chemistry(chemistry),
            PackModelConfig(cell_count=cell_count, capacity_ah=capacity_ah, initial_soc=initial_soc, seed=seed),
        )
        return cls(pack, **kwargs)

    @property
    def faults(self) -> FaultInjector:
        return self.chip.faults

    @property
    def time(self) -> float:
        return self.chip.t + (self._offset or 0.0)

    def advance(self, now: float) -> None:
        if self._offset is None:
            self._offset = now - self.chip.t
        self.chip.advance_to(now - self._offset)

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

    def set_balancing_transfer(self, transfer_a: np.ndarray) -> None:
        self.pack.set_transfer(transfer_a)

    def set_balancing(self, mask: int) -> None:
        self.driver.set_balancing(mask)

    def clear_faults(self, flags: AfeFlag) -> None:
        self.driver.clear_faults(flags)

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        return self.driver.configure_protection(wanted)

    def enter_ship_mode(self) -> None:
        self.driver.enter_ship_mode()

    @property
    def status_reason(self) -> str:
        return self.driver.status_reason

    def close(self) -> None:
        self.driver.close()
