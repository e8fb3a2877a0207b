"""The bq769x0 TEMP_SEL sweep: one ADC input per TS pin serves either the external thermistor (TEMP_SEL = 1) or the
internal die sensor (TEMP_SEL = 0) [DS p.21, p.31]. With thermistors fitted the driver can switch to the die
sensor now and then to refresh the die temperature; the TS registers hold the other sensor's value until the next
2 s temperature conversion, so each switch waits :data:`TS_SETTLE_S` and the thermistor values are held meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum

import numpy as np

from bms_ros.afe.bq769x0.conversions import TS_SETTLE_S, die_celsius, thermistor_celsius


class TsMode(Enum):
    DIE = "die"  # no thermistors: TEMP_SEL = 0 for good
    THERMISTOR = "thermistor"  # TEMP_SEL = 1, thermistor values fresh
    TO_DIE = "to_die"  # TEMP_SEL just cleared: waiting for a die conversion
    TO_THERM = "to_therm"  # TEMP_SEL just set again: waiting for a thermistor conversion


class TempSelSweep:
    """State of the sweep. ``update`` is called once per read with the TS register codes; ``write_ctrl1(temp_sel)``
    writes SYS_CTRL1 (ADC_EN plus TEMP_SEL when asked) and returns whether it succeeded."""

    def __init__(self, thermistor_count: int, beta: float, r25: float, die_period_s: float | None):
        self.nts = thermistor_count
        self.beta = beta
        self.r25 = r25
        self.die_period_s = die_period_s
        self.mode = TsMode.THERMISTOR if thermistor_count else TsMode.DIE
        self.switch_t = 0.0
        self.last_die_t: float | None = None
        self.held = np.full(thermistor_count, math.nan)
        self.die_c = math.nan
        self.settle_pending = False
        self.settle_start: float | None = None

    @property
    def temp_sel(self) -> bool:
        """The TEMP_SEL bit the driver keeps in SYS_CTRL1."""
        return self.mode in (TsMode.THERMISTOR, TsMode.TO_THERM)

    def restart_settle(self) -> None:
        """The TS registers hold stale values (reset, ADC restart, TEMP_SEL changed): wait one settle time."""
        self.settle_start, self.settle_pending = None, True

    def on_reinit(self) -> None:
        """A re-init writes TEMP_SEL for the thermistors: an interrupted die reading is abandoned."""
        if self.mode is TsMode.TO_DIE:
            self.mode = TsMode.TO_THERM

    def update(
        self, now: float, ts_codes: Callable[[int], list[int]], write_ctrl1: Callable[[bool], bool]
    ) -> np.ndarray:
        """Thermistor temperatures (degC) for this read; updates ``die_c``."""
        if self.settle_pending:
            if self.settle_start is None:
                self.settle_start = now
            if now - self.settle_start < TS_SETTLE_S:
                if self.mode is TsMode.DIE:
                    self.die_c = math.nan  # the TS register holds no die reading yet
                return np.full(self.nts, math.nan)
            self.settle_pending = False
        if self.mode is TsMode.DIE:
            self.die_c = die_celsius(ts_codes(1)[0])
            return np.zeros(0)
        if self.mode is TsMode.THERMISTOR:
            temps = np.array([thermistor_celsius(c, self.beta, self.r25) for c in ts_codes(self.nts)])
            self.held = temps
            if self.die_period_s is not None:
                if self.last_die_t is None:
                    self.last_die_t = now
                elif now - self.last_die_t >= self.die_period_s and write_ctrl1(False):
                    self.mode, self.switch_t = TsMode.TO_DIE, now
            return temps
        if now - self.switch_t >= TS_SETTLE_S:
            if self.mode is TsMode.TO_DIE:
                die = die_celsius(ts_codes(1)[0])
                # back to the thermistors: TEMP_SEL set (self.temp_sel is still False in TO_DIE; writing it left
                # the die sensor selected and the "thermistors" reading the die)
                if write_ctrl1(True):
                    self.die_c = die
                    self.mode, self.switch_t, self.last_die_t = TsMode.TO_THERM, now, now
            else:
                self.mode = TsMode.THERMISTOR
        return self.held.copy()  # TS registers hold the other sensor meanwhile
