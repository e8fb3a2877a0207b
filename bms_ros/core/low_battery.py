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

from bms_ros.core.params import ConfigError, param


class Level(IntEnum):
    OK = 0
    LOW = 1
    CRITICAL = 2


@dataclass
class LowBatteryConfig:
    # 0.2: TurtleBot 4's low warning and the min_battery of Nav2's example trees; 0.1 near its 0.12 power-off
    low_soc: float = param(0.20, "Low at or below this SoC (decided on soc - sigma_factor x soc_std)", "", 0.0, 1.0)
    low_release_soc: float = param(0.25, "Low releases above this SoC (hysteresis)", "", 0.0, 1.0)
    critical_soc: float = param(0.10, "Critical at or below this SoC", "", 0.0, 1.0)
    critical_release_soc: float = param(0.13, "Critical releases above this SoC", "", 0.0, 1.0)
    sigma_factor: float = param(1.0, "Decide on soc - sigma_factor x soc_std (the pessimistic SoC)", "", 0.0, 5.0)
    low_time_s: float = param(
        0.0, "Also low when the time to empty at mission pace is at or below this; 0: off", "s", 0.0, 1e6
    )
    critical_time_s: float = param(
        0.0, "Also critical when the time to empty at mission pace is at or below this; 0: off", "s", 0.0, 1e6
    )
    time_release_factor: float = param(1.2, "A time limit releases above limit x this factor", "", 1.0, 10.0)

    def validate(self) -> None:
        if not self.critical_soc <= self.low_soc:
            raise ConfigError(f"low_battery.critical_soc: {self.critical_soc} is above low_soc {self.low_soc}")
        for name in ("low", "critical"):
            if getattr(self, f"{name}_release_soc") < getattr(self, f"{name}_soc"):
                raise ConfigError(
                    f"low_battery.{name}_release_soc: a release level must not be below its limit {name}_soc"
                )


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
                self.state = LowBatteryState(
                    self.state.level, self.state.reason.split(" [")[0] + " [SoC now unknown: held]"
                )
            return self.state
        std = soc_std if math.isfinite(soc_std) else 0.0
        bound = soc - c.sigma_factor * std
        at = f"SoC {soc:.3f} +/- {std:.3f} (decided on {bound:.3f})"
        held = self.state.level
        checks = [  # (level, limit name, limit, release, value)
            (Level.CRITICAL, "critical_soc", c.critical_soc, c.critical_release_soc, bound),
            (Level.LOW, "low_soc", c.low_soc, c.low_release_soc, bound),
        ]
        tte = time_to_empty_s
        if math.isfinite(tte):
            for lvl, name, limit in (
                (Level.CRITICAL, "critical_time_s", c.critical_time_s),
                (Level.LOW, "low_time_s", c.low_time_s),
            ):
                if limit > 0:
                    checks.append((lvl, name, limit, limit * c.time_release_factor, tte))
        level, reason = Level.OK, ""
        for lvl, name, limit, release, value in checks:
            # entered at or below the limit; once in (held at this level or worse) it stays until above release
            threshold = release if held >= lvl else limit
            inside = value <= limit or (held >= lvl and value < threshold)
            if inside and lvl > level:
                unit = " s" if name.endswith("_time_s") else ""
                what = f"time to empty at mission pace {value:.0f} s" if unit else "SoC"
                reason = (
                    f"{name} {limit:g}{unit} (release {release:g}{unit}): {what}; {at}"
                    if unit
                    else f"{name} {limit:g} (release {release:g}): {at}"
                )
                level = lvl
        self.state = LowBatteryState(level, reason)
        return self.state
