"""bms_aggregator as its consumers use it, from a second process: Nav2 (IsBatteryLow, IsBatteryCharging),
opennav_docking (current > charging_threshold) and Open-RMF (battery_soc = percentage, 0..1) on the robot's
/battery_state, through a two-pack discharge, a hot swap and a dock charge; and the energy numbers on a
simulated drive with a known power model (issue 18 acceptance)."""

from __future__ import annotations

import json
import math
import signal

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool

from bms_ros.msg import AggregateStatus

from rostest_util import NodeProcess, SimClock, call, spin_until

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # as Nav2 subscribes
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
SIM_FACTOR = 10.0  # /clock runs this much faster than the wall
PACK_TIMEOUT_S = 5.0  # simulated seconds (0.5 s of wall time at SIM_FACTOR)
AGG_RATE_HZ = 5.0


class Latest:
    def __init__(self, node, msg_type, topic, qos=10):
        self.msgs = []
        node.create_subscription(msg_type, topic, self.msgs.append, qos)

    @property
    def last(self):
        return self.msgs[-1] if self.msgs else None


def is_battery_low(msg: BatteryState, min_battery: float = 0.2) -> bool:
    """Nav2 IsBatteryLowCondition (percentage mode; NaN compares false)."""
    return msg.percentage <= min_battery


def is_battery_charging(msg: BatteryState) -> bool:
    """Nav2 IsBatteryChargingCondition."""
    return msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING


def docking_sees_charging(msg: BatteryState, threshold: float = 0.5) -> bool:
    """opennav_docking SimpleChargingDock."""
    return msg.current > threshold


def stamp(m) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def pack(ns: str, soc: float, capacity_ah: float, seed: int, **sim) -> NodeProcess:
    params = {
        "rate_hz": 5.0,
        "location": ns,
        "serial_number": f"SIM-{ns}",
        "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": capacity_ah},
        "afe": {"type": "sim"},
        "sim": {"initial_soc": soc, "seed": seed, "load_current": 2.0, **sim},
    }
    return NodeProcess(params, namespace=f"/{ns}", extra_args=["-p", "use_sim_time:=true"])


def aggregator(**params) -> NodeProcess:
    values = {"packs": "pack_left,pack_right", "pack_timeout": PACK_TIMEOUT_S, "rate_hz": AGG_RATE_HZ, **params}
    return NodeProcess(values, module="bms_ros.nodes.aggregator_node", extra_args=["-p", "use_sim_time:=true"])


def test_two_pack_discharge_hot_swap_and_dock_charge_as_nav2_docking_and_rmf_see_it(ros_node):
    left_p, right_p = pack("pack_left", 0.26, 2.0, 11), pack("pack_right", 0.22, 1.0, 12)
    agg_p = aggregator()
    try:
        SimClock(ros_node, factor=SIM_FACTOR)
        robot = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        left = Latest(ros_node, BatteryState, "/pack_left/battery_state", RELIABLE)
        right = Latest(ros_node, BatteryState, "/pack_right/battery_state", RELIABLE)
        agg = Latest(ros_node, AggregateStatus, "/bms_aggregator/status")
        low = Latest(ros_node, Bool, "/bms_aggregator/low", LATCHED)
        diags = Latest(ros_node, DiagnosticArray, "/diagnostics")
        both_in = lambda: agg.last is not None and list(agg.last.pack_in_aggregate) == [True, True]  # noqa: E731
        conducting = lambda: robot.last is not None and robot.last.current < -3.5  # noqa: E731  both FETs closed
        assert spin_until(ros_node, lambda: both_in() and right.last is not None and conducting(), 30.0)
        spin_until(ros_node, lambda: False, 0.3)

        # parallel: current summed, percentage weighted by capacity (2 Ah at ~0.26 and 1 Ah at ~0.22)
        r, lp, rp = robot.last, left.last, right.last
        assert r.current == pytest.approx(lp.current + rp.current, abs=0.2)
        assert r.capacity == pytest.approx(lp.capacity + rp.capacity, rel=0.02)
        weighted = (lp.percentage * lp.capacity + rp.percentage * rp.capacity) / (lp.capacity + rp.capacity)
        assert r.percentage == pytest.approx(weighted, abs=0.005)
        assert r.charge == pytest.approx(lp.charge + rp.charge, abs=0.05)
        assert r.present and r.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING

        # discharge until Nav2's rule fires on the robot's battery; ~/low (on soc - sigma) came first
        assert spin_until(ros_node, lambda: is_battery_low(robot.last), 40.0), robot.last.percentage
        assert low.last is not None and low.last.data, "the latched ~/low fires no later than Nav2's rule"
        assert "low_soc 0.2" in agg.last.low_reason and "SoC" in agg.last.low_reason
        assert 0.0 <= robot.last.percentage <= 1.0  # Open-RMF battery_soc

        # hot swap: the right pack stops publishing and leaves within the timeout plus one period
        right_p.proc.send_signal(signal.SIGINT)  # without waiting: /clock (from this process) keeps running
        out = lambda: agg.last.pack_in_aggregate[1] is False  # noqa: E731
        assert spin_until(ros_node, out, 10.0)
        last_right = stamp(right.last)  # its last message (published until the process ended)
        first_out = next(m for m in agg.msgs if stamp(m) > last_right and not m.pack_in_aggregate[1])
        assert stamp(first_out) - last_right <= PACK_TIMEOUT_S + 1.0 / AGG_RATE_HZ + 0.5
        assert "silent" in first_out.pack_out_reason[1]
        spin_until(ros_node, lambda: False, 0.5)
        assert robot.last.capacity == pytest.approx(left.last.capacity, rel=0.01)
        assert robot.last.percentage == pytest.approx(left.last.percentage, abs=0.01)
        named = lambda: any(  # noqa: E731
            s.level == DiagnosticStatus.WARN and "pack_right" in s.message
            for a in diags.msgs
            for s in a.status
            if "bms_aggregator" in s.name
        )
        assert spin_until(ros_node, named, 10.0), "diagnostics name the missing pack"

        right_p.stop()
        # ...and rejoins when it returns
        right_p = pack("pack_right", 0.22, 1.0, 12)
        assert spin_until(ros_node, both_in, 30.0)

        # dock: the charger contact closes on both packs
        for ns in ("pack_left", "pack_right"):
            assert call(ros_node, SetBool, f"/{ns}/bms_node/set_charger_connected", SetBool.Request(data=True)).success
        docked = lambda: is_battery_charging(robot.last) and docking_sees_charging(robot.last)  # noqa: E731
        assert spin_until(ros_node, docked, 20.0), (robot.last.power_supply_status, robot.last.current)
        assert robot.last.current == pytest.approx(left.last.current + right.last.current, abs=0.5)
        assert 0.0 <= robot.last.percentage <= 1.0
    finally:
        for p in (agg_p, right_p, left_p):
            p.stop()
    assert agg_p.proc.returncode == 0, agg_p.stderr[-2000:]


