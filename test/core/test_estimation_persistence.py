"""Estimator state: round trip through the BMS state file, start-up check against OCV, corrupted and
mismatched state."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from builders import matched, step

from bms_ros.config import load_config
from bms_ros.core.bms import ESTIMATOR_SECTION, Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.estimation.startup_check import CONFIRM_S
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.persistence import StateStore
from bms_ros.core.types import PackSample

CHEM = get_chemistry("nmc")


def make(cells=3, **est) -> StateEstimator:
    values = {"pack.cell_count": cells, "pack.design_capacity_ah": 10.0}
    values.update({f"estimation.{k}": v for k, v in est.items()})
    cfg = load_config(values)
    return StateEstimator(cfg, chemistry=matched(cfg.pack.chemistry))


def sample(t, soc, current=0.0, cells=3) -> PackSample:
    v = CHEM.ocv(np.full(cells, soc)) + current * 0.006
    return PackSample(
        stamp=t, cell_voltages=v, pack_voltage=float(v.sum()), current=current, temperatures=np.array([25.0])
    )


def trained() -> StateEstimator:
    e = make()
    e.update(sample(0.0, 0.7))
    for k in range(1, 600):
        e.update(sample(float(k), 0.7 - k * 5.0 / 36000, current=-5.0 if (k // 10) % 2 else -1.0))
    e.capacity.capacity_ah = 9.3
    return e


def test_round_trip_through_json(tmp_path):
    e = trained()
    path = tmp_path / "state.json"
    StateStore(path).put(ESTIMATOR_SECTION, e.state_dict())
    e2 = make()
    assert e2.load_state(StateStore(path).get(ESTIMATOR_SECTION), now=601.0)
    est = e2.update(sample(601.0, 0.5, current=-5.0))  # under load: no OCV check, the saved SoC holds
    np.testing.assert_allclose(e2.ekf.soc, e.ekf.soc, atol=2e-3)
    assert est.capacity_ah == pytest.approx(9.3)
    assert est.soh == pytest.approx(0.93)
    assert est.cycle_count == pytest.approx(e.cycle_count, rel=1e-3)
    np.testing.assert_allclose(e2.rls.k, e.rls.k)
    assert est.soc_std >= e.update(sample(600.5, 0.5, current=-5.0)).soc_std * 0.9


def test_state_saved_before_the_first_sample_keeps_the_loaded_state(tmp_path):
    e = trained()
    d = json.loads(json.dumps(e.state_dict()))
    e2 = make()
    e2.load_state(d, now=None)
    assert e2.state_dict()["cell_soc"] == pytest.approx(d["cell_soc"])


def test_saved_soc_checked_against_ocv_once_the_rest_is_seen(caplog):
    """The pack was swapped (or charged) while the node was off: a minute of steady rest corrects the SoC."""
    e = trained()
    d = e.state_dict()
    e2 = make(rest_time=600.0)
    t0 = d["stamp"] + 3600.0
    e2.load_state(d, now=t0)  # an hour later (a pack swapped meanwhile)
    with caplog.at_level(logging.WARNING):
        for k in range(int(CONFIRM_S) + 2):  # its voltage says 0.3, steadily, at rest
            est = e2.update(sample(t0 + k, 0.3))
    assert est.soc == pytest.approx(0.3, abs=0.01)  # the voltages and the check agree within a minute


def test_one_sample_at_zero_current_is_no_rest_a_relaxing_voltage_does_not_replace_the_saved_soc(caplog):
    """Restarted an hour later right after a load pulse: the voltage is still 60 mV below the OCV and relaxes
    (slow RC pair, 200 s). Taking the first zero-current sample as a rested OCV put the SoC 10+ points low."""
    e = trained()
    d = e.state_dict()
    saved = float(np.mean(d["cell_soc"]))
    e2 = make(rest_time=1200.0)
    t0 = d["stamp"] + 3600.0
    e2.load_state(d, now=t0)
    with caplog.at_level(logging.WARNING):
        for k in range(900):  # 15 minutes of relaxation at rest
            v = CHEM.ocv(np.full(3, saved)) - 0.060 * np.exp(-k / 200.0)
            est = e2.update(
                PackSample(
                    stamp=t0 + k,
                    cell_voltages=v,
                    pack_voltage=float(v.sum()),
                    current=0.0,
                    temperatures=np.array([25.0]),
                )
            )
            assert abs(est.soc - saved) < 0.03, (k, est.soc, saved)
    assert "disagrees" not in caplog.text


def test_saved_soc_kept_when_the_voltage_agrees():
    e = trained()
    d = e.state_dict()
    soc = float(np.mean(d["cell_soc"]))
    e2 = make(rest_time=600.0)
    e2.load_state(d, now=d["stamp"] + 7200.0)
    est = e2.update(sample(d["stamp"] + 7200.0, soc))
    assert est.soc == pytest.approx(soc, abs=0.005)
    assert est.soc_std < 0.02


def test_corrupted_state_file_warns_and_uses_defaults(tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_bytes(b'{"version": 1, "sections": {"estimator": {"cell_soc": [0.5, 0.\x00\xff')
    cfg = load_config({"pack.cell_count": 3, "pack.design_capacity_ah": 10.0})
    with caplog.at_level(logging.WARNING):
        bms = Bms(cfg, StateStore(path))
    assert "corrupted" in caplog.text and str(path) in caplog.text
    est = step(bms, sample(0.0, 0.42)).estimate
    assert est.soc == pytest.approx(0.42, abs=0.01)  # from the voltage
    assert est.capacity_ah == 10.0 and est.cycle_count == 0.0


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"cell_count": 4}, "cells"),
        ({"chemistry": "lfp"}, "chemistry"),
        ({"capacity_ah": -3.0}, "capacity_ah"),
        ({"cell_soc": [0.5, "x", 0.5]}, ""),
        ({"cell_soc": [0.5, float("nan"), 0.5]}, "cell_soc"),
        ({"version": 99}, "version"),
        ({"design_capacity_ah": 20.0}, "design capacity"),
    ],
)
def test_invalid_state_is_rejected_with_a_warning(caplog, change, needle):
    d = trained().state_dict()
    d.update(change)
    e = make()
    with caplog.at_level(logging.WARNING):
        assert not e.load_state(d, now=0.0)
    assert "rejected" in caplog.text and needle in caplog.text
    assert e.update(sample(0.0, 0.6)).soc == pytest.approx(0.6, abs=0.01)


def test_missing_state_file_is_not_an_error(tmp_path):
    cfg = load_config({"pack.cell_count": 3, "pack.design_capacity_ah": 10.0})
    bms = Bms(cfg, StateStore(tmp_path / "none.json"))
    assert step(bms, sample(0.0, 0.5)).estimate.soc == pytest.approx(0.5, abs=0.01)


def test_reset_before_the_first_sample_starts_there():
    """ISSUE 13: StateEstimator.reset(soc) before any sample raised TypeError at the first update."""
    e = make()
    e.reset(0.4)
    est = [e.update(sample(float(k), 0.4, current=-2.0)) for k in range(30)]
    assert est[0].soc == pytest.approx(0.4, abs=1e-6)
    assert all(abs(x.soc - 0.4) < 0.01 for x in est)  # the voltages agree: it stays there


def test_an_initial_soc_parameter_wins_over_the_state_file(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    store.put(ESTIMATOR_SECTION, trained().state_dict())
    cfg = load_config({"pack.cell_count": 3, "pack.design_capacity_ah": 10.0, "estimation.initial_soc": 0.25})
    bms = Bms(cfg, StateStore(tmp_path / "bms.json"))
    out = step(bms, sample(700.0, 0.6))
    assert out.estimate.soc == pytest.approx(0.25, abs=1e-6)
    assert bms.estimator.capacity.capacity_ah == pytest.approx(9.3)  # what was learned stays


@pytest.mark.parametrize("bad", [1.5, -0.5])
def test_an_initial_soc_outside_0_1_is_rejected_with_the_reason(bad):
    from bms_ros.core.params import ConfigError

    with pytest.raises(ConfigError, match=r"estimation\.initial_soc"):
        load_config({"estimation.initial_soc": bad})
