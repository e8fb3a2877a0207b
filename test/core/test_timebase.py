"""Core time: the sample stamps themselves until the clock jumps; monotonic across every jump."""

import itertools
import math

from bms_ros.core.timebase import GAP_S, CoreClock


def test_core_time_is_the_stamp_bit_for_bit_between_jumps():
    c = CoreClock()
    stamps = [1000.0 + 0.1 * k for k in range(100)]
    assert [c.advance(s).t for s in stamps] == stamps


def test_a_step_back_continues_by_the_regular_interval_then_follows_the_new_stamps():
    c = CoreClock()
    for k in range(10):
        c.advance(1000.0 + 0.25 * k)
    back = c.advance(5.0)
    assert back.jump.startswith("clock stepped back") and back.dt == 0.25 and not back.gap
    nxt = c.advance(5.25)
    assert nxt.dt == 0.25 and not nxt.jump


def test_a_forward_jump_is_a_gap_of_its_full_length():
    c = CoreClock()
    c.advance(0.0)
    c.advance(0.1)
    tick = c.advance(0.1 + GAP_S + 60.0)
    assert tick.gap and tick.dt == GAP_S + 60.0 and "jumped forward" in tick.jump


def test_a_non_finite_stamp_never_moves_time_back_or_to_infinity():
    c = CoreClock()
    ts = [c.advance(s).t for s in (0.0, 0.1, math.inf, math.nan, 0.2, 0.3)]
    assert all(math.isfinite(t) for t in ts) and all(b >= a for a, b in itertools.pairwise(ts))
