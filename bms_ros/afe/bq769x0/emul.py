"""Register-level bq769x0 emulator behind an smbus2-compatible ``i2c_rdwr`` (the bus side is in :mod:`emul_bus`).

It answers the driver's raw I2C messages like the chip: register map with reset defaults, auto-increment block
reads and writes, per-byte CRC generation and checking (a write byte with a bad CRC is NACKed and not applied,
[DS p.26]), write-1-to-clear SYS_STAT, ADC and coulomb-counter conversions every 250 ms and temperatures every
2 s on a clock the caller controls (``advance``/``advance_to``), autonomous protections with the programmed
thresholds and delays (OV clears CHG_ON; UV, OCD, SCD clear DSG_ON, [DS Table 8-1]), balancing bleed (cleared by
XREADY), LOAD_PRESENT and SHIP mode. Physics comes from a :class:`PackModel`; the protection model is in
:mod:`emul_protection`.

Modelling choices: OV/UV are evaluated on each 250 ms conversion and trip once the condition has held for the
programmed delay (DELAY_DIS: at the next conversion); OCD/SCD are continuous-time comparators whose delay is
timed exactly (the simulation steps to the trip instant). Delays and thresholds are nominal (the chip's
tolerances are +-20 % / +-10 %). All TS inputs see the pack's lumped temperature.
"""

from __future__ import annotations

import math

import numpy as np

from bms_ros.afe.bq769x0 import conversions as cv
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.emul_bus import Bq769x0I2cTarget, BusStats
from bms_ros.afe.bq769x0.emul_protection import Bq769x0ProtectionModel
from bms_ros.afe.sim.faults import FaultInjector
from bms_ros.afe.sim.pack_model import PackModel

_EPS = 1e-12  # s, float tolerance of the scheduler's clock comparisons
_SHIP_STEP_S = 1.0  # s, pack step while the chip sleeps (no chip events to land on)
_T25_K = 298.15  # K, the NTC's Beta-model reference temperature (25 degC)
_DIE_REF_C = 25.0  # degC at which the die sensor reads DIE_V25 [DS p.21]
_OFFSET_MV_MIN, _OFFSET_MV_MAX = -128, 127  # ADCOFFSET is a signed byte, mV [DS p.37]
_GAIN1_RSVD, _GAIN2_RSVD = 0x01, 0x02  # reserved bits set in factory parts (E2E #838739)
_PROTECT1_RSVD = 0x20  # PROTECT1 bit 5, reserved [DS p.32]

# writable bits per register (others read-only or reserved) [DS p.29-35]
_WRITE_MASK = {
    r.CELLBAL1: r.CELLBAL_MASK,
    r.CELLBAL2: r.CELLBAL_MASK,
    r.CELLBAL3: r.CELLBAL_MASK,
    r.SYS_CTRL1: r.CTRL1_ADC_EN | r.CTRL1_TEMP_SEL | r.CTRL1_SHUT_A | r.CTRL1_SHUT_B,
    r.SYS_CTRL2: r.CTRL2_DELAY_DIS | r.CTRL2_CC_EN | r.CTRL2_CC_ONESHOT | r.CTRL2_DSG_ON | r.CTRL2_CHG_ON,
    r.PROTECT1: 0x9F,
    r.PROTECT2: 0x7F,
    r.PROTECT3: 0xFF,
    r.OV_TRIP: 0xFF,
    r.UV_TRIP: 0xFF,
    r.CC_CFG: r.CC_CFG_MASK,
}


