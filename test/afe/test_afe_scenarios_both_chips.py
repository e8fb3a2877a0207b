"""Chip-independent closed-loop scenarios, run on both chips: the real bq769x0 and bq769x2 drivers over their
register-level emulators, the same pack model and the same fault injector."""

import math

import numpy as np
import pytest

from bms_ros.afe.base import AfeError
from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
from bms_ros.afe.sim.simulated_bq769x2 import SimulatedBq769x2
from bms_ros.core.types import AfeFlag, HardwareProtection

CHIPS = {"bq769x0": SimulatedBq769x0, "bq769x2": SimulatedBq769x2}
# how late a trip may show after its delay: one conversion (bq769x0 250 ms) or measurement loop (bq769x2 63 ms)
CONVERSION_S = {"bq769x0": 0.25, "bq769x2": 0.063}


@pytest.fixture(params=sorted(CHIPS))
def chip(request):
    return request.param


def create(chip, **kw):
    return CHIPS[chip].create(**kw)


def run(afe, t_from, t_to, dt=0.1):
    return [afe.read(float(t)) for t in np.arange(t_from, t_to + 1e-9, dt)]


def chip_sees_ov(afe, chip) -> bool:
    """Whether the emulated chip's last conversion is at or above its programmed OV threshold (its own view)."""
    if chip == "bq769x0":
        return afe.chip.codes.max() >= afe.chip.ov_trip_full()
    return afe.chip.phys_voltages.max() >= afe.chip.cov_threshold_v()


def event_time(afe, *names):
    return next(t for t, what in afe.chip.events if what in names)


@pytest.mark.parametrize("crc", [False, True])
def test_overcharge_trips_hardware_ov_after_the_programmed_delay(chip, crc):
    afe = create(
        chip,
        cell_count=4,
        initial_soc=0.9,
        seed=3,
        crc=crc,
        protection=HardwareProtection(cell_overvoltage=4.25, cell_overvoltage_delay=2.0),
    )
    eff = afe.driver.protection
    assert eff.cell_overvoltage <= 4.25 and eff.cell_overvoltage_delay <= 2.0
    pack = afe.pack
    pack.cfg.charger_cv_per_cell = 4.45  # a charger set too high: only the AFE stops it
    pack.charger_connected, pack.charger_current_a = True, 5.0
    afe.set_fets(True, True)
    first_over = trip = None
    for t in np.arange(0.0, 3600.0, 0.25):
        s = afe.read(float(t))
        if first_over is None and chip_sees_ov(afe, chip):
            first_over = afe.chip.t  # the first conversion above the programmed threshold
        if s.afe_flags & AfeFlag.OVERVOLTAGE:
            trip = s
            break
    assert first_over is not None and trip is not None
    delay = event_time(afe, "ov", "cov") - first_over
    conv = CONVERSION_S[chip]
    assert eff.cell_overvoltage_delay - 0.25 <= delay <= eff.cell_overvoltage_delay + conv + 1e-6
    assert not trip.charge_fet and trip.discharge_fet
    later = run(afe, trip.stamp + 0.1, trip.stamp + 1.0)
    assert abs(later[-1].current) < 0.05  # the charge current stopped


