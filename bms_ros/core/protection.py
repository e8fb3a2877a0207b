"""Protection: thresholds, delays, hysteresis, latching, escalation and the system lock for every fault.

Every fault follows the same small state machine, evaluated for all faults at once with numpy, on *core time*
(``core.timebase``: monotonic, so a clock step back or forth never suspends or skips a running trip):

* a *condition* beyond its ``threshold`` counts a **trip level** up (seconds); a value *known* to be back inside
  counts it down at half that rate (``COUNT_DOWN_RATE``), and an unknown value (missing sample, invalid or held
  channel, a statistic that is only a bound) never counts down: after a reading beyond the limit it counts up.
  The fault **trips** when the level reaches the ``delay``. This is the up/down event counter of foxBMS 2: an
  intermittent reading can neither reset a trip nor hide a condition (a value beyond the limit a third of the
  time still trips);
* an active fault **releases** once its value has been *known* back past ``release`` for ``hold`` seconds
  without a break (anything else, unknown included, restarts the hold; a time jump adds at most
  ``stale_timeout`` to it);
* on a trip the fault also **latches** when its policy says so (``latch``, always for severe faults, or when
  it tripped ``escalation_count`` times within ``escalation_window``). A latched fault opens both FETs until a
  fault reset, which is accepted only once the condition has released;
* ``SYSTEM_LOCK`` (IEC 62619:2022 5.6.1: a cell that left its safe operating region) is latched like the others
  but a fault reset never clears it: only ``unlock(code)`` with the code reported at the lock does.

Boolean conditions (AFE flags, implausible data, sensor loss, comm loss, open wire, stuck reading, the lock
condition) use the same machine with the value 1.0/0.0 against a threshold of 0.5.

``POLICY`` below is the one table of what each fault does; ``policy_table(cfg)`` resolves it with the
configured numbers (for documentation, diagnostics and tests).
"""
from __future__ import annotations

import dataclasses
import math
import zlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from bms_ros.core.faults import Fault, fault_names
from bms_ros.core.measurement import MEASURES, MI, Measurement, Measurer
from bms_ros.core.params import ConfigError, param
from bms_ros.core.types import AfeFlag

# A value known to be back inside its limit counts the trip level down at this fraction of the rate a value
# beyond it counts up: a condition present more than a third of the time still trips (foxBMS 2 debounces with
# up/down counters for the same reason).
COUNT_DOWN_RATE = 0.5

# --------------------------------------------------------------------------------------------- configuration


def _section(cls_name: str, what: str, *, unit: str = "", lo: float = 0.0, hi: float = 1.0,
             threshold: float | None = None, release: float | None = None, delay: float = 1.0,
             hold: float = 5.0, latch: bool | None = False, escalation: int | None = 0,
             escalation_window: float = 600.0, extra: tuple = ()) -> type:
    """A config section ``protection.<name>`` with the fields this fault uses.

    ``latch=None``: the fault always latches (no ``latch`` parameter). ``escalation=None``: no escalation
    parameters (the fault always latches anyway).
    """
    fields: list = []
    if threshold is not None:
        fields.append(("threshold", float, param(threshold, f"{what}: trip threshold", unit, lo, hi, runtime=True)))
    if release is not None:
        fields.append(("release", float, param(release, f"{what}: the value must be back past this (hysteresis) "
                                                        "before the fault releases", unit, lo, hi, runtime=True)))
    fields.append(("delay", float, param(delay, f"{what}: the condition must persist this long to trip", "s",
                                         0.0, 600.0, runtime=True)))
    fields.append(("hold", float, param(hold, f"{what}: the condition must be gone this long to release", "s",
                                        0.0, 3600.0, runtime=True)))
    if latch is not None:
        fields.append(("latch", bool, param(latch, f"{what}: latch until a fault reset instead of releasing "
                                                   "on its own", runtime=True)))
    if escalation is not None:
        fields.append(("escalation_count", int, param(
            escalation, f"{what}: latch when it trips this many times within escalation_window (0 = never)",
            min=0, max=100, runtime=True)))
        fields.append(("escalation_window", float, param(
            escalation_window, f"{what}: window for escalation_count", "s", 1.0, 86400.0, runtime=True)))
    fields.extend(extra)
    cls = dataclasses.make_dataclass(cls_name, fields)
    cls.__module__ = __name__
    cls.__doc__ = f"protection section: {what}"
    return cls


_V = dict(unit="V", lo=0.0, hi=6.0)
_A = dict(unit="A", lo=0.0, hi=10000.0)
_T = dict(unit="degC", lo=-60.0, hi=150.0)

CellOvervoltage = _section("CellOvervoltage", "Cell over-voltage (highest cell, software)", **_V,
                           threshold=4.25, release=4.15, delay=1.0, hold=5.0)
CellUndervoltage = _section("CellUndervoltage", "Cell under-voltage (lowest cell, software)", **_V,
                            threshold=2.8, release=3.0, delay=2.0, hold=5.0)
CellOvervoltageHard = _section("CellOvervoltageHard", "Cell above the hard limit (always latches)", **_V,
                               threshold=4.35, release=4.25, delay=0.5, hold=5.0, latch=None, escalation=None)
