"""A low-battery signal missions can trust (no ROS).

Nav2's IsBatteryLow compares the raw percentage with one number, so an SoC that wanders by its estimation
noise, or a voltage sag, makes "low" flap. Here the decision uses the pessimistic SoC (soc - k sigma), each
limit has a release level above it (hysteresis), and the answer says which limit, at what SoC and sigma.
Optional: a limit on the time to empty at the mission's present pace. Unknown SoC holds the last decision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    OK = 0
    LOW = 1
    CRITICAL = 2


@dataclass
class LowBatteryConfig:
    low_soc: float = 0.20             # TurtleBot 4 warns at 0.2; Nav2 example trees use min_battery 0.2
    low_release_soc: float = 0.25
    critical_soc: float = 0.10
    critical_release_soc: float = 0.13
    sigma_factor: float = 1.0         # decide on soc - sigma_factor * soc_std
    low_time_s: float = 0.0           # time to empty at mission pace at or below: low (0: off)
    critical_time_s: float = 0.0      # ... critical (0: off)
    time_release_factor: float = 1.2  # a time limit releases above limit * factor

    def validate(self) -> None:
        if not 0 <= self.critical_soc <= self.low_soc <= 1:
            raise ValueError("low battery: need 0 <= critical_soc <= low_soc <= 1")
        if self.low_release_soc < self.low_soc or self.critical_release_soc < self.critical_soc:
            raise ValueError("low battery: a release level must not be below its limit")


@dataclass
class LowBatteryState:
    level: Level = Level.OK
    reason: str = ""


class LowBatteryMonitor:
    def __init__(self, cfg: LowBatteryConfig | None = None):
        self.cfg = cfg or LowBatteryConfig()
        self.cfg.validate()
        self.state = LowBatteryState()

    def update(self, soc: float, soc_std: float, time_to_empty_s: float = math.nan) -> LowBatteryState:
        c = self.cfg
        if not math.isfinite(soc):
            if self.state.level != Level.OK:
                self.state = LowBatteryState(self.state.level,
                                             self.state.reason.split(" [")[0] + " [SoC now unknown: held]")
            return self.state
        std = soc_std if math.isfinite(soc_std) else 0.0
        bound = soc - c.sigma_factor * std
        at = f"SoC {soc:.3f} +/- {std:.3f} (decided on {bound:.3f})"
        held = self.state.level
        checks = [  # (level, limit name, limit, release, value, unit)
            (Level.CRITICAL, "critical_soc", c.critical_soc, c.critical_release_soc, bound),
            (Level.LOW, "low_soc", c.low_soc, c.low_release_soc, bound),
        ]
        tte = time_to_empty_s
        if math.isfinite(tte):
            for lvl, name, limit in ((Level.CRITICAL, "critical_time_s", c.critical_time_s),
                                     (Level.LOW, "low_time_s", c.low_time_s)):
                if limit > 0:
                    checks.append((lvl, name, limit, limit * c.time_release_factor, tte))
        level, reason = Level.OK, ""
        for lvl, name, limit, release, value in checks:
            # entered at or below the limit; once in (held at this level or worse) it stays until above release
            threshold = release if held >= lvl else limit
            inside = value <= limit or (held >= lvl and value < threshold)
            if inside and lvl > level:
                unit = " s" if name.endswith("_time_s") else ""
                what = (f"time to empty at mission pace {value:.0f} s" if unit else "SoC")
                reason = (f"{name} {limit:g}{unit} (release {release:g}{unit}): {what}; {at}" if unit
                          else f"{name} {limit:g} (release {release:g}): {at}")
                level = lvl
        self.state = LowBatteryState(level, reason)
        return self.state
