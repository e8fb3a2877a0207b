"""The convenience simulated AFE: the real bq769x0 driver over the register-level simulator and a pack model.

    afe = SimulatedBq769x0.create(cell_count=4, chemistry="nmc", seed=1)   # BQ76920, CRC part, 4S
    sample = afe.read(0.0)                      # advances chip + pack to t, then a real driver read
    afe.pack.load_a = 5.0; afe.set_fets(True, True); afe.read(0.1)

``read(now)`` first advances the simulated chip and pack to ``now`` on the caller's clock (the first call anchors
the clock unless ``start_time`` is given), then runs the driver's read. Commands go through the driver at the
simulation's current time. The chip starts "warm" (thermistors already selected, as a previous host session
would leave it) so temperatures are valid from the first read; pass ``sim_kwargs={"warm": False}`` for a cold
chip (the driver then reports NaN temperatures for ~2.25 s after init, until TEMP_SEL has taken effect).
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import Afe
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.driver import Bq769x0Afe
from bms_ros.afe.bq769x0.emul import Bq769x0Sim
from bms_ros.afe.sim.faults import FaultInjector
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import AfeFlag, BalancingConstraints, HardwareProtection, PackSample


class SimulatedBq769x0(Afe):
    def __init__(
        self,
        pack: PackModel,
        *,
        crc: bool = True,
        address: int = 0x08,
        chip: str | None = None,
        shunt_ohm: float = 0.001,
        thermistor_count: int = 1,
        protection: HardwareProtection | None = None,
        start_time: float | None = None,
        sim_kwargs: dict | None = None,
        driver_kwargs: dict | None = None,
    ):
        r.select_chip(pack.cell_count, chip)  # clear error for 1, 2 or 16+ cells
        self.pack = pack
        sim_kwargs = {"warm": True, **(sim_kwargs or {})}
        self.chip = Bq769x0Sim(pack, address=address, crc=crc, chip=chip, shunt_ohm=shunt_ohm, **sim_kwargs)
        # the chip runs on its own clock from 0; caller time = chip time + offset (keeps the chip's small time
        # steps exact when the caller's clock is e.g. ROS time around 1.7e9 s)
        self._offset = start_time
        self.driver = Bq769x0Afe(
            self.chip,
            pack.cell_count,
            address=address,
            crc=crc,
            chip=chip,
            shunt_ohm=shunt_ohm,
            thermistor_count=thermistor_count,
            protection=protection,
            **(driver_kwargs or {}),
        )

    @classmethod
    def from_config(cls, pack: PackModel, cfg, **kwargs) -> SimulatedBq769x0:
        """From an ``AfeConfig``-like object (i2c_address, crc, shunt_resistance, thermistor_count,
        thermistor_beta, thermistor_r25); the simulated NTCs get the same Beta and R25."""
        sim_kwargs = {
            "thermistor_beta": cfg.thermistor_beta,
            "thermistor_r25": cfg.thermistor_r25,
            **kwargs.pop("sim_kwargs", {}),
        }
        driver_kwargs = {
            "thermistor_beta": cfg.thermistor_beta,
            "thermistor_r25": cfg.thermistor_r25,
            **kwargs.pop("driver_kwargs", {}),
        }
        return cls(
            pack,
            crc=bool(cfg.crc),
            address=int(cfg.i2c_address),
            shunt_ohm=float(cfg.shunt_resistance),
            thermistor_count=int(cfg.thermistor_count),
            sim_kwargs=sim_kwargs,
            driver_kwargs=driver_kwargs,
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
    ) -> SimulatedBq769x0:
        """A pack model with default spreads and a simulated AFE over it (3..15 cells)."""
        r.select_chip(cell_count, kwargs.get("chip"))
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
        """The simulation's present time on the caller's clock."""
        return self.chip.t + (self._offset or 0.0)

    def to_chip_time(self, now: float) -> float:
        return now - (self._offset or 0.0)

    def advance(self, now: float) -> None:
        """Run chip and pack up to ``now`` (caller's clock); the first call anchors the clocks, and a clock that
        jumps back re-anchors them (the chip's own time stays monotonic, so its timers run on)."""
        if self._offset is None or now - self._offset < self.chip.t - 1e-9:
            self._offset = now - self.chip.t
        self.chip.advance_to(now - self._offset)

    # ---- Afe ---------------------------------------------------------------------------------------------------
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
