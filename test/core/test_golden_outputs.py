"""Behaviour unchanged by restructuring (ISSUE 12): Bms.step on fixed streams decides exactly what it decided
when test/data/golden_outputs.json was recorded, and estimates the same to 1e-9."""

import json

import pytest
from golden_streams import DATA, _streams, run

GOLDEN = json.loads(DATA.read_text())
TOL = 2e-9  # values are stored rounded to 1e-9


@pytest.mark.slow  # interpreter-independent logic: ./dev test runs it once, ./dev compat skips it
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_decisions_and_estimates_match_the_recorded_ones(name):
    values, samples = _streams()[name]
    got, want = run(values, samples), GOLDEN[name]
    assert got["samples"] == want["samples"]
    assert got["decision_changes"] == want["decision_changes"]
    assert len(got["estimates"]) == len(want["estimates"])
    for g, w in zip(got["estimates"], want["estimates"], strict=True):
        assert g[0] == w[0]
        for a, b in zip(g[1:], w[1:], strict=True):
            assert (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= TOL), (g, w)