CellUndervoltageDeep = _section("CellUndervoltageDeep", "Cell deeply discharged (always latches)", **_V,
                                threshold=2.5, release=2.8, delay=2.0, hold=5.0, latch=None, escalation=None)
PackOvervoltage = _section("PackOvervoltage", "Pack over-voltage, as pack voltage / cell count", **_V,
                           threshold=4.25, release=4.15, delay=1.0, hold=5.0)
PackUndervoltage = _section("PackUndervoltage", "Pack under-voltage, as pack voltage / cell count", **_V,
                            threshold=2.8, release=3.0, delay=2.0, hold=5.0)
ChargeOvercurrent = _section("ChargeOvercurrent", "Charge over-current", **_A, threshold=15.0, release=12.0,
                             delay=2.0, hold=10.0, escalation=3)
DischargeOvercurrent = _section("DischargeOvercurrent", "Discharge over-current, fast high level (magnitude)",
                                **_A, threshold=35.0, release=28.0, delay=0.5, hold=10.0, escalation=3)
DischargeOvercurrentSustained = _section(
    "DischargeOvercurrentSustained", "Discharge over-current, slower sustained level (magnitude)", **_A,
    threshold=20.0, release=15.0, delay=10.0, hold=30.0, escalation=3)
ShortCircuit = _section("ShortCircuit", "Short circuit reported by the AFE (always latches)", delay=0.0, hold=1.0,
                        latch=None, escalation=None)
ChargeOvertemperature = _section("ChargeOvertemperature", "Too hot to charge (hottest thermistor)", **_T,
                                 threshold=45.0, release=40.0, delay=2.0, hold=10.0)
ChargeUndertemperature = _section("ChargeUndertemperature", "Too cold to charge (coldest thermistor)", **_T,
                                  threshold=0.0, release=3.0, delay=2.0, hold=10.0)
DischargeOvertemperature = _section("DischargeOvertemperature", "Too hot to discharge (hottest thermistor)",
                                    **_T, threshold=60.0, release=55.0, delay=2.0, hold=10.0)
DischargeUndertemperature = _section("DischargeUndertemperature", "Too cold to discharge (coldest thermistor)",
                                     **_T, threshold=-20.0, release=-17.0, delay=2.0, hold=10.0)
AfeOvertemperature = _section("AfeOvertemperature", "AFE die over-temperature", **_T, threshold=85.0,
                              release=75.0, delay=2.0, hold=10.0)
CellImbalance = _section("CellImbalance", "Cell voltage spread (highest - lowest); reported, no FET action",
                         unit="V", lo=0.001, hi=2.0, threshold=0.15, release=0.10, delay=30.0, hold=30.0)
ImplausibleData = _section(
    "ImplausibleData", "Implausible measurement (NaN, cell outside the physical range, sum of cells vs pack "
    "voltage, frozen values)", delay=1.0, hold=5.0, escalation=3,
    extra=(
        ("cell_min", float, param(0.5, "Lowest physically plausible cell reading", "V", 0.0, 6.0, runtime=True)),
        ("cell_max", float, param(5.0, "Highest physically plausible cell reading", "V", 0.0, 6.0, runtime=True)),
        ("pack_tolerance_per_cell", float, param(
            0.05, "Allowed |sum of cells - pack voltage|, per cell in series", "V", 0.001, 1.0, runtime=True)),
        ("frozen_time", float, param(
            30.0, "Implausible when every cell voltage and the current repeat bit-identically for this long while "
            "a current flows (0 = off)", "s", 0.0, 3600.0, runtime=True)),
        ("frozen_min_current", float, param(
            0.2, "Frozen values count only at a current magnitude above this (at rest, constant readings are "
            "physically consistent)", "A", 0.0, 1000.0, runtime=True)),
    ))
SensorLoss = _section(
    "SensorLoss", "Thermistor lost (NaN, open or shorted: outside the plausible range)", delay=2.0, hold=5.0,
    extra=(
        ("temperature_min", float, param(-45.0, "Readings below this are an open thermistor", "degC", -100.0, 50.0,
                                         runtime=True)),
        ("temperature_max", float, param(125.0, "Readings above this are a shorted thermistor", "degC", 50.0,
                                         300.0, runtime=True)),
        ("min_thermistors", int, param(1, "Fewer thermistor readings than this is a sensor loss (0 allows a pack "
                                       "without temperature sensing)", min=0, max=16, runtime=True)),
    ))
AfeCommLoss = _section("AfeCommLoss", "AFE communication lost (failed reads)", delay=1.0, hold=2.0)
AfeDeviceFault = _section("AfeDeviceFault", "AFE internal device fault flag", delay=0.0, hold=5.0, escalation=3)
AfeHwOvervoltage = _section("AfeHwOvervoltage", "AFE hardware cell over-voltage trip flag", delay=0.0, hold=5.0,
                            escalation=3)
AfeHwUndervoltage = _section("AfeHwUndervoltage", "AFE hardware cell under-voltage trip flag", delay=0.0,
                             hold=5.0, escalation=3)
