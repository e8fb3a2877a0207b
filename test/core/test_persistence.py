"""Persistent state: atomic writes, corrupted files, latched faults and the fault log across restarts."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from builders import FixedEstimator, step

from bms_ros.core import persistence
from bms_ros.core.bms import Bms
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.persistence import StateStore
from bms_ros.core.types import AfeFlag, PackSample


def sample(t: float, cell: float = 3.7, flags: AfeFlag = AfeFlag.NONE, current: float = 0.0) -> PackSample:
    c = np.full(4, cell)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()),
        current=current,
        temperatures=np.array([25.0]),
        die_temperature=30.0,
        afe_flags=flags,
    )


def make(store: StateStore | None, **over) -> Bms:
    bms = Bms(core_config({"protection.implausible_data.frozen_time": 0.0, **over}), store)
    bms.estimator = FixedEstimator()
    return bms


def test_missing_file_is_an_empty_state_and_save_load_round_trips(tmp_path):
    s = StateStore(tmp_path / "sub" / "state.json")
    assert s.load() == {}
    s.put("a", {"x": 1.5, "arr": np.array([1.0, np.nan]), "n": np.int64(3)})
    s.put("b", [1, 2])
    again = StateStore(tmp_path / "sub" / "state.json").load()
    assert again == {"a": {"x": 1.5, "arr": [1.0, None], "n": 3}, "b": [1, 2]}


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b'{"version": 99, "sections": {}}',
        b"",
        b'{"version": 1, "sections": {"a": \xff\xfe\x00',
    ],
)
def test_corrupted_file_warns_moves_it_aside_and_starts_from_defaults(tmp_path, caplog, content):
    p = tmp_path / "state.json"
    p.write_bytes(content)
    s = StateStore(p)
    assert s.load() == {}
    assert "corrupted" in s.warning and "corrupted" in caplog.text
    assert (tmp_path / "state.json.corrupt").read_bytes() == content
    s.put("a", 1)
    assert StateStore(p).load() == {"a": 1}


def test_a_failed_write_leaves_the_old_file_intact_and_no_temp_files(tmp_path, monkeypatch):
    p = tmp_path / "state.json"
    s = StateStore(p)
    s.put("a", 1)
    before = p.read_bytes()

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.os, "fsync", boom)
    with pytest.raises(OSError):
        s.put("a", 2)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_an_interrupt_just_after_the_temp_file_is_created_leaves_no_temp_file(tmp_path, monkeypatch):
    """A second SIGINT (KeyboardInterrupt) may land anywhere in save(), even between the creation of the
    temporary file and the moment its name is known to the caller."""
    p = tmp_path / "state.json"
    s = StateStore(p)
    s.put("a", 1)
    before = p.read_bytes()
    real_open = os.open

    def open_then_interrupt(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if flags & os.O_CREAT:
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        s.put("a", 2)
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_writes_go_through_a_rename(tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(persistence.os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    StateStore(tmp_path / "s.json").save({"x": 1})
    assert len(calls) == 1 and str(calls[0][1]).endswith("s.json") and os.path.dirname(calls[0][0]) == str(tmp_path)


def test_nan_never_reaches_the_file(tmp_path):
    p = tmp_path / "s.json"
    StateStore(p).save({"x": float("nan"), "y": [float("inf")]})
    assert json.loads(p.read_text())["sections"] == {"x": None, "y": [None]}


def test_latched_faults_and_the_fault_log_survive_a_restart(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    bms = make(store)
    t = 0.0
    for _ in range(5):
        t += 0.1
        step(bms, sample(t))
    t += 0.1
    out = step(bms, sample(t, flags=AfeFlag.SHORT_CIRCUIT, current=-300.0))
    assert out.faults_latched & Fault.SHORT_CIRCUIT
    # restart: a new core on the same file comes up with the fault latched and both FETs off
    bms2 = make(StateStore(tmp_path / "bms.json"))
    out = step(bms2, sample(100.0))
    assert out.faults_latched & Fault.SHORT_CIRCUIT and not out.charge_fet and not out.discharge_fet
    log = bms2.fault_history
    assert [e["event"] for e in log] == ["trip", "latch"] and log[0]["fault"] == "SHORT_CIRCUIT"
    assert log[0]["context"]["current"] == -300.0 and log[0]["t"] == pytest.approx(t)
    # once the condition has been gone for its hold, a reset clears it, and that is persisted too
    tt = 100.0
    while tt < 102.0:
        tt += 0.1
        step(bms2, sample(tt))
    assert bms2.reset_faults(tt) == (["SHORT_CIRCUIT"], [])
    bms3 = make(StateStore(tmp_path / "bms.json"))
    assert step(bms3, sample(200.0)).faults_latched == 0
    assert bms3.fault_history[-1]["event"] == "reset"


def test_a_restored_latched_fault_cannot_be_reset_before_its_condition_is_shown_gone(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    bms = make(store)
    for k in range(40):
        step(bms, sample(0.1 * k, cell=2.4))
    assert bms.last_output.faults_latched & Fault.CELL_UNDERVOLTAGE_DEEP
    bms2 = make(StateStore(tmp_path / "bms.json"))
    assert bms2.reset_faults(0.0) == ([], ["CELL_UNDERVOLTAGE_DEEP", "SYSTEM_LOCK"])  # nothing known yet
    step(bms2, sample(1.0, cell=2.6))  # above the trip, below the release (2.8 V)
    assert bms2.reset_faults(1.0) == ([], ["CELL_UNDERVOLTAGE_DEEP", "SYSTEM_LOCK"])


def test_the_fault_log_is_bounded(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    bms = make(store, **{"protection.fault_log_size": 10, "protection.charge_overcurrent.escalation_count": 0})
    t = 0.0
    for _ in range(12):
        for cur in (20.0,) * 25 + (0.0,) * 110:
            t += 0.1
            step(bms, sample(t, current=cur))
    assert len(bms.fault_history) == 10
    assert len(StateStore(tmp_path / "bms.json").load()["protection"]["fault_log"]) == 10


def test_a_corrupted_store_gives_a_working_core_with_nothing_latched(tmp_path):
    p = tmp_path / "bms.json"
    p.write_text('{"version": 1, "sections": {"protection": {"latched": ["NO_SUCH_FAULT"], "fault_log": 5}}}')
    bms = make(StateStore(p))
    out = step(bms, sample(0.0))
    assert out.faults_latched == 0 and out.charge_fet and out.discharge_fet


def test_other_sections_are_kept(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    store.put("site_notes", {"pack": [0.5, 0.6]})
    bms = make(store)
    step(bms, sample(0.0))
    bms.shutdown()
    saved = StateStore(tmp_path / "bms.json").load()
    assert saved["site_notes"] == {"pack": [0.5, 0.6]}
    assert saved["estimator"] == {"soc": 0.5} and "protection" in saved


def test_soc_and_learned_state_survive_a_restart(tmp_path):
    """The estimator's state rides in the same atomic file: a restart under load continues from the SoC the
    coulomb count had reached, not from a voltage guess."""
    from bms_ros.afe.factory import make_pack_model
    from bms_ros.afe.sim.simulated_afe import SimulatedAfe
    from bms_ros.config import load_config

    cfg = load_config({"pack.design_capacity_ah": 2.0, "sim.initial_soc": 0.8, "sim.load_current": 4.0})
    afe = SimulatedAfe(make_pack_model(cfg.pack, cfg.sim))
    store = StateStore(tmp_path / "state.json")
    bms = Bms(cfg, store)
    for k in range(1, 1201):  # 20 min at 1 Hz, 4 A from 2 Ah: SoC falls by ~0.67
        out = step(bms, afe.read(float(k)))
        afe.apply(out)
    before = out.estimate
    bms.shutdown()
    restarted = Bms(cfg, StateStore(tmp_path / "state.json"))
    after = step(restarted, afe.read(1201.0)).estimate
    assert after.soc == pytest.approx(before.soc, abs=0.02)
    assert after.cycle_count == pytest.approx(before.cycle_count, abs=1e-6)
    assert after.capacity_ah == pytest.approx(before.capacity_ah, rel=1e-6)
