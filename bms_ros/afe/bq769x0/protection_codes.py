"""Hardware protection settings: SI thresholds <-> PROTECT1..3, OV_TRIP and UV_TRIP codes.

Every quantity is rounded to the *safe* side of what was asked for, and the effective value is reported:

* OCD / SCD current thresholds: the largest threshold not above the request (trips earlier);
* OV: the highest trip voltage not above the request; UV: the lowest trip voltage not below the request;
* delays: the longest delay not above the request (trips sooner).

When the request lies outside the chip's range the nearest code is used (then necessarily on the unsafe side)
and ``ProtectionCodes.clamped`` names the affected settings so the caller can log or refuse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.core.types import HardwareProtection

# [DS p.32-33] PROTECT1 SCD_T (bits 2:0), by RSNS
SCD_THRESH_MV = {0: (22, 33, 44, 56, 67, 78, 89, 100), 1: (44, 67, 89, 111, 133, 155, 178, 200)}
# [DS p.33] SCD_D (bits 4:3): 70, 100, 200, 400 us (rev. I; older headers say 50 us for code 0)
SCD_DELAY_S = (70e-6, 100e-6, 200e-6, 400e-6)
# [DS p.33-34] PROTECT2 OCD_T (bits 3:0), by RSNS
OCD_THRESH_MV = {
    0: (8, 11, 14, 17, 19, 22, 25, 28, 31, 33, 36, 39, 42, 44, 47, 50),
    1: (17, 22, 28, 33, 39, 44, 50, 56, 61, 67, 72, 78, 83, 89, 94, 100),
}
# [DS p.34] OCD_D (bits 6:4): 8 ms .. 1280 ms (rev. I; older headers say 10 ms for code 0)
OCD_DELAY_S = (0.008, 0.020, 0.040, 0.080, 0.160, 0.320, 0.640, 1.280)
# [DS p.34] PROTECT3 UV_D (bits 7:6) and OV_D (bits 5:4)
UV_DELAY_S = (1.0, 4.0, 8.0, 16.0)
OV_DELAY_S = (1.0, 2.0, 4.0, 8.0)

_EPS = 1e-9


def _floor_index(options: Sequence[float], wanted: float) -> tuple[int, bool]:
    """Index of the largest option <= wanted (options increasing); (0, True) when none is."""
    best = -1
    for i, v in enumerate(options):
        if v <= wanted * (1 + _EPS) + _EPS:
            best = i
    return (best, False) if best >= 0 else (0, True)


def ov_trip_voltage(code: int, gain_uv: float, offset_mv: float) -> float:
    """Cell voltage (V) at which OV_TRIP ``code`` trips: full code 10-xxxxxxxx-1000 [DS p.22]."""
    full = r.OV_FULL_BASE | ((code & 0xFF) << 4)
    return (full * gain_uv * 1e-3 + offset_mv) * 1e-3


def uv_trip_voltage(code: int, gain_uv: float, offset_mv: float) -> float:
    """Cell voltage (V) at which UV_TRIP ``code`` trips: full code 01-xxxxxxxx-0000 [DS p.22]."""
    full = r.UV_FULL_BASE | ((code & 0xFF) << 4)
    return (full * gain_uv * 1e-3 + offset_mv) * 1e-3


def datasheet_trip_code(volts: float, gain_uv: float, offset_mv: float) -> int:
    """The datasheet procedure: full = (V - OFFSET) / GAIN, keep the middle 8 bits (truncates) [DS p.22, p.46]."""
    full = int((volts * 1e3 - offset_mv) * 1e3 / gain_uv)
    return (full >> 4) & 0xFF


def ov_trip_code(volts: float, gain_uv: float, offset_mv: float) -> tuple[int, bool]:
    """Largest OV_TRIP whose trip voltage is <= ``volts``; (code, clamped)."""
    volts_all = [ov_trip_voltage(c, gain_uv, offset_mv) for c in range(256)]
    return _floor_index(volts_all, volts)


def uv_trip_code(volts: float, gain_uv: float, offset_mv: float) -> tuple[int, bool]:
    """Smallest UV_TRIP whose trip voltage is >= ``volts``; (code, clamped)."""
    for c in range(256):
        if uv_trip_voltage(c, gain_uv, offset_mv) >= volts * (1 - _EPS) - _EPS:
            return c, False
    return 255, True


@dataclass(frozen=True)
class ProtectionCodes:
    protect1: int
    protect2: int
    protect3: int
    ov_trip: int
    uv_trip: int
    effective: HardwareProtection
    clamped: tuple[str, ...] = ()

    @property
    def block(self) -> list[int]:
        """PROTECT1, PROTECT2, PROTECT3, OV_TRIP, UV_TRIP: one auto-increment write from 0x06."""
        return [self.protect1, self.protect2, self.protect3, self.ov_trip, self.uv_trip]


def encode_protection(
    wanted: HardwareProtection, shunt_ohm: float, gain_uv: float, offset_mv: float, protect3_debug: int = 0
) -> ProtectionCodes:
    """Choose the register codes for ``wanted``. ``protect3_debug``: PROTECT3 bits 3:0 to keep [DS p.34]."""
    if shunt_ohm <= 0:
        raise ValueError("shunt resistance must be > 0")
    ocd_mv = abs(wanted.discharge_overcurrent) * shunt_ohm * 1e3
    scd_mv = abs(wanted.short_circuit) * shunt_ohm * 1e3
    # RSNS is shared by OCD and SCD: pick the range whose (safe) choices come closest to both requests.
    best = None
    for rsns in (0, 1):
        scd_t, scd_clamped = _floor_index(SCD_THRESH_MV[rsns], scd_mv)
        ocd_t, ocd_clamped = _floor_index(OCD_THRESH_MV[rsns], ocd_mv)
        err = 0.0
        for options, code, want, clamped in (
            (SCD_THRESH_MV[rsns], scd_t, scd_mv, scd_clamped),
            (OCD_THRESH_MV[rsns], ocd_t, ocd_mv, ocd_clamped),
        ):
            rel = abs(options[code] - want) / max(want, 1e-9)
            err += rel + (1e3 if clamped else 0.0)
        cand = (err, -rsns, rsns, scd_t, ocd_t, scd_clamped, ocd_clamped)
        if best is None or cand < best:
            best = cand
    assert best is not None
    _, _, rsns, scd_t, ocd_t, scd_clamped, ocd_clamped = best
    scd_d, scd_d_clamped = _floor_index(SCD_DELAY_S, wanted.short_circuit_delay)
    ocd_d, ocd_d_clamped = _floor_index(OCD_DELAY_S, wanted.discharge_overcurrent_delay)
    ov_d, ov_d_clamped = _floor_index(OV_DELAY_S, wanted.cell_overvoltage_delay)
    uv_d, uv_d_clamped = _floor_index(UV_DELAY_S, wanted.cell_undervoltage_delay)
    ov, ov_clamped = ov_trip_code(wanted.cell_overvoltage, gain_uv, offset_mv)
    uv, uv_clamped = uv_trip_code(wanted.cell_undervoltage, gain_uv, offset_mv)

    p1 = (r.PROTECT1_RSNS if rsns else 0) | (scd_d << 3) | scd_t
    p2 = (ocd_d << 4) | ocd_t
    p3 = (uv_d << 6) | (ov_d << 4) | (protect3_debug & 0x0F)
    clamped_names = tuple(
        name
        for name, flag in (
            ("short_circuit", scd_clamped),
            ("discharge_overcurrent", ocd_clamped),
            ("short_circuit_delay", scd_d_clamped),
            ("discharge_overcurrent_delay", ocd_d_clamped),
            ("cell_overvoltage_delay", ov_d_clamped),
            ("cell_undervoltage_delay", uv_d_clamped),
            ("cell_overvoltage", ov_clamped),
            ("cell_undervoltage", uv_clamped),
        )
        if flag
    )
    effective = decode_protection(p1, p2, p3, ov, uv, shunt_ohm, gain_uv, offset_mv)
    return ProtectionCodes(p1, p2, p3, ov, uv, effective, clamped_names)


def decode_protection(
    protect1: int,
    protect2: int,
    protect3: int,
    ov_trip: int,
    uv_trip: int,
    shunt_ohm: float,
    gain_uv: float,
    offset_mv: float,
) -> HardwareProtection:
    """SI values of programmed registers (nominal; the chip's tolerances are +-10 % / +-2.5 mV, delays +-20 %)."""
    rsns = 1 if protect1 & r.PROTECT1_RSNS else 0
    return HardwareProtection(
        cell_overvoltage=ov_trip_voltage(ov_trip, gain_uv, offset_mv),
        cell_overvoltage_delay=OV_DELAY_S[(protect3 >> 4) & 0x03],
        cell_undervoltage=uv_trip_voltage(uv_trip, gain_uv, offset_mv),
        cell_undervoltage_delay=UV_DELAY_S[(protect3 >> 6) & 0x03],
        discharge_overcurrent=OCD_THRESH_MV[rsns][protect2 & 0x0F] * 1e-3 / shunt_ohm,
        discharge_overcurrent_delay=OCD_DELAY_S[(protect2 >> 4) & 0x07],
        short_circuit=SCD_THRESH_MV[rsns][protect1 & 0x07] * 1e-3 / shunt_ohm,
        short_circuit_delay=SCD_DELAY_S[(protect1 >> 3) & 0x03],
    )
