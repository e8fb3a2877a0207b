"""Fuzzed smart-pack parsers (issue 17): hypothesis drives the seeds; the slow variants push >= 100,000 frames
through each parser (the acceptance number), the normal suite a few thousand."""

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smartpack_fuzz import fuzz_daly, fuzz_jbd, fuzz_sbs

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FRAMES = 100_000


@FAST
@given(st.randoms(use_true_random=False))
def test_fuzz_jbd_parser(rnd):
    res = fuzz_jbd(random.Random(rnd.getrandbits(64)), 150)
    assert res.frames == 150


@FAST
@given(st.randoms(use_true_random=False))
def test_fuzz_daly_parser(rnd):
    res = fuzz_daly(random.Random(rnd.getrandbits(64)), 150)
    assert res.frames == 150


@FAST
@given(st.randoms(use_true_random=False))
def test_fuzz_sbs_parser(rnd):
    res = fuzz_sbs(random.Random(rnd.getrandbits(64)), 10)
    assert res.frames > 0


@pytest.mark.slow
@pytest.mark.parametrize("name,fn,per", [("jbd", fuzz_jbd, 2000), ("daly", fuzz_daly, 2000), ("sbs", fuzz_sbs, 0)])
def test_fuzz_100k_frames_per_parser(name, fn, per):
    frames = accepted = 0
    t0 = time.perf_counter()

    @SLOW
    @given(st.randoms(use_true_random=False))
    def run(rnd):
        nonlocal frames, accepted
        rng = random.Random(rnd.getrandbits(64))
        res = fn(rng, per) if per else fn(rng, 160)
        frames += res.frames
        accepted += res.accepted

    while frames < SLOW_FRAMES:
        run()
    dt = time.perf_counter() - t0
    print(f"\n{name}: {frames} frames, {accepted} accepted and checked, 0 crashes, {dt:.1f} s")
    assert frames >= SLOW_FRAMES and accepted > 0
