"""What a charger, a dock controller and a heater driver hear from the node (issue 19).

The CAN tests run the node in this process: python-can's virtual bus connects buses of one process only (its
network-capable variant needs msgpack, and SocketCAN vcan needs root). The heater test runs the node as a
second process, as a dock controller would see it.
"""

from __future__ import annotations

import math
import struct
import time
import uuid

import pytest
from std_msgs.msg import Bool

from bms_ros.msg import ChargeLimits

from rostest_util import ROOT, NodeProcess, spin_until

pytestmark = pytest.mark.ros
can = pytest.importorskip("can")
pytest.importorskip("cantools")


def sim_params(**sim) -> dict:
    return {
        "rate_hz": 10.0,
        "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 1.0},
        "afe": {"type": "sim"},
        "sim": {"load_current": 0.0, **sim},
    }


def _overrides(tree: dict, prefix: str = "") -> list:
    from rclpy.parameter import Parameter

    out = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out += _overrides(v, f"{prefix}{k}.")
        else:
            out.append(Parameter(prefix + k, value=v))
    return out


class CanNode:
    """bms_node in this process with CAN output on a private virtual bus, and a listener on that bus."""

    def __init__(self, ros_node, params: dict):
        from rclpy.executors import SingleThreadedExecutor

        from bms_ros.nodes.bms_node import BmsNode

        channel = f"bms_test_{uuid.uuid4().hex[:8]}"
        params = {
            **params,
            "can": {"enabled": True, "interface": "virtual", "channel": channel, "period": 0.2, "name": "PYLON"},
        }
        self.listener = can.Bus(interface="virtual", channel=channel)
        self.node = BmsNode(f"bms_can_{uuid.uuid4().hex[:6]}", parameter_overrides=_overrides(params))
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.ex.add_node(ros_node)
        self.limits: list[ChargeLimits] = []
        ros_node.create_subscription(ChargeLimits, f"/{self.node.get_name()}/charge_limits", self.limits.append, 10)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.02)

    def frozen_frames(self) -> dict[int, dict]:
        """Stop the AFE cycle (the decision stands still), then the frames of two CAN periods, decoded with the
        shipped DBC: {frame id: signals}; the payloads as sent in ``self.raw``."""
        from bms_ros.can_frames import DBC_PATH, FrameEncoder

        self.node.source.timer.cancel()
        self.spin(0.3)  # the last ~/charge_limits arrives; frames in flight
        while self.listener.recv(timeout=0.0) is not None:
            pass
        self.spin(0.5)
        dbc = FrameEncoder(DBC_PATH)
        frames: dict[int, dict] = {}
        self.raw: dict[int, bytes] = {}
        while (m := self.listener.recv(timeout=0.0)) is not None:
            assert not m.is_extended_id
            frames[m.arbitration_id] = dbc.decode(m.arbitration_id, bytes(m.data))
            self.raw[m.arbitration_id] = bytes(m.data)
        return frames

    def close(self) -> None:
        self.node.safe_shutdown()
        self.ex.shutdown(timeout_sec=0.0)
        self.node.destroy_node()
        self.listener.shutdown()


