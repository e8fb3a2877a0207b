"""/diagnostics for the BMS, with diagnostic_updater when it is installed and an equivalent fallback.

The fallback mirrors diagnostic_updater's Updater (ROS 2 branch): same ``diagnostic_updater.period``
parameter, ``/diagnostics`` topic (depth 1), status names ``"<node name>: <task>"``, hardware_id, and the
DiagnosticStatusWrapper calls (summary, mergeSummary, add) the tasks use, so tooling sees no difference. Unlike
the Updater it skips a periodic update while nothing subscribes to /diagnostics (VOLATILE: nobody could receive
it; the tasks only read the node's state).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from bms_ros.nodes.qos_events import publisher_events, subscribed

try:  # the real one on a full ROS install
    from diagnostic_updater import DiagnosticStatusWrapper as _RealWrapper
    from diagnostic_updater import Updater as _RealUpdater

    HAVE_DIAGNOSTIC_UPDATER = True
except ImportError:  # not on PyPI: the node must still publish the same /diagnostics
    _RealWrapper = _RealUpdater = None
    HAVE_DIAGNOSTIC_UPDATER = False

OK, WARN, ERROR, STALE = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR, DiagnosticStatus.STALE


class FallbackStatusWrapper(DiagnosticStatus):
    """The subset of diagnostic_updater.DiagnosticStatusWrapper the BMS tasks use."""

    def summary(self, level: bytes, message: str) -> None:
        self.level, self.message = level, str(message)

    def mergeSummary(self, level: bytes, message: str) -> None:
        if (level > OK) == (self.level > OK):
            self.message = f"{self.message}; {message}" if self.message else message
        elif level > self.level:
            self.message = message
        if level > self.level:
            self.level = level

    def add(self, key: str, value: str) -> None:
        self.values.append(KeyValue(key=key, value=str(value)))


class FallbackUpdater:
    """diagnostic_updater.Updater's behaviour, for machines without diagnostic_updater."""

    def __init__(self, node, period: float = 1.0):
        self.node = node
        self.publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 1, event_callbacks=publisher_events())
        self.period = node.declare_parameter("diagnostic_updater.period", period).value
        if not node.has_parameter("diagnostic_updater.use_fqn"):
            node.declare_parameter("diagnostic_updater.use_fqn", False)
        use_fqn = node.get_parameter("diagnostic_updater.use_fqn").value
        self.node_name = "/".join([node.get_namespace(), node.get_name()]) if use_fqn else node.get_name()
        self.hwid = ""
        self.tasks: list[tuple[str, Callable]] = []
        self.timer = node.create_timer(self.period, self.update)

    def setHardwareID(self, hwid: str) -> None:
        self.hwid = hwid

    def add(self, name: str, fn: Callable) -> None:
        self.tasks.append((name, fn))
        stat = FallbackStatusWrapper(name=name, hardware_id=self.hwid)
        stat.summary(OK, "Node starting up")
        self._publish([stat])

    def update(self) -> None:
        if not subscribed(self.publisher):  # VOLATILE: an array nobody is matched to reaches nobody
            return
        out = []
        for name, fn in self.tasks:
            stat = FallbackStatusWrapper(level=ERROR, name=name, message="No message was set", hardware_id=self.hwid)
            out.append(fn(stat))
        self._publish(out)

    force_update = update

    def broadcast(self, level: bytes, message: str) -> None:
        stats = []
        for name, _ in self.tasks:
            stat = FallbackStatusWrapper(name=name, hardware_id=self.hwid)
            stat.summary(level, message)
            stats.append(stat)
        self._publish(stats)

    def _publish(self, stats) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.node.get_clock().now().to_msg()
        for s in stats:
            arr.status.append(
                DiagnosticStatus(
                    level=s.level,
                    name=f"{self.node_name}: {s.name}",
                    message=s.message,
                    hardware_id=s.hardware_id,
                    values=s.values,
                )
            )
        self.publisher.publish(arr)


def make_updater(node, period: float = 1.0, prefer_real: bool = True):
    """Several packs are several namespaced bms_nodes on one /diagnostics: name their statuses by the fully
    qualified node name (diagnostic_updater's use_fqn) unless the user chose otherwise."""
    if node.get_namespace() != "/" and not node.has_parameter("diagnostic_updater.use_fqn"):
        node.declare_parameter("diagnostic_updater.use_fqn", True)
    if HAVE_DIAGNOSTIC_UPDATER and prefer_real:
        return _RealUpdater(node, period)
    return FallbackUpdater(node, period)


STALE_PERIODS = 3.0  # no message for this many periods (wall time): ERROR "not published"


def _rate(stamps: deque[float]) -> float:
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return float("nan")
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


class RateMonitor:
    """Publish-rate check (diagnostic_updater's FrequencyStatus builds its own ROS_TIME clock, which misreads
    under use_sim_time).

    The rate is measured on the clock the messages are stamped with (the node clock: sim time under
    use_sim_time). Whether messages still arrive is judged on a steady wall clock: under a fast /clock, 3 periods
    of sim time are a few milliseconds of real time, and a /clock published at 40 Hz (bag play's default) moves
    in steps longer than a period. Under sim time the node cannot go faster than the machine allows: a rate of
    simulated time below the expected one is OK while the wall-clock rate keeps the expected pace.
    """

    def __init__(self, expected_hz: float, tolerance: float = 0.1, window: int = 50, sim_time: bool = False):
        self.expected_hz = expected_hz
        self.tolerance = tolerance
        self.sim_time = sim_time
        self._stamps: deque[float] = deque(maxlen=window)
        self._wall: deque[float] = deque(maxlen=window)

    def tick(self, now: float, wall: float | None = None) -> None:
        self._stamps.append(now)
        self._wall.append(time.monotonic() if wall is None else wall)

    def rate(self) -> float:
        """Messages per second of the stamp clock."""
        return _rate(self._stamps)

    def run(self, stat, now: float, wall: float | None = None):
        wall = time.monotonic() if wall is None else wall
        r, rw = self.rate(), _rate(self._wall)
        stale = not self._wall or wall - self._wall[-1] > STALE_PERIODS / self.expected_hz
        low = self.expected_hz * (1.0 - self.tolerance)
        stat.add("Expected rate (Hz)", f"{self.expected_hz:.3g}")
        stat.add("Measured rate (Hz)", f"{r:.3g}")
        stat.add("Wall-clock rate (Hz)", f"{rw:.3g}")
        if stale:
            stat.summary(ERROR, "battery_state not published")
        elif abs(r - self.expected_hz) <= self.tolerance * self.expected_hz:
            stat.summary(OK, "battery_state rate OK")
        elif self.sim_time and rw >= low:
            stat.summary(
                OK,
                f"battery_state at {r:.3g} Hz of sim time ({rw:.3g} Hz wall clock: sim time runs "
                "faster than the node can keep up)",
            )
        else:
            stat.summary(WARN, f"battery_state at {r:.3g} Hz, expected {self.expected_hz:.3g} Hz")
        return stat
