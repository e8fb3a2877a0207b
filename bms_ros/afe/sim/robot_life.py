"""A robot's day on the simulated pack: drive, park, dock charge (CC-CV to the tail current), rest at the dock.

What capacity learning sees in service: partial swings between rests and full charges, never a full cycle.
The pack is ``PackModel`` with two RC pairs (a slow one, so a short park is not quite relaxed) and the AFE's
errors: voltage noise per cell, current noise, a current gain error and offset. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import PackSample

__all__ = ["RobotLife", "RobotLifeConfig"]

DRIVE_C = (0.2, 1.2, 0.5, 1.5, 0.3, 0.8, 0.1)  # C: the drive's load blocks (mixed, 0.1C..1.5C)
DRIVE_BLOCK_S = 30.0  # s: one load block (each with its own jitter)
DRIVE_JITTER = 0.2  # relative 1-sigma of each block's current
CHARGE_C = 0.5  # C: the dock charger's constant current
DOCK_TAIL_C = 0.03  # C: the dock ends the charge below this (under estimation.tail_current, 0.05C)
SLOW_RC_TAU_S = 600.0  # s: the slow RC pair (relaxation still going on after a 20-minute park)
SLOW_RC_FRACTION = 0.5  # R2 / R0


@dataclass
class RobotLifeConfig:
    chemistry: str = "nmc"
    capacity_ah: float = 5.0  # the cells' true capacity
    cell_count: int = 2
    initial_soc: float = 1.0
    seed: int = 0
    dt_s: float = 1.0
    voltage_noise_v: float = 0.002  # per cell, 1-sigma
    current_noise_c: float = 0.002  # C, 1-sigma per sample
    current_gain: float = 1.0  # reading / true current
    current_offset_c: float = 0.0  # C, added to every reading


class RobotLife:
    """``drive``, ``park``, ``dock_charge`` yield the AFE samples of each phase; ``day`` is one partial cycle."""

    def __init__(self, cfg: RobotLifeConfig):
        self.cfg = cfg
        self.pack = PackModel(
            get_chemistry(cfg.chemistry),
            PackModelConfig(
                cell_count=cfg.cell_count,
                capacity_ah=cfg.capacity_ah,
                initial_soc=cfg.initial_soc,
                seed=cfg.seed,
                capacity_spread=0.0,
                soc_spread=0.0,
                rc2_tau_s=SLOW_RC_TAU_S,
                r2_fraction=SLOW_RC_FRACTION,
            ),
        )
        self.pack.charge_fet = self.pack.discharge_fet = True
        self.rng = np.random.default_rng(cfg.seed + 1000)
        self.t = 0.0

    @property
    def true_capacity_ah(self) -> float:
        return float(np.mean(self.pack.capacity_ah))

    def _sample(self) -> PackSample:
        c, p = self.cfg, self.pack
        p.step(c.dt_s)
        self.t += c.dt_s
        v = p.cell_voltages() + c.voltage_noise_v * self.rng.standard_normal(p.cell_count)
        cap = c.capacity_ah
        i = p.current_a * c.current_gain + (c.current_offset_c + c.current_noise_c * self.rng.standard_normal()) * cap
        return PackSample(
            stamp=self.t,
            cell_voltages=v,
            pack_voltage=float(v.sum()),
            current=float(i),
            temperatures=np.array([p.temperature_c]),
            charge_fet=True,
            discharge_fet=True,
        )

    def drive(self, fraction: float) -> Iterator[PackSample]:
        """Mixed-current driving until ``fraction`` of the capacity has been drawn."""
        p, cap = self.pack, self.cfg.capacity_ah
        drawn, k, level = 0.0, 0, 0.0
        while drawn < fraction * cap:
            if k % int(DRIVE_BLOCK_S / self.cfg.dt_s) == 0:
                c = DRIVE_C[self.rng.integers(len(DRIVE_C))]
                level = max(0.05, c * (1.0 + DRIVE_JITTER * self.rng.standard_normal())) * cap
            p.load_a = level
            s = self._sample()
            drawn -= p.current_a * self.cfg.dt_s / 3600.0
            k += 1
            yield s
        p.load_a = 0.0

    def park(self, seconds: float) -> Iterator[PackSample]:
        self.pack.load_a = 0.0
        self.pack.charger_connected = False
        for _ in range(int(seconds / self.cfg.dt_s)):
            yield self._sample()

    def dock_charge(self, rest_s: float = 1800.0) -> Iterator[PackSample]:
        """CC-CV at CHARGE_C until the current falls below DOCK_TAIL_C, then ``rest_s`` on the dock."""
        p, cap = self.pack, self.cfg.capacity_ah
        p.load_a = 0.0
        p.charger_connected, p.charger_current_a = True, CHARGE_C * cap
        started = False
        while True:
            s = self._sample()
            yield s
            started = started or p.current_a > DOCK_TAIL_C * cap
            if started and p.current_a < DOCK_TAIL_C * cap:
                break
        p.charger_connected = False
        yield from self.park(rest_s)

    def day(self, fraction: float, park_s: float = 1500.0, dock_rest_s: float = 1800.0) -> Iterator[PackSample]:
        """One partial cycle: drive ``fraction`` of the capacity, park ``park_s`` (0: straight to the dock),
        charge to full and rest on the dock."""
        yield from self.drive(fraction)
        if park_s > 0:
            yield from self.park(park_s)
        yield from self.dock_charge(dock_rest_s)
