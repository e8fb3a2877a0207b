"""The ROS interface as its consumers use it, from a second process (Nav2, docking, planners, operators)."""

import itertools
import math
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_srvs.srv import SetBool, Trigger

from bms_ros.msg import BmsStatus

from rostest_util import ROOT, NodeProcess, SimClock, call, get_params, set_params, spin_until

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def sim_params(**sim) -> dict:
    return {
        "rate_hz": 10.0,
        "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 1.0},
        "afe": {"type": "sim"},
        "sim": {"load_current": 0.0, **sim},
    }


class Latest:
    """Keeps the latest message (and all of them) of a topic."""

    def __init__(self, node, msg_type, topic, qos=10):
        self.msgs = []
        node.create_subscription(msg_type, topic, self.msgs.append, qos)

    @property
    def last(self):
        return self.msgs[-1] if self.msgs else None


def is_battery_low(msg: BatteryState, min_battery: float = 0.2) -> bool:
    """Nav2 IsBatteryLowCondition (percentage mode)."""
    return msg.percentage <= min_battery


def is_battery_charging(msg: BatteryState) -> bool:
    """Nav2 IsBatteryChargingCondition."""
    return msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING


def docking_sees_charging(msg: BatteryState, threshold: float = 0.5) -> bool:
    """opennav_docking SimpleChargingDock."""
    return msg.current > threshold


def test_nav2_is_battery_low_after_draining(ros_node):
    params = sim_params(initial_soc=0.26, load_current=4.0)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=20.0)
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: bs.last is not None, 20.0), "no battery_state"
        first = bs.last.percentage
        assert not is_battery_low(bs.last)
        assert spin_until(ros_node, lambda: is_battery_low(bs.last), 40.0), (
            f"percentage went from {first:.3f} to {bs.last.percentage:.3f} only"
        )
    low = bs.last
    assert 0.0 <= low.percentage <= 0.2 and low.current < 0
    assert low.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING


def test_charging_is_seen_by_nav2_and_docking_then_full(ros_node):
    params = sim_params(initial_soc=0.95, charger_connected=True, charger_current=1.0)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=20.0)
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: bs.last is not None and is_battery_charging(bs.last), 20.0)
        assert docking_sees_charging(bs.last), f"current {bs.last.current} A while charging"
        assert spin_until(
            ros_node, lambda: bs.last.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_FULL, 60.0
        ), f"never FULL; last percentage {bs.last.percentage:.3f}"
    statuses = [m.power_supply_status for m in bs.msgs]
    first_full = statuses.index(BatteryState.POWER_SUPPLY_STATUS_FULL)
    assert BatteryState.POWER_SUPPLY_STATUS_CHARGING in statuses[:first_full]
    assert bs.last.percentage > 0.99
    assert not is_battery_charging(bs.last), "Nav2 treats FULL as not charging"


def test_charge_request_in_the_cold_is_refused_while_discharge_works(ros_node):
    params = sim_params(initial_soc=0.6, ambient_temperature=-5.0, load_current=2.0)
    with NodeProcess(params):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None, 20.0)
        res = call(ros_node, SetBool, "/bms_node/set_charge_enable", SetBool.Request(data=True))
        assert not res.success
        assert "TEMPERATURE" in res.message.upper(), res.message
        cold = BmsStatus.FAULT_CHARGE_UNDERTEMPERATURE
        assert spin_until(ros_node, lambda: st.last.faults_active & cold, 10.0), "trips after its delay"
        n = len(st.msgs)
        spin_until(ros_node, lambda: len(st.msgs) >= n + 5, 5.0)
    s = st.last
    assert all(not m.charge_fet_commanded for m in st.msgs), "never commanded on, not even during the delay"
    assert not s.charge_fet
    assert s.discharge_fet and s.current < 0, "discharging must keep working in the cold"
    assert s.charge_enable_requested, "the request is remembered and applies once it is warm enough"


def test_disabling_discharge_by_service_opens_the_fet(ros_node):
    with NodeProcess(sim_params(initial_soc=0.6, load_current=2.0)):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 20.0)
        res = call(ros_node, SetBool, "/bms_node/set_discharge_enable", SetBool.Request(data=False))
        assert res.success
        assert spin_until(ros_node, lambda: not st.last.discharge_fet, 5.0)
        assert spin_until(ros_node, lambda: abs(st.last.current) < 0.01, 5.0)
        res = call(ros_node, SetBool, "/bms_node/set_discharge_enable", SetBool.Request(data=True))
        assert res.success
        assert spin_until(ros_node, lambda: st.last.discharge_fet and st.last.current < 0, 5.0)


