"""bq769x2 (BQ76952 / BQ76942) driver behind the AFE interface, over an injectable smbus2-compatible bus.

Boot (:meth:`init`): check DEVICE_NUMBER (0x7695 / 0x7694), enter CONFIG_UPDATE, program DA Configuration (10 mA /
10 mV user units), CC gain from the shunt, VCell Mode (the unused-input mapping), TS pins, FET options, host
balancing and every protection, leave CONFIG_UPDATE. FETs: the chip drives them itself once FET_EN = 1 (it
switches them on when no protection blocks them [FACTS: "Unlike bq769x0..."]); the host keeps the decision by
blocking them with FET_CONTROL. ``fet_control="host"`` blocks both before FET_EN is set (nothing switches on until
the core asks); ``"autonomous"`` leaves them to the chip's own protections and recovery. A chip reset (Battery
Status POR) re-runs init. After a reset, readings before the first full measurement set (3 loops [DS]) are NaN.

Units: SI, current > 0 charging, NaN for unknown.
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bms_ros.afe.base import Afe, AfeError
from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.bq769x2.conversions import (
    Bq769x2Protection,
    ProtectionCodes,
    encode_protection,
    kelvin10_to_c,
    safety_to_flags,
)
from bms_ros.afe.bq769x2.interface import Bq769x2Bus, CommError, f4, u1, u2
from bms_ros.core.types import AfeFlag, BalancingConstraints, HardwareProtection, PackSample

log = logging.getLogger(__name__)

_FIRST_SET_S = r.FULL_SET_LOOPS * r.LOOP_S  # readings valid once a full measurement set is done [DS]


class Bq769x2Afe(Afe):
    """A bq769x2 on an I2C bus.

    Args:
        bus: smbus2.SMBus or anything with ``i2c_rdwr(*i2c_msg)``.
        cell_count: 3..16 (BQ76952) or 3..10 (BQ76942); ``channels`` overrides the default input mapping.
        crc: the part's Comm Type uses CRC [FACTS].
        protection / extra: thresholds to program (``extra`` carries the bq769x2-only ones).
        fet_control: "host" or "autonomous" (see the module docstring).
        balance_max_cells: CBAL_MAX_CELLS to program (the chip refuses larger CB_ACTIVE_CELLS masks).
        block_reads: read consecutive direct commands in one transaction (<= 32 bytes); False reads one command
            per transaction, as LibreSolar does.
        retry_init: a chip that does not answer at construction is retried at every read (``status_reason``
            says why) instead of raising.
    """

    def __init__(
        self,
        bus,
        cell_count: int,
        *,
        address: int = r.DEFAULT_ADDRESS,
        crc: bool = False,
        shunt_ohm: float = 0.001,
        thermistor_count: int = 1,
        retries: int = 3,
        protection: HardwareProtection | None = None,
        extra: Bq769x2Protection | None = None,
        fet_control: str = "host",
        balance_max_cells: int = 4,
        channels: tuple[int, ...] | None = None,
        block_reads: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        initialize: bool = True,
        retry_init: bool = False,
    ):
        if not 0 <= thermistor_count <= len(r.TS_TEMPERATURES):
            raise ValueError(f"bq769x2 reads TS1..TS3 here, asked for {thermistor_count} thermistors")
        if fet_control not in ("host", "autonomous"):
            raise ValueError("fet_control must be 'host' or 'autonomous'")
        if shunt_ohm <= 0:
            raise ValueError("shunt_ohm must be > 0")
        self.io = Bq769x2Bus(bus, address, crc, retries, sleep)
        self.shunt_ohm = float(shunt_ohm)
        self.fet_control = fet_control
        self.balance_max_cells = int(balance_max_cells)
        self.block_reads = bool(block_reads)
        self._n, self._nts = cell_count, thermistor_count
        self._channels = channels or r.channel_map(cell_count, 16)
        self._wanted = extra or Bq769x2Protection()
        if protection is not None:
            self._wanted = replace(self._wanted, base=protection)
        self.protection: HardwareProtection | None = None
        self.protection_full: Bq769x2Protection | None = None
        self.protection_codes: ProtectionCodes | None = None
        self.chip = ""
        self._owns_bus = False
        self._initialized = False
        self._valid_from: float | None = None  # caller time from which readings are trusted
        self._fresh = True  # the last init found the chip just out of reset (POR)
        self._amps, self._volts = r.user_amps(r.DA_CONFIG_10MA_10MV), r.user_volts(r.DA_CONFIG_10MA_10MV)
        self._constraints = BalancingConstraints(
            groups=((0, cell_count),), max_per_group=self.balance_max_cells, allow_adjacent=False
        )
        self._plan = self._build_plan()
        self._init_reason = "not initialised"
        if initialize:
            try:
                self.init()
            except AfeError as e:
                if not retry_init:
                    raise
                self._init_reason = f"{e}; retrying"

    @property
    def errors(self):
        return self.io.errors

    @property
    def wire(self):
        return self.io.wire

    @classmethod
    def open(cls, cfg, cell_count: int, **kwargs) -> Bq769x2Afe:
        """Open /dev/i2c-N from an ``AfeConfig``-like object."""
        from smbus2 import SMBus

        from bms_ros.afe.i2c_clock import warn_if_faster

        kwargs = {
            "address": int(cfg.i2c_address),
            "crc": bool(cfg.crc),
            "shunt_ohm": float(cfg.shunt_resistance),
            "thermistor_count": int(cfg.thermistor_count),
            "retry_init": True,
            **kwargs,
        }
        warn_if_faster(int(cfg.i2c_bus), r.BUS_HZ, "bq769x2")
        try:
            bus = SMBus(int(cfg.i2c_bus))
        except OSError as e:
            raise AfeError(f"cannot open /dev/i2c-{cfg.i2c_bus}: {e}") from e
        try:
            afe = cls(bus, cell_count, **kwargs)
        except Exception:
            bus.close()
            raise
        afe._owns_bus = True
        return afe

    # ---- Afe interface -----------------------------------------------------------------------------------------
    @property
    def cell_count(self) -> int:
        return self._n

    @property
    def thermistor_count(self) -> int:
        return self._nts

    @property
    def balancing_constraints(self) -> BalancingConstraints:
        return self._constraints

    @property
    def channels(self) -> tuple[int, ...]:
        return self._channels

    def init(self) -> None:
        try:
            self._init()
        except CommError as e:
            raise AfeError(f"bq769x2 init failed at {self.io.address:#04x} (crc={self.io.crc}): {e}") from None

    def _init(self) -> None:
        fresh = bool(struct.unpack("<H", self.io.read(r.BATTERY_STATUS, 2))[0] & r.BS_POR)
        (dev,) = struct.unpack("<H", self.io.subcommand_read(r.DEVICE_NUMBER, 2))
        if dev not in r.DEVICE_NUMBERS:
            raise AfeError(f"bq769x2 DEVICE_NUMBER reads {dev:#06x}, not 0x7695 (BQ76952) or 0x7694 (BQ76942)")
        self.chip, inputs = r.DEVICE_NUMBERS[dev]
        if max(self._channels) >= inputs:
            if self._channels == r.channel_map(self._n, 16) and self._n <= inputs:
                self._channels = r.channel_map(self._n, inputs)
                self._plan = self._build_plan()
            else:
                raise AfeError(f"{self.chip} has {inputs} cell inputs; {self._n} cells on inputs {self._channels}")
        codes = encode_protection(self._wanted, self.shunt_ohm)
        if codes.clamped:
            log.warning("bq769x2 protection request outside the chip's range, clamped: %s", ", ".join(codes.clamped))
        self._config_update(True)
        try:
            self.io.dm_write_verify(r.DA_CONFIG, u1(r.DA_CONFIG_10MA_10MV))
            self.io.dm_write(r.CC_GAIN, f4(r.CC_GAIN_NUMERATOR_UOHM / (self.shunt_ohm * 1e6)))
            self.io.dm_write_verify(r.VCELL_MODE, u2(r.vcell_mode(self._channels)))
            for k, addr in enumerate(r.TS_CONFIG):
                self.io.dm_write(addr, u1(r.TS_THERMISTOR_CONFIG if k < self._nts else 0))
            self.io.dm_write(r.FET_OPTIONS, u1(r.FET_OPTIONS_HOST))
            self.io.dm_write(r.CBAL_CONF, u1(0))
            self.io.dm_write(r.CBAL_MAX_CELLS, u1(self.balance_max_cells))
            for addr, data in codes.writes:
                self.io.dm_write_verify(addr, data)
        finally:
            self._config_update(False)
        self.protection_codes, self.protection_full, self.protection = codes, codes.effective, codes.effective.base
        (mfg,) = struct.unpack("<H", self.io.subcommand_read(r.MFG_STATUS, 2))
        if self.fet_control == "host":
            fs = self.io.read(r.FET_STATUS, 1)[0]  # keep FETs that are on: re-init must not cut power
            self._fet_control(bool(fs & r.FS_CHG), bool(fs & r.FS_DSG))
        else:
            self.io.command(r.ALL_FETS_ON)
        if not mfg & r.MFG_FET_EN:
            self.io.command(r.FET_ENABLE)
        self._initialized = True
        self._init_reason = ""
        # after a power-on reset nothing is converted yet: wait for a full measurement set; a chip that was
        # already running (driver restart) has valid readings now
        self._fresh = fresh
        self._valid_from = None

    @property
    def status_reason(self) -> str:
        return "" if self._initialized else self._init_reason

    def _config_update(self, enter: bool) -> None:
        self.io.command(r.SET_CFGUPDATE if enter else r.EXIT_CFGUPDATE)
        for _ in range(self.io.poll_limit):
            self.io.sleep(r.CFGUPDATE_S)
            if bool(struct.unpack("<H", self.io.read(r.BATTERY_STATUS, 2))[0] & r.BS_CFGUPDATE) == enter:
                return
        raise CommError(f"CFGUPDATE did not {'set' if enter else 'clear'}")

    def read(self, now: float) -> PackSample:
        try:
            return self._read_sample(now)
        except CommError as e:
            if not self._initialized:
                self._init_reason = f"no answer from the bq769x2 at {self.io.address:#04x} ({e}); retrying"
            return PackSample.missing(now, self._n, self._nts, read_errors=self.errors.i2c, crc_errors=self.errors.crc)

    def set_fets(self, charge: bool, discharge: bool) -> None:
        try:
            self._fet_control(charge, discharge)
        except CommError as e:
            raise AfeError(f"bq769x2 set_fets failed: {e}") from None

    def _fet_control(self, charge: bool, discharge: bool) -> None:
        off = (0 if charge else r.FC_CHG_OFF | r.FC_PCHG_OFF) | (0 if discharge else r.FC_DSG_OFF | r.FC_PDSG_OFF)
        self.io.subcommand_write(r.FET_CONTROL, [off])

    def set_balancing(self, mask: int) -> None:
        mask = int(mask)
        if mask < 0 or mask >> self._n:
            raise ValueError(f"balancing mask {mask:#x} has bits beyond cell {self._n}")
        if not self._constraints.permits(mask):
            raise ValueError(
                f"balancing mask {mask:#x} breaks the bq769x2 rules (adjacent cells or more than "
                f"{self.balance_max_cells} at once, CBAL_MAX_CELLS)"
            )
        phys = sum(1 << ch for cell, ch in enumerate(self._channels) if mask >> cell & 1)
        try:
            self.io.subcommand_write(r.CB_ACTIVE_CELLS, u2(phys))
        except CommError as e:
            raise AfeError(f"bq769x2 set_balancing failed: {e}") from None

    def clear_faults(self, flags: AfeFlag) -> None:
        """Nothing to clear: the bq769x2 recovers its protections by itself once the condition and the recovery
        time are over [TRM Protections]; Safety Status shows the live state."""

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        self._wanted = replace(self._wanted, base=wanted)
        try:
            self._init()
        except CommError as e:
            raise AfeError(f"bq769x2 configure_protection failed: {e}") from None
        assert self.protection is not None
        return self.protection

    def enter_ship_mode(self) -> None:
        """SHUTDOWN, sent twice (needed within 4 s when sealed) [FACTS]."""
        try:
            self.io.command(r.SHUTDOWN)
            self.io.command(r.SHUTDOWN)
        except CommError as e:
            raise AfeError(f"bq769x2 shutdown failed: {e}") from None

    def set_sleep_allowed(self, allowed: bool) -> None:
        try:
            self.io.command(r.SLEEP_ENABLE if allowed else r.SLEEP_DISABLE)
        except CommError as e:
            raise AfeError(f"bq769x2 sleep command failed: {e}") from None

    def close(self) -> None:
        if self._owns_bus:
            self.io.bus.close()

    # ---- reading -----------------------------------------------------------------------------------------------
    def _build_plan(self) -> list[tuple[int, int]]:
        need = [
            r.BATTERY_STATUS,
            r.SAFETY_STATUS_A,
            r.SAFETY_STATUS_B,
            r.SAFETY_STATUS_C,
            r.STACK_VOLTAGE,
            r.LD_VOLTAGE,
            r.CC2_CURRENT,
            r.INT_TEMPERATURE,
            r.FET_STATUS,
        ]
        need += [r.cell_register(ch) for ch in self._channels] + list(r.TS_TEMPERATURES[: self._nts])
        sizes = {
            c: (1 if c in (r.SAFETY_STATUS_A, r.SAFETY_STATUS_B, r.SAFETY_STATUS_C, r.FET_STATUS) else 2) for c in need
        }
        self.needed_bytes = sum(sizes[c] for c in set(need))
        plan: list[list[int]] = []
        for c in sorted(set(need)):
            if (
                self.block_reads
                and plan
                and c + sizes[c] - plan[-1][0] <= r.TRANSFER_BUFFER_SIZE
                and (c - (plan[-1][0] + plan[-1][1])) * (18 if self.io.crc else 9) <= 30
            ):
                plan[-1][1] = c + sizes[c] - plan[-1][0]
            else:
                plan.append([c, sizes[c]])
        return [(a, n) for a, n in plan]

    @property
    def read_plan(self) -> list[tuple[int, int]]:
        return list(self._plan)

    def _read_sample(self, now: float) -> PackSample:
        if not self._initialized:
            self._init()
        buf = bytearray(0x80)
        for start, n in self._plan:
            buf[start : start + n] = self.io.read(start, n)

        def i2(cmd: int) -> int:
            return int(struct.unpack_from("<h", buf, cmd)[0])

        status = i2(r.BATTERY_STATUS) & 0xFFFF
        if status & r.BS_POR:
            log.warning("bq769x2 at %#04x was reset (POR): re-initialising", self.io.address)
            self.errors.reinit += 1
            self._init()
        if self._valid_from is None:
            self._valid_from = now + (_FIRST_SET_S if self._fresh else 0.0)
        valid = now >= self._valid_from - 1e-9
        bal_raw = struct.unpack("<H", self.io.subcommand_read(r.CB_ACTIVE_CELLS, 2))[0]
        balancing = sum(1 << cell for cell, ch in enumerate(self._channels) if bal_raw >> ch & 1)
        fs = buf[r.FET_STATUS]
        nan = math.nan
        stack = i2(r.STACK_VOLTAGE) * self._volts
        load = not fs & r.FS_DSG and i2(r.LD_VOLTAGE) * self._volts < r.LOAD_PRESENT_LD_FRACTION * stack
        cells = np.array([i2(r.cell_register(ch)) * 1e-3 if valid else nan for ch in self._channels])
        temps = np.array([kelvin10_to_c(i2(a)) if valid else nan for a in r.TS_TEMPERATURES[: self._nts]])
        return PackSample(
            stamp=now,
            cell_voltages=cells,
            pack_voltage=stack if valid else nan,
            current=i2(r.CC2_CURRENT) * self._amps if valid else nan,
            temperatures=temps,
            die_temperature=kelvin10_to_c(i2(r.INT_TEMPERATURE)) if valid else nan,
            afe_flags=safety_to_flags(buf[r.SAFETY_STATUS_A], buf[r.SAFETY_STATUS_B], buf[r.SAFETY_STATUS_C]),
            charge_fet=bool(fs & r.FS_CHG),
            discharge_fet=bool(fs & r.FS_DSG),
            balancing_mask=balancing,
            comm_ok=True,
            read_errors=self.errors.i2c,
            crc_errors=self.errors.crc,
            load_present=bool(valid and load),
        )
