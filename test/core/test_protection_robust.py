"""Protection that cannot be talked out of tripping (issue 11): intermittent, invalid and missing readings,
clock steps, malformed samples, stuck and open sense lines, a soft internal short, and the system lock.

Each scenario of the issue's table is a test here; each failed on the code before the validated-measurement
layer, the up/down trip levels and core time.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from builders import FixedEstimator, step
from fuzz_streams import CLOCKS, CONDITIONS, PATTERNS, run_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.bms import Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import core_config
from bms_ros.core.faults import Fault
from bms_ros.core.persistence import StateStore
from bms_ros.core.types import BmsOutput, PackSample

DT = 0.1
OV = 4.40  # above OV (4.25) and hard OV (4.35) of the NMC defaults


def sample(
    t: float, top: float = 3.7, current: float = 0.0, temps: tuple[float, ...] = (25.0, 25.0), n: int = 4
) -> PackSample:
    cells = np.full(n, 3.7)
    cells[-1] = top
    pack = float(np.nansum(np.where(np.isfinite(cells) & (cells > 1.0), cells, 3.7)))
    return PackSample(
        stamp=t,
        cell_voltages=cells,
        pack_voltage=pack,
        current=current,
        temperatures=np.array(temps),
        die_temperature=30.0,
    )


def make(store: StateStore | None = None, **over) -> Bms:
    bms = Bms(core_config({"protection.implausible_data.frozen_time": 0.0, **over}), store)
    bms.estimator = FixedEstimator()
    return bms


def run(bms: Bms, t0: float, seconds: float, make_sample) -> list[BmsOutput]:
    outs, k = [], 0
    while k * DT < seconds - 1e-9:
        k += 1
        outs.append(step(bms, make_sample(k, t0 + k * DT)))
    return outs


def charging_into_ov(pattern) -> tuple[Bms, list[BmsOutput]]:
    bms = make()
    run(bms, 0.0, 2.0, lambda k, t: sample(t, current=5.0))
    assert bms.last_output.charge_fet
    return bms, run(bms, 2.0, 5.0, lambda k, t: sample(t, pattern(k), current=5.0))


def first_off(outs: list[BmsOutput], fet: str = "charge_fet") -> float:
    return next(o.stamp for o in outs if not getattr(o, fet))


# --- the table: one cell at 4.40 V while charging at 5 A --------------------------------------------
def test_steady_overvoltage_opens_the_charge_fet_after_the_delay():
    _, outs = charging_into_ov(lambda k: OV)
    assert first_off(outs) - 2.0 <= 1.0 + 2 * DT


def test_nan_every_other_sample_cannot_hold_off_the_overvoltage_trip():
    bms, outs = charging_into_ov(lambda k: OV if k % 2 else math.nan)
    assert first_off(outs) - 2.0 <= 1.0 + 2 * DT
    assert bms.last_output.faults_latched & Fault.CELL_OVERVOLTAGE_HARD


def test_nan_one_sample_in_five_cannot_hold_off_the_overvoltage_trip():
    bms, outs = charging_into_ov(lambda k: math.nan if k % 5 == 0 else OV)
    assert first_off(outs) - 2.0 <= 1.0 + 2 * DT
    assert bms.last_output.faults_latched & Fault.CELL_OVERVOLTAGE_HARD


def test_an_open_sense_wire_reading_0v_every_other_sample_cannot_hold_off_the_trip():
    bms, outs = charging_into_ov(lambda k: OV if k % 2 else 0.0)
    assert first_off(outs) - 2.0 <= 1.0 + 2 * DT
    assert bms.last_output.faults_active & (Fault.CELL_OVERVOLTAGE | Fault.OPEN_WIRE)
    assert any(o.faults_active & Fault.OPEN_WIRE for o in outs)


def test_two_neighbours_jumping_apart_while_their_sum_holds_is_an_open_wire():
    """A partly open wire between cells 2 and 3: their readings swap 0.2 V back and forth, the pack sum holds."""
    bms = make()
    run(bms, 0.0, 1.0, lambda k, t: sample(t))

    def split(k: int, t: float) -> PackSample:
        s = sample(t)
        shift = 0.2 if k % 2 else -0.2
        s.cell_voltages[1] += shift
        s.cell_voltages[2] -= shift
        return s

    outs = run(bms, 1.0, 2.0, split)
    assert outs[-1].faults_active & Fault.OPEN_WIRE
    assert not outs[-1].charge_fet and not outs[-1].discharge_fet


def test_a_clock_step_back_just_after_the_rise_does_not_suspend_the_trip():
    bms = make()
    run(bms, 1000.0, 2.0, lambda k, t: sample(t, current=5.0))
    outs = [step(bms, sample(1002.1, OV, current=5.0))]
    outs += run(bms, 2.1, 3.0, lambda k, t: sample(t, OV, current=5.0))  # the clock stepped back 1000 s
    off = next(k for k, o in enumerate(outs) if not o.charge_fet)
    assert off * DT <= 1.0 + 2 * DT
    assert any(e["fault"] == "CLOCK" and "back" in e["detail"] for e in bms.fault_history)


def test_deep_undervoltage_flicker_while_discharging_opens_the_discharge_fet():
    bms = make()
    run(bms, 0.0, 2.0, lambda k, t: sample(t, current=-5.0))
    outs = run(bms, 2.0, 5.0, lambda k, t: sample(t, 2.3 if k % 2 else math.nan, current=-5.0))
    delay = bms.cfg.protection.cell_undervoltage_deep.delay
    assert first_off(outs, "discharge_fet") - 2.0 <= delay + 2 * DT


@pytest.mark.parametrize(
    ("hot", "current", "fet"), [(50.0, 5.0, "charge_fet"), (66.0, -5.0, "discharge_fet")], ids=["charge", "discharge"]
)
def test_a_flickering_thermistor_cannot_hold_off_an_overtemperature_trip(hot, current, fet):
    bms = make()
    run(bms, 0.0, 2.0, lambda k, t: sample(t, current=current))
    outs = run(bms, 2.0, 6.0, lambda k, t: sample(t, current=current, temps=(25.0, hot if k % 2 else math.nan)))
    assert first_off(outs, fet) - 2.0 <= 2.0 + 2 * DT


def test_a_sample_with_a_cell_missing_is_missing_data_not_a_complete_sample():
    bms = make()
    run(bms, 0.0, 2.0, lambda k, t: sample(t, current=5.0))
    outs = run(bms, 2.0, 3.0, lambda k, t: sample(t, OV, current=5.0) if k % 2 else sample(t, current=5.0, n=3))
    assert "3 cell voltages in the sample, 4 configured" in outs[1].invalid_reason
    assert first_off(outs) - 2.0 <= 1.0 + 2 * DT


# --- malformed samples and stamps ---------------------------------------------------------------------------
@pytest.mark.parametrize("current", [math.inf, -math.inf])
def test_an_infinite_current_is_invalid_and_never_switches_a_fet_on(current):
    bms = make()
    outs = run(bms, 0.0, 3.0, lambda k, t: sample(t, current=current))
    assert all(not o.charge_fet and not o.discharge_fet for o in outs)
    assert outs[-1].invalid_reason == "current not finite"
    assert outs[-1].faults_active & Fault.IMPLAUSIBLE_DATA


@pytest.mark.parametrize("n", [0, 3, 5])
def test_empty_short_and_long_samples_are_missing_data_never_an_exception(n):
    bms = make()
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    outs = run(
        bms, 1.0, 3.0, lambda k, t: sample(t, n=n) if n else PackSample(t, np.zeros(0), 14.8, 0.0, np.array([25.0]))
    )
    assert f"{n} cell voltages in the sample, 4 configured" in outs[-1].invalid_reason
    assert not outs[-1].charge_fet and not outs[-1].discharge_fet
    assert outs[-1].faults_active & Fault.IMPLAUSIBLE_DATA


def test_all_reads_failing_after_a_clock_step_back_goes_stale_and_opens_the_fets():
    bms = make()
    run(bms, 1000.0, 2.0, lambda k, t: sample(t, current=-2.0))
    assert bms.last_output.discharge_fet
    outs = run(bms, 0.0, 3.0, lambda k, t: PackSample.missing(t, 4, 2))  # stamps 1000 s back, reads fail
    stale = bms.cfg.protection.stale_timeout
    off = next(k for k, o in enumerate(outs) if not o.data_fresh)
    assert (off + 1) * DT <= stale + 2 * DT
    assert not outs[-1].charge_fet and not outs[-1].discharge_fet and not outs[-1].data_fresh


def _estimating(**over) -> Bms:
    return Bms(core_config({"protection.implausible_data.frozen_time": 0.0, **over}))


def test_a_forward_jump_under_current_is_unknown_time_not_charge():
    bms = _estimating()
    for k in range(600):
        step(bms, sample(k * DT, current=-5.0))
    before = bms.last_output.estimate
    step(bms, sample(600 * DT + 3600.0, current=-5.0))  # the clock jumps one hour
    after = bms.last_output.estimate
    assert abs(after.soc - before.soc) < 0.01  # 5 A for an hour was not counted
    assert after.soc_std > before.soc_std + 0.2  # but the SoC is now uncertain
    assert after.cycle_count - before.cycle_count < 0.01


def test_an_infinite_stamp_does_not_poison_the_estimate():
    bms = _estimating()
    for k in range(100):
        step(bms, sample(k * DT, current=-5.0))
    step(bms, sample(math.inf, current=-5.0))
    for k in range(101, 200):
        out = step(bms, sample(k * DT, current=-5.0))
    assert math.isfinite(out.estimate.soc) and math.isfinite(out.estimate.soc_std) and out.estimate.soc > 0.3
    assert any(e["fault"] == "CLOCK" and "not finite" in e["detail"] for e in bms.fault_history)


# --- stuck readings and a soft internal short ---------------------------------------------------------------
NMC = get_chemistry("nmc")


def test_a_stuck_cell_reading_is_detected_before_it_hides_an_overvoltage():
    """The top cell's reading sticks at 4.10 V while the pack charges at 1C: the others rise; the stuck
    reading is found long before the truly rising cell could reach its over-voltage limit unseen."""
    cfg = core_config({"protection.implausible_data.frozen_time": 0.0})
    pack = PackModel(NMC, PackModelConfig(cell_count=4, initial_soc=0.85, soc_spread=0.0, seed=3))
    afe = SimulatedAfe(pack, start_time=0.0, voltage_noise_v=0.0005, seed=4)
    bms = Bms(cfg)
    bms.balancing_constraints = afe.balancing_constraints
    pack.charger_connected, pack.charger_current_a = True, 10.0
    t, stuck_at, found = 0.0, None, None
    for k in range(1200):
        t += 1.0
        s = afe.read(t)
        if k >= 60:
            stuck_at = stuck_at or t
            s.cell_voltages[-1] = 4.10
        out = step(bms, s)
        afe.apply(out)
        if out.faults_active & Fault.CELL_READING_STUCK:
            found = t
            break
    assert found is not None and found - stuck_at < 120.0
    assert not out.charge_fet and not out.discharge_fet
    assert pack.cell_voltages().max() < cfg.protection.cell_overvoltage.threshold


@pytest.mark.parametrize("ohm", [1.0, 10.0])
def test_a_soft_internal_short_is_detected_and_latches_charging_off(ohm):
    cfg = core_config({"pack.design_capacity_ah": 5.0})
    pack = PackModel(NMC, PackModelConfig(cell_count=4, capacity_ah=5.0, initial_soc=0.6, seed=5))
    afe = SimulatedAfe(pack, start_time=0.0, voltage_noise_v=0.001, current_noise_a=0.01, seed=6)
    bms = Bms(cfg)
    bms.balancing_constraints = afe.balancing_constraints
    pack.internal_short_ohm[2] = ohm
    t, found = 0.0, None
    for _ in range(3600 // 5 * 2):  # up to two hours at rest, read every 5 s
        t += 5.0
        out = step(bms, afe.read(t))
        afe.apply(out)
        if out.faults_latched & Fault.INTERNAL_SHORT:
            found = t
            break
    assert found is not None, "soft internal short never detected"
    assert found < (1800.0 if ohm == 1.0 else 5400.0)  # measured: 1 ohm 11 min, 10 ohm 67 min
    assert not out.charge_fet and not out.discharge_fet  # latched: both open until a service reset


def test_healthy_cells_with_spread_never_report_an_internal_short():
    cfg = core_config({"pack.design_capacity_ah": 5.0})
    pack = PackModel(
        NMC,
        PackModelConfig(
            cell_count=4, capacity_ah=5.0, initial_soc=0.9, seed=7, capacity_spread=0.03, resistance_spread=0.1
        ),
    )
    afe = SimulatedAfe(pack, start_time=0.0, voltage_noise_v=0.001, current_noise_a=0.01, seed=8)
    bms = Bms(cfg)
    bms.balancing_constraints = afe.balancing_constraints
    worst = 0.0
    for k in range(3 * 3600 // 5):  # three hours: drive pulses and rests, down to empty
        pack.load_a = 5.0 if (k // 60) % 3 == 0 else 0.0
        out = step(bms, afe.read(5.0 * (k + 1)))
        afe.apply(out)
        worst = max(worst, bms.self_discharge.rate_c if math.isfinite(bms.self_discharge.rate_c) else 0.0)
        assert not out.faults_active & Fault.INTERNAL_SHORT
    assert 0.0 < worst < 0.5 * cfg.protection.internal_short.threshold


# --- the system lock (IEC 62619) ----------------------------------------------------------------------------
def test_the_system_lock_cannot_be_cleared_by_a_fault_reset_and_survives_restarts(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    bms = make(store)
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    run(bms, 1.0, 3.0, lambda k, t: sample(t, OV, current=5.0))
    assert bms.last_output.faults_latched & Fault.SYSTEM_LOCK
    code = bms.lock_code
    assert len(code) == 4 and any(e["fault"] == "SYSTEM_LOCK" and code in e["detail"] for e in bms.fault_history)
    run(bms, 4.0, 10.0, lambda k, t: sample(t, 4.0))  # the cell is back inside
    cleared, remaining = bms.reset_faults(14.0)
    assert "CELL_OVERVOLTAGE_HARD" in cleared and remaining == ["SYSTEM_LOCK"]
    for _ in range(3):  # restarts keep it, with its code
        bms = make(StateStore(tmp_path / "bms.json"))
        run(bms, 20.0, 1.0, lambda k, t: sample(t, 4.0))
        assert bms.last_output.faults_latched & Fault.SYSTEM_LOCK and bms.lock_code == code
        assert not bms.last_output.charge_fet and not bms.last_output.discharge_fet
        assert bms.reset_faults(21.0)[1] == ["SYSTEM_LOCK"]
        ok, why = bms.set_discharge_enable(True)
        assert not ok and "SYSTEM_LOCK" in why


def test_unlock_needs_the_reported_code_and_the_condition_gone(tmp_path):
    bms = make(StateStore(tmp_path / "bms.json"))
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    run(bms, 1.0, 3.0, lambda k, t: sample(t, OV, current=5.0))
    code = bms.lock_code
    assert bms.unlock("0000" if code != "0000" else "FFFF", 4.0) == (
        False,
        "wrong unlock code: give the code reported with the SYSTEM_LOCK event",
    )
    assert not bms.unlock(code, 4.0)[0]  # still beyond hard OV
    run(bms, 4.0, 10.0, lambda k, t: sample(t, 4.0))
    assert bms.unlock(code, 14.0)[0]
    bms.reset_faults(14.0)
    run(bms, 14.0, 1.0, lambda k, t: sample(t, 4.0))
    assert bms.last_output.faults_latched == 0 and bms.last_output.charge_fet
    assert make(StateStore(tmp_path / "bms.json")).protection.latched_mask() == 0  # persisted


def test_unlock_works_on_the_very_step_the_output_shows_the_condition_gone():
    """An operator acts on what was published: once the output shows no locking fault active, unlock succeeds
    (the lock rule's own value is one step behind; unlock judges the condition now)."""
    bms = make()
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    run(bms, 1.0, 3.0, lambda k, t: sample(t, OV, current=5.0))
    code, t = bms.lock_code, 4.0
    while bms.last_output.faults_active & Fault.CELL_OVERVOLTAGE_HARD:
        t += DT
        step(bms, sample(t, 4.0))
        assert t < 30.0
    assert bms.unlock(code, t) == (True, "unlocked; latched faults still need ~/reset_faults")


def test_a_thermal_excursion_beyond_the_lock_temperature_locks_the_pack():
    bms = make()
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    run(bms, 1.0, 3.0, lambda k, t: sample(t, temps=(25.0, 85.0)))
    assert bms.last_output.faults_latched & Fault.SYSTEM_LOCK


# --- persistence of counters --------------------------------------------------------------------------------
def test_the_cycle_count_is_persisted_when_a_whole_cycle_completes(tmp_path):
    store = StateStore(tmp_path / "bms.json")
    bms = Bms(
        core_config(
            {
                "pack.design_capacity_ah": 0.05,
                "estimation.state_save_period": 86400.0,
                "protection.implausible_data.frozen_time": 0.0,
            }
        ),
        store,
    )
    for k in range(400):  # 1 A from 50 mAh: a whole cycle every 180 s
        step(bms, sample(float(k), 3.7, current=-1.0))
    assert bms.last_output.estimate.cycle_count >= 1.0
    saved = StateStore(tmp_path / "bms.json").get("estimator")
    assert saved is not None and saved["cycle_count"] >= 1.0


# --- the property: no stream can hold a guarded FET on ------------------------------------------------------
FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.slow
@FUZZ
@given(
    cond=st.sampled_from(CONDITIONS),
    pattern=st.sampled_from(PATTERNS),
    clock=st.sampled_from(CLOCKS),
    period=st.sampled_from([0.1, 0.25, 0.5]),
    share=st.sampled_from([0.2, 0.5, 0.8, 0.95]),
    seed=st.integers(0, 2**31),
)
def test_no_interleaving_of_invalid_missing_and_jumping_readings_holds_a_guarded_fet_on(
    cond, pattern, clock, period, share, seed
):
    """500 streams x 200 samples = 10^5 samples per CI run (bench/bench_protection_fuzz.py runs 10^6)."""
    logging.disable(logging.CRITICAL)
    try:
        assert run_stream(cond, pattern, clock, period, share, seed) == []
    finally:
        logging.disable(logging.NOTSET)


def test_a_locked_pack_without_a_working_thermistor_can_still_be_unlocked_once_its_cells_are_back():
    bms = make(**{"protection.sensor_loss.min_thermistors": 0})
    run(bms, 0.0, 1.0, lambda k, t: sample(t))
    run(bms, 1.0, 3.0, lambda k, t: sample(t, OV, current=5.0, temps=(math.nan, math.nan)))
    code = bms.lock_code
    run(bms, 4.0, 10.0, lambda k, t: sample(t, 4.0, temps=(math.nan, math.nan)))
    assert bms.unlock(code, 14.0)[0]
