"""``POLICY``: the one table of what each fault does (what it measures, which way it trips, what it blocks, whether
it always latches), and ``policy_table(cfg)``, the table resolved with the configured numbers (for documentation,
diagnostics and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bms_ros.core.faults import Fault, fault_name, fault_names
from bms_ros.core.types import AfeFlag

if TYPE_CHECKING:
    from bms_ros.core.protection.config import ProtectionConfig

RuleKind = Literal["value", "flag"]
ABOVE = +1  # Rule.direction: trips above the threshold
BELOW = -1  # Rule.direction: trips below the threshold


@dataclass(frozen=True)
class Rule:
    fault: Fault
    section: str  # ProtectionConfig attribute
    measure: str  # key of the measurement vector (see Measurement)
    kind: RuleKind  # "value" (threshold/release) or "flag" (condition 1.0/0.0)
    direction: int  # ABOVE (+1): trips above the threshold, BELOW (-1): below
    blocks_charge: bool
    blocks_discharge: bool
    always_latch: bool = False
    afe_flag: AfeFlag = AfeFlag.NONE  # the AFE status flag behind a "flag" rule

    @property
    def name(self) -> str:
        """The fault's name (``CELL_OVERVOLTAGE``), as the fault log and the diagnostics show it."""
        return fault_name(self.fault)


C, D = True, True
_ = False
POLICY: tuple[Rule, ...] = (
    #    fault                                  section                          measure        kind   dir   chg dsg
    Rule(Fault.CELL_OVERVOLTAGE, "cell_overvoltage", "cell_max", "value", ABOVE, C, _),
    Rule(Fault.CELL_UNDERVOLTAGE, "cell_undervoltage", "cell_min", "value", BELOW, _, D),
    Rule(Fault.CELL_OVERVOLTAGE_HARD, "cell_overvoltage_hard", "cell_max", "value", ABOVE, C, D, always_latch=True),
    Rule(Fault.CELL_UNDERVOLTAGE_DEEP, "cell_undervoltage_deep", "cell_min", "value", BELOW, C, D, always_latch=True),
    Rule(Fault.PACK_OVERVOLTAGE, "pack_overvoltage", "pack_avg", "value", ABOVE, C, _),
    Rule(Fault.PACK_UNDERVOLTAGE, "pack_undervoltage", "pack_avg", "value", BELOW, _, D),
    Rule(Fault.CHARGE_OVERCURRENT, "charge_overcurrent", "charge_current", "value", ABOVE, C, _),
    Rule(Fault.DISCHARGE_OVERCURRENT, "discharge_overcurrent", "discharge_current", "value", ABOVE, _, D),
    Rule(
        Fault.DISCHARGE_OVERCURRENT_SUSTAINED,
        "discharge_overcurrent_sustained",
        "discharge_current",
        "value",
        ABOVE,
        _,
        D,
    ),
    Rule(
        Fault.SHORT_CIRCUIT,
        "short_circuit",
        "flag_short_circuit",
        "flag",
        ABOVE,
        C,
        D,
        always_latch=True,
        afe_flag=AfeFlag.SHORT_CIRCUIT,
    ),
    Rule(Fault.CHARGE_OVERTEMPERATURE, "charge_overtemperature", "temp_max", "value", ABOVE, C, _),
    Rule(Fault.CHARGE_UNDERTEMPERATURE, "charge_undertemperature", "temp_min", "value", BELOW, C, _),
    Rule(Fault.DISCHARGE_OVERTEMPERATURE, "discharge_overtemperature", "temp_max", "value", ABOVE, C, D),
    Rule(Fault.DISCHARGE_UNDERTEMPERATURE, "discharge_undertemperature", "temp_min", "value", BELOW, C, D),
    Rule(Fault.AFE_OVERTEMPERATURE, "afe_overtemperature", "die_temp", "value", ABOVE, C, D),
    Rule(Fault.CELL_IMBALANCE, "cell_imbalance", "cell_spread", "value", ABOVE, _, _),
    Rule(Fault.IMPLAUSIBLE_DATA, "implausible_data", "implausible", "flag", ABOVE, C, D),
    Rule(Fault.SENSOR_LOSS, "sensor_loss", "sensor_loss", "flag", ABOVE, C, D),
    # reported only (ISSUE 14 item 3): a failed read leaves the chip's own protections armed and its FETs as
    # they are; a loss shorter than stale_timeout changes no FET, and the return of the link cuts nothing. A
    # longer loss opens both FETs through the FET controller's stale-data rule (core.fet_control).
    Rule(Fault.AFE_COMM_LOSS, "afe_comm_loss", "comm_loss", "flag", ABOVE, _, _),
    Rule(
        Fault.AFE_DEVICE_FAULT,
        "afe_device_fault",
        "flag_device_fault",
        "flag",
        ABOVE,
        C,
        D,
        afe_flag=AfeFlag.DEVICE_FAULT,
    ),
    Rule(
        Fault.AFE_HW_OVERVOLTAGE, "afe_hw_overvoltage", "flag_hw_ov", "flag", ABOVE, C, _, afe_flag=AfeFlag.OVERVOLTAGE
    ),
    Rule(
        Fault.AFE_HW_UNDERVOLTAGE,
        "afe_hw_undervoltage",
        "flag_hw_uv",
        "flag",
        ABOVE,
        _,
        D,
        afe_flag=AfeFlag.UNDERVOLTAGE,
    ),
    Rule(
        Fault.AFE_HW_OVERCURRENT,
        "afe_hw_overcurrent",
        "flag_hw_oc",
        "flag",
        ABOVE,
        _,
        D,
        afe_flag=AfeFlag.OVERCURRENT_DISCHARGE,
    ),
    Rule(Fault.OPEN_WIRE, "open_wire", "open_wire", "flag", ABOVE, C, D),
    Rule(Fault.CELL_READING_STUCK, "cell_reading_stuck", "stuck_cell", "flag", ABOVE, C, D),
    Rule(Fault.INTERNAL_SHORT, "internal_short", "self_discharge", "value", ABOVE, C, _, always_latch=True),
    Rule(Fault.SYSTEM_LOCK, "system_lock", "lock", "flag", ABOVE, C, D, always_latch=True),
)
del C, D, _

