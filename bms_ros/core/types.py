"""Data that crosses the layer boundaries: what the AFE measured and what the core decided.

Conventions: SI units (V, A, degC, s, Ah, Wh), current > 0 while charging (ROS BatteryState), NaN where a
value is unknown. Arrays are float64 numpy arrays, one entry per cell or thermistor.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

NAN = math.nan


class AfeFlag(enum.IntFlag):
    """Status the AFE itself latched (bq769x0 SYS_STAT and equivalents), as read."""

    NONE = 0
    OVERVOLTAGE = 1 << 0  # hardware cell OV trip (chip opened CHG)
    UNDERVOLTAGE = 1 << 1  # hardware cell UV trip (chip opened DSG)
    OVERCURRENT_DISCHARGE = 1 << 2  # hardware OCD trip
    SHORT_CIRCUIT = 1 << 3  # hardware SCD trip
    DEVICE_FAULT = 1 << 4  # internal chip fault (bq769x0 DEVICE_XREADY)
    ALERT_OVERRIDE = 1 << 5  # external ALERT override (bq769x0 OVRD_ALERT)


@dataclass(frozen=True)
class PackReport:
    """What a smart pack's own BMS says about itself (issue 17): published beside our estimate, never mixed in.

    Fields are NaN / "" when the pack does not report them. ``protection`` names the pack's own active
    protection or alarm bits (its words, e.g. "cell_overvoltage"); the ones we have an AfeFlag for are also
    mapped into ``PackSample.afe_flags`` so the core's fault machinery sees them.
    """

    soc: float = NAN  # 0..1, the pack's own state of charge
    remaining_ah: float = NAN
    full_capacity_ah: float = NAN
    design_capacity_ah: float = NAN
    cycle_count: float = NAN
    soh: float = NAN  # 0..1
    protection: tuple[str, ...] = ()
    fets_controllable: bool = False  # the pack accepts our FET commands


@dataclass(frozen=True)
class PackSample:
    """One read of the AFE, stamped on the reader's clock (node clock, sim time or a recording)."""

    stamp: float  # s
    cell_voltages: np.ndarray  # V, shape (n_cells,)
    pack_voltage: float  # V
    current: float  # A, > 0 charging
    temperatures: np.ndarray  # degC, one per thermistor
    die_temperature: float = NAN  # degC
    afe_flags: AfeFlag = AfeFlag.NONE
    charge_fet: bool = False  # FET states read back from the AFE
    discharge_fet: bool = False
    balancing_mask: int = 0  # bit i set: cell i (0-based) is bleeding, as read back
    comm_ok: bool = True  # False: the read failed; measured fields are NaN
    read_errors: int = 0  # cumulative I2C errors (NACK, timeout) since start
    crc_errors: int = 0  # cumulative CRC mismatches since start
    load_present: bool = False  # AFE load detection (meaningful with CHG off)
    pack_report: PackReport | None = None  # smart packs only: the pack's own view (see PackReport)

    @property
    def cell_count(self) -> int:
        return int(self.cell_voltages.shape[0])

    @staticmethod
    def missing(
        stamp: float, cell_count: int, thermistor_count: int, read_errors: int = 0, crc_errors: int = 0
    ) -> PackSample:
        """A sample for a failed read: everything measured is unknown."""
        return PackSample(
            stamp=stamp,
            cell_voltages=np.full(cell_count, NAN),
            pack_voltage=NAN,
            current=NAN,
            temperatures=np.full(thermistor_count, NAN),
            comm_ok=False,
            read_errors=read_errors,
            crc_errors=crc_errors,
        )


@dataclass(frozen=True)
class BalancingConstraints:
    """What the AFE allows to bleed at once.

    ``groups`` are half-open cell index ranges that share a balancing register; within a group no two
    adjacent cells may bleed together unless ``allow_adjacent``, and at most ``max_per_group`` at once.
    """

    groups: tuple[tuple[int, int], ...]
    max_per_group: int = 5
    allow_adjacent: bool = False

    def permits(self, mask: int) -> bool:
        for start, stop in self.groups:
            bits = [(mask >> i) & 1 for i in range(start, stop)]
            if sum(bits) > self.max_per_group:
                return False
            if not self.allow_adjacent and any(a and b for a, b in itertools.pairwise(bits)):
                return False
        return True


