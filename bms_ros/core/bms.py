"""The BMS core: one ``step(sample)`` per AFE read decides faults, FETs and outputs."""
from __future__ import annotations

import math

import numpy as np

from bms_ros.core.config import BmsConfig
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.faults import Fault
from bms_ros.core.types import BmsOutput, BmsState, PackSample


class Bms:
    def __init__(self, config: BmsConfig):
        self.cfg = config
        self.estimator = StateEstimator(config)
        self.charge_enable = True
        self.discharge_enable = True
        self._last_valid: float | None = None

    def step(self, sample: PackSample) -> BmsOutput:
        p = self.cfg.protection
        faults = Fault.NONE
        cells = sample.cell_voltages
        valid = sample.comm_ok and bool(np.all(np.isfinite(cells))) and not math.isnan(sample.current)
        if valid:
            self._last_valid = sample.stamp
        fresh = self._last_valid is not None and sample.stamp - self._last_valid <= p.stale_timeout
        if not fresh:
            faults |= Fault.AFE_COMM_LOSS
        if valid:
            if np.max(cells) > p.cell_overvoltage:
                faults |= Fault.CELL_OVERVOLTAGE
            if np.min(cells) < p.cell_undervoltage:
                faults |= Fault.CELL_UNDERVOLTAGE
            t = sample.temperatures[np.isfinite(sample.temperatures)]
            if t.size and np.min(t) < p.charge_temp_min:
                faults |= Fault.CHARGE_UNDERTEMPERATURE
            if t.size and np.max(t) > p.charge_temp_max:
                faults |= Fault.CHARGE_OVERTEMPERATURE
        block_charge = Fault.AFE_COMM_LOSS | Fault.CELL_OVERVOLTAGE | Fault.CHARGE_UNDERTEMPERATURE \
            | Fault.CHARGE_OVERTEMPERATURE
        block_discharge = Fault.AFE_COMM_LOSS | Fault.CELL_UNDERVOLTAGE
        chg = fresh and self.charge_enable and not faults & block_charge
        dsg = fresh and self.discharge_enable and not faults & block_discharge
        est = self.estimator.update(sample)
        state = BmsState.FAULT if faults else (BmsState.CHARGING if sample.current > 0.05 else BmsState.DISCHARGING
                                               if sample.current < -0.05 else BmsState.STANDBY)
        return BmsOutput(
            stamp=sample.stamp, sample=sample, state=state, charge_fet=bool(chg), discharge_fet=bool(dsg),
            faults_active=int(faults), faults_latched=0, warnings=0,
            charge_enable_requested=self.charge_enable, discharge_enable_requested=self.discharge_enable,
            charge_current_limit=math.nan, discharge_current_limit=math.nan, limit_reason="",
            balancing_mask=0, estimate=est, data_fresh=fresh)