@pytest.mark.parametrize("crc", [False, True])
def test_short_circuit_opens_dsg_within_the_scd_delay(chip, crc):
    afe = create(
        chip,
        cell_count=5,
        seed=4,
        crc=crc,
        protection=HardwareProtection(short_circuit=100.0, short_circuit_delay=200e-6),
    )
    eff = afe.driver.protection
    assert eff.short_circuit <= 100.0 and eff.short_circuit_delay <= 200e-6
    afe.pack.load_a = 3.0
    afe.set_fets(True, True)
    s = run(afe, 0.0, 1.0)[-1]
    assert s.current == pytest.approx(-3.0, abs=0.05) and s.afe_flags == AfeFlag.NONE
    t_short = afe.chip.t
    afe.faults.external_short(True, current_a=800.0)
    s = afe.read(afe.time + 0.05)
    assert event_time(afe, "scd") - t_short <= eff.short_circuit_delay + 1e-9
    assert s.afe_flags & AfeFlag.SHORT_CIRCUIT and not s.discharge_fet
    # bq769x0 SCD clears DSG_ON only [DS Table 8-1]; the bq769x2 default CHG FET Protections A (0x98) opens CHG too
    assert s.charge_fet == (chip == "bq769x0")
    assert afe.pack.current_a == 0.0
    afe.set_fets(False, False)  # recovery: both off, wait for the load to go
    assert run(afe, afe.time + 0.1, afe.time + 0.5)[-1].load_present
    afe.faults.external_short(False)
    afe.pack.load_a = 0.0
    assert not run(afe, afe.time + 0.1, afe.time + 0.5)[-1].load_present


def test_discharge_overcurrent_trips_after_its_delay_not_before(chip):
    afe = create(
        chip,
        cell_count=4,
        seed=5,
        protection=HardwareProtection(discharge_overcurrent=30.0, discharge_overcurrent_delay=0.16),
    )
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.pack.load_a = 40.0
    t_load = afe.chip.t
    assert afe.read(0.1).discharge_fet
    s = run(afe, 0.2, 0.5)[-1]
    assert s.afe_flags & AfeFlag.OVERCURRENT_DISCHARGE and not s.discharge_fet
    assert event_time(afe, "ocd", "ocd1") - t_load == pytest.approx(
        afe.driver.protection.discharge_overcurrent_delay, abs=1e-6
    )


def test_undervoltage_trips_on_an_empty_pack(chip):
    afe = create(
        chip,
        cell_count=3,
        initial_soc=0.02,
        seed=6,
        protection=HardwareProtection(cell_undervoltage=2.9, cell_undervoltage_delay=1.0),
    )
    afe.pack.load_a = 10.0
    afe.set_fets(True, True)
    for t in np.arange(0.0, 1800.0, 0.5):
        s = afe.read(float(t))
        if s.afe_flags & AfeFlag.UNDERVOLTAGE:
            break
    assert s.afe_flags & AfeFlag.UNDERVOLTAGE and not s.discharge_fet and s.charge_fet
    assert s.cell_voltages.min() < afe.driver.protection.cell_undervoltage + 0.01


def test_nack_bursts_are_retried_counted_and_surfaced_without_a_crash(chip):
    afe = create(chip, cell_count=5, seed=7, crc=True, driver_kwargs={"retries": 3})
    assert afe.read(0.0).comm_ok
    afe.faults.nack_next(3)
    s = afe.read(0.1)
    assert s.comm_ok and s.read_errors == 3
    afe.faults.nack_next(10)
    s = afe.read(0.2)
    assert not s.comm_ok and math.isnan(s.pack_voltage) and np.isnan(s.cell_voltages).all()
    assert s.cell_count == 5
    while not afe.read(afe.time + 0.1).comm_ok:
        pass
    assert afe.driver.errors.nack == 13
    afe.faults.nack_next(100)
    with pytest.raises(AfeError):
        afe.set_fets(True, True)


def test_random_bus_faults_are_all_counted_and_no_corrupt_value_gets_through(chip):
    afe = create(chip, cell_count=8, seed=8, crc=True)
    f = afe.faults
    f.nack_rate, f.timeout_rate, f.crc_corrupt_rate = 0.1, 0.03, 0.1
    samples = run(afe, 0.0, 30.0)
    ok = [s for s in samples if s.comm_ok]
    assert len(ok) > 0.9 * len(samples)
    assert afe.driver.errors.nack == f.injected["nack"] > 0
    assert afe.driver.errors.timeout == f.injected["timeout"] > 0
    assert afe.driver.errors.crc == f.injected["crc"] > 0
    assert samples[-1].read_errors == f.injected["nack"] + f.injected["timeout"]
    np.testing.assert_allclose(ok[-1].cell_voltages, afe.pack.cell_voltages(), atol=0.01)


