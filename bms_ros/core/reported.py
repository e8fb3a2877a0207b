"""What consumers see of the core's data (ISSUE 14): held values on a failed read, the published SoC.

The decisions stay in the core; this is the core's own rule for presenting them, so that Nav2, docking and
Open-RMF (which read BatteryState without filtering) get values that neither flap on one failed read nor move
against the current.
"""

from __future__ import annotations

import dataclasses
import math

from bms_ros.core.config import BmsConfig
from bms_ros.core.types import Estimate, PackSample

# While no valid sample arrives, the charge moves unseen: the published SoC's 1-sigma grows by this C-rate (or
# the last measured one, if larger) times the time without data. 1 C: a mobile robot's peak mean draw (a
# conservative bound for the unseen current; ISSUE 14 item 8).
UNSEEN_C_RATE = 1.0  # 1/h
S_PER_H = 3600.0


class ConsumerView:
    def __init__(self, config: BmsConfig):
        self.cfg = config
        self.last_good: PackSample | None = None  # the last valid sample (held for consumers, see BmsOutput)
        self.soc_shown = math.nan  # the last published SoC (kept monotone with the current)

    def sample(self, sample: PackSample, valid: bool, fresh: bool) -> PackSample:
        """What consumers see (ISSUE 14 items 2, 3): one failed or implausible read is not a lost pack, so the
        last valid values are held until stale_timeout; then the unknown sample. The FET states are the chip's
        as last read back: a command that could not be written is not what the pack does."""
        last = self.last_good
        if valid or last is None:
            return sample
        if fresh:
            return dataclasses.replace(
                last,
                stamp=sample.stamp,
                read_errors=sample.read_errors,
                crc_errors=sample.crc_errors,
                comm_ok=sample.comm_ok,
            )
        if not sample.comm_ok:
            return dataclasses.replace(sample, charge_fet=last.charge_fet, discharge_fet=last.discharge_fet)
        return sample

    def estimate(self, est: Estimate, current: float, age: float, complete: bool) -> Estimate:
        """The estimate as published (ISSUE 14 items 7, 8).

        * While the current clearly flows one way (beyond ``fet.state_current``) the SoC never moves the other
          way: Nav2's IsBatteryLow has no hysteresis, and a correction against the current would un-flip
          "low". Corrections show at rest. With no valid current the SoC stays where it was.
        * At the end of charge (the estimator's one detector) the SoC is 1.0: FULL and 100 % come together, and
          an Open-RMF charge task with ``recharge_soc: 1.0`` ends when the charge does (ISSUE 14 item 5).
        * Without valid data the SoC's 1-sigma grows with the time without data (``UNSEEN_C_RATE``).
        """
        soc, std = est.soc, est.soc_std
        prev, th = self.soc_shown, self.cfg.fet.state_current
        if math.isnan(soc):
            self.soc_shown = math.nan
            return est
        if complete:
            soc = 1.0
        elif not math.isnan(prev) and (
            math.isnan(current) or (current < -th and soc > prev) or (current > th and soc < prev)
        ):
            soc = prev
        self.soc_shown = soc
        cap = (
            est.capacity_ah
            if math.isfinite(est.capacity_ah) and est.capacity_ah > 0
            else self.cfg.pack.design_capacity_ah
        )
        if math.isnan(current) and math.isfinite(age) and age > 0 and self.last_good is not None:
            i_last = abs(self.last_good.current) if math.isfinite(self.last_good.current) else 0.0
            rate = max(i_last / cap, UNSEEN_C_RATE) / S_PER_H  # SoC per second
            std = math.hypot(std if math.isfinite(std) else 0.0, rate * age)
        if soc == est.soc and std == est.soc_std:
            return est
        return dataclasses.replace(est, soc=soc, soc_std=std, charge_ah=soc * cap)
