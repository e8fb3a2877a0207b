"""``ProtectionConfig``: every ``protection.*`` parameter (one section per fault, see ``limit_sections`` and
``check_sections``) and the cross-field rules between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bms_ros.core.params import ConfigError, param
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
from bms_ros.core.protection.policy import POLICY


@dataclass
class ProtectionConfig:
    stale_timeout: float = param(
        1.0, "FETs open when no valid sample arrived for this long", "s", 0.05, 60.0, runtime=True
    )
    afe_flag_clear_timeout: float = param(
        2.0,
        "After a fault reset or a clear request, an AFE status flag still read back is ignored this long",
        "s",
        0.1,
        60.0,
        runtime=True,
    )
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
        default_factory=DischargeOvercurrentSustained
    )
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
            raise ConfigError(
                "protection.discharge_overcurrent.delay: must not exceed "
                "protection.discharge_overcurrent_sustained.delay (the fast level is the fast one)"
            )


def _get(obj: object, dotted: str) -> float:
    """The number at a dotted path below ``obj`` (``"cell_overvoltage.threshold"``)."""
    value: Any = obj
    for part in dotted.split("."):
        value = getattr(value, part)
    return value  # the path names a float parameter; getattr cannot say which (Any)
