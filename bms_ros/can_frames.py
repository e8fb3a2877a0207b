"""The Pylontech / Victron "0x35x" CAN frames from the core's decision (no ROS; cantools only when encoding).

``frame_signals(out, name)`` maps a BmsOutput to the signal values of each frame, in physical units (pure);
``FrameEncoder`` packs them with cantools from the DBC shipped in the package (``bms_ros/data/bms_0x35x.dbc``,
which cites the public sources of every layout). A frame whose values are unknown (NaN: no valid data, no
estimate yet) is left out rather than sent as 0: a charger then sees the limits (0 when charging is not
allowed) and the alarms, never an invented measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms_ros.core.faults import Fault
from bms_ros.core.params import ConfigError, param
from bms_ros.core.types import BmsOutput

DBC_PATH = Path(__file__).resolve().parent / "data" / "bms_0x35x.dbc"
LIMITS, SOC_SOH, MEASUREMENTS, ALARMS, REQUESTS, NAME = 0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E
FRAME_IDS = (LIMITS, SOC_SOH, MEASUREMENTS, ALARMS, REQUESTS, NAME)
PROTOCOL_MARKER = 0x4E50  # 0x359 bytes 5-6: ASCII 'P', 'N' (diyBMS pylon_message_359)

F = Fault
# 0x359 flag -> the Fault bits behind it (protection: active | latched; warning: warnings)
_HIGH_VOLTAGE = F.CELL_OVERVOLTAGE | F.CELL_OVERVOLTAGE_HARD | F.PACK_OVERVOLTAGE | F.AFE_HW_OVERVOLTAGE
_LOW_VOLTAGE = F.CELL_UNDERVOLTAGE | F.CELL_UNDERVOLTAGE_DEEP | F.PACK_UNDERVOLTAGE | F.AFE_HW_UNDERVOLTAGE
_HIGH_TEMP = F.CHARGE_OVERTEMPERATURE | F.DISCHARGE_OVERTEMPERATURE | F.AFE_OVERTEMPERATURE
_LOW_TEMP = F.CHARGE_UNDERTEMPERATURE | F.DISCHARGE_UNDERTEMPERATURE
_DISCHARGE_OC = F.DISCHARGE_OVERCURRENT | F.DISCHARGE_OVERCURRENT_SUSTAINED | F.SHORT_CIRCUIT | F.AFE_HW_OVERCURRENT
_SYSTEM = (
    F.IMPLAUSIBLE_DATA
    | F.SENSOR_LOSS
    | F.AFE_COMM_LOSS
    | F.AFE_DEVICE_FAULT
    | F.OPEN_WIRE
    | F.CELL_READING_STUCK
    | F.INTERNAL_SHORT
    | F.SYSTEM_LOCK
)


@dataclass
class CanConfig:
    enabled: bool = param(
        False,
        "Send the Pylontech/Victron 0x35x frames (limits, SoC, measurements, alarms, "
        "requests, name) on a CAN bus; needs python-can and cantools (pip install bms_ros[can])",
    )
    interface: str = param(
        "socketcan", "python-can interface: socketcan on a robot, virtual for tests (any interface python-can knows)"
    )
    channel: str = param("can0", "python-can channel (socketcan: the network device)")
    period: float = param(
        1.0,
        "Send period of the frames (customary: 1 s; chargers stop after a few seconds without them)",
        "s",
        0.1,
        10.0,
    )
    name: str = param("BMS_ROS", "0x35E battery name, up to 8 ASCII characters (some inverters accept only PYLON)")

    def validate(self) -> None:
        if len(self.name) > 8 or not self.name.isascii() or not self.name.isprintable():
            raise ConfigError(f"can.name: {self.name!r} is not up to 8 printable ASCII characters")


def _flag(mask: int, bits: int) -> int:
    return 1 if mask & int(bits) else 0


def name_value(name: str) -> int:
    """0x35E: the name, space padded to 8 bytes, as the little-endian integer of the DBC's Name signal."""
    return int.from_bytes(name.encode("ascii")[:8].ljust(8, b" "), "little")


def name_of(value: int) -> str:
    return int(value).to_bytes(8, "little").decode("ascii").rstrip()


