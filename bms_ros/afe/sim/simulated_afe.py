"""An ideal simulated AFE: measures the pack model directly (no register level), with seeded sensor noise.

Fast and simple; the register-level bq769x0 simulator behind the real driver is the faithful one. Of the AFE's
own protections it has the one a robot team sees first: short-circuit detection. A short above the programmed
SCD threshold opens the discharge FET at once (the delay is microseconds) and latches SHORT_CIRCUIT until the
host clears it, as the bq769x0 does.
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import Afe
from bms_ros.afe.sim.pack_model import PackModel
from bms_ros.core.types import AfeFlag, BalancingConstraints, HardwareProtection, PackSample


class SimulatedAfe(Afe):
    def __init__(
        self,
        pack: PackModel,
        thermistor_count: int = 1,
        voltage_noise_v: float = 0.0,
        current_noise_a: float = 0.0,
        seed: int = 0,
        start_time: float | None = None,
    ):
        self.pack = pack
        self._thermistors = thermistor_count
        self._vn, self._in = voltage_noise_v, current_noise_a
        self._rng = np.random.default_rng(seed)
        self._t = start_time
        self._protection: HardwareProtection | None = None  # as programmed by configure_protection
        self._flags = AfeFlag.NONE  # latched until clear_faults
        n = pack.cell_count
        self._constraints = BalancingConstraints(
            groups=tuple((s, min(s + 5, n)) for s in range(0, n, 5)), max_per_group=5, allow_adjacent=False
        )

    @property
    def cell_count(self) -> int:
        return self.pack.cell_count

    @property
    def thermistor_count(self) -> int:
        return self._thermistors

    @property
    def balancing_constraints(self) -> BalancingConstraints:
        return self._constraints

    def advance(self, now: float) -> None:
        """Run the pack model up to ``now`` in steps of at most 1 s. A clock that jumps back (Gazebo reset, bag
        play --loop) re-bases the simulation's time: the pack goes on from its state, it does not freeze until
        the clock catches up."""
        if self._t is None or now < self._t - 1e-9:
            self._t = now
        while self._t < now - 1e-9:
            self._short_circuit_detection()
            dt = min(1.0, now - self._t)
            self.pack.step(dt)
            self._t += dt
        self._short_circuit_detection()

    def _short_circuit_detection(self) -> None:
        p, h = self.pack, self._protection
        if h is not None and p.discharge_fet and p.external_short and p.short_circuit_a >= h.short_circuit:
            p.discharge_fet = False
            self._flags |= AfeFlag.SHORT_CIRCUIT

    def read(self, now: float) -> PackSample:
        self.advance(now)
        n = self.cell_count
        cells = self.pack.cell_voltages() + self._vn * self._rng.standard_normal(n)
        current = self.pack.current_a + self._in * self._rng.standard_normal()
        temps = np.full(self._thermistors, self.pack.temperature_c)
        return PackSample(
            stamp=now,
            cell_voltages=cells,
            pack_voltage=float(cells.sum()),
            current=float(current),
            temperatures=temps,
            die_temperature=self.pack.temperature_c,
            charge_fet=self.pack.charge_fet,
            discharge_fet=self.pack.discharge_fet,
            balancing_mask=self.pack.bleed_mask,
            afe_flags=self._flags,
            load_present=not self.pack.charge_fet and (self.pack.load_a > 0 or self.pack.external_short),
        )

    def set_fets(self, charge: bool, discharge: bool) -> None:
        self.pack.charge_fet, self.pack.discharge_fet = bool(charge), bool(discharge)

    def set_balancing_transfer(self, transfer_a: np.ndarray) -> None:
        self.pack.set_transfer(transfer_a)

    def set_balancing(self, mask: int) -> None:
        if not self._constraints.permits(mask):
            raise ValueError(f"balancing mask {mask:#x} violates the AFE constraints")
        self.pack.bleed_mask = int(mask)

    def clear_faults(self, flags: AfeFlag) -> None:
        self._flags &= ~flags

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        self._protection = wanted
        return wanted
