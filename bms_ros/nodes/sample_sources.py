"""Where bms_node's samples come from: the AFE on a timer, or recorded samples on ``~/afe_in`` (replay).

Both hand each sample to ``process(sample, stamp_s)``; neither decides anything about it.
"""

from __future__ import annotations

from collections.abc import Callable

from bms_ros.afe import Afe
from bms_ros.core import PackSample
from bms_ros.msg import AfeSample
from bms_ros.msg_fields import sample_from_afe_msg
from bms_ros.nodes.qos_events import subscription_events

__all__ = ["MAX_CATCH_UP_SAMPLES", "AfeTimer", "ReplayInput"]

MAX_CATCH_UP_SAMPLES = 10  # per timer tick under sim time: a /clock step of up to 10 periods is sampled period by
# period; a longer one is a gap (the core's clock handles gaps, core.timebase)
REPLAY_SILENCE_PERIODS = 1.5  # recorded samples missing for this many periods: the core sees missing data

Process = Callable[[PackSample, float | None], None]


class AfeTimer:
    """Reads the AFE every period of the node clock."""

    def __init__(
        self, node, afe: Afe, rate_hz: float, cell_count: int, process: Process, sim=None, sim_time: bool = False
    ):
        self.node, self.afe, self.period, self.cells = node, afe, 1.0 / rate_hz, cell_count
        self.process, self.sim, self.sim_time = process, sim, sim_time
        self.last_tick: float | None = None  # node time of the last tick (clock jumps back)
        self.timer = node.create_timer(self.period, self._on_timer)

    def _on_timer(self) -> None:
        now = self.node.now()
        if self.last_tick is not None and now < self.last_tick:
            # Gazebo reset, bag play --loop: the simulation re-bases its time, the core's time goes on (one line)
            self.node.get_logger().warn(
                f"clock jumped back {self.last_tick - now:.3f} s (to {now:.3f} s): "
                "simulation time re-based, protection timing continues on core time"
            )
        for t in self.read_times(now):
            if self.sim is not None:
                self.sim.before_read(t)
            try:
                sample = self.afe.read(t)
            except Exception as e:  # a driver bug must not keep FETs on: the core sees missing data
                self.node.get_logger().error(f"AFE read failed: {e}", throttle_duration_sec=5.0)
                sample = PackSample.missing(t, self.cells, self.afe.thermistor_count)
            self.process(sample, t)
        self.last_tick = now

    def read_times(self, now: float) -> list[float]:
        """When to read the pack on this tick: ``now``; and, for a simulated pack under sim time, also every
        period of simulated time since the last tick. A timer fires at most once per /clock update, so a fast or
        coarse /clock (Gazebo at 50x, bag play's 40 Hz) would otherwise sample the simulation below rate_hz;
        the simulated pack can be read at any time up to now, hardware only now."""
        last = self.last_tick
        if self.sim is None or not self.sim_time or last is None or now <= last:
            return [now]
        k = min(int((now - last) / self.period + 1e-6), MAX_CATCH_UP_SAMPLES)
        return [now - j * self.period for j in range(k - 1, 0, -1)] + [now]


class ReplayInput:
    """Recorded samples from ``~/afe_in``; a watchdog turns their silence into missing data."""

    def __init__(self, node, rate_hz: float, cell_count: int, thermistor_count: int, process: Process):
        self.node, self.period, self.process = node, 1.0 / rate_hz, process
        self.cells, self.thermistors = cell_count, max(1, thermistor_count)
        self.last: tuple[float, float | None] | None = None  # (sample stamp, node time received)
        node.create_subscription(AfeSample, "~/afe_in", self._on_sample, 100, event_callbacks=subscription_events())
        self.timer = node.create_timer(self.period, self._watchdog)

    def _on_sample(self, msg: AfeSample) -> None:
        sample = sample_from_afe_msg(msg)
        now = self.node.now()
        # under use_sim_time the clock reads 0 until /clock arrives: the watchdog starts timing from there
        self.last = (sample.stamp, now if now > 0.0 else None)
        self.process(sample, None)

    def _watchdog(self) -> None:
        """Recorded samples stopped arriving: the core must see missing data (and open the FETs)."""
        if self.last is None:
            return
        stamp, received = self.last
        now = self.node.now()
        if received is None:
            if now > 0.0:
                self.last = (stamp, now)
            return
        silence = now - received
        if silence > REPLAY_SILENCE_PERIODS * self.period:
            self.process(PackSample.missing(stamp + silence, self.cells, self.thermistors), None)
