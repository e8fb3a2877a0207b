"""What Nav2, docking and Open-RMF decide from the node's output (ISSUE 14), from a second process.

Each consumer's rule is a small predicate below, written after the upstream code it models (file and function
cited; our own code). A scenario feeds the node's messages through them and counts how often each decision
changes: where the truth changes once, a decision may change at most once; where it does not change, never.
Everything runs on the simulated pack, at 10-20 Hz, some under a fast /clock, so the module stays short.
"""

import itertools
import math
import time

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_srvs.srv import SetBool, Trigger

from bms_ros.msg import BmsStatus

from rostest_util import NodeProcess, SimClock, call, set_params, spin_until

pytestmark = pytest.mark.ros

# Nav2's IsBatteryLow/IsBatteryCharging subscribe RELIABLE (ros-conventions.md): a consumer's own QoS
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
UNKNOWN = BatteryState.POWER_SUPPLY_STATUS_UNKNOWN


# ---- the consumers' rules -----------------------------------------------------------------------------------
def nav2_is_battery_low(m: BatteryState, min_battery: float = 0.2) -> bool:
    """navigation2 nav2_behavior_tree/plugins/condition/is_battery_low_condition.cpp,
    IsBatteryLowCondition::batteryCallback: ``is_battery_low_ = msg->percentage <= min_battery_`` (no
    hysteresis; NaN compares false: never low)."""
    return m.percentage <= min_battery


def nav2_is_battery_charging(m: BatteryState) -> bool:
    """navigation2 .../condition/is_battery_charging_condition.cpp, batteryCallback:
    ``is_battery_charging_ = msg->power_supply_status == POWER_SUPPLY_STATUS_CHARGING`` (FULL is not)."""
    return m.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING


def docking_is_charging(m: BatteryState, charging_threshold: float = 0.5) -> bool:
    """navigation2 nav2_docking/opennav_docking/src/simple_charging_dock.cpp, SimpleChargingDock::configure,
    the battery_state callback (commit 00fe819e, ~line 143): ``is_charging_ = state->current >
    charging_threshold_`` (default 0.5 A); isCharging() returns it. NaN compares false."""
    return m.current > charging_threshold


def rmf_battery_soc(m: BatteryState) -> float:
    """free_fleet (open-rmf/free_fleet) fleet adapter: ``battery_soc = percentage``, unfiltered, 0..1 expected
    (ros-conventions.md). The planner's WaitForCharge ends at ``recharge_soc``."""
    return m.percentage


def changes(values: list) -> int:
    """How often a decision changed over a scenario."""
    return sum(1 for a, b in itertools.pairwise(values) if a != b)


class Topic:
    """All messages of a topic, as a consumer with its own QoS receives them."""

    def __init__(self, node, msg_type, name, qos=10):
        self.msgs = []
        node.create_subscription(msg_type, name, self.msgs.append, qos)

    @property
    def last(self):
        return self.msgs[-1] if self.msgs else None


def pack(afe: str = "sim", rate_hz: float = 10.0, protection: dict | None = None, **sim) -> dict:
    p = {
        "rate_hz": rate_hz,
        "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 10.0},
        "afe": {"type": afe},
        "sim": {"load_current": 1.0, **sim},
    }
    if protection:
        p["protection"] = protection
    return p


def wait(node, seconds: float) -> None:
    spin_until(node, lambda: False, seconds)


# ---- 1: a runtime sim.* parameter keeps the docked charger ------------------------------------------------------
def test_setting_a_sim_parameter_keeps_the_charger_connected(ros_node):
    with NodeProcess(pack(initial_soc=0.5, load_current=0.0, charger_current=3.0)):
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: bs.last is not None, 20.0)
        assert call(ros_node, SetBool, "/bms_node/set_charger_connected", SetBool.Request(data=True)).success
        assert spin_until(ros_node, lambda: nav2_is_battery_charging(bs.last) and docking_is_charging(bs.last), 10.0)
        n = len(bs.msgs)
        # the README's own example, and an unchanged value: neither is a charger disconnect
        for values in ({"sim.fault.external_short": False}, {"sim.ambient_temperature": 25.0}):
            assert all(r.successful for r in set_params(ros_node, "/bms_node", values))
        wait(ros_node, 2.0)
    after = bs.msgs[n:]
    assert len(after) > 10
    assert all(nav2_is_battery_charging(m) and docking_is_charging(m) for m in after), [
        (m.power_supply_status, round(m.current, 2)) for m in after if not docking_is_charging(m)
    ][:5]