def test_over_voltage_shows_in_diagnostics_and_health(ros_node):
    # a broken charger that keeps pushing 4.4 V per cell into an NMC pack
    params = sim_params(initial_soc=0.99, charger_connected=True, charger_current=2.0, charger_cell_voltage=4.4)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=10.0)
        diags = Latest(ros_node, DiagnosticArray, "/diagnostics")
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)

        def protection_error():
            for arr in diags.msgs[-3:]:
                for s in arr.status:
                    if s.name == "bms_node: Protection" and s.level == DiagnosticStatus.ERROR:
                        return s
            return None

        assert spin_until(ros_node, lambda: protection_error() is not None, 60.0), "no ERROR diagnostics"
        err = protection_error()
        spin_until(ros_node, lambda: False, 1.0)
    assert "OVERVOLTAGE" in err.message, err.message
    assert err.hardware_id
    assert bs.last.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_OVERVOLTAGE
    assert max(bs.last.cell_voltage) < 4.35, "the charge FET must have opened before the hard limit"


def test_diagnostics_tasks_and_rate_check(ros_node):
    with NodeProcess(sim_params(initial_soc=0.6, load_current=1.0)):
        diags = Latest(ros_node, DiagnosticArray, "/diagnostics")
        # the first arrays are the per-task "Node starting up" ones; wait for a full periodic update
        full = lambda: [a for a in diags.msgs if len(a.status) >= 7]  # noqa: E731
        assert spin_until(ros_node, lambda: len(full()) >= 2, 20.0)
    names = {s.name: s for s in full()[-1].status}
    for task in (
        "AFE link",
        "Protection",
        "Cell voltages",
        "Temperatures",
        "State of charge and health",
        "Balancing",
        "battery_state rate",
    ):
        assert f"bms_node: {task}" in names, sorted(names)
    cells = {kv.key: kv.value for kv in names["bms_node: Cell voltages"].values}
    assert all(f"Cell {i} (V)" in cells for i in range(1, 5))
    assert names["bms_node: battery_state rate"].level == DiagnosticStatus.OK
    assert names["bms_node: Protection"].level == DiagnosticStatus.OK


def test_two_namespaced_packs(ros_node):
    from rostest_util import ROOT

    cfg = str(ROOT / "config" / "two_pack.yaml")
    with NodeProcess(params_file=cfg, namespace="/pack_left"), NodeProcess(params_file=cfg, namespace="/pack_right"):
        left = Latest(ros_node, BatteryState, "/pack_left/battery_state", RELIABLE)
        right = Latest(ros_node, BatteryState, "/pack_right/battery_state", RELIABLE)
        diags = Latest(ros_node, DiagnosticArray, "/diagnostics")
        names = set()

        def both_seen():
            names.update(s.name for arr in diags.msgs for s in arr.status)
            return (
                left.last is not None
                and right.last is not None
                and {"/pack_left/bms_node: Protection", "/pack_right/bms_node: Protection"} <= names
            )

        assert spin_until(ros_node, both_seen, 30.0), sorted(names)
        res = call(ros_node, SetBool, "/pack_left/bms_node/set_charge_enable", SetBool.Request(data=False))
        assert res.success
    assert left.last.location == "left_bay" and right.last.location == "right_bay"
    assert left.last.serial_number == "SIM-LEFT" and right.last.serial_number == "SIM-RIGHT"
    assert left.last.percentage > right.last.percentage, "initial SoC 0.9 vs 0.7"


def test_sim_time_at_20x(ros_node):
    """With /clock at 20x, simulated time (and the SoC drop it causes) runs 20x faster than the wall."""
    params = sim_params(initial_soc=0.9, load_current=2.0)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        clock = SimClock(ros_node, factor=20.0)
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: len(bs.msgs) >= 10, 20.0)
        m0, w0 = bs.last, time.monotonic()
        spin_until(ros_node, lambda: False, 15.0)
        m1, w1, c1 = bs.last, time.monotonic(), clock.now()
    stamp = lambda m: m.header.stamp.sec + m.header.stamp.nanosec * 1e-9  # noqa: E731
    sim_elapsed, wall = stamp(m1) - stamp(m0), w1 - w0
    assert sim_elapsed / wall == pytest.approx(20.0, rel=0.15)
    assert abs(stamp(m1) - c1) < 20.0, "stamps follow /clock (about 1e3 s here), not the wall clock (1.8e9 s)"
    expected_drop = 2.0 * sim_elapsed / 3600.0 / 1.0  # load x time / capacity
    assert m0.percentage - m1.percentage == pytest.approx(expected_drop, rel=0.25)
    stamps = [stamp(m) for m in bs.msgs]
    assert all(b > a for a, b in itertools.pairwise(stamps)), "simulated time only moves forward"


