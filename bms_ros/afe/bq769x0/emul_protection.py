"""Protection model of the bq769x0 emulator (:mod:`emul`): the programmed OV/UV/OCD/SCD thresholds and delays,
the fault timers and trips (OV clears CHG_ON; UV, OCD, SCD clear DSG_ON [DS Table 8-1]), DEVICE_XREADY, the
external ALERT override and the ALERT pin.

OV/UV are evaluated on each 250 ms conversion and trip once the condition has held for the programmed delay
(DELAY_DIS: at the next conversion); OCD/SCD are continuous-time comparators whose delay is timed exactly (the
emulator's scheduler steps to the trip instant). Delays and thresholds are nominal.
"""

from __future__ import annotations

import numpy as np

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.protection_codes import (
    OCD_DELAY_S,
    OCD_THRESH_MV,
    OV_DELAY_S,
    SCD_DELAY_S,
    SCD_THRESH_MV,
    UV_DELAY_S,
)

_TRIP_EPS_S = 1e-9  # s, float tolerance on a protection delay having elapsed


class Bq769x0ProtectionModel:
    """Mixin of :class:`bms_ros.afe.bq769x0.emul.Bq769x0Sim`: protections on its register file and clock."""

    regs: bytearray
    shunt_ohm: float
    gain_uv: int
    offset_mv: int
    t: float
    mode: str
    events: list[tuple[float, str]]
    _ov_since: float | None
    _uv_since: float | None
    _ocd_since: float | None
    _scd_since: float | None

    def _sync_pack(self) -> None:
        raise NotImplementedError

    def _rsns(self) -> int:
        return 1 if self.regs[r.PROTECT1] & r.PROTECT1_RSNS else 0

    def _scd_delay(self) -> float:
        return SCD_DELAY_S[(self.regs[r.PROTECT1] >> 3) & 0x03]

    def _ocd_delay(self) -> float:
        return OCD_DELAY_S[(self.regs[r.PROTECT2] >> 4) & 0x07]

    def scd_threshold_a(self) -> float:
        return SCD_THRESH_MV[self._rsns()][self.regs[r.PROTECT1] & 0x07] * 1e-3 / self.shunt_ohm

    def ocd_threshold_a(self) -> float:
        return OCD_THRESH_MV[self._rsns()][self.regs[r.PROTECT2] & 0x0F] * 1e-3 / self.shunt_ohm

    def ov_threshold_v(self) -> float:
        return ((r.OV_FULL_BASE | self.regs[r.OV_TRIP] << 4) * self.gain_uv * 1e-3 + self.offset_mv) * 1e-3

    def ov_trip_full(self) -> int:
        """The 14-bit code a reading must reach for OV: 10-OV_TRIP-1000 [DS p.22]."""
        return r.OV_FULL_BASE | (self.regs[r.OV_TRIP] << 4)

    def uv_threshold_v(self) -> float:
        return ((r.UV_FULL_BASE | self.regs[r.UV_TRIP] << 4) * self.gain_uv * 1e-3 + self.offset_mv) * 1e-3

    def _current_comparators(self, current_a: float) -> None:
        """OCD/SCD: sampled comparators on SRP-SRN (discharge only) that start a delay counter [DS p.22]."""
        discharge = -current_a
        if discharge >= self.scd_threshold_a():
            if self._scd_since is None:
                self._scd_since = self.t
        else:
            self._scd_since = None
        if discharge >= self.ocd_threshold_a():
            if self._ocd_since is None:
                self._ocd_since = self.t
        else:
            self._ocd_since = None

    def _fire_current_trips(self) -> None:
        for name, bit in (("scd", r.STAT_SCD), ("ocd", r.STAT_OCD)):
            since = self._scd_since if name == "scd" else self._ocd_since
            delay = self._scd_delay() if name == "scd" else self._ocd_delay()
            if since is not None and self.t >= since + delay - _TRIP_EPS_S:
                self._trip(name, bit, r.CTRL2_DSG_ON)
                self._scd_since = self._ocd_since = None  # DSG is off: no current, comparators idle

    def _trip(self, name: str, stat_bit: int, fet_bits: int) -> None:
        self.regs[r.SYS_STAT] |= stat_bit
        self.regs[r.SYS_CTRL2] &= ~fet_bits & 0xFF
        self._sync_pack()
        self.events.append((self.t, name))

    def raise_xready(self) -> None:
        """DEVICE_XREADY: both FETs off, all CELLBAL bits cleared [DS p.24-25, Table 8-1]."""
        self.regs[r.SYS_STAT] |= r.STAT_DEVICE_XREADY
        self.regs[r.SYS_CTRL2] &= ~(r.CTRL2_CHG_ON | r.CTRL2_DSG_ON) & 0xFF
        self.regs[r.CELLBAL1 : r.CELLBAL3 + 1] = bytes(3)
        self._sync_pack()
        self.events.append((self.t, "xready"))

    def external_alert(self) -> bool:
        """ALERT forced high from outside: seen only while the chip holds ALERT low [DS p.25]."""
        if self.alert or self.mode != "normal":
            return False
        self.regs[r.SYS_STAT] |= r.STAT_OVRD_ALERT
        self.regs[r.SYS_CTRL2] &= ~(r.CTRL2_CHG_ON | r.CTRL2_DSG_ON) & 0xFF
        self._sync_pack()
        self.events.append((self.t, "ovrd_alert"))
        return True

    @property
    def alert(self) -> bool:
        """The ALERT pin: OR of all SYS_STAT bits [DS p.25]."""
        return self.regs[r.SYS_STAT] != 0

    def _voltage_protections(self, codes: np.ndarray) -> None:
        """OV/UV compare each conversion with the 14-bit trip codes; UV ignores inputs below UVMINQUAL."""
        ov_full = self.ov_trip_full()
        uv_full = r.UV_FULL_BASE | (self.regs[r.UV_TRIP] << 4)
        no_delay = bool(self.regs[r.SYS_CTRL2] & r.CTRL2_DELAY_DIS)
        ov = bool((codes >= ov_full).any())
        uv = bool(((codes <= uv_full) & (codes >= r.UVMINQUAL)).any())
        p3 = self.regs[r.PROTECT3]
        for name, cond, delay, stat, fet in (
            ("ov", ov, OV_DELAY_S[(p3 >> 4) & 0x03], r.STAT_OV, r.CTRL2_CHG_ON),
            ("uv", uv, UV_DELAY_S[(p3 >> 6) & 0x03], r.STAT_UV, r.CTRL2_DSG_ON),
        ):
            attr = f"_{name}_since"
            if not cond:
                setattr(self, attr, None)
                continue
            since = getattr(self, attr)
            if since is None:
                since = self.t
                setattr(self, attr, since)
            if no_delay or self.t - since >= delay - _TRIP_EPS_S:
                self._trip(name, stat, fet)
                setattr(self, attr, None)  # the timer restarts: a re-enabled FET is cleared again
