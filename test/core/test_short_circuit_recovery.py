"""Short circuit end to end (register-level chip emulator, real driver, core) on both chips: the chip trips SCD, the
core latches it, and a fault reset is only accepted once the AFE sees no load any more (bq769x0 LOAD_PRESENT with
CHG off; bq769x2 the LD pin with DSG off)."""

import pytest

from bms_ros.afe.factory import make_afe
from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.faults import Fault
from bms_ros.core.hardware_protection import hardware_protection


class Rig:
    def __init__(self, afe_type: str):
        cfg = load_config({"afe.type": afe_type, "sim.load_current": 5.0, "sim.initial_soc": 0.7})
        self.afe = make_afe(cfg.afe, cfg.pack, cfg.sim)
        self.afe.configure_protection(hardware_protection(cfg))
        self.bms = Bms(cfg)
        self.bms.balancing_constraints = self.afe.balancing_constraints
        self.t = 0.0
        self.out = None

    def run(self, seconds: float):
        for _ in range(round(seconds * 10)):
            self.t += 0.1
            self.out = self.bms.step(self.afe.read(self.t))
            self.afe.apply(self.out)
        return self.out


@pytest.mark.parametrize("afe_type", ["sim_bq769x0", "sim_bq769x2"])
def test_short_latches_and_reset_waits_for_the_load_to_go(afe_type):
    rig = Rig(afe_type)
    assert rig.run(2.0).discharge_fet and rig.out.sample.current < -4.0
    rig.afe.pack.external_short = True
    out = rig.run(0.5)
    assert out.faults_latched & Fault.SHORT_CIRCUIT
    assert not out.discharge_fet and not out.sample.discharge_fet and abs(out.sample.current) < 0.01

    cleared, remaining = rig.bms.reset_faults(rig.t)  # short still there
    assert "SHORT_CIRCUIT" in remaining and not cleared
    rig.afe.pack.external_short = False
    out = rig.run(2.0)
    assert not out.discharge_fet
    cleared, remaining = rig.bms.reset_faults(rig.t)  # the robot's load is still connected
    assert "SHORT_CIRCUIT" in remaining

    rig.afe.pack.load_a = 0.0  # load disconnected (contactor open)
    rig.run(1.0)
    cleared, remaining = rig.bms.reset_faults(rig.t)
    assert cleared == ["SHORT_CIRCUIT"] and remaining == []
    out = rig.run(2.0)
    assert out.discharge_fet and out.sample.discharge_fet and not out.faults_latched
    rig.afe.pack.load_a = 5.0
    assert rig.run(1.0).sample.current < -4.0, "back in service"
