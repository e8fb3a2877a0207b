"""What a simulated robot draws from its pack: electrical power from motion, as a battery current.

Three sources, as gazebo_ros_battery offers them: a measured current, velocity commands through a linear
power model (idle power plus a term per m/s and per rad/s), or joint states (sum of |effort x velocity|
over a drive efficiency). Inputs older than a timeout fall back to idle power, so a dead topic does not
freeze the last load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class RobotPowerModel:
    idle_power_w: float = 10.0  # electronics, computers, sensors
    power_per_mps_w: float = 40.0  # per m/s of |linear velocity|
    power_per_radps_w: float = 15.0  # per rad/s of |angular velocity|
    drive_efficiency: float = 0.8  # mechanical -> electrical for joint_states
    input_timeout_s: float = 1.0

    def from_cmd_vel(self, vx: float, vy: float, wz: float) -> float:
        return self.idle_power_w + self.power_per_mps_w * math.hypot(vx, vy) + self.power_per_radps_w * abs(wz)

    def from_joints(self, efforts: list[float], velocities: list[float]) -> float:
        mech = sum(abs(e * v) for e, v in zip(efforts, velocities) if math.isfinite(e * v))
        return self.idle_power_w + mech / self.drive_efficiency


class LoadInput:
    """Latest load demand from the robot, in A drawn from the pack (> 0 discharges)."""

    def __init__(self, model: RobotPowerModel):
        self.model = model
        self._power_w: float | None = None
        self._current_a: float | None = None
        self._stamp = -math.inf

    def set_power(self, watts: float, now: float) -> None:
        self._power_w, self._current_a, self._stamp = watts, None, now

    def set_current(self, amps: float, now: float) -> None:
        self._current_a, self._power_w, self._stamp = amps, None, now

    def current(self, pack_voltage: float, now: float) -> float:
        """Load current at this pack voltage; idle power when the input is stale."""
        fresh = now - self._stamp <= self.model.input_timeout_s
        if fresh and self._current_a is not None:
            return self._current_a
        power = self._power_w if fresh and self._power_w is not None else self.model.idle_power_w
        if not math.isfinite(pack_voltage) or pack_voltage <= 0.5:
            return 0.0
        return power / pack_voltage
