"""State of charge: initialised from OCV at the first valid sample, then coulomb counting."""
from __future__ import annotations

import math

import numpy as np

from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import BmsConfig
from bms_ros.core.types import Estimate, PackSample


class StateEstimator:
    def __init__(self, config: BmsConfig):
        self.cfg = config
        self.chem = get_chemistry(config.pack.chemistry)
        self.capacity_ah = config.pack.design_capacity_ah
        self.cell_soc: np.ndarray | None = None
        self._last_stamp: float | None = None

    def update(self, sample: PackSample) -> Estimate:
        if sample.comm_ok and not math.isnan(sample.current):
            if self.cell_soc is None:
                if np.all(np.isfinite(sample.cell_voltages)):
                    self.cell_soc = self.chem.soc_from_ocv(sample.cell_voltages)
            elif self._last_stamp is not None:
                dt = sample.stamp - self._last_stamp
                if 0 < dt < 60:
                    self.cell_soc = np.clip(self.cell_soc + sample.current * dt / (self.capacity_ah * 3600), 0, 1)
            self._last_stamp = sample.stamp
        if self.cell_soc is None:
            return Estimate(design_capacity_ah=self.capacity_ah)
        soc = float(self.cell_soc.min())
        return Estimate(soc=soc, cell_soc=self.cell_soc.copy(), capacity_ah=self.capacity_ah,
                        design_capacity_ah=self.capacity_ah, charge_ah=soc * self.capacity_ah, soh=1.0)
