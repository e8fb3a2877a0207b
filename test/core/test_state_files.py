"""Wrong-typed state files (ISSUE 11, 6): each part is checked against its schema; a wrong one is reported
once (naming it and what is wrong) and left at its default, the rest is used, and the BMS always starts."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from builders import step
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.persistence import StateStore
from bms_ros.core.types import Estimate, PackSample

GOOD_LOG = [{"t": 1.0, "fault": "SHORT_CIRCUIT", "event": "trip", "value": None, "detail": ""}]


class FixedEstimator:
    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)

    def state_dict(self) -> dict:
        return {}


def sample(t: float) -> PackSample:
    c = np.full(4, 3.7)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()),
        current=0.0,
        temperatures=np.array([25.0]),
        die_temperature=30.0,
    )


def write(tmp_path, sections: dict | str) -> StateStore:
    p = tmp_path / "state.json"
    p.write_text(sections if isinstance(sections, str) else json.dumps({"version": 1, "sections": sections}))
    return StateStore(p)


def start(store: StateStore) -> Bms:
    bms = Bms(core_config({"protection.implausible_data.frozen_time": 0.0}), store)
    bms.estimator = FixedEstimator()
    return bms


def messages(caplog, needle: str = "") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and needle in r.getMessage()]


def protection(**parts) -> dict:
    return {"protection": {"latched": [], "fault_log": GOOD_LOG, "balancing_time_s": [1.0, 2.0, 3.0, 4.0], **parts}}


def test_a_number_as_latched_is_one_error_and_the_other_parts_are_kept(tmp_path, caplog):
    bms = start(write(tmp_path, protection(latched=5)))
    out = step(bms, sample(0.0))
    assert out.faults_latched == 0
    msgs = messages(caplog)
    assert len(msgs) == 1 and "latched" in msgs[0] and "int 5" in msgs[0] and "lost" in msgs[0], msgs
    assert [r.levelname for r in caplog.records if "latched" in r.getMessage()] == ["ERROR"]
    assert bms.fault_history == GOOD_LOG and bms.balancing_time_s.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_a_single_latched_name_as_a_string_keeps_the_latch_with_one_warning(tmp_path, caplog):
    bms = start(write(tmp_path, protection(latched="CELL_OVERVOLTAGE")))
    out = step(bms, sample(0.0))
    assert out.faults_latched == Fault.CELL_OVERVOLTAGE and not out.charge_fet and not out.discharge_fet
    msgs = messages(caplog)
    assert len(msgs) == 1 and "'CELL_OVERVOLTAGE'" in msgs[0] and "kept" in msgs[0], msgs


def test_bad_entries_in_the_latched_list_are_one_message_and_the_known_names_are_kept(tmp_path, caplog):
    bms = start(write(tmp_path, protection(latched=["SHORT_CIRCUIT", 7, "NO_SUCH_FAULT", None, ["x"]])))
    assert step(bms, sample(0.0)).faults_latched == Fault.SHORT_CIRCUIT
    msgs = messages(caplog)
    assert len(msgs) == 1 and "4 entries" in msgs[0] and "1 known" in msgs[0], msgs


@pytest.mark.parametrize(
    "value, words",
    [
        (5, ["fault_log", "int 5"]),
        ({"t": 1.0}, ["fault_log", "dict"]),
        ([1, "x", {"t": "soon", "fault": "SHORT_CIRCUIT", "event": "trip"}, *GOOD_LOG], ["fault_log", "3 of 4"]),
    ],
)
def test_a_wrong_fault_log_is_one_warning(tmp_path, caplog, value, words):
    bms = start(write(tmp_path, protection(fault_log=value)))
    step(bms, sample(0.0))
    msgs = messages(caplog)
    assert len(msgs) == 1 and all(w in msgs[0] for w in words), msgs
    assert bms.fault_history == (GOOD_LOG if isinstance(value, list) else [])


@pytest.mark.parametrize(
    "value",
    [
        ["1", 2.0, 3.0, 4.0],
        [True, 2.0, 3.0, 4.0],
        [1.0, -2.0, 3.0, 4.0],
        [1.0, 2.0, 3.0],
        [1.0, None, 3.0, 4.0],
        "1,2,3,4",
        {"a": 1},
    ],
)
def test_wrong_balancing_times_are_rejected_not_coerced(tmp_path, caplog, value):
    bms = start(write(tmp_path, protection(balancing_time_s=value, latched=["SHORT_CIRCUIT"])))
    assert bms.balancing_time_s.tolist() == [0.0] * 4
    assert step(bms, sample(0.0)).faults_latched == Fault.SHORT_CIRCUIT  # the other parts are used
    msgs = messages(caplog)
    assert len(msgs) == 1 and "balancing_time_s" in msgs[0] and "4 finite numbers >= 0" in msgs[0], msgs


@pytest.mark.parametrize("section", [[1, 2], "latched", 3.5])
def test_a_protection_section_that_is_not_a_mapping_is_one_error(tmp_path, caplog, section):
    bms = start(write(tmp_path, {"protection": section}))
    assert step(bms, sample(0.0)).faults_latched == 0
    msgs = messages(caplog)
    assert len(msgs) == 1 and "expected a mapping" in msgs[0], msgs


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_corrupted_file_not_a_crash(tmp_path, caplog, depth):
    text = '{"version": 1, "sections": {"protection": {"fault_log": ' + "[" * depth + "]" * depth + "}}}"
    store = write(tmp_path, text)
    bms = start(store)  # used to raise RecursionError on every start
    assert step(bms, sample(0.0)).faults_latched == 0
    assert "nested deeper" in store.warning and (tmp_path / "state.json.corrupt").exists()


# --- the estimator's section: types are checked, not coerced ---------------------------------------------------
def trained_state() -> dict:
    cfg = load_config({"pack.cell_count": 4, "pack.design_capacity_ah": 10.0})
    bms = Bms(cfg)
    step(bms, sample(0.0))
    return cfg, bms.estimator.state_dict()


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"capacity_ah": "9.5"}, "capacity_ah: expected a number, got str"),
        ({"cycle_count": True}, "cycle_count: expected a number, got bool"),
        ({"cell_soc": ["0.5", "0.5", "0.5", "0.5"]}, "cell_soc: expected a list of 4 numbers"),
        ({"resistance_scale": {"a": 1}}, "resistance_scale: expected a list of 4 numbers"),
        ({"stamp": "yesterday"}, "stamp: expected a number or null"),
        ({"cell_count": 4.0 + 0j}, "cells"),
        ({"capacity_updates": 10**400}, "capacity_updates"),
    ],
)
def test_a_wrong_typed_estimator_state_is_rejected_with_one_warning(tmp_path, caplog, change, needle):
    cfg, d = trained_state()
    d.update(change)
    p = tmp_path / "state.json"
    p.write_text(json.dumps({"version": 1, "sections": {"estimator": d}}, default=str))
    bms = Bms(cfg, StateStore(p))
    msgs = messages(caplog, "estimator state rejected")
    assert len(msgs) == 1 and needle in msgs[0], messages(caplog)
    assert step(bms, sample(1.0)).estimate.capacity_ah == 10.0  # defaults, and it runs


# --- fuzz: any JSON in the sections, the BMS starts -------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from([n for n in Fault.__members__ if n != "NONE"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
sections = st.fixed_dictionaries(
    {},
    optional={
        "protection": json_values
        | st.fixed_dictionaries(
            {}, optional={"latched": json_values, "fault_log": json_values, "balancing_time_s": json_values}
        ),
        "estimator": json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=sections)
def test_fuzz_any_json_in_the_state_file_never_stops_the_start(tmp_path, doc):
    bms = start(write(tmp_path, doc))
    out = step(bms, sample(0.0))
    assert out.faults_latched & ~int(sum(Fault)) == 0
