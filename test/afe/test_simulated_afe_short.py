"""The README's short example on the default simulation (config/sim.yaml, afe.type sim): the ideal simulated
AFE detects the short like the chip does, so the core latches SHORT_CIRCUIT instead of reporting a discharge
overcurrent that clears by itself."""

from pathlib import Path

from bms_ros.afe.factory import apply_sim_faults, make_afe
from bms_ros.config import load_config, read_params_file
from bms_ros.core.bms import Bms
from bms_ros.core.faults import Fault
from bms_ros.core.hardware_protection import hardware_protection

SIM_YAML = Path(__file__).resolve().parents[2] / "config" / "sim.yaml"
STEP_S = 0.1


class Node:
    """What bms_node does with the AFE each cycle, without ROS."""

    def __init__(self, values: dict):
        self.cfg = load_config(values)
        self.afe = make_afe(self.cfg.afe, self.cfg.pack, self.cfg.sim)
        self.afe.configure_protection(hardware_protection(self.cfg))
        self.bms = Bms(self.cfg)
        self.bms.balancing_constraints = self.afe.balancing_constraints
        self.t, self.out = 0.0, None

    def run(self, seconds: float):
        for _ in range(round(seconds / STEP_S)):
            self.t += STEP_S
            self.out = self.bms.step(self.afe.read(self.t))
            self.afe.apply(self.out)
        return self.out

    def set_short(self, on: bool) -> None:  # ros2 param set /bms_node sim.fault.external_short ...
        values = {**read_params_file(SIM_YAML), "sim.fault.external_short": on}
        apply_sim_faults(self.afe, load_config(values).sim.fault)


def test_short_on_the_default_simulation_latches_short_circuit_until_reset():
    node = Node(read_params_file(SIM_YAML))
    assert node.cfg.afe.type == "sim"
    assert node.run(2.0).discharge_fet
    node.set_short(True)
    out = node.run(0.5)
    assert out.faults_latched & Fault.SHORT_CIRCUIT and not out.discharge_fet and abs(out.sample.current) < 0.01
    node.set_short(False)
    out = node.run(3.0)
    assert out.faults_latched & Fault.SHORT_CIRCUIT and not out.discharge_fet, "a short must not clear by itself"
    node.afe.pack.load_a = 0.0  # load off the terminals
    node.run(1.0)
    assert node.bms.reset_faults(node.t) == (["SHORT_CIRCUIT"], [])
    assert node.run(2.0).discharge_fet


def test_a_short_below_the_programmed_threshold_does_not_trip_the_afe():
    node = Node(read_params_file(SIM_YAML))
    node.run(1.0)
    node.afe.pack.short_circuit_a = 0.5 * hardware_protection(node.cfg).short_circuit
    node.set_short(True)
    out = node.run(0.2)
    assert not out.faults_latched & Fault.SHORT_CIRCUIT