def test_fault_reset_refuses_a_latched_fault_whose_condition_is_present(ros_node):
    params = sim_params(initial_soc=0.6, ambient_temperature=-5.0, load_current=1.0)
    params["protection"] = {"charge_undertemperature": {"latch": True}}
    cold = BmsStatus.FAULT_CHARGE_UNDERTEMPERATURE
    with NodeProcess(params):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.faults_latched & cold, 20.0)
        res = call(ros_node, Trigger, "/bms_node/reset_faults", Trigger.Request())
        n = len(st.msgs)
        spin_until(ros_node, lambda: len(st.msgs) > n + 3, 5.0)
    cleared, remaining = res.message.split("remaining")
    assert not res.success and "CHARGE_UNDERTEMPERATURE" in remaining and "CHARGE_UNDERTEMPERATURE" not in cleared
    assert st.last.faults_latched & cold and not st.last.charge_fet


def test_fault_reset_clears_a_latched_fault_once_released(ros_node):
    # over-voltage configured to latch; a broken charger (4.4 V per cell) pushing 5C: the IR rise trips it
    # mid-charge, and once the current stops the cells relax below the release threshold
    params = sim_params(initial_soc=0.7, charger_connected=True, charger_current=5.0, charger_cell_voltage=4.4)
    params["protection"] = {"cell_overvoltage": {"latch": True}}
    ov = BmsStatus.FAULT_CELL_OVERVOLTAGE
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=10.0)
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.faults_latched & ov, 60.0)
        assert spin_until(ros_node, lambda: not st.last.charge_fet and not st.last.discharge_fet, 5.0), (
            "a latched fault opens the FETs until it is reset"
        )
        # unplug the broken charger; with no current the cells relax below the release threshold
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.charger_connected": False}))
        assert spin_until(ros_node, lambda: st.last.cell_voltage_max < 4.15 and not st.last.faults_active & ov, 60.0)
        assert st.last.faults_latched & ov, "still latched until someone resets it"
        res = call(ros_node, Trigger, "/bms_node/reset_faults", Trigger.Request())
        assert spin_until(ros_node, lambda: not st.last.faults_latched & ov and st.last.discharge_fet, 5.0)
    cleared, remaining = res.message.split("remaining")
    assert res.success and "CELL_OVERVOLTAGE" in cleared and "CELL_OVERVOLTAGE" not in remaining, res.message


def test_runtime_parameters_validated_with_reasons(ros_node):
    with NodeProcess(sim_params(initial_soc=0.6)):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None, 20.0)
        read_only = set_params(ros_node, "/bms_node", {"pack.cell_count": 8})[0]
        out_of_range = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage.threshold": 9.0})[0]
        wrong_type = set_params(ros_node, "/bms_node", {"sim.load_current": "lots"})[0]
        inverted = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage.release": 4.3})[0]
        fine = set_params(ros_node, "/bms_node", {"sim.load_current": 1.5})[0]
        # `ros2 param set /bms_node sim.load_current 4` sends an integer, as a YAML file's `4` is one
        as_integer = set_params(ros_node, "/bms_node", {"sim.load_current": 4})[0]
        out_of_range_integer = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage.threshold": 9})[0]
        stored = get_params(ros_node, "/bms_node", ["sim.load_current"])[0]
    assert not read_only.successful and "pack.cell_count" in read_only.reason
    assert not out_of_range.successful
    assert not wrong_type.successful and "sim.load_current" in wrong_type.reason, wrong_type.reason
    assert as_integer.successful, as_integer.reason
    assert stored.double_value == 4.0 or stored.integer_value == 4  # a double where rclpy can convert (Iron+)
    assert (
        not out_of_range_integer.successful
        and "protection.cell_overvoltage.threshold" in out_of_range_integer.reason
        and "9" in out_of_range_integer.reason
    ), out_of_range_integer.reason
    assert not inverted.successful and "release" in inverted.reason, inverted.reason
    assert fine.successful


def test_runtime_parameters_outside_the_envelope_are_rejected_with_the_reason(ros_node):
    """ISSUE 11: ros2 param set of an OV-hard of 5.9 V on an NMC pack was accepted."""
    with NodeProcess(sim_params(initial_soc=0.6)):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None, 20.0)
        widened = set_params(ros_node, "/bms_node", {"protection.implausible_data.cell_max": 6.0})[0]
        hard = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage_hard.threshold": 5.9})[0]
        slow = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage.delay": 300.0})[0]
        hot = set_params(ros_node, "/bms_node", {"protection.charge_overtemperature.threshold": 80.0})[0]
        fine = set_params(ros_node, "/bms_node", {"protection.cell_overvoltage.delay": 2.0})[0]
    assert widened.successful and fine.successful
    assert not hard.successful and hard.reason.startswith(
        "protection.cell_overvoltage_hard.threshold: 5.9 V is outside the nmc envelope"
    ), hard.reason
    assert not slow.successful and "protection.cell_overvoltage.delay: 300 s" in slow.reason, slow.reason
    assert not hot.successful and "protection.charge_overtemperature.threshold: 80 degC" in hot.reason, hot.reason


