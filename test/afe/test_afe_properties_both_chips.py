"""Properties of the real drivers over their emulators, on both chips: for any supported cell count, CRC setting,
load and bus-fault burst, a valid sample is the pack's truth and an invalid one is all NaN (never stale numbers)."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
from bms_ros.afe.sim.simulated_bq769x2 import SimulatedBq769x2

CHIPS = {"bq769x0": (SimulatedBq769x0, 15, 0.5e-3), "bq769x2": (SimulatedBq769x2, 16, 1e-3)}  # class, cells, LSB


@settings(max_examples=25, deadline=None)
@given(
    chip=st.sampled_from(sorted(CHIPS)),
    cells=st.integers(3, 16),
    crc=st.booleans(),
    load=st.floats(-5.0, 20.0),
    nacks=st.integers(0, 12),
    seed=st.integers(0, 1000),
)
def test_a_sample_is_the_truth_or_all_nan(chip, cells, crc, load, nacks, seed):
    cls, top, lsb = CHIPS[chip]
    cells = min(cells, top)
    afe = cls.create(cell_count=cells, seed=seed, crc=crc)
    afe.pack.load_a = load
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.faults.nack_next(nacks)
    for t in (0.5, 0.6, 0.7, 1.0):
        s = afe.read(t)
        assert s.cell_count == cells
        if not s.comm_ok:
            assert np.isnan(s.cell_voltages).all() and math.isnan(s.current) and math.isnan(s.pack_voltage)
            continue
        np.testing.assert_allclose(s.cell_voltages, afe.pack.cell_voltages(), atol=lsb + 1.5e-3)
        assert s.charge_fet and s.discharge_fet
    assert afe.driver.errors.nack == nacks  # every injected NACK counted, none invented
