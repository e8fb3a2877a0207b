"""Measured energy use for mission planners (no ROS).

Open-RMF's rmf_battery plans a task chain with a model: a motion power sink (energy per distance) plus a
device power sink (ambient power over time); a plan fails when the real use exceeds the model. This meter
measures the same two numbers on the robot, from the battery's own power and (optionally) odometry:

- average power over a sliding window (the mission's present pace) and the time to empty at that pace;
- idle power: mean power while odometry says the robot stands still, once it has stood for a settle time
  (drive transients decay first);
- drive energy per metre: energy above idle power per metre travelled while moving, over the window.

Without odometry the last two are NaN. It also integrates lifetime throughput per pack (``Throughput``).
Power > 0 while discharging (the robot's consumption), W; times s; distances m.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bms_ros.core.params import param

NAN = math.nan
MAX_STEP_S = 5.0  # a longer gap between samples (pause, lost messages) is not integrated, s
J_PER_WH = 3600.0


@dataclass
class EnergyUseConfig:
    window_s: float = param(
        120.0, "Average power and drive energy per metre over this sliding window", "s", 1.0, 86400.0
    )
    idle_window_s: float = param(600.0, "Idle power: mean over this much stationary time", "s", 1.0, 86400.0)
    idle_settle_s: float = param(
        2.0,
        "Standing still at least this long before power counts as idle (drive transients decay first)",
        "s",
        0.0,
        600.0,
    )
    moving_speed_mps: float = param(0.02, "Odometry speed above which the robot is moving", "m/s", 0.0, 10.0)
    moving_yaw_rate_radps: float = param(0.05, "Odometry yaw rate above which the robot is moving", "rad/s", 0.0, 10.0)
    min_distance_m: float = param(
        1.0, "Drive energy per metre needs at least this distance in the window", "m", 0.01, 1e6
    )


@dataclass
class EnergyUse:
    average_power_w: float = NAN
    idle_power_w: float = NAN
    drive_energy_j_per_m: float = NAN  # above idle power, while moving
    distance_m: float = NAN  # travelled within the window (NaN: no odometry)
    time_to_empty_at_pace_s: float = NAN


class EnergyMeter:
    def __init__(self, cfg: EnergyUseConfig | None = None):
        self.cfg = cfg or EnergyUseConfig()
        self._window: deque[tuple[float, float, float, float, bool]] = deque()  # (t, dt, P, dd, moving)
        self._idle: deque[tuple[float, float]] = deque()  # (dt, P) stationary, settled
        self._idle_time = 0.0
        self._last_t: float | None = None
        self._last_odometer: float | None = None
        self._still_since: float | None = None

    def update(
        self, t: float, power_w: float, odometer_m: float = NAN, speed_mps: float = NAN, yaw_rate_radps: float = NAN
    ) -> None:
        """One sample: the battery's power (NaN: skipped) and, with odometry, the distance travelled so far
        (monotonic) and the present speed and yaw rate."""
        last, self._last_t = self._last_t, t
        have_odom = math.isfinite(odometer_m)
        dd = 0.0
        if have_odom and self._last_odometer is not None:
            dd = max(0.0, odometer_m - self._last_odometer)
        self._last_odometer = odometer_m if have_odom else None
        moving = have_odom and (
            abs(speed_mps) > self.cfg.moving_speed_mps
            or abs(yaw_rate_radps if math.isfinite(yaw_rate_radps) else 0.0) > self.cfg.moving_yaw_rate_radps
        )
        if not have_odom or moving:
            self._still_since = None
        elif self._still_since is None:
            self._still_since = t
        if last is None or not math.isfinite(power_w):
            return
        dt = t - last
        if not 0.0 < dt <= MAX_STEP_S:
            return
        self._window.append((t, dt, power_w, dd if have_odom else NAN, moving))
        while self._window and self._window[0][0] <= t - self.cfg.window_s:
            self._window.popleft()
        if self._still_since is not None and t - self._still_since >= self.cfg.idle_settle_s:
            self._idle.append((dt, power_w))
            self._idle_time += dt
            while self._idle and self._idle_time - self._idle[0][0] >= self.cfg.idle_window_s:
                self._idle_time -= self._idle.popleft()[0]

    def result(self, energy_remaining_wh: float = NAN) -> EnergyUse:
        out = EnergyUse()
        time_s = math.fsum(w[1] for w in self._window)
        if time_s > 0:
            out.average_power_w = math.fsum(w[1] * w[2] for w in self._window) / time_s
        if self._idle_time > 0:
            out.idle_power_w = math.fsum(dt * p for dt, p in self._idle) / self._idle_time
        dist = [w[3] for w in self._window if math.isfinite(w[3])]
        if dist:
            out.distance_m = math.fsum(dist)
        moving = [w for w in self._window if w[4]]
        d_moving = math.fsum(w[3] for w in moving)
        if d_moving >= self.cfg.min_distance_m and math.isfinite(out.idle_power_w):
            above_idle = math.fsum(w[1] * (w[2] - out.idle_power_w) for w in moving)
            out.drive_energy_j_per_m = above_idle / d_moving
        if math.isfinite(energy_remaining_wh) and out.average_power_w > 0:
            out.time_to_empty_at_pace_s = max(0.0, energy_remaining_wh) * J_PER_WH / out.average_power_w
        return out


@dataclass
class Throughput:
    """Lifetime counters of one physical pack (persisted by serial number)."""

    energy_wh: float = 0.0  # |V I| integrated, both directions
    charge_ah: float = 0.0  # |I| integrated, both directions
    discharge_energy_wh: float = 0.0

    def add(self, voltage: float, current: float, dt: float) -> None:
        if not (math.isfinite(voltage) and math.isfinite(current)) or not 0.0 < dt <= MAX_STEP_S:
            return
        e = abs(voltage * current) * dt / J_PER_WH
        self.energy_wh += e
        self.charge_ah += abs(current) * dt / 3600.0
        if current < 0:
            self.discharge_energy_wh += e

    def equivalent_cycles(self, capacity_ah: float) -> float:
        """Equivalent full cycles: one cycle moves the capacity out and back in."""
        return self.charge_ah / (2.0 * capacity_ah) if capacity_ah > 0 else NAN

    def to_dict(self) -> dict[str, float]:
        return {
            "energy_wh": self.energy_wh,
            "charge_ah": self.charge_ah,
            "discharge_energy_wh": self.discharge_energy_wh,
        }

    @classmethod
    def from_dict(cls, d: object) -> Throughput:
        """From a stored section; anything unusable counts as zero (a corrupt file never stops the node)."""
        t = cls()
        if isinstance(d, dict):
            for k in ("energy_wh", "charge_ah", "discharge_energy_wh"):
                v = d.get(k)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
                    setattr(t, k, float(v))
        return t