class Bq769x0Sim(Bq769x0ProtectionModel, Bq769x0I2cTarget):
    """A simulated BQ76920/30/40 on its own I2C bus.

    Args:
        pack: the cells behind the chip (3..15 cells); the chip drives its FETs and bleed mask.
        address, crc: the order code's address (0x08/0x18) and CRC option [DS p.3].
        chip: "bq76920"/"bq76930"/"bq76940" (default: the smallest that fits the pack).
        shunt_ohm: the real sense resistor (the driver is told its own, possibly different, value).
        adc_gain_uv, adc_offset_mv: factory trims in ADCGAIN1/ADCGAIN2/ADCOFFSET (365..396 uV, -128..127 mV).
            The default 377 uV/LSB gives ADCGAIN1 = 0x05, ADCGAIN2 = 0x82 (the E2E #838739 example, reserved
            bits included).
        thermistor_beta, thermistor_r25: the fitted NTCs.
        adc_noise_lsb, cc_offset_counts: measurement noise (1-sigma, seeded) and a CC offset.
        seed: for noise and random bus faults.
        start_time: initial chip clock (s).
        boot: start in NORMAL mode (True) or in SHIP mode as after power-on (False; call :meth:`boot`).
        warm: with ``boot``, start as a chip a previous host session left with the thermistors selected
            (TEMP_SEL = 1, TS registers converted), so a new driver need not wait 2 s for temperatures.
    """

    faults: FaultInjector

    def __init__(
        self,
        pack: PackModel,
        *,
        address: int = 0x08,
        crc: bool = False,
        chip: str | None = None,
        shunt_ohm: float = 0.001,
        adc_gain_uv: int = 377,
        adc_offset_mv: int = 4,
        thermistor_beta: float = 3435.0,
        thermistor_r25: float = 10_000.0,
        adc_noise_lsb: float = 0.0,
        cc_offset_counts: int = 0,
        seed: int = 0,
        start_time: float = 0.0,
        boot: bool = True,
        warm: bool = False,
        faults: FaultInjector | None = None,
    ):
        if address not in r.ADDRESSES:
            raise ValueError(f"bq769x0 address must be 0x08 or 0x18, got {address:#x}")
        self.pack = pack
        self.chip = r.select_chip(pack.cell_count, chip)
        self.address = address
        self.crc = bool(crc)
        self.shunt_ohm = float(shunt_ohm)
        self.gain_uv = int(adc_gain_uv)
        self.offset_mv = int(adc_offset_mv)
        if not _OFFSET_MV_MIN <= self.offset_mv <= _OFFSET_MV_MAX:
            raise ValueError("ADC offset must be -128..127 mV")
        g1, g2 = r.encode_gain(self.gain_uv)
        self._trim = {r.ADCGAIN1: g1 | _GAIN1_RSVD, r.ADCOFFSET: self.offset_mv & 0xFF, r.ADCGAIN2: g2 | _GAIN2_RSVD}
        self.beta = float(thermistor_beta)
        self.r25 = float(thermistor_r25)
        self.adc_noise_lsb = float(adc_noise_lsb)
        self.cc_offset_counts = int(cc_offset_counts)
        self._rng = np.random.default_rng(seed)
        self.faults = faults or FaultInjector(seed)
        self.faults.attach(self)
        self.channels = r.channel_map(pack.cell_count, self.chip)
        self._ch_idx = np.array(self.channels)
        self.bus = BusStats()
        self.t = float(start_time)
        self.events: list[tuple[float, str]] = []  # (time, what): trips, XREADY, SHIP, boot
        self.violations: list[tuple[float, str]] = []  # host misuse: adjacent balancing, reserved bits
        self.phys_voltages = np.zeros(self.chip.channels)  # what each VC input saw at the last conversion
        self.codes = np.zeros(self.chip.channels, dtype=np.int64)
        self.regs = bytearray(256)
        self.mode = "ship"
        self._pointer = 0
        if boot:
            self.boot()
            if warm:  # a previous host session: CC on, thermistors, converted
                self.regs[r.SYS_CTRL1] |= r.CTRL1_TEMP_SEL
                self.regs[r.SYS_CTRL2] |= r.CTRL2_CC_EN
                self._convert_cells()
                self._convert_temperatures()

    # ---- power states ------------------------------------------------------------------------------------------
    def boot(self) -> None:
        """TS1 boot pulse: SHIP -> NORMAL with the reset defaults, balancing cleared [DS p.22, p.27, p.39].
        Nothing is converted yet: the ADC registers read 0 until the first 250 ms conversion, the TS registers
        until the first 2 s temperature conversion [DS p.18, p.21]."""
        self.regs[:] = bytes(256)
        self.regs[r.OV_TRIP] = r.OV_TRIP_DEFAULT
        self.regs[r.UV_TRIP] = r.UV_TRIP_DEFAULT
        self.regs[r.SYS_CTRL1] = r.CTRL1_ADC_EN  # set automatically in NORMAL mode [DS p.17]
        for reg, val in self._trim.items():
            self.regs[reg] = val
        self.mode = "normal"
        self._shut_stage = 0
        self._cc_q = 0.0
        self._ov_since: float | None = None
        self._uv_since: float | None = None
        self._ocd_since: float | None = None
        self._scd_since: float | None = None
        self._next_adc = self.t + r.ADC_PERIOD_S
        self._next_temp = self.t + r.TEMP_PERIOD_S
        self.codes = np.zeros(self.chip.channels, dtype=np.int64)
        self.phys_voltages = np.zeros(self.chip.channels)
        self._sync_pack()
        self.events.append((self.t, "boot"))

    def _enter_ship(self) -> None:
        self.regs[r.SYS_CTRL2] &= ~(r.CTRL2_CHG_ON | r.CTRL2_DSG_ON) & 0xFF  # [DS Table 8-1]
        self.mode = "ship"
        self._sync_pack()
        self.events.append((self.t, "ship"))

    # ---- clock -------------------------------------------------------------------------------------------------
    def set_time(self, t: float) -> None:
        """Move the clock without simulating (anchor it to a caller's clock); the scheduler phase is kept."""
        shift = float(t) - self.t
        self.t = float(t)
        if self.mode == "normal":
            self._next_adc += shift
            self._next_temp += shift

    def advance(self, dt: float) -> None:
        self.advance_to(self.t + dt)

    def advance_to(self, t: float) -> None:
        """Run chip and pack up to time ``t`` (s)."""
        while self.t < t - _EPS:
            if self.mode != "normal":
                dt = min(t - self.t, _SHIP_STEP_S)
                self.pack.step(dt)
                self.t += dt
                continue
            self._sync_pack()
            self._current_comparators(self.pack.demanded_current())
            nxt = min(t, self._next_adc)
            for since, delay in ((self._scd_since, self._scd_delay()), (self._ocd_since, self._ocd_delay())):
                if since is not None:
                    nxt = min(nxt, max(since + delay, self.t))
            dt = nxt - self.t
            if dt > 0:
                self.pack.step(dt)
                if self.regs[r.SYS_CTRL2] & (r.CTRL2_CC_EN | r.CTRL2_CC_ONESHOT):
                    self._cc_q += self.pack.current_a * dt
            self.t = nxt
            self._fire_current_trips()
            if self.t >= self._next_adc - _EPS:
                self._next_adc += r.ADC_PERIOD_S
                self._adc_cycle()

    # ---- conversions -------------------------------------------------------------------------------------------
    def _adc_cycle(self) -> None:
        ctrl2 = self.regs[r.SYS_CTRL2]
        # coulomb counter: 250 ms integration, CC_READY each window (CC_EN) or once (CC_ONESHOT) [DS p.20, p.32]
        if ctrl2 & r.CTRL2_CC_EN or (ctrl2 & r.CTRL2_CC_ONESHOT and not self.regs[r.SYS_STAT] & r.STAT_CC_READY):
            v_sense = self._cc_q / r.ADC_PERIOD_S * self.shunt_ohm
            code = round(float(v_sense) / r.CC_LSB_V) + self.cc_offset_counts
            code = max(-0x8000, min(0x7FFF, code)) & 0xFFFF
            self.regs[r.CC_HI], self.regs[r.CC_LO] = code >> 8, code & 0xFF
            self.regs[r.SYS_STAT] |= r.STAT_CC_READY
            if not ctrl2 & r.CTRL2_CC_EN:
                self.regs[r.SYS_CTRL2] &= ~r.CTRL2_CC_ONESHOT & 0xFF
        self._cc_q = 0.0
        if not self.regs[r.SYS_CTRL1] & r.CTRL1_ADC_EN:
            return  # no voltage/temperature conversions, hence no OV/UV protection
        codes = self._convert_cells()
        self._voltage_protections(codes)
        if self.t >= self._next_temp - _EPS:
            self._next_temp += r.TEMP_PERIOD_S
            self._convert_temperatures()

    def _convert_cells(self) -> np.ndarray:
        phys = np.zeros(self.chip.channels)  # unused inputs are shorted: 0 V
        phys[self._ch_idx] = self.faults.apply_cells(self.pack.cell_voltages())
        self.phys_voltages = phys
        lsb = (phys * 1e6 - self.offset_mv * 1e3) / self.gain_uv
        if self.adc_noise_lsb > 0:
            lsb = lsb + self.adc_noise_lsb * self._rng.standard_normal(lsb.shape)
        codes = np.clip(np.rint(lsb), 0, r.ADC_MASK).astype(np.int64)
        self.codes = codes
        self.regs[r.VC1_HI : r.VC1_HI + 2 * codes.size] = codes.astype(">u2").tobytes()  # big-endian HI, LO
        bat = min(int(np.rint(codes.sum() / 4)), 0xFFFF)  # sum of all inputs / 4 [DS p.21]
        self.regs[r.BAT_HI], self.regs[r.BAT_HI + 1] = bat >> 8, bat & 0xFF
        return codes

    def _convert_temperatures(self) -> None:
        temp_c = float(self.pack.temperature_c)
        for k in range(self.chip.groups):
            if self.regs[r.SYS_CTRL1] & r.CTRL1_TEMP_SEL:
                res = self.r25 * math.exp(self.beta * (1.0 / (temp_c + cv.T0_K) - 1.0 / _T25_K))
                res = self.faults.thermistor_resistance(k, res)
                v = r.TS_BIAS_V if math.isinf(res) else r.TS_BIAS_V * res / (r.TS_PULLUP_OHM + res)
            else:
                v = r.DIE_V25 + r.DIE_DV_PER_C * (temp_c - _DIE_REF_C)
            code = max(0, min(r.ADC_MASK, round(float(v) / r.TS_LSB_V)))
            a = r.ts_register(k)
            self.regs[a], self.regs[a + 1] = code >> 8, code & 0xFF

    # ---- pack coupling -----------------------------------------------------------------------------------------
    def _sync_pack(self) -> None:
        ctrl2 = self.regs[r.SYS_CTRL2]
        normal = self.mode == "normal"
        self.pack.charge_fet = normal and bool(ctrl2 & r.CTRL2_CHG_ON)
        self.pack.discharge_fet = normal and bool(ctrl2 & r.CTRL2_DSG_ON)
        cellbal = self.regs[r.CELLBAL1 : r.CELLBAL1 + self.chip.groups] if normal else b""
        self.pack.bleed_mask = cv.logical_mask(cellbal, self.channels)
        self.pack.bleed_duty = r.BALANCE_DUTY

    def _load_present(self) -> bool:
        """LOAD_PRESENT: CHG pin pulled up by a load while CHG_ON = 0 [DS p.24, p.31]."""
        if self.regs[r.SYS_CTRL2] & r.CTRL2_CHG_ON:
            return False
        return self.pack.load_a > 0 or self.pack.external_short

    # ---- registers -------------------------------------------------------------------------------------------
    def _read_reg(self, reg: int) -> int:
        if reg == r.SYS_CTRL1:
            return (self.regs[reg] & 0x7F) | (r.CTRL1_LOAD_PRESENT if self._load_present() else 0)
        if reg in (r.CELLBAL2, r.CELLBAL3) and reg - r.CELLBAL1 >= self.chip.groups:
            return 0
        return self.regs[reg]

    def _write_reg(self, reg: int, value: int) -> None:
        if reg == r.SYS_STAT:
            self.regs[reg] &= ~(value & r.STAT_W1C) & 0xFF  # write 1 to clear, 0 keeps [DS p.30]
            return
        mask = _WRITE_MASK.get(reg)
        if mask is None or (reg in (r.CELLBAL2, r.CELLBAL3) and reg - r.CELLBAL1 >= self.chip.groups):
            return  # read-only or absent on this chip
        if reg == r.SYS_CTRL1 and value & r.CTRL1_RSVD2:
            self.violations.append((self.t, "SYS_CTRL1 bit 2 (reserved) set"))
        if reg == r.PROTECT1 and value & _PROTECT1_RSVD:
            self.violations.append((self.t, "PROTECT1 bit 5 (reserved) set"))
        if reg in (r.CELLBAL1, r.CELLBAL2, r.CELLBAL3) and value & (value >> 1) & 0x1F:
            self.violations.append((self.t, f"adjacent cells balanced: CELLBAL{reg} = {value:#04x}"))
        old = self.regs[reg]
        self.regs[reg] = (old & ~mask & 0xFF) | (value & mask)
        if reg == r.SYS_CTRL1:
            self._shut_sequence(value & (r.CTRL1_SHUT_A | r.CTRL1_SHUT_B))
        if reg == r.SYS_CTRL2 and value & r.CTRL2_CC_ONESHOT and value & r.CTRL2_CC_EN:
            self.regs[reg] &= ~r.CTRL2_CC_ONESHOT & 0xFF  # ignored while CC_EN = 1 [DS p.32]
        if reg in (r.SYS_CTRL2, r.CELLBAL1, r.CELLBAL2, r.CELLBAL3):
            self._sync_pack()

    def _shut_sequence(self, shut: int) -> None:
        """SHIP entry needs SHUT_A,SHUT_B = 00 -> 01 -> 10; anything else restarts the sequence [DS p.27]."""
        if shut == 0x00:
            self._shut_stage = 1
        elif shut == r.CTRL1_SHUT_B and self._shut_stage == 1:
            self._shut_stage = 2
        elif shut == r.CTRL1_SHUT_A and self._shut_stage == 2:
            self._shut_stage = 0
            self._enter_ship()
        else:
            self._shut_stage = 0
