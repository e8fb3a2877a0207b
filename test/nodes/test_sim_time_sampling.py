"""Under sim time the simulated pack is sampled at rate_hz of *simulated* time, however coarse the /clock is.

A timer fires at most once per /clock update: bag play publishes /clock at 40 Hz and Gazebo runs many times
faster than real time, so a step of the clock can span several periods. Driven here by a test-owned /clock
moved in explicit steps, so the result does not depend on how fast the machine is."""

import itertools

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState
from test_ros_interface import Latest, sim_params

from rostest_util import NodeProcess, spin_until

pytestmark = pytest.mark.ros

PERIOD = 0.1  # s, rate_hz 10 in sim_params
CAP = 10  # bms_node.MAX_CATCH_UP_SAMPLES


def _stamp(m: BatteryState) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def test_a_coarse_clock_still_gives_rate_hz_of_simulated_time_and_a_long_step_is_one_gap(ros_node):
    pub = ros_node.create_publisher(Clock, "/clock", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def set_clock(t: float) -> None:
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = int(t), round((t % 1) * 1e9)
        pub.publish(msg)

    with NodeProcess(sim_params(load_current=1.0), extra_args=["-p", "use_sim_time:=true"]):
        bs = Latest(ros_node, BatteryState, "/battery_state")
        t = 100.0
        for _ in range(200):  # fine steps until the node runs on this clock
            set_clock(t)
            if spin_until(ros_node, lambda: bool(bs.msgs) and _stamp(bs.last) >= 100.0, 0.05):
                break
            t += PERIOD
        assert bs.msgs and _stamp(bs.last) >= 100.0, "the node never ran on the test's clock"
        start = _stamp(bs.last)
        for step in (0.5, 1.25, 0.3):  # coarse steps: 5, 12.5 (beyond the cap), 3 periods
            before = len(bs.msgs)
            t = start + step
            set_clock(t)
            expected = min(int(step / PERIOD + 1e-6), CAP)
            assert spin_until(ros_node, lambda n=before + expected: len(bs.msgs) >= n, 10.0), (
                f"{len(bs.msgs) - before} messages for a {step} s clock step"
            )
            spin_until(ros_node, lambda: False, 0.3)  # nothing more arrives for this step
            new = [_stamp(m) for m in bs.msgs[before:]]
            assert len(new) == expected, new
            assert new[-1] == pytest.approx(t, abs=1e-6)
            gaps = [b - a for a, b in itertools.pairwise(new)]
            assert all(g == pytest.approx(PERIOD, abs=1e-6) for g in gaps), gaps
            if step / PERIOD <= CAP:  # every period of simulated time has its sample
                assert new[0] - start == pytest.approx(PERIOD, abs=1e-6)
            start = new[-1]
