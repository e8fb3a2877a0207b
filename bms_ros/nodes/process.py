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
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from bms_ros.afe import AfeError
from bms_ros.config import read_params_file
from bms_ros.core import ConfigError
from bms_ros.launch_policy import EXIT_AFE_UNAVAILABLE, EXIT_BAD_CONFIGURATION, EXIT_OK

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_POLL_S = 0.1  # longest wait between a stop signal and the start of the shutdown, s


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
        if threading.current_thread() is threading.main_thread():  # signal.signal works in the main thread only
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


def run_node(
    prog: str,
    argv: list[str],
    make_node: Callable[[], Any],
    shutdown: Callable[[Any, StopSignals], None],
    params_node_name: str | None = None,
) -> int:
    """The life of a node process (bms_node, bms_aggregator): the command line checked, the node made, spun
    until a stop signal or an external shutdown, then ``shutdown(node, stop)`` (state saved, outputs safe),
    whatever signals arrive meanwhile. Exit codes in bms_ros.launch_policy; a rejected configuration or an AFE
    that cannot start is one line on stderr."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    stop = StopSignals().install()
    try:
        try:
            if params_node_name is not None:
                check_params_files(argv, params_node_name)
            rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
        except ConfigError as e:
            print(f"{prog}: invalid configuration: {e}", file=sys.stderr)
            return EXIT_BAD_CONFIGURATION
        except Exception as e:
            print(f"{prog}: invalid configuration: {rcl_reason(e)}", file=sys.stderr)
            return EXIT_BAD_CONFIGURATION
        try:
            node = make_node()
        except ConfigError as e:
            print(f"{prog}: invalid configuration: {e}", file=sys.stderr)
            rclpy.try_shutdown()
            return EXIT_BAD_CONFIGURATION
        except AfeError as e:
            print(f"{prog}: cannot start the AFE: {e}", file=sys.stderr)
            rclpy.try_shutdown()
            return EXIT_AFE_UNAVAILABLE
        executor = SingleThreadedExecutor()
        try:
            executor.add_node(node)
            while not stop.requested and rclpy.ok():
                executor.spin_once(timeout_sec=STOP_POLL_S)
        except ExternalShutdownException:
            pass
        finally:
            shutdown(node, stop)
            executor.shutdown(timeout_sec=0.0)
            node.destroy_node()
            rclpy.try_shutdown()
        return EXIT_OK
    finally:
        # Python resets its own handlers while it finalizes and the middleware's threads take a moment to stop:
        # a late signal must not turn exit 0 into -2
        stop.ignore()