AfeHwOvercurrent = _section("AfeHwOvercurrent", "AFE hardware discharge over-current trip flag", delay=0.0,
                            hold=10.0, escalation=3)
OpenWire = _section("OpenWire", "Open cell sense wire (readings switching to 0 V or full scale, or a low/high "
                    "neighbour pair)", delay=0.0, hold=10.0, escalation=3)
CellReadingStuck = _section(
    "CellReadingStuck", "A cell reading stuck (bit-identical while the other cells moved)", delay=0.0, hold=5.0,
    escalation=3,
    extra=(("voltage_delta", float, param(
        0.02, "Stuck when the mean of the other cells moved this much while a cell's reading did not change at all "
        "(0 = off); 50 LSB of a bq769x0 cell ADC (382 uV) [bq769x0 DS 8.3.1.1.2]", "V", 0.0, 1.0, runtime=True)),))
InternalShort = _section(
    "InternalShort", "Soft internal short: a cell's estimated self-discharge, per Ah of capacity (always latches; "
    "0.04 C finds a 10-ohm short on a 5 Ah cell, healthy cells stay below 0.025 C)", unit="1/h",
    lo=0.005, hi=10.0, threshold=0.04, release=0.02, delay=60.0, hold=60.0, latch=None, escalation=None)
SystemLock = _section(
    "SystemLock", "IEC 62619 system lock: a cell left its safe operating region (hard over-voltage, deep "
    "under-voltage, or over-temperature beyond the lock limit); a fault reset cannot clear it", delay=0.0, hold=1.0,
    latch=None, escalation=None,
    extra=(("enabled", bool, param(True, "Lock the pack when a cell leaves its safe operating region")),
           ("temperature", float, param(
               80.0, "Lock when the hottest thermistor exceeds this (above every operating window; "
               "IEC 62619:2022 5.6.1 upper limit temperature)", "degC", 40.0, 150.0, runtime=True))))


@dataclass
class ProtectionConfig:
    stale_timeout: float = param(1.0, "FETs open when no valid sample arrived for this long", "s", 0.05, 60.0,
                                 runtime=True)
    afe_flag_clear_timeout: float = param(
        2.0, "After a fault reset or a clear request, an AFE status flag still read back is ignored this long",
        "s", 0.1, 60.0, runtime=True)
    fault_log_size: int = param(200, "Entries kept in the persistent fault log", min=1, max=100000)
    cell_overvoltage: CellOvervoltage = field(default_factory=CellOvervoltage)
    cell_undervoltage: CellUndervoltage = field(default_factory=CellUndervoltage)
    cell_overvoltage_hard: CellOvervoltageHard = field(default_factory=CellOvervoltageHard)
    cell_undervoltage_deep: CellUndervoltageDeep = field(default_factory=CellUndervoltageDeep)
    pack_overvoltage: PackOvervoltage = field(default_factory=PackOvervoltage)
    pack_undervoltage: PackUndervoltage = field(default_factory=PackUndervoltage)
    charge_overcurrent: ChargeOvercurrent = field(default_factory=ChargeOvercurrent)
    discharge_overcurrent: DischargeOvercurrent = field(default_factory=DischargeOvercurrent)
    discharge_overcurrent_sustained: DischargeOvercurrentSustained = field(
        default_factory=DischargeOvercurrentSustained)
    short_circuit: ShortCircuit = field(default_factory=ShortCircuit)
    charge_overtemperature: ChargeOvertemperature = field(default_factory=ChargeOvertemperature)
    charge_undertemperature: ChargeUndertemperature = field(default_factory=ChargeUndertemperature)
    discharge_overtemperature: DischargeOvertemperature = field(default_factory=DischargeOvertemperature)
    discharge_undertemperature: DischargeUndertemperature = field(default_factory=DischargeUndertemperature)
    afe_overtemperature: AfeOvertemperature = field(default_factory=AfeOvertemperature)
    cell_imbalance: CellImbalance = field(default_factory=CellImbalance)
    implausible_data: ImplausibleData = field(default_factory=ImplausibleData)
    sensor_loss: SensorLoss = field(default_factory=SensorLoss)
    afe_comm_loss: AfeCommLoss = field(default_factory=AfeCommLoss)
    afe_device_fault: AfeDeviceFault = field(default_factory=AfeDeviceFault)
    afe_hw_overvoltage: AfeHwOvervoltage = field(default_factory=AfeHwOvervoltage)
    afe_hw_undervoltage: AfeHwUndervoltage = field(default_factory=AfeHwUndervoltage)
    afe_hw_overcurrent: AfeHwOvercurrent = field(default_factory=AfeHwOvercurrent)
    open_wire: OpenWire = field(default_factory=OpenWire)
    cell_reading_stuck: CellReadingStuck = field(default_factory=CellReadingStuck)
    internal_short: InternalShort = field(default_factory=InternalShort)
    system_lock: SystemLock = field(default_factory=SystemLock)

    def validate(self) -> None:
        for rule in POLICY:
            sec = getattr(self, rule.section)
            if rule.kind != "value":
                continue
            name = f"protection.{rule.section}"
            if rule.direction > 0 and not sec.release < sec.threshold:
                raise ConfigError(f"{name}.release: must be below {name}.threshold")
            if rule.direction < 0 and not sec.release > sec.threshold:
                raise ConfigError(f"{name}.release: must be above {name}.threshold")

        def below(a: str, b: str) -> None:
            va, vb = _get(self, a), _get(self, b)
            if not va < vb:
                raise ConfigError(f"protection.{a}: {va} must be below protection.{b} ({vb})")

        below("cell_undervoltage_deep.threshold", "cell_undervoltage.threshold")
        below("cell_undervoltage.threshold", "cell_overvoltage.threshold")
        below("cell_overvoltage.threshold", "cell_overvoltage_hard.threshold")
        below("cell_undervoltage.release", "cell_overvoltage.release")
        below("pack_undervoltage.threshold", "pack_overvoltage.threshold")
        below("implausible_data.cell_min", "cell_undervoltage_deep.threshold")
        below("cell_overvoltage_hard.threshold", "implausible_data.cell_max")
        below("charge_undertemperature.threshold", "charge_overtemperature.threshold")
        below("charge_undertemperature.release", "charge_overtemperature.release")
        below("discharge_undertemperature.threshold", "discharge_overtemperature.threshold")
        below("discharge_undertemperature.release", "discharge_overtemperature.release")
        below("sensor_loss.temperature_min", "discharge_undertemperature.threshold")
        below("discharge_overtemperature.threshold", "sensor_loss.temperature_max")
        below("discharge_overcurrent_sustained.threshold", "discharge_overcurrent.threshold")
        if self.discharge_overcurrent.delay > self.discharge_overcurrent_sustained.delay:
            raise ConfigError("protection.discharge_overcurrent.delay: must not exceed "
                              "protection.discharge_overcurrent_sustained.delay (the fast level is the fast one)")