# ---- 2: intermittent I2C errors hold the last values, consumers never flap ---------------------------------------
def test_intermittent_nack_is_held_and_never_flaps_nav2_or_docking(ros_node):
    params = pack(
        "sim_bq769x0", rate_hz=20.0, initial_soc=0.5, load_current=0.0, charger_connected=True, charger_current=3.0
    )
    params["sim"]["fault"] = {"nack_rate": 0.3}
    with NodeProcess(params):
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Topic(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: bs.last is not None and docking_is_charging(bs.last), 20.0)
        n, k = len(bs.msgs), len(st.msgs)
        wait(ros_node, 8.0)
    got, status = bs.msgs[n:], st.msgs[k:]
    assert len(got) > 100
    assert any(s.data_held for s in status), "some reads failed: their messages say the values are held"
    assert all(s.data_fresh for s in status)
    assert not [m for m in got if m.power_supply_status == UNKNOWN or math.isnan(m.current)], (
        "a single failed read reached consumers as a lost pack"
    )
    assert changes([nav2_is_battery_charging(m) for m in got]) == 0
    assert changes([docking_is_charging(m) for m in got]) == 0
    held = [s for s in status if s.data_held]
    assert all(s.data_age > 0.0 and not math.isnan(s.pack_voltage) for s in held)


# ---- 3, 8: a lost bus and its return: no brown-out, FETs as the chip has them, honest SoC confidence -------------
def test_bus_death_and_return_cuts_no_discharge_and_grows_soc_uncertainty(ros_node):
    params = pack("sim_bq769x0", rate_hz=20.0, initial_soc=0.6, load_current=2.0)
    with NodeProcess(params):
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Topic(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet and st.last.data_fresh, 20.0)
        # a short loss (less than stale_timeout): nothing is switched
        k0 = len(st.msgs)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 1.0}))
        wait(ros_node, 0.4)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 0.0}))
        assert spin_until(ros_node, lambda: st.last.data_fresh and not st.last.data_held, 5.0)
        wait(ros_node, 1.0)
        short = st.msgs[k0:]
        # a long loss: stale, then the bus comes back
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 1.0}))
        assert spin_until(ros_node, lambda: not st.last.data_fresh, 10.0)
        k1 = len(st.msgs)
        wait(ros_node, 2.0)
        lost = st.msgs[k1:]
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 0.0}))
        assert spin_until(ros_node, lambda: st.last.data_fresh, 10.0)
        k2, b2 = len(st.msgs), len(bs.msgs)
        wait(ros_node, 3.0)
        back, back_bs = st.msgs[k2:], bs.msgs[b2:]
    assert all(s.discharge_fet_commanded for s in short), "a loss shorter than stale_timeout switched a FET"
    assert all(s.discharge_fet for s in short)
    # while stale the node commands both off (it cannot judge the pack) and reports the chip's read-back FETs:
    # the write failed, so the chip still has DSG on
    assert lost and all(not s.discharge_fet_commanded for s in lost)
    assert all(s.discharge_fet for s in lost), "reported the unwritten command instead of the chip's FET"
    # the link is back: the discharge FET that was on stays on (no off-pulse, no brown-out)
    assert back and all(s.discharge_fet and s.discharge_fet_commanded for s in back), [
        (s.discharge_fet, s.discharge_fet_commanded, list(s.fault_names)) for s in back
    ][:5]
    assert all(m.current < -1.0 for m in back_bs), "the load lost power after the bus came back"
    # 8: without data the SoC's confidence falls with the time without data
    stds = [s.soc_std for s in lost]
    assert stds[-1] > stds[0] > 0.0, stds


