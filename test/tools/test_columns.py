"""Columnar replay input (ISSUE 15 item 3) gives what the per-message path gives.

* A bag read as columns (a numpy view over the CDR payloads, blocks of any size, rosbags where the layout
  changes) yields the same PackSamples, bit for bit, as deserialising each message through rosbags.
* Replaying those samples through ``Bms.step`` makes the same decisions and estimates (within 1e-9) as the
  node path, ``Bms.step`` on the samples as they were recorded: streams with faults (over-voltage and
  under-voltage trips and their recoveries), noise, NaN readings, failed reads and time gaps.
* A CSV recording parsed a block at a time by numpy yields the same samples as the row parser.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_ros.core import AfeFlag, Bms, Fault, PackSample
from bms_ros.core.config import core_config
from bms_ros.tools import bags
from bms_ros.tools.columns import parse_csv_block
from bms_ros.tools.replay_io import CsvSampleSource

pytest.importorskip("rosbags")

N, M = 4, 2
EVENTS = ("drive", "drive", "drive", "charge", "rest", "over", "under", "nan", "missing", "gap", "flag", "fets_open")
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same_sample(a: PackSample, b: PackSample) -> None:
    for f in PackSample.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f
        else:
            assert type(x) is type(y), (f, x, y)
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (f, x, y)


def _stream(runs: list[tuple[str, int]], seed: int) -> list[PackSample]:
    """A pack that drives, charges, rests, goes over and under its voltage limits and back (trips and
    recoveries), with noise, NaN cells, failed reads, AFE flags and gaps in time."""
    rng = np.random.default_rng(seed)
    t, out = 1000.0, []
    base = 3.7
    for ev, count in runs:
        for _ in range(count):
            t += 30.0 if ev == "gap" else 0.5
            current = {"drive": -20.0, "charge": 10.0, "over": 5.0, "under": -5.0}.get(ev, 0.0)
            base = {"over": 4.32, "under": 2.7}.get(ev, min(max(base, 3.3), 4.1))
            cells = base + rng.normal(0.0, 0.003, N) + np.linspace(0.0, 0.02, N)
            if ev == "nan":
                cells[int(rng.integers(N))] = math.nan
            if ev == "missing":
                out.append(PackSample.missing(t, N, M, read_errors=len(out)))
                continue
            out.append(
                PackSample(
                    t,
                    cells,
                    float(np.sum(cells)),
                    current + rng.normal(0.0, 0.05),
                    25.0 + rng.normal(0.0, 0.2, M),
                    die_temperature=31.0,
                    afe_flags=AfeFlag.OVERVOLTAGE if ev == "flag" else AfeFlag.NONE,
                    charge_fet=ev != "fets_open",
                    discharge_fet=ev != "fets_open",
                    balancing_mask=int(rng.integers(16)),
                    crc_errors=len(out) // 7,
                    load_present=ev == "rest",
                )
            )
    return out


def _cfg():
    return core_config({"pack.cell_count": N, "pack.design_capacity_ah": 10.0})


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(1, 30)), min_size=2, max_size=10),
    st.integers(0, 2**16),
    st.sampled_from([3, 16, 4096]),
    st.text("abcxyz_/", max_size=9),
)
def test_columnar_bag_replay_matches_the_node_path(tmp_path_factory, runs, seed, block, frame_id):
    samples = _stream(runs, seed)
    bag = Path(tmp_path_factory.mktemp("bag")) / "run"
    bags.write_bag(bag, ((s, None) for s in samples), frame_id=frame_id)
    columnar = [s for b in bags.read_columns(bag, block=block) for s in b.samples()]
    assert len(columnar) == len(samples)
    for a, b in zip(bags.read_samples(bag), columnar, strict=True):
        _same_sample(a, b)
    node, replay = Bms(_cfg()), Bms(_cfg())
    for s, c in zip(samples, columnar, strict=True):
        x, y = node.step(s), replay.step(c)
        assert (x.state, x.faults_active, x.faults_latched, x.warnings) == (
            y.state,
            y.faults_active,
            y.faults_latched,
            y.warnings,
        )
        assert (x.charge_fet, x.discharge_fet, x.balancing_mask) == (y.charge_fet, y.discharge_fet, y.balancing_mask)
        assert _close(x.charge_current_limit, y.charge_current_limit)
        for f in ("soc", "soc_std", "charge_ah", "energy_wh", "time_to_empty_s", "time_to_full_s", "capacity_ah"):
            assert _close(getattr(x.estimate, f), getattr(y.estimate, f)), f


def test_the_streams_trip_and_recover():
    """The property above is worth something only if its streams make decisions change."""
    samples = _stream([("drive", 20), ("over", 30), ("rest", 60), ("under", 30), ("rest", 60), ("missing", 3)], 1)
    bms = Bms(_cfg())
    outs = [bms.step(s) for s in samples]
    assert any(o.faults_active & Fault.CELL_OVERVOLTAGE for o in outs)
    assert any(o.faults_active & Fault.CELL_UNDERVOLTAGE for o in outs)
    assert not (outs[-5].faults_active | outs[-5].faults_latched)  # both recovered
    assert len({(o.charge_fet, o.discharge_fet) for o in outs}) >= 3


def test_a_bag_whose_cell_count_changes_falls_back_to_rosbags(tmp_path):
    samples = _stream([("drive", 5)], 2)
    other = [PackSample(s.stamp + 10.0, np.full(N + 1, 3.7), 3.7 * (N + 1), -1.0, np.zeros(M)) for s in samples]
    bags.write_bag(tmp_path / "run", ((s, None) for s in samples + other))
    blocks = list(bags.read_columns(tmp_path / "run"))
    assert not isinstance(blocks[0], bags.SampleColumns)  # one block of mixed layouts: per message
    for a, b in zip(bags.read_samples(tmp_path / "run"), [s for bl in blocks for s in bl.samples()], strict=True):
        _same_sample(a, b)


_FIELD = st.one_of(
    st.floats(-5.0, 5.0, allow_nan=False), st.just(math.nan), st.floats(allow_nan=False, allow_infinity=True)
)
_ROW = st.tuples(st.floats(0.0, 10.0), st.lists(_FIELD, min_size=1 + N + M, max_size=1 + N + M), st.booleans())


def _csv(tmp: Path, rows: list) -> tuple[Path, list[str]]:
    header = ["t", "current"] + [f"cell_voltage_{k + 1}" for k in range(N)]
    header += [f"temperature_{k + 1}" for k in range(M)]
    lines = [",".join(header) + "\n"]
    for t, vals, failed in sorted(rows, key=lambda r: r[0]):
        vals = [math.nan] * (1 + N) + vals[1 + N :] if failed else vals  # a failed read: no cell, no current
        lines.append(",".join(repr(x) for x in (t, *vals)) + "\n")
    path = tmp / "rec.csv"
    path.write_text("".join(lines))
    return path, lines


@SETTINGS
@given(st.lists(_ROW, max_size=40))
def test_csv_blocks_parse_like_the_row_parser(tmp_path_factory, rows):
    path, lines = _csv(Path(tmp_path_factory.mktemp("csv")), rows)
    src = CsvSampleSource(path)
    got = list(src)
    want = list(src._rows(lines[1:], 1, -math.inf))
    assert len(got) == len(want)
    for a, b in zip(want, got, strict=True):
        _same_sample(a, b)


def test_a_plain_recording_is_parsed_as_one_numpy_block(tmp_path):
    """The property above compares the block parser with the row parser only if blocks are taken."""
    rows = [(0.1 * k, [-1.0] + [3.7] * N + [25.0] * M, k == 3) for k in range(10)]
    path, lines = _csv(tmp_path, rows)
    arr = parse_csv_block(lines[1:], N, M, -math.inf)
    assert arr is not None and arr.shape == (10, 2 + N + M)
    got = list(CsvSampleSource(path))
    assert not got[3].comm_ok and not got[3].charge_fet and math.isnan(got[3].pack_voltage)
    assert got[2].comm_ok and got[2].charge_fet and got[2].pack_voltage == pytest.approx(3.7 * N)


def test_a_bag_of_one_layout_is_read_as_a_view_over_its_payloads(tmp_path):
    """The property compares the CDR view with rosbags only if the view is taken (not the rosbags fallback)."""
    from rosbags.rosbag2 import Reader

    from bms_ros.tools.columns import decode_afe_cdr

    samples = _stream([("drive", 10), ("missing", 2), ("fets_open", 3)], 3)
    bags.write_bag(tmp_path / "run", ((s, None) for s in samples))
    with Reader(tmp_path / "run") as reader:
        raws = [raw for _c, _t, raw in reader.messages()]
    cols = decode_afe_cdr(raws)
    assert cols is not None and len(cols) == len(samples)
    for a, b in zip(bags.read_samples(tmp_path / "run"), cols.samples(), strict=True):
        _same_sample(a, b)
    assert decode_afe_cdr([raws[0][:-1]]) is None  # a payload of another length: not this layout