def _get(obj: object, dotted: str) -> float:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------ policy table

@dataclass(frozen=True)
class Rule:
    fault: Fault
    section: str                 # ProtectionConfig attribute
    measure: str                 # key of the measurement vector (see Measurement)
    kind: str                    # "value" (threshold/release) or "flag" (condition 1.0/0.0)
    direction: int               # +1: trips above the threshold, -1: below
    blocks_charge: bool
    blocks_discharge: bool
    always_latch: bool = False
    afe_flag: AfeFlag = AfeFlag.NONE   # the AFE status flag behind a "flag" rule


C, D = True, True
_ = False
POLICY: tuple[Rule, ...] = (
    #    fault                                  section                          measure        kind   dir   chg dsg
    Rule(Fault.CELL_OVERVOLTAGE, "cell_overvoltage", "cell_max", "value", +1, C, _),
    Rule(Fault.CELL_UNDERVOLTAGE, "cell_undervoltage", "cell_min", "value", -1, _, D),
    Rule(Fault.CELL_OVERVOLTAGE_HARD, "cell_overvoltage_hard", "cell_max", "value", +1, C, D, always_latch=True),
    Rule(Fault.CELL_UNDERVOLTAGE_DEEP, "cell_undervoltage_deep", "cell_min", "value", -1, C, D, always_latch=True),
    Rule(Fault.PACK_OVERVOLTAGE, "pack_overvoltage", "pack_avg", "value", +1, C, _),
    Rule(Fault.PACK_UNDERVOLTAGE, "pack_undervoltage", "pack_avg", "value", -1, _, D),
    Rule(Fault.CHARGE_OVERCURRENT, "charge_overcurrent", "charge_current", "value", +1, C, _),
    Rule(Fault.DISCHARGE_OVERCURRENT, "discharge_overcurrent", "discharge_current", "value", +1, _, D),
    Rule(Fault.DISCHARGE_OVERCURRENT_SUSTAINED, "discharge_overcurrent_sustained", "discharge_current", "value",
         +1, _, D),
    Rule(Fault.SHORT_CIRCUIT, "short_circuit", "flag_short_circuit", "flag", +1, C, D, always_latch=True,
         afe_flag=AfeFlag.SHORT_CIRCUIT),
    Rule(Fault.CHARGE_OVERTEMPERATURE, "charge_overtemperature", "temp_max", "value", +1, C, _),
    Rule(Fault.CHARGE_UNDERTEMPERATURE, "charge_undertemperature", "temp_min", "value", -1, C, _),
    Rule(Fault.DISCHARGE_OVERTEMPERATURE, "discharge_overtemperature", "temp_max", "value", +1, C, D),
    Rule(Fault.DISCHARGE_UNDERTEMPERATURE, "discharge_undertemperature", "temp_min", "value", -1, C, D),
    Rule(Fault.AFE_OVERTEMPERATURE, "afe_overtemperature", "die_temp", "value", +1, C, D),
    Rule(Fault.CELL_IMBALANCE, "cell_imbalance", "cell_spread", "value", +1, _, _),
    Rule(Fault.IMPLAUSIBLE_DATA, "implausible_data", "implausible", "flag", +1, C, D),
    Rule(Fault.SENSOR_LOSS, "sensor_loss", "sensor_loss", "flag", +1, C, D),
    # reported only (ISSUE 14 item 3): a failed read leaves the chip's own protections armed and its FETs as
    # they are; a loss shorter than stale_timeout changes no FET, and the return of the link cuts nothing. A
    # longer loss opens both FETs through the FET controller's stale-data rule (core.fet_control).
    Rule(Fault.AFE_COMM_LOSS, "afe_comm_loss", "comm_loss", "flag", +1, _, _),
    Rule(Fault.AFE_DEVICE_FAULT, "afe_device_fault", "flag_device_fault", "flag", +1, C, D,
         afe_flag=AfeFlag.DEVICE_FAULT),
    Rule(Fault.AFE_HW_OVERVOLTAGE, "afe_hw_overvoltage", "flag_hw_ov", "flag", +1, C, _,
         afe_flag=AfeFlag.OVERVOLTAGE),
    Rule(Fault.AFE_HW_UNDERVOLTAGE, "afe_hw_undervoltage", "flag_hw_uv", "flag", +1, _, D,
         afe_flag=AfeFlag.UNDERVOLTAGE),
    Rule(Fault.AFE_HW_OVERCURRENT, "afe_hw_overcurrent", "flag_hw_oc", "flag", +1, _, D,
         afe_flag=AfeFlag.OVERCURRENT_DISCHARGE),
    Rule(Fault.OPEN_WIRE, "open_wire", "open_wire", "flag", +1, C, D),
    Rule(Fault.CELL_READING_STUCK, "cell_reading_stuck", "stuck_cell", "flag", +1, C, D),
    Rule(Fault.INTERNAL_SHORT, "internal_short", "self_discharge", "value", +1, C, _, always_latch=True),
    Rule(Fault.SYSTEM_LOCK, "system_lock", "lock", "flag", +1, C, D, always_latch=True),
)
del C, D, _