def test_measurement_faults_stuck_open_wire_and_thermistors(chip):
    afe = create(chip, cell_count=10, seed=9, thermistor_count=2)
    s0 = afe.read(0.0)
    afe.faults.stuck_cell(2, 3.30)
    afe.faults.open_wire(6)
    afe.faults.thermistor_open(0)
    afe.faults.thermistor_short(1)
    s = run(afe, 0.1, 2.1)[-1]
    assert s.cell_voltages[2] == pytest.approx(3.30, abs=1e-3)
    assert s.cell_voltages[6] < 0.01 and abs(s.cell_voltages[7] - s0.cell_voltages[7]) > 1.0
    assert np.isnan(s.temperatures).all()
    afe.faults.clear_measurement_faults()
    s = run(afe, 2.2, 4.5)[-1]
    np.testing.assert_allclose(s.cell_voltages, s0.cell_voltages, atol=0.002)
    assert np.isfinite(s.temperatures).all()


def test_soft_internal_short_shows_as_a_falling_cell(chip):
    afe = create(chip, cell_count=4, seed=11, initial_soc=0.6)
    s0 = afe.read(0.0)
    afe.faults.soft_internal_short(1, 20.0)
    afe.chip.advance(3600.0)
    s = afe.read(afe.time)
    drift = s.cell_voltages - s0.cell_voltages
    assert drift[1] < -0.005 and np.all(np.abs(np.delete(drift, 1)) < 0.002)


def test_balancing_through_the_driver_bleeds_only_those_cells(chip):
    afe = create(chip, cell_count=7, seed=14)
    afe.set_balancing(0b0001001)
    assert afe.read(0.0).balancing_mask == 0b0001001
    soc0 = afe.pack.soc.copy()
    afe.chip.advance(1800.0)
    drop = soc0 - afe.pack.soc
    assert drop[0] > 1e-3 and drop[3] > 1e-3 and np.all(np.delete(drop, [0, 3]) < 1e-6)
    assert not afe.chip.violations


def test_chip_reset_is_detected_and_the_configuration_restored(chip):
    afe = create(chip, cell_count=6, seed=12, protection=HardwareProtection(cell_overvoltage=4.1))
    afe.read(0.0)
    afe.chip.boot()  # brown-out: registers back to their defaults
    assert afe.read(0.1).comm_ok and afe.driver.errors.reinit == 1
    afe.pack.cfg.charger_cv_per_cell = 4.45  # the restored 4.1 V limit must trip, not the 4.25+ default
    afe.pack.charger_connected, afe.pack.charger_current_a = True, 5.0
    afe.set_fets(True, True)
    for t in np.arange(0.2, 7200.0, 0.5):
        s = afe.read(float(t))
        if s.afe_flags & AfeFlag.OVERVOLTAGE:
            break
    assert s.afe_flags & AfeFlag.OVERVOLTAGE and afe.pack.cell_voltages().max() < 4.15


def test_same_seed_same_samples(chip):
    def trace(seed):
        afe = create(chip, cell_count=6, seed=seed, crc=True)
        afe.faults.nack_rate = 0.05
        afe.pack.load_a = 4.0
        afe.set_fets(True, True)
        return [(s.cell_voltages.tolist(), s.current, s.read_errors) for s in run(afe, 0.0, 5.0)]

    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


def test_driver_and_emulator_agree_on_bus_traffic(chip):
    afe = create(chip, cell_count=5, seed=16, crc=True)
    afe.chip.bus.reset() if hasattr(afe.chip.bus, "reset") else None
    before, chip_before = afe.driver.wire.bytes, afe.chip.bus.bytes
    run(afe, 0.0, 2.0)
    assert afe.driver.wire.bytes - before == afe.chip.bus.bytes - chip_before > 0