def test_lost_afe_reports_unknown_and_opens_the_fets(ros_node):
    params = sim_params(initial_soc=0.6, load_current=1.0)
    params["afe"]["type"] = "sim_bq769x0"
    with NodeProcess(params):
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 20.0)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 1.0}))
        # stale data comes first, the comm-loss fault after its own delay: wait for the whole lost-AFE picture
        assert spin_until(
            ros_node,
            lambda: (
                not st.last.data_fresh
                and st.last.faults_active & BmsStatus.FAULT_AFE_COMM_LOSS
                and math.isnan(bs.last.voltage)
            ),
            20.0,
        ), st.last
        lost = bs.last
        assert spin_until(
            ros_node, lambda: not st.last.discharge_fet_commanded and not st.last.charge_fet_commanded, 10.0
        ), st.last
        assert st.last.afe_read_errors > 0
        # the link comes back: data is fresh again
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 0.0}))
        assert spin_until(ros_node, lambda: st.last.data_fresh and not math.isnan(bs.last.voltage), 10.0)
    assert math.isnan(lost.voltage) and math.isnan(lost.current) and all(math.isnan(v) for v in lost.cell_voltage)
    assert lost.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    assert lost.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_UNKNOWN


def test_simulated_robot_drains_from_cmd_vel_and_docks_by_service(ros_node):
    from geometry_msgs.msg import Twist

    params = sim_params(
        initial_soc=0.6, load_source="cmd_vel", idle_power=10.0, power_per_mps=100.0, charger_current=2.0
    )
    params["pack"]["design_capacity_ah"] = 10.0  # 160 W from a 15 V pack is about 1C
    with NodeProcess(params):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        cmd = ros_node.create_publisher(Twist, "/cmd_vel", 10)
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 20.0)
        idle = st.last.current
        twist = Twist()
        twist.linear.x = 1.5

        def driving():
            cmd.publish(twist)
            return st.last.current < -2.0

        assert spin_until(ros_node, driving, 10.0)
        expected = -(10.0 + 150.0) / st.last.pack_voltage
        assert st.last.current == pytest.approx(expected, rel=0.05)
        assert idle == pytest.approx(-10.0 / st.last.pack_voltage, rel=0.1)
        # dock: the charger contact closes through the simulation's service
        res = call(ros_node, SetBool, "/bms_node/set_charger_connected", SetBool.Request(data=True))
        assert res.success
        cmd.publish(Twist())  # parked on the dock: the robot idles
        assert spin_until(ros_node, lambda: st.last.current > 1.0, 10.0), "charging after docking"


def test_simulated_charger_state_wins_over_an_earlier_contact_message(ros_node):
    from std_msgs.msg import Bool

    params = sim_params(initial_soc=0.6, ambient_temperature=-5.0)  # charging blocked by the cold
    with NodeProcess(params):
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        contact = ros_node.create_publisher(Bool, "/charger_present", 10)
        assert spin_until(ros_node, lambda: bs.last is not None, 20.0)
        spin_until(ros_node, lambda: contact.get_subscription_count() > 0, 10.0)
        contact.publish(Bool(data=False))
        assert spin_until(
            ros_node, lambda: bs.last.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING, 10.0
        )
        assert call(ros_node, SetBool, "/bms_node/set_charger_connected", SetBool.Request(data=True)).success
        assert spin_until(
            ros_node, lambda: bs.last.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_NOT_CHARGING, 10.0
        ), "charger present but charging blocked: NOT_CHARGING"


def test_readme_short_example_latches_short_circuit_on_the_default_simulation(ros_node):
    """README: `ros2 launch bms_ros sim.launch.py` (config/sim.yaml), then
    `ros2 param set /bms_node sim.fault.external_short true`: the AFE's short-circuit detection trips, the core
    latches SHORT_CIRCUIT and the discharge FET stays open after the short is gone, until a fault reset."""
    with NodeProcess(params_file=str(ROOT / "config" / "sim.yaml")):
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 30.0)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.external_short": True}))
        assert spin_until(ros_node, lambda: st.last.faults_latched & BmsStatus.FAULT_SHORT_CIRCUIT, 10.0), list(
            st.last.fault_names
        )
        assert not st.last.discharge_fet
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.external_short": False}))
        spin_until(ros_node, lambda: False, 2.0)
        assert st.last.faults_latched & BmsStatus.FAULT_SHORT_CIRCUIT and not st.last.discharge_fet, (
            "a short must not clear by itself"
        )