def test_energy_per_metre_and_idle_power_within_5_percent_on_a_simulated_drive(ros_node, tmp_path):
    """One pack loaded by the cmd_vel power model (10 W idle + 40 W per m/s); the test drives the robot and
    publishes its odometry, and the aggregator measures both numbers from the battery alone."""
    idle_w, per_mps_w, speed = 10.0, 40.0, 0.5
    pack_p = pack(
        "pack_left",
        0.8,
        10.0,
        11,
        load_source="cmd_vel",
        idle_power=idle_w,
        power_per_mps=per_mps_w,
        power_per_radps=0.0,
        input_timeout=5.0,
    )
    agg_p = aggregator(
        packs="pack_left",
        odometry_topic="/odom",
        state_file=str(tmp_path / "agg.json"),
        energy={"window_s": 60.0, "idle_settle_s": 2.0},
    )
    try:
        clock = SimClock(ros_node, factor=SIM_FACTOR)
        cmd = ros_node.create_publisher(Twist, "/pack_left/cmd_vel", 10)
        odom = ros_node.create_publisher(Odometry, "/odom", 10)
        agg = Latest(ros_node, AggregateStatus, "/bms_aggregator/status")
        robot = {"v": 0.0, "x": 0.0, "t": clock.now()}

        def drive() -> None:
            t = clock.now()
            robot["x"] += robot["v"] * (t - robot["t"])
            robot["t"] = t
            tw = Twist()
            tw.linear.x = robot["v"]
            cmd.publish(tw)
            o = Odometry()
            o.pose.pose.position.x, o.twist.twist.linear.x = robot["x"], robot["v"]
            odom.publish(o)

        ros_node.create_timer(0.02, drive)
        assert spin_until(ros_node, lambda: agg.last is not None and agg.last.pack_in_aggregate[0], 30.0)
        start = clock.now()
        spin_until(ros_node, lambda: clock.now() - start > 20.0, 20.0)  # stands still
        robot["v"], start = speed, clock.now()
        spin_until(ros_node, lambda: clock.now() - start > 62.0, 30.0)  # drives 31 m
        s = agg.last
    finally:
        pack_p.stop()
        agg_p.stop()
    assert s.idle_power == pytest.approx(idle_w, rel=0.05), s.idle_power
    assert s.drive_energy_per_metre == pytest.approx(per_mps_w, rel=0.05), s.drive_energy_per_metre
    assert s.average_power == pytest.approx(idle_w + per_mps_w * speed, rel=0.1)
    assert s.time_to_empty_at_pace_s == pytest.approx(s.energy_remaining_wh * 3600 / s.average_power, rel=0.01)
    assert s.pack_energy_throughput_wh[0] > 0 and not math.isnan(s.pack_equivalent_cycles[0])
    stored = json.loads((tmp_path / "agg.json").read_text())["sections"]["pack_throughput"]
    saved = stored["SIM-pack_left"]  # at shutdown, per pack serial number
    assert saved["energy_wh"] == pytest.approx(s.pack_energy_throughput_wh[0], abs=0.05)
    assert saved["charge_ah"] == pytest.approx(s.pack_charge_throughput_ah[0], abs=0.005)