# faults that lock the pack (IEC 62619:2022 5.6.1) when they trip: the cell left its safe operating region
LOCKING_FAULTS = int(Fault.CELL_OVERVOLTAGE_HARD | Fault.CELL_UNDERVOLTAGE_DEEP)


@dataclass(frozen=True)
class ResolvedPolicy:
    fault: str
    parameters: str  # protection.<section>
    trips_when: str  # e.g. "cell_max > 4.25 for 1 s"
    releases_when: str
    blocks: str  # "charge", "discharge", "both", "none (reported)"
    on_trip: str  # "auto-release", "latch", "always latch"
    escalation: str  # "latch after 3 trips in 600 s" or "-"


_BLOCKS = {(True, True): "both", (True, False): "charge", (False, True): "discharge", (False, False): "none (reported)"}


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
        blocks = _BLOCKS[(r.blocks_charge, r.blocks_discharge)]
        if r.fault == Fault.SYSTEM_LOCK:
            lk = cfg.system_lock
            trips = (
                f"a locking fault ({', '.join(fault_names(LOCKING_FAULTS))}) trips, or temp_max > "
                f"{lk.temperature:g}" + ("" if lk.enabled else " (disabled)")
            )
            rel = "never by itself: ~/unlock with the code reported at the lock"
        on_trip = "always latch" if r.always_latch else ("latch" if getattr(s, "latch", False) else "auto-release")
        n = getattr(s, "escalation_count", 0)
        esc = f"latch after {n} trips in {s.escalation_window:g} s" if n else "-"
        rows.append(ResolvedPolicy(r.name, f"protection.{r.section}", trips, rel, blocks, on_trip, esc))
    return rows