@dataclass(frozen=True)
class HardwareProtection:
    """Thresholds the AFE enforces on its own, independent of the host (SI)."""

    cell_overvoltage: float = 4.25  # V
    cell_overvoltage_delay: float = 2.0  # s
    cell_undervoltage: float = 2.6  # V
    cell_undervoltage_delay: float = 4.0  # s
    discharge_overcurrent: float = 40.0  # A (magnitude)
    discharge_overcurrent_delay: float = 0.32  # s
    short_circuit: float = 80.0  # A (magnitude)
    short_circuit_delay: float = 0.0002  # s


class BmsState(enum.IntEnum):
    """FET control state (see core.fet_control)."""

    INIT = 0
    STANDBY = 1
    CHARGING = 2
    DISCHARGING = 3
    FAULT = 4
    SHUTDOWN = 5


@dataclass(frozen=True)
class Estimate:
    """State estimation output (core.estimation)."""

    soc: float = NAN  # 0..1, pack (weakest cell) definition
    soc_std: float = NAN  # 1-sigma, 0..1
    cell_soc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    soh: float = NAN  # capacity / design capacity, 0..1
    capacity_ah: float = NAN  # learned usable capacity
    capacity_std_ah: float = NAN  # its 1-sigma uncertainty
    design_capacity_ah: float = NAN
    charge_ah: float = NAN  # remaining charge
    resistance_ohm: float = NAN  # pack internal resistance
    energy_wh: float = NAN  # remaining energy
    time_to_empty_s: float = NAN
    time_to_full_s: float = NAN
    cycle_count: float = 0.0  # equivalent full cycles
    current_offset_a: float = NAN  # estimated sensor offset
    # the equivalent circuit as adapted to the pack (ISSUE 13 item 1): the RC pairs' resistance (R1 + R2, pack,
    # ohm), the learned scales of R0 and of the polarisation (1 = the chemistry's or the table's), the mean
    # hysteresis state (-1 discharge branch .. +1 charge branch; 0 also without a hysteresis model)
    polarisation_resistance_ohm: float = NAN
    resistance_scale: float = NAN
    polarisation_scale: float = NAN
    hysteresis_state: float = NAN


@dataclass(frozen=True)
class BmsOutput:
    """Everything the core decided for one sample; the node only transports it."""

    stamp: float
    sample: PackSample
    state: BmsState
    charge_fet: bool  # commanded
    discharge_fet: bool
    faults_active: int  # core.faults.Fault bitmask
    faults_latched: int
    warnings: int  # Fault bits whose condition is present but not (yet) tripped
    charge_enable_requested: bool
    discharge_enable_requested: bool
    charge_current_limit: float  # A, >= 0
    discharge_current_limit: float  # A, >= 0 (magnitude)
    limit_reason: str
    balancing_mask: int
    estimate: Estimate
    current_charging: bool = False  # the current flows into the pack (above fet.state_current, with hysteresis)
    charge_complete: bool = False  # end of charge (the estimator's full anchor): FULL and SoC 1.0 together
    data_fresh: bool = True
    # per cell, A (> 0 into the cell): active balancer transfer currents (empty unless balancing.mode=active)
    balancing_transfer_a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    afe_flags_to_clear: int = 0  # AfeFlag bits the node should clear in the AFE (afe.clear_faults)
    balancing_reason: str = ""  # why (not) balancing: "balancing", "balanced", "not at rest", "fault", ...
    invalid_reason: str = ""  # why this sample was not usable ("" = complete and plausible)
    cells_held: int = 0  # cell readings not valid in this sample (held, or unknown)
    lock_code: str = ""  # while SYSTEM_LOCK is latched: the code ~/unlock needs
    # what consumers see (ISSUE 14): this sample when valid; while a read failed or was implausible but the
    # last valid one is younger than stale_timeout, that one (``data_held``); once stale, this (unknown) sample.
    # FET states are always the chip's as last read back (never the command that could not be written).
    reported: PackSample | None = None
    data_held: bool = False
    data_age: float = NAN  # s since the last valid sample (NaN: none yet)
    # what a charger is told (core.charge_limits): CVL/DVL and the reason of each limit; the heater (core.heater)
    charge_voltage_limit: float = NAN  # V, pack (CVL)
    discharge_voltage_limit: float = NAN  # V, pack (DVL)
    charge_voltage_reason: str = ""
    charge_current_reason: str = ""
    discharge_current_reason: str = ""
    force_charge: bool = False  # an under-voltage fault is active and charging is allowed: charge me
    heater_on: bool = False
    heater_reason: str = ""

    @property
    def view(self) -> PackSample:
        """The measured values to publish (see ``reported``)."""
        return self.sample if self.reported is None else self.reported