def frame_signals(out: BmsOutput, name: str = "BMS_ROS", module_count: int = 1) -> dict[int, dict[str, Any]]:
    """Signal values (physical units) of every frame that has known values, by frame id."""
    frames: dict[int, dict[str, Any]] = {}
    ccl = out.charge_current_limit if math.isfinite(out.charge_current_limit) else 0.0
    dcl = out.discharge_current_limit if math.isfinite(out.discharge_current_limit) else 0.0
    if math.isfinite(out.charge_voltage_limit) and math.isfinite(out.discharge_voltage_limit):
        frames[LIMITS] = {
            "ChargeVoltageLimit": out.charge_voltage_limit,
            "ChargeCurrentLimit": ccl,
            "DischargeCurrentLimit": dcl,
            "DischargeVoltageLimit": out.discharge_voltage_limit,
        }
    e = out.estimate
    if math.isfinite(e.soc):
        soh = e.soh if math.isfinite(e.soh) else 1.0  # SoH not yet learned: the design capacity holds
        frames[SOC_SOH] = {"StateOfCharge": round(100.0 * e.soc), "StateOfHealth": round(100.0 * soh)}
    s = out.view
    temps = [t for t in s.temperatures.tolist() if math.isfinite(t)] if out.data_fresh else []
    if out.data_fresh and math.isfinite(s.pack_voltage) and math.isfinite(s.current) and temps:
        frames[MEASUREMENTS] = {
            "BatteryVoltage": s.pack_voltage,
            "BatteryCurrent": s.current,
            "BatteryTemperature": max(temps),
        }
    prot, warn = out.faults_active | out.faults_latched, out.warnings
    frames[ALARMS] = {
        "ProtectionHighVoltage": _flag(prot, _HIGH_VOLTAGE),
        "ProtectionLowVoltage": _flag(prot, _LOW_VOLTAGE),
        "ProtectionHighTemperature": _flag(prot, _HIGH_TEMP),
        "ProtectionLowTemperature": _flag(prot, _LOW_TEMP),
        "ProtectionDischargeOvercurrent": _flag(prot, _DISCHARGE_OC),
        "ProtectionChargeOvercurrent": _flag(prot, F.CHARGE_OVERCURRENT),
        "ProtectionSystemError": _flag(prot, _SYSTEM),
        "WarningHighVoltage": _flag(warn, _HIGH_VOLTAGE),
        "WarningLowVoltage": _flag(warn, _LOW_VOLTAGE),
        "WarningHighTemperature": _flag(warn, _HIGH_TEMP),
        "WarningLowTemperature": _flag(warn, _LOW_TEMP),
        "WarningDischargeHighCurrent": _flag(warn, _DISCHARGE_OC),
        "WarningChargeHighCurrent": _flag(warn, F.CHARGE_OVERCURRENT),
        "WarningInternalCommunication": 0 if out.data_fresh else 1,
        "ModuleCount": module_count,
        "ProtocolMarker": PROTOCOL_MARKER,
    }
    frames[REQUESTS] = {
        "ChargeEnable": int(ccl > 0.0),
        "DischargeEnable": int(dcl > 0.0),
        "ForceChargeRequestI": int(bool(out.force_charge)),
        "ForceChargeRequestII": 0,
        "FullChargeRequest": 0,
    }
    frames[NAME] = {"Name": name_value(name)}
    return frames


class FrameEncoder:
    """cantools encoding from the shipped DBC (imports cantools: only when CAN output is enabled)."""

    def __init__(self, dbc_path: Path | str = DBC_PATH):
        import cantools

        self.db = cantools.database.load_file(str(dbc_path))
        self._messages = {fid: self.db.get_message_by_frame_id(fid) for fid in FRAME_IDS}

    def encode(self, frames: dict[int, dict[str, Any]]) -> list[tuple[int, bytes]]:
        """(frame id, payload) per frame, values clamped into each signal's DBC range."""
        packed = []
        for fid, values in frames.items():
            msg = self._messages[fid]
            clamped = {}
            for sig in msg.signals:
                v = values[sig.name]
                if isinstance(v, float):
                    lo = sig.minimum if sig.minimum is not None else -math.inf
                    hi = sig.maximum if sig.maximum is not None else math.inf
                    v = min(max(v, lo), hi)
                clamped[sig.name] = v
            packed.append((fid, bytes(msg.encode(clamped))))
        return packed

    def decode(self, frame_id: int, data: bytes) -> dict[str, Any]:
        return dict(self.db.decode_message(frame_id, data))