# faults that lock the pack (IEC 62619:2022 5.6.1) when they trip: the cell left its safe operating region
LOCKING_FAULTS = int(Fault.CELL_OVERVOLTAGE_HARD | Fault.CELL_UNDERVOLTAGE_DEEP)


@dataclass(frozen=True)
class ResolvedPolicy:
    fault: str
    parameters: str              # protection.<section>
    trips_when: str              # e.g. "cell_max > 4.25 for 1 s"
    releases_when: str
    blocks: str                  # "charge", "discharge", "both", "none (reported)"
    on_trip: str                 # "auto-release", "latch", "always latch"
    escalation: str              # "latch after 3 trips in 600 s" or "-"


def policy_table(cfg: ProtectionConfig) -> list[ResolvedPolicy]:
    """The policy of every fault with the configured numbers, one row per fault."""
    rows = []
    for r in POLICY:
        s = getattr(cfg, r.section)
        op, rop = (">", "<") if r.direction > 0 else ("<", ">")
        if r.kind == "value":
            trips = f"{r.measure} {op} {s.threshold:g} for {s.delay:g} s"
            rel = f"{r.measure} {rop} {s.release:g} for {s.hold:g} s"
        else:
            trips = f"{r.measure} for {s.delay:g} s"
            rel = f"not {r.measure} for {s.hold:g} s"
            if r.afe_flag in (AfeFlag.SHORT_CIRCUIT, AfeFlag.OVERCURRENT_DISCHARGE):
                rel += " and the AFE detects no load (LOAD_PRESENT)"
        blocks = {(True, True): "both", (True, False): "charge", (False, True): "discharge",
                  (False, False): "none (reported)"}[(r.blocks_charge, r.blocks_discharge)]
        if r.fault == Fault.SYSTEM_LOCK:
            trips = f"a locking fault ({', '.join(fault_names(LOCKING_FAULTS))}) trips, or temp_max > " \
                    f"{s.temperature:g}" + ("" if s.enabled else " (disabled)")
            rel = "never by itself: ~/unlock with the code reported at the lock"
        on_trip = "always latch" if r.always_latch else ("latch" if s.latch else "auto-release")
        n = getattr(s, "escalation_count", 0)
        esc = f"latch after {n} trips in {s.escalation_window:g} s" if n else "-"
        rows.append(ResolvedPolicy(r.fault.name, f"protection.{r.section}", trips, rel, blocks, on_trip, esc))
    return rows


# ------------------------------------------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class FaultEvent:
    stamp: float
    fault: str
    event: str                   # trip, latch, release, reset
    value: float                 # the measured value (NaN for flags)
    detail: str = ""

    def to_dict(self) -> dict:
        return {"t": self.stamp, "fault": self.fault, "event": self.event,
                "value": None if math.isnan(self.value) else round(self.value, 6), "detail": self.detail}


@dataclass
class ProtectionResult:
    active: int                  # Fault bits tripped and not yet released
    latched: int                 # Fault bits latched until a reset
    warnings: int                # condition beyond threshold, delay running
    block_charge: int            # Fault bits (active or latched) that forbid charging
    block_discharge: int
    afe_flags_to_clear: int      # AfeFlag bits the node should clear in the AFE
    events: list[FaultEvent]


