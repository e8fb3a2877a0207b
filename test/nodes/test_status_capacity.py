"""The learned capacity's sigma reaches ~/status (BmsStatus.capacity_std_ah), ISSUE 13 item 2."""

from __future__ import annotations

import numpy as np
import pytest

from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.types import PackSample
from bms_ros.msg import BmsStatus
from bms_ros.msg_fields import status_fields


def test_status_carries_the_capacity_and_its_sigma():
    bms = Bms(load_config({"pack.cell_count": 4, "pack.chemistry": "nmc", "pack.design_capacity_ah": 10.0}))
    v = np.full(4, 3.7)
    out = bms.step(PackSample(0.0, v, float(v.sum()), 0.0, np.array([25.0]), charge_fet=True, discharge_fet=True))
    fields = status_fields(out)
    msg = BmsStatus(**fields)
    assert msg.capacity_ah == pytest.approx(10.0)
    # nothing learned yet: the prior's 1-sigma (5 % of the rated capacity), not NaN or zero
    assert msg.capacity_std_ah == pytest.approx(0.5, rel=1e-3)
