"""bms_node on every smart-pack emulator from a second process (issue 17): the real parser and driver over bytes,
the same BatteryState semantics as the AFE path, the pack's own SoC beside ours, pack trips, link loss and
recovery, and FET commands where the pack takes them (refused with the reason where it does not)."""

import math

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_srvs.srv import SetBool
from test_ros_interface import Latest

from bms_ros.msg import BmsStatus

from rostest_util import NodeProcess, call, set_params, spin_until

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


def params(kind: str) -> dict:
    kind, _, link = kind.partition("+")
    afe = {"type": kind, "thermistor_count": 2, **({"daly_link": link, "serial_timeout": 0.05} if link else {})}
    # a short release hold for the pack's own UV trip, so the test sees the release without waiting 5 s
    return {
        "rate_hz": 20.0,
        "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 5.0},
        "afe": afe,
        "sim": {"initial_soc": 0.6, "load_current": 2.0},
        "protection": {"afe_hw_undervoltage": {"hold": 0.5}},
    }


def ok(results) -> bool:
    return all(r.successful for r in results)


def check_semantics(m: BatteryState, s: BmsStatus) -> None:
    assert m.present and len(m.cell_voltage) == 4 and all(3.3 < v < 4.3 for v in m.cell_voltage)
    assert m.current == pytest.approx(-2.0, abs=0.1), "discharge is negative"
    assert 0.0 < m.percentage < 1.0 and m.voltage == pytest.approx(sum(m.cell_voltage), abs=0.1)
    assert m.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    assert m.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_GOOD
    assert s.pack_reported_soc == pytest.approx(0.6, abs=0.05) and s.pack_cycle_count >= 0
    assert list(s.pack_protection) == [] and s.faults_active == 0


@pytest.mark.parametrize("kind", ["sim_sbs", "sim_jbd", "sim_daly", "sim_daly+can"])
def test_node_on_smart_pack_emulator(ros_node, kind):
    with NodeProcess(params(kind)) as proc:
        bs = Latest(ros_node, BatteryState, "/battery_state", RELIABLE)
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        diag = Latest(ros_node, DiagnosticArray, "/diagnostics")
        assert spin_until(ros_node, lambda: len(bs.msgs) >= 10 and st.last is not None and st.last.data_fresh, 30.0), (
            proc.proc.poll()
        )
        check_semantics(bs.last, st.last)

        def link_keys() -> dict:
            for m in reversed(diag.msgs):
                for d in m.status:
                    kv = {v.key: v.value for v in d.values}
                    if "Link checksum errors" in kv:
                        return kv
            return {}

        assert spin_until(ros_node, lambda: bool(link_keys()), 5.0), "link counters in the diagnostics"
        assert link_keys()["Pack FET commands"].startswith("refused" if kind == "sim_sbs" else "accepted")
        if not kind.startswith("sim_daly"):  # the Daly frames read here carry no identity
            assert bs.last.serial_number, "the pack's identity becomes serial_number"

        # FET commands: an SBS pack refuses with the reason; a JBD / Daly board obeys within the board's limits
        res = call(ros_node, SetBool, "/bms_node/set_charge_enable", SetBool.Request(data=False))
        if kind == "sim_sbs":
            assert not res.success and "accepts no FET" in res.message, res.message
            assert not st.last.pack_fets_controllable
        else:
            assert res.success, res.message
            assert spin_until(ros_node, lambda: not st.last.charge_fet and st.last.discharge_fet, 5.0), st.last
            res = call(ros_node, SetBool, "/bms_node/set_charge_enable", SetBool.Request(data=True))
            assert res.success, res.message
            assert spin_until(ros_node, lambda: st.last.charge_fet, 5.0), st.last
            # the board forbids charging (its own charge over-temperature): "true" does not close the FET
            assert ok(set_params(ros_node, "/bms_node", {"sim.fault.pack_trip": "charge_overtemperature"}))
            assert spin_until(ros_node, lambda: not st.last.charge_fet, 5.0), st.last
            res = call(ros_node, SetBool, "/bms_node/set_charge_enable", SetBool.Request(data=True))
            assert not res.success and "pack's own BMS blocks charging" in res.message, res.message
            assert not st.last.charge_fet and "charge_overtemperature" in st.last.pack_protection

        # the pack trips its own protection: our faults / health show it
        assert ok(set_params(ros_node, "/bms_node", {"sim.fault.pack_trip": "cell_undervoltage"}))
        assert spin_until(
            ros_node,
            lambda: st.last.faults_active & BmsStatus.FAULT_AFE_HW_UNDERVOLTAGE and not st.last.discharge_fet,
            5.0,
        ), st.last
        assert st.last.pack_protection, "the pack's own words are published"
        assert spin_until(ros_node, lambda: abs(bs.last.current) < 0.05, 5.0), "the pack opened its DSG FET"
        res = call(ros_node, SetBool, "/bms_node/set_discharge_enable", SetBool.Request(data=True))
        assert not res.success, "neither the board nor the core allows discharging now"
        assert not st.last.discharge_fet
        assert ok(set_params(ros_node, "/bms_node", {"sim.fault.pack_trip": "none"}))
        assert spin_until(ros_node, lambda: not st.last.faults_active & BmsStatus.FAULT_AFE_HW_UNDERVOLTAGE, 10.0)

        # link loss: held, then stale (NaN, unknown), then back
        assert ok(set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 1.0}))
        assert spin_until(ros_node, lambda: not st.last.data_fresh and math.isnan(bs.last.voltage), 10.0), st.last
        lost = bs.last
        assert st.last.afe_read_errors > 0
        assert ok(set_params(ros_node, "/bms_node", {"sim.fault.nack_rate": 0.0}))
        assert spin_until(ros_node, lambda: st.last.data_fresh and not math.isnan(bs.last.voltage), 10.0)
        assert proc.proc.poll() is None
    assert math.isnan(lost.current) and math.isnan(lost.voltage)
    assert lost.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_UNKNOWN
