"""CAN output: the 0x35x frames of the latest core decision, every ``can.period`` on the steady clock.

python-can and cantools are imported here, and this module only when ``can.enabled`` (optional dependency,
``pip install bms_ros[can]``). The frames are sent on wall time even under ``use_sim_time``: a charger on the
bus lives in real time and stops charging when the frames stop. A bus that cannot be opened or a send that
fails is logged (throttled) and retried; the core's decisions do not depend on it.
"""

from __future__ import annotations

import time

from rclpy.clock import Clock, ClockType

from bms_ros.can_frames import CanConfig, FrameEncoder, frame_signals
from bms_ros.core import ConfigError

REOPEN_PERIOD_S = 5.0  # between attempts to open a bus that failed, s


class CanOutput:
    def __init__(self, node, cfg: CanConfig):
        try:
            import can
        except ImportError as e:
            raise ConfigError(f"can.enabled: python-can is not installed (pip install bms_ros[can]): {e}") from None
        try:
            self.encoder = FrameEncoder()
        except ImportError as e:
            raise ConfigError(f"can.enabled: cantools is not installed (pip install bms_ros[can]): {e}") from None
        self._can, self.node, self.cfg = can, node, cfg
        self.bus = None
        self._next_open = 0.0
        self.sent = 0  # frames sent
        self.errors = 0  # failed opens and sends
        self._open()
        self.timer = node.create_timer(cfg.period, self.send, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _open(self) -> None:
        self._next_open = time.monotonic() + REOPEN_PERIOD_S
        try:
            self.bus = self._can.Bus(interface=self.cfg.interface, channel=self.cfg.channel)
        except Exception as e:  # python-can raises CanError, OSError, ValueError... by interface
            self.errors += 1
            self.node.get_logger().error(
                f"CAN: cannot open {self.cfg.interface} {self.cfg.channel}: {e}", throttle_duration_sec=30.0
            )

    def send(self) -> None:
        out = self.node.last_output
        if self.bus is None:
            if time.monotonic() >= self._next_open:
                self._open()
            if self.bus is None:
                return
        if out is None:
            return
        for fid, data in self.encoder.encode(frame_signals(out, self.cfg.name)):
            try:
                self.bus.send(self._can.Message(arbitration_id=fid, data=data, is_extended_id=False), timeout=0.1)
                self.sent += 1
            except Exception as e:  # bus off, buffer full: the next period tries again
                self.errors += 1
                self.node.get_logger().warn(f"CAN: send of 0x{fid:03X} failed: {e}", throttle_duration_sec=10.0)

    def close(self) -> None:
        if self.bus is not None:
            self.bus.shutdown()
            self.bus = None
