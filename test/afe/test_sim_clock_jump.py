"""A simulated pack under a clock that jumps back (Gazebo reset, bag play --loop): it goes on, it does not
freeze until the clock catches up (ISSUE 14 item 4)."""

import pytest

from bms_ros.afe.config import AfeConfig, SimConfig
from bms_ros.afe.factory import make_afe
from bms_ros.core.config import PackConfig


@pytest.mark.parametrize("afe_type", ["sim", "sim_bq769x0"])
def test_a_clock_jump_back_rebases_the_simulated_pack(afe_type):
    afe = make_afe(
        AfeConfig(type=afe_type),
        PackConfig(cell_count=4, chemistry="nmc", design_capacity_ah=1.0),
        SimConfig(initial_soc=0.6, load_current=2.0),
    )
    afe.set_fets(True, True)
    t = 5000.0
    for _ in range(20):
        t += 0.5
        afe.read(t)
    soc_before = afe.pack.soc.copy()
    t = 1000.0  # 4010 s back
    for _ in range(20):
        t += 0.5
        afe.read(t)
    drained = soc_before - afe.pack.soc
    # 10 s at 2 A from 1 Ah: about 0.0056 of SoC per cell, whatever the clock did
    assert drained == pytest.approx(10.0 * 2.0 / 3600.0, rel=0.2)
