"""Fault injection for the register-level chip emulators (bq769x0 and bq769x2).

Bus faults act on ``i2c_rdwr`` transactions; measurement faults on what the chip converts; chip and pack faults
act through the simulator and the pack model. Random faults draw from a seeded generator (deterministic).

    sim.faults.nack_rate = 0.05         # 5 % of transactions NACKed (OSError EREMOTEIO)
    sim.faults.nack_next(4)             # a burst: the next 4 transactions NACKed
    sim.faults.timeout_rate = 0.01      # OSError ETIMEDOUT (a TimeoutError)
    sim.faults.crc_corrupt_rate = 0.1   # CRC parts: a CRC byte of a read reply is corrupted
    sim.faults.stuck_cell(2, 3.70)      # cell 2 always reads 3.70 V
    sim.faults.open_wire(1)             # sense wire above cell 1 open: cell 1 reads ~0, cell 2 reads both
    sim.faults.thermistor_open(0)       # TS1 open (reads ~3.3 V) / thermistor_short(0)
    sim.faults.xready()                 # DEVICE_XREADY: FETs and balancing off
    sim.faults.alert_override()         # something drove ALERT high: OVRD_ALERT, both FETs off
    sim.faults.external_short(True)     # hard short on the pack terminals
    sim.faults.soft_internal_short(3, 50.0)  # cell 3 leaks through 50 ohm (high self-discharge)
"""

from __future__ import annotations

import errno
import random
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from bms_ros.afe.sim.pack_model import PackModel


class _Chip(Protocol):
    """What the injector needs of an emulator: its pack (chip-specific faults are emulator methods)."""

    pack: PackModel


class FaultInjector:
    def __init__(self, seed: int = 0):
        self._rng = random.Random(seed)
        self._sim: Any = None
        self.nack_rate = 0.0
        self.timeout_rate = 0.0
        self.crc_corrupt_rate = 0.0
        self._nack_burst = 0
        self._timeout_burst = 0
        self._crc_burst = 0
        self.stuck: dict[int, float] = {}  # logical cell -> reading (V)
        self.open_wires: set[int] = set()  # logical cells whose top sense wire is open
        self.thermistors: dict[int, str] = {}  # TS index (0-based) -> "open" | "short"
        self.injected = {"nack": 0, "timeout": 0, "crc": 0}

    def attach(self, sim: _Chip) -> None:
        self._sim = sim

    @property
    def sim(self) -> Any:
        if self._sim is None:
            raise RuntimeError("fault injector is not attached to a simulator")
        return self._sim

    # ---- bus ------------------------------------------------------------------------------------------------------
    def nack_next(self, count: int) -> None:
        self._nack_burst += int(count)

    def timeout_next(self, count: int) -> None:
        self._timeout_burst += int(count)

    def corrupt_crc_next(self, count: int) -> None:
        self._crc_burst += int(count)

    def before_transaction(self) -> None:
        """Raise the OSError a Linux i2c adapter would for a NACK or a timeout."""
        if self._nack_burst > 0 or (self.nack_rate > 0 and self._rng.random() < self.nack_rate):
            self._nack_burst = max(0, self._nack_burst - 1)
            self.injected["nack"] += 1
            raise OSError(errno.EREMOTEIO, "simulated NACK")
        if self._timeout_burst > 0 or (self.timeout_rate > 0 and self._rng.random() < self.timeout_rate):
            self._timeout_burst = max(0, self._timeout_burst - 1)
            self.injected["timeout"] += 1
            raise OSError(errno.ETIMEDOUT, "simulated I2C timeout")  # -> TimeoutError

    def corrupt_read(self, raw: bytearray, with_crc: bool) -> None:
        """Maybe corrupt one CRC byte of an interleaved D,C,D,C reply (CRC parts only)."""
        if not with_crc or len(raw) < 2:
            return
        if self._crc_burst > 0 or (self.crc_corrupt_rate > 0 and self._rng.random() < self.crc_corrupt_rate):
            self._crc_burst = max(0, self._crc_burst - 1)
            k = 2 * self._rng.randrange(len(raw) // 2) + 1
            raw[k] ^= 1 << self._rng.randrange(8)
            self.injected["crc"] += 1

    def take_crc_corruption(self) -> bool:
        """True when this reply's checksum should be corrupted (burst or rate); counted as injected."""
        if self._crc_burst > 0 or (self.crc_corrupt_rate > 0 and self._rng.random() < self.crc_corrupt_rate):
            self._crc_burst = max(0, self._crc_burst - 1)
            self.injected["crc"] += 1
            return True
        return False

    # ---- measurements -------------------------------------------------------------------------------------------
    def stuck_cell(self, cell: int, volts: float) -> None:
        self.stuck[int(cell)] = float(volts)

    def open_wire(self, cell: int) -> None:
        self.open_wires.add(int(cell))

    def thermistor_open(self, index: int = 0) -> None:
        self.thermistors[int(index)] = "open"

    def thermistor_short(self, index: int = 0) -> None:
        self.thermistors[int(index)] = "short"

    def clear_measurement_faults(self) -> None:
        self.stuck.clear()
        self.open_wires.clear()
        self.thermistors.clear()

    def apply_cells(self, volts: np.ndarray) -> np.ndarray:
        """What the chip's inputs see for the logical cells' terminal voltages ``volts``."""
        if not (self.stuck or self.open_wires):
            return volts
        v = volts.copy()
        for cell in sorted(self.open_wires):
            # the floating node sits near the lower one (input leakage): this cell reads ~0, the cell above reads
            # the sum of both; an open top wire leaves the top cell at ~0.
            if 0 <= cell < len(v):
                if cell + 1 < len(v):
                    v[cell + 1] += v[cell]
                v[cell] = 0.0
        for cell, stuck in self.stuck.items():
            if 0 <= cell < len(v):
                v[cell] = stuck
        return v

    def thermistor_resistance(self, index: int, ohms: float) -> float:
        state = self.thermistors.get(index)
        if state == "open":
            return float("inf")
        if state == "short":
            return 0.0
        return ohms

    # ---- chip and pack ---------------------------------------------------------------------------------------
    def xready(self) -> None:
        self.sim.raise_xready()

    def alert_override(self) -> bool:
        """Drive ALERT high from outside; False if the chip was driving it already (then it cannot see it)."""
        return self.sim.external_alert()

    def external_short(self, on: bool = True, current_a: float | None = None) -> None:
        pack = self.sim.pack
        if current_a is not None:
            pack.short_circuit_a = float(current_a)
        pack.external_short = on

    def soft_internal_short(self, cell: int, resistance_ohm: float) -> None:
        self.sim.pack.internal_short_ohm[int(cell)] = float(resistance_ohm)

    def clear_all(self) -> None:
        self.nack_rate = self.timeout_rate = self.crc_corrupt_rate = 0.0
        self._nack_burst = self._timeout_burst = self._crc_burst = 0
        self.clear_measurement_faults()
        if self._sim is not None:
            self._sim.pack.external_short = False
            self._sim.pack.internal_short_ohm[:] = np.inf
