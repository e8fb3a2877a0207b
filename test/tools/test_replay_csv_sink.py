"""bms-replay's CSV sink formats a row in one call; its bytes equal the per-field csv.writer formatting it
replaced, for any values (NaN, inf, signed zero, huge and tiny numbers, numpy floats, any fault mask)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bms_ros.core.faults import fault_names
from bms_ros.core.types import BmsOutput, BmsState, Estimate, PackSample
from bms_ros.tools.replay import OUTPUT_COLUMNS, CsvOutputSink


def reference_csv(outputs: list[BmsOutput]) -> str:
    """The former implementation: csv.writer, one _fmt call per field."""

    def fmt(x: float) -> str:
        return "nan" if not math.isfinite(x) else format(x, ".9g")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(OUTPUT_COLUMNS)
    for out in outputs:
        e = out.estimate
        faults = int(out.faults_active) | int(out.faults_latched)
        w.writerow(
            (
                fmt(out.stamp),
                fmt(e.soc),
                fmt(e.soc_std),
                fmt(e.soh),
                fmt(e.capacity_ah),
                fmt(e.resistance_ohm),
                fmt(e.time_to_empty_s),
                fmt(e.time_to_full_s),
                fmt(e.charge_ah),
                fmt(e.energy_wh),
                fmt(e.cycle_count),
                fmt(e.current_offset_a),
                out.state.name,
                faults,
                "|".join(fault_names(faults)),
                int(out.charge_fet),
                int(out.discharge_fet),
                out.balancing_mask,
            )
        )
    return buf.getvalue()


value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e3, 1e3),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 0.1, 1 / 3]),
    st.floats(-10.0, 10.0).map(np.float64),
)
mask = st.one_of(st.just(0), st.integers(0, (1 << 23) - 1), st.sampled_from([1, 1 << 9, (1 << 9) | 1]))
row = st.tuples(
    st.lists(value, min_size=12, max_size=12),
    mask,
    mask,
    st.sampled_from(list(BmsState)),
    st.booleans(),
    st.booleans(),
    st.integers(0, (1 << 100) - 1),
)

SAMPLE = PackSample.missing(0.0, 4, 1)


def make_output(r: tuple) -> BmsOutput:
    v, active, latched, state, chg, dsg, bal = r
    est = Estimate(
        soc=v[1],
        soc_std=v[2],
        soh=v[3],
        capacity_ah=v[4],
        resistance_ohm=v[5],
        time_to_empty_s=v[6],
        time_to_full_s=v[7],
        charge_ah=v[8],
        energy_wh=v[9],
        cycle_count=v[10],
        current_offset_a=v[11],
    )
    return BmsOutput(
        stamp=v[0],
        sample=SAMPLE,
        state=state,
        charge_fet=chg,
        discharge_fet=dsg,
        faults_active=active,
        faults_latched=latched,
        warnings=0,
        charge_enable_requested=True,
        discharge_enable_requested=True,
        charge_current_limit=0.0,
        discharge_current_limit=0.0,
        limit_reason="",
        balancing_mask=bal,
        estimate=est,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(row, min_size=0, max_size=20))
def test_csv_sink_bytes_equal_the_csv_writer_formatting(rows: list[tuple]) -> None:
    outputs = [make_output(r) for r in rows]
    buf = io.StringIO()
    sink = CsvOutputSink(buf)
    for out in outputs:
        sink.write(SAMPLE, out)
    sink.close()
    assert buf.getvalue() == reference_csv(outputs)