class Protection:
    """Evaluates every rule of POLICY per measurement, on core time (``Measurement.t``)."""

    def __init__(self, cfg: ProtectionConfig):
        n = len(POLICY)
        self.bits = np.array([int(r.fault) for r in POLICY], dtype=np.int64)
        self.measure_idx = np.array([MI[r.measure] for r in POLICY])
        self.sign = np.array([float(r.direction) for r in POLICY])
        self.always_latch = np.array([r.always_latch for r in POLICY])
        self.blocks_c = np.array([r.blocks_charge for r in POLICY])
        self.blocks_d = np.array([r.blocks_discharge for r in POLICY])
        self.flag_rules = [(i, r) for i, r in enumerate(POLICY) if r.afe_flag]
        self.lock_index = next(i for i, r in enumerate(POLICY) if r.fault == Fault.SYSTEM_LOCK)
        self.active = np.zeros(n, dtype=bool)
        self.latched = np.zeros(n, dtype=bool)
        self.over = np.zeros(n, dtype=bool)
        self.level = np.zeros(n)                 # s: trip level (counts up beyond, down inside)
        self.hold_acc = np.zeros(n)              # s: time known back past release, without a break
        self.last_over = np.zeros(n, dtype=bool)  # the last known value was beyond the threshold
        self.prev_up = np.zeros(n, dtype=bool)   # the previous evaluation counted up
        self.prev_clear = np.zeros(n, dtype=bool)  # the previous evaluation was active and known back past release
        self.trips: list[deque[float]] = [deque() for _ in range(n)]
        self.flag_ignore_until: dict[int, float] = {}   # rule index -> core time (flag read back is ignored)
        self.physical_ok = np.ones(n, dtype=bool)
        self.last_values = np.full(n, math.nan)
        self.t: float | None = None              # core time of the last evaluation
        self.lock_code = ""                      # the code unlock() needs (set when the lock trips)
        self._lock_hot = False                   # the last sample's hottest thermistor beyond the lock temperature
        self._none = np.zeros(n, dtype=bool)
        self._none.setflags(write=False)     # shared "no rule" result of the quiet path: never written to
        self.warn = self._none
        self._physical_kind = [(i, "ov" if r.afe_flag == AfeFlag.OVERVOLTAGE else
                                "uv" if r.afe_flag == AfeFlag.UNDERVOLTAGE else "load") for i, r in self.flag_rules]
        self._quiet = False
        self.set_config(cfg)

    def set_config(self, cfg: ProtectionConfig) -> None:
        self.cfg = cfg
        secs = [getattr(cfg, r.section) for r in POLICY]
        self.thr = np.array([getattr(s, "threshold", 0.5) for s in secs])
        self.rel = np.array([getattr(s, "release", 0.5) for s in secs])
        self.delay = np.array([s.delay for s in secs])
        self.hold = np.array([s.hold for s in secs])
        self.latch_cfg = np.array([getattr(s, "latch", False) for s in secs]) | self.always_latch
        self.esc_count = [getattr(s, "escalation_count", 0) for s in secs]
        self.esc_window = [getattr(s, "escalation_window", 0.0) for s in secs]
        # the quiet path's trip test per rule, in Python floats: (index into Measurement.values, sign, threshold)
        self._trip_tests = [(int(k), float(sg), float(th)) for k, sg, th in zip(self.measure_idx, self.sign,
                                                                                 self.thr, strict=True)]
        self._quiet = False

    # -------------------------------------------------------------------------------------------------------
    def _inside_all_thresholds(self, m: Measurement) -> bool:
        """No rule's value is beyond its trip threshold: the exact test of ``evaluate`` (``sign * (value -
        threshold) > 0``, NaN never beyond), in Python floats, which round the same as numpy's float64."""
        vl = m.values.tolist()
        for k, sg, th in self._trip_tests:
            if sg * (vl[k] - th) > 0:
                return False
        return True

    def lock_condition(self, m: Measurement) -> float:
        """1.0 when the system lock's condition holds: a locking fault is active, or the hottest thermistor is
        beyond the lock temperature; else 0.0. An unknown temperature is not a lock condition (SENSOR_LOSS
        reacts to it), so a pack whose thermistor failed can still be unlocked once its cells are back."""
        lk = self.cfg.system_lock
        if not lk.enabled:
            return 0.0
        self._lock_hot = bool(m.values[MI["temp_max"]] > lk.temperature)
        return 1.0 if self._locking_fault_active() or self._lock_hot else 0.0

    def _locking_fault_active(self) -> bool:
        return bool(int(self.bits @ (self.active & ((self.bits & LOCKING_FAULTS) != 0))))

    # -------------------------------------------------------------------------------------------------------
    def evaluate(self, m: Measurement) -> ProtectionResult:
        """One step of every rule's state machine.

        Quiet path: when nothing is active, latched, counting or being ignored (no AFE flag clear in progress),
        no last known value was beyond its threshold, and no value is beyond its trip threshold now, the full
        evaluation below cannot change any state: no level counts up (nothing is beyond, nothing was), none is
        above zero to count down, no hold can run (nothing is active), and the result is all zero. Then only
        what the full path would also store is stored (test_protection_fast_path checks both paths agree).
        """
        if self._quiet and self._inside_all_thresholds(m):
            self.t = m.t
            self.last_values = m.values[self.measure_idx]
            self.over = self.warn = self._none
            self._update_physical(m)
            return ProtectionResult(0, 0, 0, 0, 0, 0, [])
        result = self._evaluate_full(m)
        self._quiet = not (result.active or result.latched or self.flag_ignore_until) \
            and not self.level.any() and not self.last_over.any() and not self.prev_up.any() \
            and not self.prev_clear.any()
        return result

    def _evaluate_full(self, m: Measurement) -> ProtectionResult:
        t = m.t
        dt = 0.0 if self.t is None else max(t - self.t, 0.0)
        self.t = t
        vals = m.values[self.measure_idx]
        for i, _r in self.flag_rules:      # AFE flags we asked to clear: ignore the stale read-back for a while
            until = self.flag_ignore_until.get(i)
            if until is not None:
                if vals[i] == 0.0 or t > until:
                    del self.flag_ignore_until[i]
                if vals[i] == 1.0 and t <= until:
                    vals[i] = 0.0
        self.last_values = vals
        exact = m.exact[self.measure_idx] & ~np.isnan(vals)
        with np.errstate(invalid="ignore"):
            over = self.sign * (vals - self.thr) > 0         # a bound beyond the limit is beyond it
            clear = exact & (self.sign * (vals - self.rel) < 0)
        inside = exact & ~over
        active = self.active
        # trip level: beyond counts up; unknown after beyond counts up; known inside counts down
        up = (over | (~inside & self.last_over)) & ~active
        # an interval counts up when the condition held at both of its ends (the first sample beyond starts)
        self.level = np.where(up, np.where(self.prev_up, self.level + dt, self.level),
                              np.where(inside | active, np.maximum(self.level - COUNT_DOWN_RATE * dt, 0.0),
                                       self.level))
        self.prev_up = up
        self.last_over = np.where(over, True, np.where(inside, False, self.last_over))
        trip = up & (self.level >= self.delay)
        self.over = over
        # release hold: only while known back past release; a time jump adds at most stale_timeout
        holding = active & clear
        self.hold_acc = np.where(holding & self.prev_clear, self.hold_acc + min(dt, self.cfg.stale_timeout), 0.0)
        self.prev_clear = holding
        release = active & clear & (self.hold_acc >= self.hold)
        release[self.lock_index] &= not self.latched[self.lock_index]   # only unlock() ends the lock

        events: list[FaultEvent] = []
        if trip.any() or release.any():
            for i in np.flatnonzero(trip):
                events.extend(self._trip(int(i), t, m.stamp, float(vals[i])))
            for i in np.flatnonzero(release):
                self.active[i] = False
                self.hold_acc[i] = 0.0
                self.prev_clear[i] = False
                events.append(FaultEvent(m.stamp, POLICY[i].fault.name, "release", float(vals[i])))
        warn = up & ~self.active

        self._update_physical(m)
        clear_flags = 0
        for i, r in self.flag_rules:
            # ask the node to clear an AFE flag once the physical condition behind it is gone (auto policy), or
            # after a fault reset accepted it (flag_ignore_until set by reset())
            if (self.active[i] and not self.latched[i] and self.physical_ok[i]) or i in self.flag_ignore_until:
                clear_flags |= int(r.afe_flag)
        return self._result(warn, clear_flags, events)

    def _trip(self, i: int, t: float, stamp: float, value: float) -> list[FaultEvent]:
        r = POLICY[i]
        self.active[i] = True
        self.level[i] = 0.0
        self.last_over[i] = False
        self.prev_up[i] = False
        self.prev_clear[i] = False
        ev = [FaultEvent(stamp, r.fault.name, "trip", value)]
        latch, why = bool(self.latch_cfg[i]), ("always latches" if self.always_latch[i] else "policy: latch")
        n = self.esc_count[i]
        if n:
            q = self.trips[i]
            q.append(t)
            while q and q[0] < t - self.esc_window[i]:
                q.popleft()
            if len(q) >= n and not latch:
                latch, why = True, f"escalated: {len(q)} trips within {self.esc_window[i]:g} s"
        if latch and not self.latched[i]:
            self.latched[i] = True
            if i == self.lock_index:
                self.lock_code = f"{zlib.crc32(f'{stamp!r}:{value!r}'.encode()) & 0xFFFF:04X}"
                why = f"unlock code {self.lock_code}"
            ev.append(FaultEvent(stamp, r.fault.name, "latch", value, why))
        return ev

    def _update_physical(self, m: Measurement) -> None:
        """Whether the condition behind each AFE flag is gone (used to clear the flag)."""
        c = self.cfg
        ok = {"ov": m.cell_max < c.cell_overvoltage.release, "uv": m.cell_min > c.cell_undervoltage.release,
              # over-current, short circuit: the FETs interrupted the current, but the fault is only gone once
              # the load that drew it is: the AFE's load detection (LOAD_PRESENT, CHG off) reads no load [DS p.24]
              "load": m.valid and not m.load_present}
        physical_ok = self.physical_ok
        for i, kind in self._physical_kind:
            physical_ok[i] = ok[kind]

    def _result(self, warn: np.ndarray, clear_flags: int, events: list[FaultEvent]) -> ProtectionResult:
        bits, a, la = self.bits, self.active, self.latched
        self.warn = warn
        return ProtectionResult(int(bits @ a), int(bits @ la), int(bits @ warn),
                                int(bits @ ((a & self.blocks_c) | la)), int(bits @ ((a & self.blocks_d) | la)),
                                clear_flags, events)

    def warnings_blocking(self) -> tuple[bool, bool]:
        """Whether pending (not yet tripped) conditions of the last evaluation would block charge / discharge."""
        w = self.warn
        if w is self._none:
            return False, False
        return bool((w & self.blocks_c).any()), bool((w & self.blocks_d).any())

    def pending_mask(self, charge: bool) -> int:
        """Fault bits whose condition is counting towards a trip and would block that direction."""
        return int(self.bits @ (self.warn & (self.blocks_c if charge else self.blocks_d)))

    def latched_mask(self) -> int:
        return int(self.bits @ self.latched)

    # -------------------------------------------------------------------------------------------------------
    def reset(self, now: float | None = None) -> tuple[list[str], list[str], list[FaultEvent]]:
        """Clear latched faults whose condition is gone; returns (cleared, remaining, events). The system lock
        is never cleared here (see ``unlock``). ``now``: the stamp for the events (core time runs the timers)."""
        self._quiet = False                 # the next evaluation takes the full path (and re-checks)
        t = self.t if self.t is not None else 0.0
        stamp = t if now is None else now
        cleared, remaining, events = [], [], []
        flag_idx = {i for i, _ in self.flag_rules}
        for i in np.flatnonzero(self.latched):
            i = int(i)
            r = POLICY[i]
            if i == self.lock_index:
                remaining.append(r.fault.name)
                continue
            if i in flag_idx:
                gone = bool(self.physical_ok[i]) and not (self.over[i] and not self.active[i])
            else:
                gone = not self.active[i] and not self.over[i] and not self.last_over[i]
            if gone:
                self.latched[i] = False
                self.trips[i].clear()
                if i in flag_idx:          # the AFE still holds the flag until the node clears it
                    self.active[i] = False
                    self.hold_acc[i] = 0.0
                    self.prev_clear[i] = False
                    self.flag_ignore_until[i] = t + self.cfg.afe_flag_clear_timeout
                cleared.append(r.fault.name)
                events.append(FaultEvent(stamp, r.fault.name, "reset", float(self.last_values[i])))
            else:
                remaining.append(r.fault.name)
        return cleared, remaining, events

    def remaining_reason(self, name: str) -> str:
        """Why a latched fault that ``reset`` refused is still latched, and what to do (for the operator)."""
        i = next((k for k, r in enumerate(POLICY) if r.fault.name == name), None)
        if i is None or not self.latched[i]:
            return ""
        if i == self.lock_index:
            return ("system lock (IEC 62619): a fault reset cannot end it; inspect the pack, then call ~/unlock with "
                    "the code in the Protection diagnostic and the fault log")
        kind = dict(self._physical_kind).get(i)
        if kind == "load" and not self.physical_ok[i]:
            return ("LOAD_PRESENT: the AFE still detects a load on the pack terminals; disconnect the load "
                    "(or the short), then reset again")
        if kind in ("ov", "uv") and not self.physical_ok[i]:
            return "the cell voltage is still beyond the release level"
        return "the condition is still present"

    def unlock(self, code: str, now: float) -> tuple[bool, str, list[FaultEvent]]:
        """End the system lock: only with the code reported when it locked, and only once its condition is
        gone. Other latched faults still need a fault reset."""
        i = self.lock_index
        if not self.latched[i]:
            return False, "the pack is not locked", []
        if not self.lock_code or code.strip().upper() != self.lock_code:
            return False, "wrong unlock code: give the code reported with the SYSTEM_LOCK event", []
        # judged now, not by the lock rule's value, which was computed before this step's evaluation
        if self._locking_fault_active() or self._lock_hot:
            return False, "the lock condition is still present", []
        self._quiet = False
        self.latched[i] = False
        self.active[i] = False
        self.hold_acc[i] = 0.0
        self.prev_clear[i] = False
        self.trips[i].clear()
        self.lock_code = ""
        ev = FaultEvent(now, POLICY[i].fault.name, "unlock", float(self.last_values[i]))
        return True, "unlocked; latched faults still need ~/reset_faults", [ev]

    def restore_latched(self, mask: int, lock_code: str = "") -> None:
        """Faults latched before a restart: latched and (until shown released) active."""
        sel = (self.bits & int(mask)) != 0
        self.latched |= sel
        self.active |= sel
        if self.latched[self.lock_index]:
            self.lock_code = lock_code or self.lock_code or "0000"
        self._quiet = False

    def result_now(self) -> ProtectionResult:
        return self._result(np.zeros(len(POLICY), dtype=bool), 0, [])


__all__ = ["COUNT_DOWN_RATE", "LOCKING_FAULTS", "MEASURES", "POLICY", "FaultEvent", "Measurement", "Measurer",
           "Protection", "ProtectionConfig", "ProtectionResult", "ResolvedPolicy", "Rule", "policy_table"]
