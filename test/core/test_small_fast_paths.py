"""Small rewrites in the decision step equal what they replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bms_ros.core.balancing import _mask_of
from bms_ros.core.limits import _target


@given(st.lists(st.booleans(), min_size=0, max_size=130))
def test_mask_of_equals_the_bit_loop(bits: list[bool]) -> None:
    expected = 0
    for i in np.flatnonzero(np.array(bits, dtype=bool)).tolist():
        expected |= 1 << i
    assert _mask_of(np.array(bits, dtype=bool)) == expected


factor = st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 0.5, 1.0, float("nan")]))


@given(st.floats(0.0, 100.0), factor, factor, factor)
def test_target_equals_the_smallest_factor_of_the_dict(max_current: float, tf: float, vf: float, sf: float) -> None:
    factors = {"temperature": tf, "cell_voltage": vf, "soc": sf}
    name = min(factors, key=factors.__getitem__)  # the former implementation
    f = factors[name]
    expected = (max_current, "nominal") if f >= 1.0 else (max_current * f, name)
    got = _target(max_current, tf, vf, sf)
    assert got[1] == expected[1] and (got[0] == expected[0] or (got[0] != got[0] and expected[0] != expected[0]))
