"""A recorded run played into the live node (like ``ros2 bag play --clock``) gives the recorded decisions."""

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from bms_ros.msg import AfeSample, BmsStatus
from bms_ros.nodes.messages import sample_to_msg
from bms_ros.tools.bags import read_samples, write_bag

from recorded_run import PARAMS, simulate
from rostest_util import NodeProcess, spin_until

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def test_bag_replayed_through_the_node_reproduces_the_recorded_decisions(ros_node, tmp_path):
    records = simulate(seconds=80.0)
    write_bag(tmp_path / "run", records)
    samples = list(read_samples(tmp_path / "run"))
    params = {**PARAMS, "afe": {"type": "replay"}}
    statuses = []
    ros_node.create_subscription(BmsStatus, "/bms_node/status", statuses.append, RELIABLE)
    clock = ros_node.create_publisher(Clock, "/clock", 10)
    pub = ros_node.create_publisher(AfeSample, "/bms_node/afe_in", RELIABLE)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 20.0), "node did not subscribe"
        first = Clock()
        first.clock.sec, first.clock.nanosec = int(samples[0].stamp), round((samples[0].stamp % 1) * 1e9)
        for _ in range(5):  # the player's clock runs before its first message, as with ros2 bag play --clock
            clock.publish(first)
            spin_until(ros_node, lambda: False, 0.05)
        for k, s in enumerate(samples):  # lockstep, as a deterministic bag player would
            c = Clock()
            c.clock.sec, c.clock.nanosec = int(s.stamp), round((s.stamp % 1) * 1e9)
            clock.publish(c)
            pub.publish(sample_to_msg(AfeSample(), s))
            assert spin_until(ros_node, lambda k=k: len(statuses) > k, 10.0), f"no decision for sample {k}"
    got = statuses[: len(records)]
    for k, ((_, live), st) in enumerate(zip(records, got)):
        assert (st.charge_fet_commanded, st.discharge_fet_commanded) == (live.charge_fet, live.discharge_fet), k
        assert st.faults_active == live.faults_active and st.faults_latched == live.faults_latched, k
        assert st.soc == pytest.approx(np.float32(live.estimate.soc), abs=1e-6) or (
            np.isnan(st.soc) and np.isnan(live.estimate.soc)
        ), k
    assert any(st.faults_active & BmsStatus.FAULT_AFE_COMM_LOSS for st in got)