# ---- 4: the simulation clock jumps back (Gazebo reset, bag play --loop) ------------------------------------------
def test_clock_jump_back_rebases_the_simulation_and_trips_nothing(ros_node):
    params = pack("sim", rate_hz=10.0, initial_soc=0.6, load_current=3.0)
    proc = NodeProcess(params, extra_args=["-p", "use_sim_time:=true"])
    try:
        clock = SimClock(ros_node, factor=10.0, start=5000.0)
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Topic(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 30.0)
        wait(ros_node, 1.0)
        clock.start, clock.t0 = 1000.0, time.monotonic()  # 4000 s back
        k, b = len(st.msgs), len(bs.msgs)
        wait(ros_node, 4.0)
    finally:
        proc.stop()
    after = st.msgs[k:]
    assert len(after) > 20
    assert all(m.power_supply_status != UNKNOWN and 0.0 <= m.percentage <= 1.0 for m in bs.msgs[b:])
    assert not any(s.faults_active | s.faults_latched for s in after), sorted({n for s in after for n in s.fault_names})
    assert all(s.discharge_fet and s.charge_fet for s in after)
    volts = [s.pack_voltage for s in after[-20:]]
    assert len(set(volts)) > 1, "the simulated pack froze after the clock jumped back"
    assert proc.stderr.count("clock jumped back") + proc.stdout.count("clock jumped back") == 1


# ---- 7: the published percentage never moves against the current -------------------------------------------------
def test_percentage_never_rises_while_discharging_in_the_cold(ros_node):
    # 0.1C at -5 degC: the filter's SoC rises ~0.35 % in the first 4 minutes (the cold cell's voltage recovers)
    params = pack("sim", rate_hz=10.0, initial_soc=0.6, load_current=1.0, ambient_temperature=-5.0)
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=40.0)
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: bs.last is not None and bs.last.current < -0.5, 30.0)
        n = len(bs.msgs)
        wait(ros_node, 6.0)  # about 4 simulated minutes
    got = [m for m in bs.msgs[n:] if m.current < -0.1]
    assert len(got) > 20
    rises = [(a.percentage, b.percentage) for a, b in itertools.pairwise(got) if b.percentage > a.percentage]
    assert not rises, rises[:5]


# ---- 10: the short-circuit reset refused with the load on says why ---------------------------------------------
def test_short_circuit_reset_refused_with_the_load_connected_names_load_present(ros_node):
    with NodeProcess(pack("sim", initial_soc=0.6, load_current=2.0)):
        st = Topic(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.discharge_fet, 20.0)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.external_short": True}))
        assert spin_until(ros_node, lambda: st.last.faults_latched & BmsStatus.FAULT_SHORT_CIRCUIT, 10.0)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.fault.external_short": False}))
        wait(ros_node, 0.5)
        res = call(ros_node, Trigger, "/bms_node/reset_faults", Trigger.Request())
    assert not res.success
    assert "SHORT_CIRCUIT" in res.message and "LOAD_PRESENT" in res.message and "disconnect" in res.message, res.message


# ---- 5: one end of charge: FULL and 100 % together, docking's threshold agrees with Nav2 ------------------------
def stamp_s(m) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def test_full_and_100_percent_come_together_and_docking_agrees_with_nav2(ros_node):
    params = pack("sim", rate_hz=10.0, initial_soc=0.985, load_current=0.0, charger_connected=True, charger_current=2.0)
    params["pack"]["design_capacity_ah"] = 5.0
    tail_a = 0.05 * 5.0  # estimation.tail_current (0.05 C, default) x design capacity: README's rule
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=50.0)
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        assert spin_until(ros_node, lambda: bs.last is not None and nav2_is_battery_charging(bs.last), 30.0)
        assert spin_until(
            ros_node, lambda: bs.last.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_FULL, 60.0
        ), f"never FULL: {bs.last.percentage:.4f} at {bs.last.current:.3f} A"
        wait(ros_node, 1.0)
    got = [m for m in bs.msgs if not math.isnan(m.current)]
    got = got[[nav2_is_battery_charging(m) for m in got].index(True) :]  # from the start of the charge
    full = [m.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_FULL for m in got]
    first = full.index(True)
    assert got[first].percentage == pytest.approx(1.0), "FULL must come with 100 % (Open-RMF recharge_soc 1.0)"
    assert all(m.percentage < 1.0 for m in got[:first]), "100 % before the end of charge"
    assert changes(full) == 1 and rmf_battery_soc(got[-1]) == pytest.approx(1.0)
    nav2 = [nav2_is_battery_charging(m) for m in got]
    dock = [docking_is_charging(m, tail_a) for m in got]
    assert changes(nav2) <= 1 and changes(dock) <= 1
    disagree = [stamp_s(m) for m, a, b in zip(got, nav2, dock) if a != b]
    assert not disagree or disagree[-1] - disagree[0] <= 5.0, (
        f"Nav2 and docking disagree for {disagree[-1] - disagree[0]:.0f} s of simulated time"
    )


