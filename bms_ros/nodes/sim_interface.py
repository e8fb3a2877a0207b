"""ROS inputs of a simulated pack: the robot's load and the charger contact (Gazebo-style simulation).

Relative topic names so a launch file can remap them onto the robot: ``cmd_vel`` (geometry_msgs/Twist),
``joint_states`` (sensor_msgs/JointState), ``load_current`` (std_msgs/Float64, A), ``charger_present``
(std_msgs/Bool, subscribed by the node itself) and the service ``~/set_charger_connected`` (SetBool).

Only the load topic that ``sim.load_source`` names is subscribed (none for ``constant``), and a runtime change
of ``sim.load_source`` moves the subscription: the others' messages were ignored anyway, and every subscription
is one more entity the executor rebuilds its wait set from on every wake (bench/bench_node_overhead.py).
"""

from __future__ import annotations

from collections.abc import Callable

from geometry_msgs.msg import Twist
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import SetBool

from bms_ros.afe import LoadInput, PackModel, RobotPowerModel, SimConfig, SimDock
from bms_ros.core import BmsOutput
from bms_ros.nodes.qos_events import subscription_events


def power_model(sim: SimConfig) -> RobotPowerModel:
    return RobotPowerModel(
        idle_power_w=sim.idle_power,
        power_per_mps_w=sim.power_per_mps,
        power_per_radps_w=sim.power_per_radps,
        drive_efficiency=sim.drive_efficiency,
        input_timeout_s=sim.input_timeout,
    )


class SimInterface:
    def __init__(self, node, pack: PackModel, sim: SimConfig, set_contact: Callable[[bool], None]):
        self.node, self.pack, self.sim, self.set_contact = node, pack, sim, set_contact
        self.load = LoadInput(power_model(sim))
        self.dock = SimDock(pack, sim.charger_current, follow_limits=sim.charger_follows_limits)
        self._load_topics = {
            "cmd_vel": (Twist, "cmd_vel", self._on_cmd_vel),
            "joint_states": (JointState, "joint_states", self._on_joint_states),
            "current": (Float64, "load_current", self._on_load_current),
        }
        self.load_subscription = None
        self._subscribe_load(sim.load_source)
        node.create_service(SetBool, "~/set_charger_connected", self._on_set_charger)

    def _subscribe_load(self, source: str) -> None:
        """The subscription for ``source``'s topic (none for ``constant``), replacing the previous one."""
        if self.load_subscription is not None:
            self.node.destroy_subscription(self.load_subscription)
            self.load_subscription = None
        if source in self._load_topics:
            msg_type, topic, callback = self._load_topics[source]
            self.load_subscription = self.node.create_subscription(
                msg_type, topic, callback, 10, event_callbacks=subscription_events()
            )

    def reconfigure(self, sim: SimConfig) -> None:
        if sim.load_source != self.sim.load_source:
            self._subscribe_load(sim.load_source)
        self.sim = sim
        self.load.model = power_model(sim)
        if self.dock.follow_limits and not sim.charger_follows_limits:
            self.pack.charger_voltage_v = None  # back to sim.charger_cell_voltage and sim.charger_current
            self.pack.charger_current_a = sim.charger_current
        self.dock.rated_current_a, self.dock.follow_limits = sim.charger_current, sim.charger_follows_limits

    def before_read(self, now: float) -> None:
        """Set the pack's load for the interval up to ``now`` from the configured source."""
        if self.sim.load_source == "constant":
            self.pack.load_a = self.sim.load_current
        else:
            self.pack.load_a = self.load.current(self.pack.pack_voltage(), now)

    def after_step(self, out: BmsOutput) -> None:
        """The core's decision reaches the simulated dock: the heater, and the charger's CC/CV when
        sim.charger_follows_limits."""
        self.dock.apply(out)

    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.sim.load_source == "cmd_vel":
            self.load.set_power(
                self.load.model.from_cmd_vel(msg.linear.x, msg.linear.y, msg.angular.z), self.node.now()
            )

    def _on_joint_states(self, msg: JointState) -> None:
        if self.sim.load_source == "joint_states":
            self.load.set_power(self.load.model.from_joints(list(msg.effort), list(msg.velocity)), self.node.now())

    def _on_load_current(self, msg: Float64) -> None:
        if self.sim.load_source == "current":
            self.load.set_current(float(msg.data), self.node.now())

    def connect_charger(self, connected: bool) -> None:
        """The charger contact as the node knows it (topic, service, parameter) is the simulated charger."""
        self.pack.charger_connected = connected

    def _on_set_charger(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        self.set_contact(bool(req.data))  # the same path as the charger_present topic
        res.success, res.message = True, f"simulated charger {'connected' if req.data else 'disconnected'}"
        return res