def test_can_frames_decode_to_the_nodes_limits_and_state(ros_node):
    n = CanNode(
        ros_node, sim_params(initial_soc=0.5, charger_connected=True, charger_current=0.8, charger_follows_limits=True)
    )
    try:
        n.spin(1.5)
        frames = n.frozen_frames()
        out = n.node.last_output
    finally:
        n.close()
    assert set(frames) == {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E}
    lim, msg = frames[0x351], n.limits[-1]
    # the frame carries the node's decision (to the frame's resolution), as ~/charge_limits does
    assert lim["ChargeVoltageLimit"] == pytest.approx(out.charge_voltage_limit, abs=0.05)
    assert lim["ChargeCurrentLimit"] == pytest.approx(out.charge_current_limit, abs=0.05)
    assert lim["DischargeCurrentLimit"] == pytest.approx(out.discharge_current_limit, abs=0.05)
    assert lim["DischargeVoltageLimit"] == pytest.approx(out.discharge_voltage_limit, abs=0.05)
    assert msg.charge_voltage_limit == pytest.approx(out.charge_voltage_limit, rel=1e-6)
    assert msg.charge_current_limit == pytest.approx(out.charge_current_limit, rel=1e-6)
    assert 16.0 < lim["ChargeVoltageLimit"] <= 16.8 and lim["ChargeCurrentLimit"] > 0.5
    assert frames[0x355]["StateOfCharge"] == round(100 * out.estimate.soc)
    m = frames[0x356]
    assert m["BatteryVoltage"] == pytest.approx(out.view.pack_voltage, abs=0.006)
    assert m["BatteryCurrent"] == pytest.approx(out.view.current, abs=0.051) and m["BatteryCurrent"] > 0.5
    assert m["BatteryTemperature"] == pytest.approx(max(out.view.temperatures), abs=0.051)
    assert frames[0x35C]["ChargeEnable"] == 1 and frames[0x35C]["DischargeEnable"] == 1
    assert frames[0x35C]["ForceChargeRequestI"] == 0
    a = frames[0x359]
    assert a["ProtocolMarker"] == 0x4E50 and a["ModuleCount"] == 1
    assert not any(v for k, v in a.items() if k.startswith(("Protection", "Warning")))
    assert int(frames[0x35E]["Name"]).to_bytes(8, "little") == b"PYLON   "
    # the payloads against the public layout itself, not only our DBC (diyBMS pylon_canbus.cpp structs)
    raw = n.raw
    cvl, ccl, dcl, dvl = struct.unpack("<HhhH", raw[0x351])
    assert (cvl / 10, ccl / 10, dcl / 10, dvl / 10) == pytest.approx(
        (out.charge_voltage_limit, out.charge_current_limit, out.discharge_current_limit, out.discharge_voltage_limit),
        abs=0.051,
    )
    assert struct.unpack("<HH", raw[0x355]) == (round(100 * out.estimate.soc), 100)
    v, i, t = struct.unpack("<hhh", raw[0x356])
    assert (v / 100, i / 10, t / 10) == pytest.approx(
        (m["BatteryVoltage"], m["BatteryCurrent"], m["BatteryTemperature"]), abs=1e-6
    )
    assert raw[0x35C][0] == 0xC0 and raw[0x359][4:7] == b"\x01PN" and raw[0x35E] == b"PYLON   "


def test_can_frames_of_a_cold_pack_forbid_charging_and_say_why(ros_node):
    n = CanNode(ros_node, sim_params(initial_soc=0.5, ambient_temperature=-5.0, charger_connected=True))
    try:
        n.spin(3.0)  # the under-temperature trip delay is 2 s
        frames = n.frozen_frames()
        out = n.node.last_output
    finally:
        n.close()
    assert out.charge_current_limit == 0.0 and not out.charge_fet
    assert frames[0x351]["ChargeCurrentLimit"] == 0.0 and frames[0x351]["DischargeCurrentLimit"] > 0.0
    assert frames[0x35C]["ChargeEnable"] == 0 and frames[0x35C]["DischargeEnable"] == 1
    assert frames[0x359]["ProtectionLowTemperature"] == 1
    assert frames[0x356]["BatteryTemperature"] == pytest.approx(-5.0, abs=0.2)


def test_cold_dock_heater_topic_turns_on_and_charge_is_held_at_zero(ros_node):
    """Second process, as a dock controller sees it, with config/cold_dock.yaml (docked at -5 degC, a heater
    fitted): ``heater`` turns on, ``~/charge_limits`` allows no charge current and says why."""
    heater: list[Bool] = []
    limits: list[ChargeLimits] = []
    ros_node.create_subscription(Bool, "/heater", heater.append, 10)
    ros_node.create_subscription(ChargeLimits, "/bms_node/charge_limits", limits.append, 10)
    with NodeProcess(params_file=str(ROOT / "config" / "cold_dock.yaml")):
        assert spin_until(ros_node, lambda: heater and heater[-1].data and limits, 20.0), "the heater never ran"
        assert spin_until(ros_node, lambda: "UNDERTEMPERATURE" in limits[-1].charge_current_reason, 10.0)
    last = limits[-1]
    assert last.heater_on and last.heater_reason == "heating"
    assert last.charge_current_limit == 0.0 and not last.charge_enable and last.discharge_enable
    assert math.isfinite(last.charge_voltage_limit) and last.charge_voltage_limit > 0.0
