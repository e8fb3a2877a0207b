"""bq769x0 (BQ76920/30/40) chip logic over an injectable smbus2-compatible bus.

Framing, CRC, retries and error counters live in :mod:`interface`; the TEMP_SEL sweep in :mod:`temp_sel`; the
boot / re-init sequence in :mod:`boot`; code
to SI conversions in :mod:`conversions`. On a robot pass ``smbus2.SMBus(n)`` (or use :meth:`Bq769x0Afe.open`);
in tests and simulation pass a :class:`bms_ros.afe.bq769x0.emul.Bq769x0Sim`.

Boot: the constructor runs :meth:`init` unless ``initialize=False``. ``init`` checks the link by writing
CC_CFG = 0x19 and reading it back, reads the factory ADC gain/offset, enables the ADC (TEMP_SEL for
thermistors), enables the coulomb counter *keeping the present FET state* (re-initialising a driver must not cut
the robot's power), stops balancing and programs the hardware protections. The driver re-runs it on its own when
it sees the chip come out of a reset (CC_EN reads 0) and after it clears DEVICE_XREADY.

Units: SI, current > 0 charging (CC positive = charging on bq769x0), NaN for unknown values.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from bms_ros.afe.base import Afe, AfeError
from bms_ros.afe.bq769x0 import conversions as cv
from bms_ros.afe.bq769x0 import interface
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.boot import Bq769x0Boot
from bms_ros.afe.bq769x0.interface import Bq769x0Bus, Bq769x0Errors, CommError, I2cBus
from bms_ros.afe.bq769x0.protection_codes import ProtectionCodes, decode_protection, encode_protection
from bms_ros.afe.bq769x0.temp_sel import TempSelSweep
from bms_ros.afe.wire import WireStats
from bms_ros.core.types import AfeFlag, BalancingConstraints, HardwareProtection, PackSample

log = logging.getLogger(__name__)

_CTRL2_HOST_BITS = r.CTRL2_DELAY_DIS | r.CTRL2_CC_EN | r.CTRL2_DSG_ON | r.CTRL2_CHG_ON  # 0xC3 [DS p.32]
_ALL_BITS = 0xFF
_STAMP_EPS_S = 1e-9  # s, float tolerance when comparing a read time with a validity start


class Bq769x0Afe(Bq769x0Boot, Afe):
    """A bq769x0 AFE on an I2C bus.

    Args:
        bus: smbus2.SMBus or anything with a compatible ``i2c_rdwr(*i2c_msg)``.
        cell_count: 3..15 series cells; the channel mapping follows [DS Tables 9-2..9-4].
        address: 7-bit address, 0x08 or 0x18 [DS p.3].
        crc: True for the CRC order codes (...01, ...03, 7693007) [DS p.3].
        shunt_ohm: current sense resistor.
        thermistor_count: 0..groups (TS1..TS3). 0 selects the die temperature (TEMP_SEL = 0).
        thermistor_beta, thermistor_r25: Beta model of the NTCs (default Semitec 103AT: 3435 K, 10 kOhm).
        retries: extra attempts per transaction after a NACK, timeout or CRC error.
        chip: "bq76920"/"bq76930"/"bq76940"; default the smallest that fits (9 or 10 cells: bq76930).
        protection: hardware protections to program at init (default ``HardwareProtection()``).
        initialize: run :meth:`init` now (else call it yourself before reading).
        xready_recovery_s: clear DEVICE_XREADY this long after it was first seen ("after waiting a few
            seconds" [DS p.30]; LibreSolar retries every 3 s), then re-init. None: leave it to clear_faults().
        die_temp_period_s: with thermistors, switch TEMP_SEL to the die sensor this often to refresh
            ``die_temperature`` (thermistor values are held for ~4.5 s meanwhile). None: die temperature stays NaN.
        retry_init: a chip that does not answer at construction (a bq769x0 boots in SHIP mode until its TS1 boot
            pulse [DS p.27]) is not an error: ``status_reason`` says why, and every read tries again.
    """

    def __init__(
        self,
        bus,
        cell_count: int,
        *,
        address: int = 0x08,
        crc: bool = False,
        shunt_ohm: float = 0.001,
        thermistor_count: int = 1,
        thermistor_beta: float = 3435.0,
        thermistor_r25: float = 10_000.0,
        retries: int = 3,
        chip: str | None = None,
        protection: HardwareProtection | None = None,
        initialize: bool = True,
        xready_recovery_s: float | None = 3.0,
        die_temp_period_s: float | None = None,
        retry_init: bool = False,
    ):
        if address not in r.ADDRESSES:
            raise ValueError(f"bq769x0 address must be 0x08 or 0x18 [DS p.3], got {address:#x}")
        self.chip = r.select_chip(cell_count, chip)
        if not 0 <= thermistor_count <= self.chip.groups:
            raise ValueError(f"{self.chip.name} has {self.chip.groups} TS input(s), asked for {thermistor_count}")
        if shunt_ohm <= 0:
            raise ValueError("shunt_ohm must be > 0")
        self.io = Bq769x0Bus(bus, address, crc, retries)
        self.shunt_ohm = float(shunt_ohm)
        self.beta = float(thermistor_beta)
        self.r25 = float(thermistor_r25)
        self.xready_recovery_s = xready_recovery_s
        self.die_temp_period_s = die_temp_period_s
        self._n = cell_count
        self._nts = thermistor_count
        self._channels = r.channel_map(cell_count, self.chip)
        self._groups = r.logical_groups(cell_count, self.chip)
        self._constraints = BalancingConstraints(
            groups=self._groups, max_per_group=r.CELLS_PER_GROUP, allow_adjacent=False
        )
        self._wanted_protection = protection or HardwareProtection()
        self.protection: HardwareProtection | None = None  # effective, after configure_protection
        self.protection_codes: ProtectionCodes | None = None
        self.gain_uv = math.nan
        self.offset_mv = math.nan
        self._initialized = False
        self._owns_bus = False
        self._plan = self._build_plan()
        self._buf = bytearray(0x60)
        self._xready_since: float | None = None
        self._ts = TempSelSweep(thermistor_count, self.beta, self.r25, die_temp_period_s)
        # readings are invalid after a chip reset or an ADC restart until the chip has converted again:
        # (voltages valid from, current valid from) in caller time; "pending" = from the next read's now
        self._cold: str | None = None  # None, "reset" (voltages, CC, temperatures) or "adc" (no CC)
        self._v_from = self._cc_from = -math.inf
        self._init_reason = "not initialised"
        self._protection_pending = False
        if initialize:
            try:
                self.init()
            except AfeError as e:
                if not retry_init:
                    raise
                self._init_reason = self._explain(str(e))

    # ---- construction helpers ----------------------------------------------------------------------------------
    @staticmethod
    def config_kwargs(cfg) -> dict:
        """Constructor arguments from an ``AfeConfig``-like object (i2c_address, crc, shunt_resistance,
        thermistor_count, thermistor_beta, thermistor_r25)."""
        return {
            "address": int(cfg.i2c_address),
            "crc": bool(cfg.crc),
            "shunt_ohm": float(cfg.shunt_resistance),
            "thermistor_count": int(cfg.thermistor_count),
            "thermistor_beta": float(cfg.thermistor_beta),
            "thermistor_r25": float(cfg.thermistor_r25),
            "chip": getattr(cfg, "chip", "") or None,
        }

    @classmethod
    def open(cls, bus, cell_count: int, **kwargs) -> Bq769x0Afe:
        """Open /dev/i2c-N with smbus2 and the driver on it; ``bus`` is N or an ``AfeConfig``-like object
        (then ``i2c_bus`` and the settings in :meth:`config_kwargs`; ``kwargs`` override). PEC stays off: the
        chip's CRC is per byte. A chip that does not answer yet is retried (``retry_init``); the bus clock is
        checked against the 100 kHz limit where the system reports it."""
        kwargs = {"retry_init": True, **kwargs}
        if not isinstance(bus, int):
            kwargs = {**cls.config_kwargs(bus), **kwargs}
            bus = int(bus.i2c_bus)
        smbus = interface.open_i2c(bus)
        try:
            afe = cls(smbus, cell_count, **kwargs)
        except Exception:
            smbus.close()
            raise
        afe._owns_bus = True
        return afe

    @staticmethod
    def detect_crc(bus: I2cBus, address: int = r.ADDRESSES[0]) -> bool:
        """Whether the part at ``address`` uses CRC (see :func:`interface.detect_crc`)."""
        return interface.detect_crc(bus, address)

    # ---- transport (interface.Bq769x0Bus) -----------------------------------------------------------------------
    @property
    def bus(self) -> I2cBus:
        return self.io.bus

    @property
    def address(self) -> int:
        return self.io.address

    @property
    def crc(self) -> bool:
        return self.io.crc

    @property
    def errors(self) -> Bq769x0Errors:
        return self.io.errors

    @property
    def wire(self) -> WireStats:
        return self.io.wire

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
        """0-based VC channel of each logical cell."""
        return self._channels

    def read(self, now: float) -> PackSample:
        try:
            return self._read_sample(now)
        except CommError as e:
            if not self._initialized:
                self._init_reason = self._explain(str(e))
            return PackSample.missing(now, self._n, self._nts, read_errors=self.errors.i2c, crc_errors=self.errors.crc)

    def set_fets(self, charge: bool, discharge: bool) -> None:
        value = r.CTRL2_CC_EN | (r.CTRL2_CHG_ON if charge else 0) | (r.CTRL2_DSG_ON if discharge else 0)
        self._command(lambda: self.io.write_verify(r.SYS_CTRL2, [value], mask=_CTRL2_HOST_BITS), "set_fets")

    def set_balancing(self, mask: int) -> None:
        mask = int(mask)
        if mask < 0 or mask >> self._n:
            raise ValueError(f"balancing mask {mask:#x} has bits beyond cell {self._n}")
        if not self._constraints.permits(mask):
            raise ValueError(
                f"balancing mask {mask:#x} balances adjacent cells within a group (not allowed on bq769x0 [DS p.24])"
            )
        cellbal = cv.cellbal_bytes(mask, self._channels, self.chip.groups)
        self._command(lambda: self.io.write_verify(r.CELLBAL1, cellbal, mask=r.CELLBAL_MASK), "set_balancing")

    def clear_faults(self, flags: AfeFlag) -> None:
        bits = cv.flags_to_stat(AfeFlag(flags))
        if not bits:
            return
        self._command(lambda: self.io.write(r.SYS_STAT, [bits]), "clear_faults")
        if bits & r.STAT_DEVICE_XREADY:
            self._xready_since = None
            self._command(self._reinit, "re-init after XREADY")

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        """Program ``wanted``; on failure the chip would keep its Li-ion defaults, so every read retries until it
        succeeds (``status_reason`` says so meanwhile) and the AfeError reports this attempt."""
        self._wanted_protection = wanted
        try:
            return self._command(lambda: self._configure_protection(wanted), "configure_protection")
        except AfeError:
            self._protection_pending = True
            raise

    def enter_ship_mode(self) -> None:
        """SHIP mode: SHUT bits 00 -> 01 -> 10 in SYS_CTRL1, other bits kept [DS p.27, p.32]. Opens both FETs;
        the chip then stops answering until it is booted again (TS1 pulse)."""

        def seq() -> None:
            base = self._ctrl1()
            for shut in (0x00, r.CTRL1_SHUT_B, r.CTRL1_SHUT_A):
                self.io.write(r.SYS_CTRL1, [base | shut])

        self._command(seq, "enter_ship_mode")

    def close(self) -> None:
        if self._owns_bus:
            self.bus.close()

    # ---- reading -----------------------------------------------------------------------------------------------
    def _build_plan(self) -> list[tuple[int, int]]:
        self.needed_registers = r.sample_registers(self._channels, self.chip.groups, self._nts)
        return interface.block_read_plan(self.needed_registers, self.crc)

    @property
    def read_plan(self) -> list[tuple[int, int]]:
        """(first register, count) of each block read of one read cycle."""
        return list(self._plan)

    def _read_sample(self, now: float) -> PackSample:
        if not self._initialized:
            self._init()
        buf = self._buf
        for start, n in self._plan:
            buf[start : start + n] = bytes(self.io.read(start, n))
        stat, ctrl1, ctrl2 = buf[r.SYS_STAT], buf[r.SYS_CTRL1], buf[r.SYS_CTRL2]
        if not ctrl2 & r.CTRL2_CC_EN:
            # CC_EN is never cleared by the driver: the chip was reset (POR or SHIP -> NORMAL). Configure it
            # again; init marks the readings invalid until the chip has converted (this sample included).
            log.warning("bq769x0 at %#04x lost its configuration (CC_EN=0): re-initialising", self.address)
            self._cold = "reset"
            self._try(self._reinit)
        elif not ctrl1 & r.CTRL1_ADC_EN:
            # ADC_EN is never cleared by the driver either: a glitch or another master stopped the conversions
            # (and with them OV/UV protection [DS p.17]); the registers hold frozen values. Restart it.
            log.warning("bq769x0 at %#04x: ADC_EN found cleared, voltages frozen: setting it again", self.address)
            self.errors.adc_restored += 1
            self._cold = self._cold or "adc"
            self._ts.restart_settle()
            self._try(lambda: self.io.write(r.SYS_CTRL1, [self._ctrl1()]))
        if self._cold is not None:
            self._v_from = now + r.ADC_PERIOD_S
            if self._cold == "reset":
                self._cc_from = now + r.ADC_PERIOD_S
            self._cold = None
        if self._protection_pending and self._try(lambda: self._configure_protection(self._wanted_protection)):
            log.warning("bq769x0 at %#04x: hardware protection programmed after an earlier failure", self.address)
        codes = [cv.adc_code(buf, r.vc_register(ch)) for ch in self._channels]
        cells = cv.cell_volts(codes, self.gain_uv, self.offset_mv)
        pack_v = cv.pack_volts((buf[r.BAT_HI] << 8) | buf[r.BAT_HI + 1], self._n, self.gain_uv, self.offset_mv)
        current = cv.cc_amps(buf[r.CC_HI], buf[r.CC_LO], self.shunt_ohm)
        temps = self._temperatures(now, buf)
        balancing = cv.logical_mask(buf[r.CELLBAL1 : r.CELLBAL1 + self.chip.groups], self._channels)

        if stat & r.STAT_CC_READY:
            # keep ALERT low so an external override stays visible (it is the OR of SYS_STAT) [DS p.25]
            self._try(lambda: self.io.write(r.SYS_STAT, [r.STAT_CC_READY]))
        self._xready_recovery(now, stat)
        if now < self._v_from - _STAMP_EPS_S:
            cells, pack_v = np.full(self._n, math.nan), math.nan
        if now < self._cc_from - _STAMP_EPS_S:
            current = math.nan
        return PackSample(
            stamp=now,
            cell_voltages=cells,
            pack_voltage=pack_v,
            current=current,
            temperatures=temps,
            die_temperature=self._ts.die_c,
            afe_flags=cv.stat_to_flags(stat),
            charge_fet=bool(ctrl2 & r.CTRL2_CHG_ON),
            discharge_fet=bool(ctrl2 & r.CTRL2_DSG_ON),
            balancing_mask=balancing,
            comm_ok=True,
            read_errors=self.errors.i2c,
            crc_errors=self.errors.crc,
            load_present=bool(ctrl1 & r.CTRL1_LOAD_PRESENT),
        )

    def _ts_codes(self, buf: bytearray, count: int) -> list[int]:
        return [cv.adc_code(buf, r.ts_register(k)) for k in range(count)]

    def _temperatures(self, now: float, buf: bytearray) -> np.ndarray:
        def write_ctrl1(temp_sel: bool) -> bool:
            return self._try(lambda: self.io.write(r.SYS_CTRL1, [r.ctrl1(temp_sel)]))

        return self._ts.update(now, lambda count: self._ts_codes(buf, count), write_ctrl1)

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        current = self.io.read(r.PROTECT1, 5)
        codes = encode_protection(
            wanted, self.shunt_ohm, self.gain_uv, self.offset_mv, protect3_debug=current[2] & 0x0F
        )
        if codes.clamped:
            log.warning("bq769x0 protection request outside the chip's range, clamped: %s", ", ".join(codes.clamped))
        self.io.write_verify(r.PROTECT1, codes.block, mask=_ALL_BITS)
        self._protection_pending = False
        self.protection_codes = codes
        self.protection = codes.effective
        return codes.effective

    def read_protection(self) -> HardwareProtection:
        """The protections as programmed in the chip now (nominal SI values)."""
        p1, p2, p3, ov, uv = self._command(lambda: self.io.read(r.PROTECT1, 5), "read_protection")
        return decode_protection(p1, p2, p3, ov, uv, self.shunt_ohm, self.gain_uv, self.offset_mv)

    def _command(self, fn, what: str):
        try:
            return fn()
        except CommError as e:
            raise AfeError(f"bq769x0 {what} failed: {e}") from None

    def _try(self, fn) -> bool:
        """Best effort inside read(): a failure is counted but does not spoil the sample."""
        try:
            fn()
            return True
        except CommError:
            return False
