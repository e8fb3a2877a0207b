"""bms_node as a process: its command line checked before rclpy sees it, and stop signals that never interrupt
the shutdown.

Stop signals: ``ros2 launch`` without a terminal forwards SIGINT to a node that already got one from the process
group, so a second signal often lands while the node saves its state and sets its shutdown FET state. With
Python's default handler that second signal raises KeyboardInterrupt wherever the shutdown happens to be
(inside ``os.fsync``, ``destroy_node``). Here every SIGINT/SIGTERM only records a stop request; the node's
loop polls it and then shuts down completely, whatever arrives meanwhile.
"""
from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterable
from types import FrameType

from bms_ros.config import read_params_file

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Once installed, SIGINT/SIGTERM are recorded (``requested``) instead of raising, for the rest of the
    process: a signal that arrives after main() returned must not turn a clean exit into a KeyboardInterrupt."""

    def __init__(self, signals: Iterable[int] = STOP_SIGNALS):
        self.signals = tuple(signals)
        self.received: list[int] = []

    @property
    def requested(self) -> bool:
        return bool(self.received)

    def describe(self) -> str:
        return ", ".join(signal.Signals(s).name for s in self.received) or "none"

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    def install(self) -> StopSignals:
        return self._set(self._record)

    def ignore(self) -> StopSignals:
        """For the process's exit: Python resets its own handlers to the default (terminate) while it finalizes,
        and the middleware's threads take a moment to stop; a late signal must not turn exit 0 into -2."""
        return self._set(signal.SIG_IGN)

    def _set(self, handler) -> StopSignals:
        if threading.current_thread() is threading.main_thread():   # signal.signal works in the main thread only
            for s in self.signals:
                signal.signal(s, handler)
        return self


def params_files(argv: list[str]) -> list[str]:
    """The ``--params-file`` paths inside the ``--ros-args`` sections of ``argv`` (as rcl reads them)."""
    files, in_ros_args, i = [], False, 0
    while i < len(argv):
        a = argv[i]
        if a == "--ros-args":
            in_ros_args = True
        elif a == "--":
            in_ros_args = False
        elif in_ros_args and a == "--params-file" and i + 1 < len(argv):
            files.append(argv[i + 1])
            i += 1
        i += 1
    return files


def check_params_files(argv: list[str], node_name: str = "bms_node") -> None:
    """Raise ConfigError (one line: the file and the reason) for a --params-file that is missing or not YAML.

    rclpy.init would otherwise fail on it with a traceback and exit 1."""
    for path in params_files(argv):
        read_params_file(path, node_name)


_RCL_LOCATION = re.compile(r",? at [^,]*\.c:\d+")


def rcl_reason(error: BaseException) -> str:
    """rcl's error message on one line, without its C source locations."""
    text = " ".join(str(error).split())
    text = _RCL_LOCATION.sub("", text)
    return text.removeprefix("failed to initialize rcl: ")
