"""The IEC 62619 system lock as an operator meets it, from a second process: a fault reset cannot end it, the
unlock service needs the code the Protection diagnostic shows, and only works once the condition is gone."""

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_srvs.srv import Trigger
from test_ros_interface import Latest, sim_params

from bms_ros.msg import BmsStatus
from bms_ros.srv import Unlock

from rostest_util import NodeProcess, SimClock, call, set_params, spin_until

pytestmark = pytest.mark.ros


def _lock_code(diags: Latest) -> str:
    for arr in reversed(diags.msgs):
        for st in arr.status:
            for kv in st.values:
                if kv.key == "System lock":
                    return kv.value.rsplit(" ", 1)[-1]
    return ""


def test_a_locked_pack_needs_the_unlock_service_with_its_code(ros_node):
    # a broken charger (4.4 V per cell) pushing 5C: a cell beyond the hard over-voltage limit locks the pack
    params = sim_params(initial_soc=0.9, charger_connected=True, charger_current=5.0, charger_cell_voltage=4.4)
    lock = BmsStatus.FAULT_SYSTEM_LOCK
    with NodeProcess(params, extra_args=["-p", "use_sim_time:=true"]):
        SimClock(ros_node, factor=10.0)
        st = Latest(ros_node, BmsStatus, "/bms_node/status")
        diags = Latest(ros_node, DiagnosticArray, "/diagnostics")
        assert spin_until(ros_node, lambda: st.last is not None and st.last.faults_latched & lock, 60.0)
        assert spin_until(ros_node, lambda: _lock_code(diags) != "", 10.0), "the diagnostic shows the code"
        code = _lock_code(diags)
        assert all(r.successful for r in set_params(ros_node, "/bms_node", {"sim.charger_connected": False}))
        assert spin_until(
            ros_node,
            lambda: (
                st.last.cell_voltage_max < 4.2 and not st.last.faults_active & BmsStatus.FAULT_CELL_OVERVOLTAGE_HARD
            ),
            60.0,
        )
        reset = call(ros_node, Trigger, "/bms_node/reset_faults", Trigger.Request())
        assert not reset.success and "SYSTEM_LOCK" in reset.message and "~/unlock" in reset.message, reset.message
        assert spin_until(ros_node, lambda: st.last.faults_latched & lock and not st.last.discharge_fet, 5.0)
        wrong = call(ros_node, Unlock, "/bms_node/unlock", Unlock.Request(code="0000" if code != "0000" else "1"))
        assert not wrong.success and "wrong unlock code" in wrong.message
        right = call(ros_node, Unlock, "/bms_node/unlock", Unlock.Request(code=code.lower()))
        assert right.success, right.message
        call(ros_node, Trigger, "/bms_node/reset_faults", Trigger.Request())
        assert spin_until(ros_node, lambda: not st.last.faults_latched and st.last.discharge_fet, 10.0)