# ---- 6: no false health alarms ------------------------------------------------------------------------------------
def protection_level(arr):
    return next((s.level for s in arr.status if s.name.endswith(": Protection")), None)


@pytest.mark.parametrize(
    ("ambient", "bad"),
    [(-5.0, BatteryState.POWER_SUPPLY_HEALTH_COLD), (50.0, BatteryState.POWER_SUPPLY_HEALTH_OVERHEAT)],
    ids=["cold", "hot"],
)
def test_discharge_outside_the_charge_window_is_healthy_until_a_charge_is_wanted(ros_node, ambient, bad):
    """-5 degC and 50 degC are inside the discharge window (-20..60) and outside the charge window (0..45)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    with NodeProcess(pack("sim", initial_soc=0.6, load_current=2.0, ambient_temperature=ambient)):
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        diag = Topic(ros_node, DiagnosticArray, "/diagnostics")
        assert spin_until(ros_node, lambda: bs.last is not None and bs.last.current < -1.0, 20.0)
        n, d = len(bs.msgs), len(diag.msgs)
        wait(ros_node, 2.5)
        driving, driving_diag = bs.msgs[n:], diag.msgs[d:]
        # docked: the charger is on the contacts, outside the charge window
        assert call(ros_node, SetBool, "/bms_node/set_charger_connected", SetBool.Request(data=True)).success
        assert spin_until(ros_node, lambda: bs.last.power_supply_health == bad, 10.0), bs.last.power_supply_health
    assert all(m.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_GOOD for m in driving), {
        m.power_supply_health for m in driving
    }
    levels = [protection_level(a) for a in driving_diag if protection_level(a) is not None]
    assert levels and DiagnosticStatus.ERROR not in levels


def test_discharge_to_cut_off_is_dead_and_the_bottom_of_the_curve_is_no_imbalance(ros_node):
    params = pack("sim", initial_soc=0.10, load_current=1.0)
    params["pack"]["design_capacity_ah"] = 1.0
    params["sim"]["seed"] = 3
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=50.0)
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Topic(ros_node, BmsStatus, "/bms_node/status")
        assert spin_until(
            ros_node, lambda: st.last is not None and st.last.faults_active & BmsStatus.FAULT_CELL_UNDERVOLTAGE, 60.0
        ), "never reached the cut-off"
        wait(ros_node, 2.0)
    assert not any(s.faults_active & BmsStatus.FAULT_CELL_IMBALANCE for s in st.msgs), (
        "the cell spread at the bottom of the curve is not an imbalance"
    )
    healths = [m.power_supply_health for m in bs.msgs if not math.isnan(m.current)]
    assert BatteryState.POWER_SUPPLY_HEALTH_UNSPEC_FAILURE not in healths
    assert healths[-1] == BatteryState.POWER_SUPPLY_HEALTH_DEAD
    lows = [nav2_is_battery_low(m) for m in bs.msgs if not math.isnan(m.percentage)]
    assert changes(lows) <= 1 and lows[-1], "Nav2's low decision flipped while the pack drained"


# ---- 9: the rate diagnostic under sim time ---------------------------------------------------------------------
@pytest.mark.parametrize(("factor", "period"), [(50.0, 0.005), (1.0, 0.025)], ids=["50x", "bag-play-40Hz-clock"])
def test_rate_diagnostic_is_not_an_error_while_messages_arrive_under_sim_time(ros_node, factor, period):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    with NodeProcess(pack("sim", initial_soc=0.6), extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=factor, period=period)
        bs = Topic(ros_node, BatteryState, "/battery_state", RELIABLE)
        diag = Topic(ros_node, DiagnosticArray, "/diagnostics")
        assert spin_until(ros_node, lambda: len(bs.msgs) > 5, 30.0)
        d = len(diag.msgs)
        wait(ros_node, 3.0)
    rate = [s for a in diag.msgs[d:] for s in a.status if s.name.endswith(": battery_state rate")]
    assert rate, "no rate diagnostic"
    assert all(s.level != DiagnosticStatus.ERROR for s in rate), [s.message for s in rate]
