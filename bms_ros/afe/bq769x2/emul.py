"""Register-level bq769x2 emulator behind an smbus2-compatible ``i2c_rdwr`` (the LibreSolar ``_emul`` beside the
driver, with a pack model behind it).

Bus: direct commands 0x00..0x7F, auto-increment, the bq769x2 CRC (a write byte with a bad CRC is NACKed and not
applied), subcommands through 0x3E/0x3F with a busy period (0x3E/0x3F read 0xFF for ``busy_polls`` reads), the
32-byte transfer buffer, checksum and length; data memory writable only in CONFIG_UPDATE mode.
Chip: a measurement loop every 63 ms (cells, CC2), a full set (stack, temperatures) every third loop [DS]; until
then the direct commands read 0. COV/CUV/OTC/OTD/UTC/UTD evaluated per loop with their delays; OCC/OCD1/OCD2/SCD
as comparators on the shunt voltage whose delays are timed exactly; autonomous recovery (COV/CUV with hysteresis,
OC after Recovery Time, SCD after SCD Recovery Time, temperatures at their recovery thresholds). FETs: on when
FET_EN, no host block and no protection blocks them. Modelling choices: nominal thresholds and delays, one lumped
temperature for all TS pins. The bus side (framing, CRC, subcommands, data memory access) is in :mod:`emul_bus`.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.bq769x2.emul_bus import Bq769x2I2cTarget
from bms_ros.afe.sim.faults import FaultInjector
from bms_ros.afe.sim.pack_model import PackModel
from bms_ros.afe.wire import WireStats

_EPS = 1e-12
_CHG_BLOCK_A, _DSG_BLOCK_A = r.CHG_FET_PROT_A_DEFAULT, r.DSG_FET_PROT_A_ASSUMED  # SCD opens both
_CHG_BLOCK_B, _DSG_BLOCK_B = r.SB_OTC | r.SB_UTC, r.SB_OTD | r.SB_UTD


class Bq769x2Emul(Bq769x2I2cTarget):
    def __init__(
        self,
        pack: PackModel,
        *,
        address: int = r.DEFAULT_ADDRESS,
        crc: bool = False,
        device_number: int = 0x7695,
        shunt_ohm: float = 0.001,
        channels: tuple[int, ...] | None = None,
        busy_polls: int = 1,
        faults: FaultInjector | None = None,
        seed: int = 0,
        start_time: float = 0.0,
        warm: bool = False,
    ):
        self.pack = pack
        self.address, self.crc = address, bool(crc)
        self.device_number = device_number
        self.inputs = r.DEVICE_NUMBERS[device_number][1]
        self.shunt_ohm = float(shunt_ohm)
        self.channels = channels or r.channel_map(pack.cell_count, self.inputs)
        self.busy_polls = int(busy_polls)
        self.faults = faults or FaultInjector(seed)
        self.faults.attach(self)
        self.bus = WireStats()
        self._pointer = 0  # register of the last write (a read without one)
        self.t = float(start_time)
        self.events: list[tuple[float, str]] = []
        self.violations: list[tuple[float, str]] = []
        self.boot()
        if warm:  # a chip a previous host session configured and ran
            self.advance(r.FULL_SET_LOOPS * r.LOOP_S)
            self.por = False

    # ---- power states ------------------------------------------------------------------------------------------
    def boot(self) -> None:
        """Power-on reset: data memory defaults, FET_EN = 0 (FET test mode), POR set, no conversions yet."""
        self.dm = bytearray(r.DM_LAST - r.DM_FIRST + 1)
        self._dm_set(r.DA_CONFIG, b"\x05")  # 1 mA, 1 mV... user units until the host sets them
        self._dm_set(r.VCELL_MODE, struct.pack("<H", 0))  # 0: all 16 inputs [TRM VCell Mode]
        self._dm_set(r.ENABLED_PROT_A, bytes([r.SA_COV | r.SA_SCD]))  # COV on by default [LS2 comment]
        self._dm_set(r.CBAL_MAX_CELLS, b"\x01")  # [LS2 "only 1 by default"]
        for addr, fmt, value in r.DM_DEFAULTS:
            self._dm_set(addr, struct.pack(fmt, value))
        self.regs = bytearray(0x80)
        self.mode, self.cfgupdate, self.por, self.fet_en = "normal", False, True, False
        self.host_off = 0  # FET_CONTROL bits
        self.cb_active = 0
        self.safety = [0, 0, 0]
        self._since: dict[str, float] = {}  # protection -> condition start
        self._clear_since: dict[str, float] = {}  # protection -> recovery condition start
        self._sub, self._sub_polls, self._buf = 0, 0, bytearray(r.TRANSFER_BUFFER_SIZE)
        self._csum_len = (0, 0)
        self._loop, self._next_loop, self._cc_q, self._shutdown_cmds = 0, self.t + r.LOOP_S, 0.0, 0
        self.phys_voltages = np.zeros(self.inputs)
        self._cmp_since: dict[str, float] = {}  # current comparator -> when it went over
        self._sync_pack()
        self.events.append((self.t, "boot"))

    def _dm_set(self, addr: int, data: bytes) -> None:
        self.dm[addr - r.DM_FIRST : addr - r.DM_FIRST + len(data)] = data

    def dm_u(self, addr: int, fmt: str = "<B") -> int:
        return int(struct.unpack_from(fmt, self.dm, addr - r.DM_FIRST)[0])

    # ---- clock -------------------------------------------------------------------------------------------------
    def set_time(self, t: float) -> None:
        shift = float(t) - self.t
        self.t, self._next_loop = float(t), self._next_loop + shift

    def advance(self, dt: float) -> None:
        self.advance_to(self.t + dt)

    def advance_to(self, t: float) -> None:
        while self.t < t - _EPS:
            if self.mode != "normal":
                dt = min(t - self.t, 1.0)
                self.pack.step(dt)
                self.t += dt
                continue
            self._sync_pack()
            comparators = self._current_comparators(self.pack.demanded_current())
            nxt = min(t, self._next_loop)
            for name, _, delay in comparators:
                nxt = min(nxt, max(self._cmp_since[name] + delay, self.t))
            dt = nxt - self.t
            if dt > 0:
                self.pack.step(dt)
                self._cc_q += self.pack.current_a * dt
            self.t = nxt
            for name, bit, delay in comparators:
                if name in self._cmp_since and self.t >= self._cmp_since[name] + delay - 1e-9:
                    self._trip(name, 0, bit)
                    self._cmp_since.clear()  # DSG or CHG is off now: the comparators restart
            if self.t >= self._next_loop - _EPS:
                self._next_loop += r.LOOP_S
                self._measurement_loop()

    # ---- measurements ------------------------------------------------------------------------------------------
    def _put(self, cmd: int, value: int) -> None:
        struct.pack_into("<h", self.regs, cmd, max(-0x8000, min(0x7FFF, int(value))))

    def _measurement_loop(self) -> None:
        self._loop += 1
        da = self.dm_u(r.DA_CONFIG)
        amps = self._cc_q / r.LOOP_S
        self._cc_q = 0.0
        cells = self.faults.apply_cells(self.pack.cell_voltages())
        phys = np.zeros(self.inputs)
        phys[list(self.channels)] = cells
        self.phys_voltages = phys  # what each input saw at the last loop
        for ch in range(self.inputs):
            self._put(r.cell_register(ch), round(phys[ch] * 1e3))
        self._put(r.CC2_CURRENT, round(amps / r.user_amps(da)))
        if self._loop % r.FULL_SET_LOOPS == 0:  # stack, PACK, LD, temperatures: once per full set [DS]
            self._put(r.STACK_VOLTAGE, round(phys.sum() / r.user_volts(da)))
            self._put(r.PACK_VOLTAGE, round(self.pack.pack_voltage() / r.user_volts(da)))
            # LD: the load side of the high-side DSG FET; with DSG open a load pulls it towards 0 V (modelling
            # choice, see registers.LOAD_PRESENT_LD_FRACTION), with no load it follows the stack
            loaded = not self.fet_status() & r.FS_DSG and (self.pack.load_a > 0 or self.pack.external_short)
            self._put(r.LD_VOLTAGE, 0 if loaded else round(phys.sum() / r.user_volts(da)))
            temp_k = self.pack.temperature_c + r.T0_K
            self._put(r.INT_TEMPERATURE, round(temp_k * 10))
            for k, cmd in enumerate(r.TS_TEMPERATURES):
                res = self.faults.thermistor_resistance(k, 1.0)
                self._put(cmd, 0 if res in (0.0, math.inf) or self.dm_u(r.TS_CONFIG[k]) == 0 else round(temp_k * 10))
        self._protections(cells, amps)

    # ---- protections -------------------------------------------------------------------------------------------
    def _current_comparators(self, current_a: float) -> list[tuple[str, int, float]]:
        """OCC, OCD1, OCD2 and SCD as comparators on the shunt voltage that start a delay timer (the chip checks
        them every 3.3 ms / continuously, the units of their delays [LS2R]); returns the running ones."""
        en = self.dm_u(r.ENABLED_PROT_A)
        oc_a = r.OC_LSB_V / self.shunt_ohm
        rules = (
            ("occ", r.SA_OCC, current_a, self.dm_u(r.OCC_THRESHOLD) * oc_a, self.dm_u(r.OCC_DELAY)),
            ("ocd1", r.SA_OCD1, -current_a, self.dm_u(r.OCD1_THRESHOLD) * oc_a, self.dm_u(r.OCD1_DELAY)),
            ("ocd2", r.SA_OCD2, -current_a, self.dm_u(r.OCD2_THRESHOLD) * oc_a, self.dm_u(r.OCD2_DELAY)),
        )
        running = []
        for name, bit, amps, thr, code in rules:
            self._compare(name, bool(en & bit) and not self.safety[0] & bit and amps >= thr)
            if name in self._cmp_since:
                running.append((name, bit, r.OC_DELAY_BASE_S + code * r.VOLT_DELAY_LSB_S))
        scd_thr = r.SCD_THRESHOLDS_V[self.dm_u(r.SCD_THRESHOLD) & 0x0F] / self.shunt_ohm
        self._compare("scd", bool(en & r.SA_SCD) and not self.safety[0] & r.SA_SCD and -current_a >= scd_thr)
        if "scd" in self._cmp_since:
            running.append(("scd", r.SA_SCD, max(0, self.dm_u(r.SCD_DELAY) - 1) * r.SCD_DELAY_LSB_S))
        return running

    def _compare(self, name: str, over: bool) -> None:
        if over:
            self._cmp_since.setdefault(name, self.t)
        else:
            self._cmp_since.pop(name, None)

    def cov_threshold_v(self) -> float:
        return self.dm_u(r.COV_THRESHOLD) * r.CELL_PROT_LSB_V

    def _trip(self, name: str, byte: int, bit: int) -> None:
        self.safety[byte] |= bit
        self._clear_since.pop(name, None)
        self._sync_pack()
        self.events.append((self.t, name))

    def _recover(self, name: str, byte: int, bit: int) -> None:
        self.safety[byte] &= ~bit & 0xFF
        self._sync_pack()
        self.events.append((self.t, f"{name}_recovered"))

    def _protections(self, cells: np.ndarray, amps: float) -> None:
        en_a, en_b = self.dm_u(r.ENABLED_PROT_A), self.dm_u(r.ENABLED_PROT_B)
        lsb, rec_t = r.CELL_PROT_LSB_V, self.dm_u(r.PROT_RECOVERY_TIME)
        vmax, vmin = (float(cells.max()), float(cells.min())) if cells.size else (0.0, 0.0)
        cov, cuv = self.cov_threshold_v(), self.dm_u(r.CUV_THRESHOLD) * lsb
        vdelay = r.VOLT_DELAY_LSB_S

        occ_a = self.dm_u(r.OCC_THRESHOLD) * r.OC_LSB_V / self.shunt_ohm
        temp = self.pack.temperature_c
        i1 = "<b"
        # name, byte, bit, enabled, trip condition, delay, recovery condition, recovery wait
        rules = [
            (
                "cov",
                0,
                r.SA_COV,
                vmax >= cov,
                self.dm_u(r.COV_DELAY, "<H") * vdelay,
                vmax < cov - self.dm_u(r.COV_RECOV_HYST) * lsb,
                0.0,
            ),
            (
                "cuv",
                0,
                r.SA_CUV,
                0.5 < vmin <= cuv,
                self.dm_u(r.CUV_DELAY, "<H") * vdelay,
                vmin > cuv + self.dm_u(r.CUV_RECOV_HYST) * lsb,
                0.0,
            ),
            ("occ", 0, r.SA_OCC, False, 0.0, amps < occ_a, rec_t),  # trips: _current_comparators
            ("ocd1", 0, r.SA_OCD1, False, 0.0, -amps < 0.1, rec_t),
            ("ocd2", 0, r.SA_OCD2, False, 0.0, -amps < 0.1, rec_t),
            ("scd", 0, r.SA_SCD, False, 0.0, True, self.dm_u(r.SCD_RECOV_TIME)),
            (
                "otc",
                1,
                r.SB_OTC,
                temp >= self.dm_u(r.OTC_THRESHOLD, i1),
                self.dm_u(r.OTC_DELAY),
                temp <= self.dm_u(r.OTC_RECOVERY, i1),
                0.0,
            ),
            (
                "otd",
                1,
                r.SB_OTD,
                temp >= self.dm_u(r.OTD_THRESHOLD, i1),
                self.dm_u(r.OTD_DELAY),
                temp <= self.dm_u(r.OTD_RECOVERY, i1),
                0.0,
            ),
            (
                "utc",
                1,
                r.SB_UTC,
                temp <= self.dm_u(r.UTC_THRESHOLD, i1),
                self.dm_u(r.UTC_DELAY),
                temp >= self.dm_u(r.UTC_RECOVERY, i1),
                0.0,
            ),
            (
                "utd",
                1,
                r.SB_UTD,
                temp <= self.dm_u(r.UTD_THRESHOLD, i1),
                self.dm_u(r.UTD_DELAY),
                temp >= self.dm_u(r.UTD_RECOVERY, i1),
                0.0,
            ),
        ]
        for name, byte, bit, trip, delay, clear, wait in rules:
            enabled = (en_a if byte == 0 else en_b) & bit
            if self.safety[byte] & bit:
                if clear:
                    start = self._clear_since.setdefault(name, self.t)
                    if self.t - start >= wait - 1e-9:
                        self._clear_since.pop(name)
                        self._recover(name, byte, bit)
                else:
                    self._clear_since.pop(name, None)
                continue
            if not (enabled and trip):
                self._since.pop(name, None)
                continue
            start = self._since.setdefault(name, self.t)
            if self.t - start >= delay - 1e-9:
                self._since.pop(name)
                self._trip(name, byte, bit)

    # ---- FETs and balancing ------------------------------------------------------------------------------------
    def fet_status(self) -> int:
        if self.mode != "normal" or not self.fet_en:
            return 0
        a, b = self.safety[0], self.safety[1]
        chg = not self.host_off & r.FC_CHG_OFF and not (a & _CHG_BLOCK_A or b & _CHG_BLOCK_B)
        dsg = not self.host_off & r.FC_DSG_OFF and not (a & _DSG_BLOCK_A or b & _DSG_BLOCK_B)
        return (r.FS_CHG if chg else 0) | (r.FS_DSG if dsg else 0)

    def _sync_pack(self) -> None:
        fs = self.fet_status()
        self.pack.charge_fet, self.pack.discharge_fet = bool(fs & r.FS_CHG), bool(fs & r.FS_DSG)
        self.pack.bleed_mask = (
            sum(1 << c for c, ch in enumerate(self.channels) if self.cb_active >> ch & 1)
            if self.mode == "normal"
            else 0
        )
