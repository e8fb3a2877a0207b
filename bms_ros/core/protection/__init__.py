"""Protection: thresholds, delays, hysteresis, latching, escalation and the system lock for every fault.

One small module per concern:

* ``policy``: ``POLICY``, the one table of what each fault does, and ``policy_table(cfg)`` (it resolved);
* ``fields``, ``limit_sections``, ``check_sections``: the ``protection.<section>.*`` parameters of each fault;
* ``config``: ``ProtectionConfig``, every section plus the rules between them;
* ``engine``: ``Protection``, the trip/release state machine of every fault, and the system lock;
* ``events``: ``FaultEvent`` and ``ProtectionResult``, what the engine reports.

Every public name is importable from here (``from bms_ros.core.protection import Protection``).
"""

from __future__ import annotations

from bms_ros.core.measurement import MEASURES, Measurement, Measurer
from bms_ros.core.protection.check_sections import (
    AfeCommLoss,
    AfeDeviceFault,
    AfeHwOvercurrent,
    AfeHwOvervoltage,
    AfeHwUndervoltage,
    CellReadingStuck,
    ImplausibleData,
    OpenWire,
    SensorLoss,
    ShortCircuit,
    SystemLock,
)
from bms_ros.core.protection.config import ProtectionConfig
from bms_ros.core.protection.engine import COUNT_DOWN_RATE, Protection
from bms_ros.core.protection.events import FaultEvent, ProtectionResult
from bms_ros.core.protection.limit_sections import (
    AfeOvertemperature,
    CellImbalance,
    CellOvervoltage,
    CellOvervoltageHard,
    CellUndervoltage,
    CellUndervoltageDeep,
    ChargeOvercurrent,
    ChargeOvertemperature,
    ChargeUndertemperature,
    DischargeOvercurrent,
    DischargeOvercurrentSustained,
    DischargeOvertemperature,
    DischargeUndertemperature,
    InternalShort,
    PackOvervoltage,
    PackUndervoltage,
)
from bms_ros.core.protection.policy import LOCKING_FAULTS, POLICY, ResolvedPolicy, Rule, policy_table

__all__ = [
    "COUNT_DOWN_RATE",
    "LOCKING_FAULTS",
    "MEASURES",
    "POLICY",
    "AfeCommLoss",
    "AfeDeviceFault",
    "AfeHwOvercurrent",
    "AfeHwOvervoltage",
    "AfeHwUndervoltage",
    "AfeOvertemperature",
    "CellImbalance",
    "CellOvervoltage",
    "CellOvervoltageHard",
    "CellReadingStuck",
    "CellUndervoltage",
    "CellUndervoltageDeep",
    "ChargeOvercurrent",
    "ChargeOvertemperature",
    "ChargeUndertemperature",
    "DischargeOvercurrent",
    "DischargeOvercurrentSustained",
    "DischargeOvertemperature",
    "DischargeUndertemperature",
    "FaultEvent",
    "ImplausibleData",
    "InternalShort",
    "Measurement",
    "Measurer",
    "OpenWire",
    "PackOvervoltage",
    "PackUndervoltage",
    "Protection",
    "ProtectionConfig",
    "ProtectionResult",
    "ResolvedPolicy",
    "Rule",
    "SensorLoss",
    "ShortCircuit",
    "SystemLock",
    "policy_table",
]
