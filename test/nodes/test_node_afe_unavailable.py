"""A bq769x0 that never got its TS1 boot pulse (SHIP mode) at start: the node runs, publishes present = false with
the cause in /diagnostics, retries, and picks the pack up once the chip boots (ISSUE 16, bq769x0 gap 4)."""

import time

import pytest

from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0

pytestmark = pytest.mark.ros


def test_a_chip_in_ship_mode_is_published_as_not_present_with_the_cause_then_recovered(ros_node):
    from bms_ros.nodes.bms_node import BmsNode

    afe = SimulatedBq769x0.create(cell_count=4, seed=1, sim_kwargs={"boot": False}, driver_kwargs={"retry_init": True})
    node = BmsNode(afe=afe)  # today: AfeError at start, exit 1, respawned every 2 s
    try:
        published = []
        node.outputs.battery.publish = published.append
        for _ in range(5):  # no sample has ever been valid: lost from the start
            node.source._on_timer()
        assert published and not published[-1].present
        diag = node.diagnostics.afe_link(_Stat())
        assert diag.level == "ERROR" and "SHIP" in diag.message
        afe.chip.boot()  # the boot pulse
        for _ in range(40):  # the node clock is wall time: let the first conversions happen
            node.source._on_timer()
            time.sleep(0.025)
        assert published[-1].present and published[-1].voltage > 10.0
    finally:
        node.destroy_node()


class _Stat:
    """The part of diagnostic_updater's DiagnosticStatusWrapper the task uses."""

    def __init__(self):
        self.level, self.message, self.values = None, "", {}

    def summary(self, level, message):
        self.level, self.message = (
            {b"\x00": "OK", b"\x01": "WARN", b"\x02": "ERROR", b"\x03": "STALE"}.get(level, level),
            message,
        )

    def add(self, key, value):
        self.values[key] = value
