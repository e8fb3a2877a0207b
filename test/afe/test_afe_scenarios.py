"""Acceptance scenarios: the real driver over the simulated chip and pack (SimulatedBq769x0)."""

import math

import numpy as np
import pytest

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import AfeFlag, HardwareProtection


def run(afe, t_from, t_to, dt=0.1):
    samples = []
    for t in np.arange(t_from, t_to + 1e-9, dt):
        samples.append(afe.read(float(t)))
    return samples


@pytest.mark.parametrize("crc", [False, True])
def test_charging_a_full_pack_trips_hardware_ov_within_the_programmed_delay(crc):
    afe = SimulatedBq769x0.create(
        cell_count=4,
        initial_soc=0.97,
        seed=3,
        crc=crc,
        protection=HardwareProtection(cell_overvoltage=4.25, cell_overvoltage_delay=2.0),
    )
    eff = afe.driver.protection
    assert eff.cell_overvoltage <= 4.25 and eff.cell_overvoltage_delay == 2.0
    pack = afe.pack
    pack.cfg.charger_cv_per_cell = 4.45  # a charger set too high: only the AFE stops it
    pack.charger_connected, pack.charger_current_a = True, 5.0
    afe.set_fets(True, True)
    first_over, trip_sample = None, None
    for t in np.arange(0.0, 3600.0, 0.25):
        s = afe.read(float(t))
        if first_over is None and afe.chip.codes.max() >= afe.chip.ov_trip_full():
            first_over = afe.chip.t  # the first conversion above the programmed threshold
        if s.afe_flags & AfeFlag.OVERVOLTAGE:
            trip_sample = s
            break
    assert first_over is not None and trip_sample is not None
    trip_t = next(t for t, what in afe.chip.events if what == "ov")
    assert 2.0 - 1e-6 <= trip_t - first_over <= 2.0 + 1e-6  # on the 250 ms conversion grid
    assert trip_sample.stamp - trip_t <= 0.25
    assert not trip_sample.charge_fet and trip_sample.discharge_fet
    assert s.cell_voltages.max() > eff.cell_overvoltage - 0.01
    # the charge current stops once the next CC window is over
    later = run(afe, trip_sample.stamp + 0.1, trip_sample.stamp + 1.0)
    assert abs(later[-1].current) < 0.05
    # clearing while the condition persists: OV latches again after the delay, CHG is cleared again
    afe.clear_faults(AfeFlag.OVERVOLTAGE)
    afe.set_fets(True, True)
    assert not afe.read(later[-1].stamp + 0.1).afe_flags & AfeFlag.OVERVOLTAGE
    s = run(afe, later[-1].stamp + 0.2, later[-1].stamp + 3.0)[-1]
    assert s.afe_flags & AfeFlag.OVERVOLTAGE and not s.charge_fet


@pytest.mark.parametrize("crc", [False, True])
def test_short_circuit_opens_dsg_within_the_scd_delay(crc):
    afe = SimulatedBq769x0.create(
        cell_count=5, seed=4, crc=crc, protection=HardwareProtection(short_circuit=100.0, short_circuit_delay=200e-6)
    )
    assert afe.driver.protection.short_circuit_delay == pytest.approx(200e-6)
    afe.pack.load_a = 3.0
    afe.set_fets(True, True)
    s = run(afe, 0.0, 1.0)[-1]
    assert s.current == pytest.approx(-3.0, abs=0.05) and s.afe_flags == AfeFlag.NONE
    t_short = afe.chip.t
    afe.faults.external_short(True, current_a=800.0)
    s = afe.read(t_short + 0.05)
    trip_t = next(t for t, what in afe.chip.events if what == "scd")
    assert trip_t - t_short <= 200e-6 + 1e-9
    assert s.afe_flags & AfeFlag.SHORT_CIRCUIT and not (s.afe_flags & AfeFlag.OVERCURRENT_DISCHARGE)
    assert not s.discharge_fet and s.charge_fet
    # charge drawn by the short: 800 A for 200 us only
    assert afe.pack.current_a == 0.0
    # recovery as the datasheet asks: CHG off too, poll LOAD_PRESENT until the load is gone [DS p.24]
    afe.set_fets(False, False)
    assert afe.read(t_short + 0.2).load_present
    afe.faults.external_short(False)
    afe.pack.load_a = 0.0
    s = afe.read(t_short + 0.3)
    assert not s.load_present
    afe.clear_faults(AfeFlag.SHORT_CIRCUIT)
    afe.set_fets(True, True)
    s = afe.read(t_short + 0.4)
    assert s.afe_flags == AfeFlag.NONE and s.discharge_fet


def test_overcurrent_in_discharge_trips_after_its_delay():
    afe = SimulatedBq769x0.create(
        cell_count=4,
        seed=5,
        protection=HardwareProtection(discharge_overcurrent=30.0, discharge_overcurrent_delay=0.16),
    )
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.pack.load_a = 40.0
    s = afe.read(0.1)
    assert s.discharge_fet  # not yet: 160 ms delay
    s = afe.read(0.2)
    trip_t = next(t for t, what in afe.chip.events if what == "ocd")
    assert trip_t == pytest.approx(0.16, abs=1e-6)
    assert s.afe_flags & AfeFlag.OVERCURRENT_DISCHARGE and not s.discharge_fet


def test_undervoltage_trips_on_an_empty_pack():
    afe = SimulatedBq769x0.create(
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
    assert s.cell_voltages.min() < 2.9 + 0.01


@pytest.mark.parametrize(("cells", "crc"), [(3, False), (3, True), (10, False), (10, True), (15, False), (15, True)])
def test_3_10_and_15_cell_configurations_read_correctly(cells, crc):
    afe = SimulatedBq769x0.create(
        cell_count=cells, seed=cells, crc=crc, thermistor_count=1, sim_kwargs={"adc_offset_mv": -12, "adc_gain_uv": 381}
    )
    afe.pack.load_a = 2.0
    afe.set_fets(True, True)
    s = run(afe, 0.0, 1.0)[-1]
    assert s.comm_ok and s.cell_count == cells
    truth = afe.pack.cell_voltages()
    np.testing.assert_allclose(s.cell_voltages, truth, atol=0.5 * 381e-6 + 1e-6)
    # BAT: the shorted inputs' residual counts (negative offset) add up to ~|offset| each (E2E #779061)
    shorted = afe.driver.chip.channels - cells
    assert s.pack_voltage == pytest.approx(truth.sum() + shorted * 0.012, abs=2e-3 + cells * 0.5e-3)
    assert s.current == pytest.approx(-2.0, abs=0.01)
    assert s.temperatures[0] == pytest.approx(afe.pack.temperature_c, abs=0.3)
    assert s.charge_fet and s.discharge_fet and s.read_errors == 0


def test_sixteen_cells_is_a_clear_error():
    with pytest.raises(ValueError, match=r"3\.\.15 series cells, got 16"):
        SimulatedBq769x0.create(cell_count=16)
    pack = PackModel(get_chemistry("lfp"), PackModelConfig(cell_count=16))
    with pytest.raises(ValueError, match=r"3\.\.15"):
        SimulatedBq769x0(pack)


def test_nack_bursts_are_retried_counted_and_surfaced_without_a_crash():
    afe = SimulatedBq769x0.create(cell_count=5, seed=7, crc=True, driver_kwargs={"retries": 3})
    assert afe.read(0.0).comm_ok
    afe.faults.nack_next(3)  # absorbed by the retries
    s = afe.read(0.1)
    assert s.comm_ok and s.read_errors == 3
    afe.faults.nack_next(10)  # longer than the retries: missing sample, no exception
    s = afe.read(0.2)
    assert not s.comm_ok and s.read_errors == 7 and math.isnan(s.pack_voltage)
    assert np.isnan(s.cell_voltages).all() and s.cell_count == 5
    s = afe.read(0.3)  # 4 of the remaining 6 NACKs: this read fails too
    assert not s.comm_ok and s.read_errors == 11
    s = afe.read(0.4)
    assert s.comm_ok and s.read_errors == 13
    afe.faults.nack_next(100)
    with pytest.raises(AfeError):
        afe.set_fets(True, True)


def test_random_bus_faults_are_all_counted():
    afe = SimulatedBq769x0.create(cell_count=8, seed=8, crc=True)
    f = afe.faults
    f.nack_rate, f.timeout_rate, f.crc_corrupt_rate = 0.1, 0.03, 0.1
    samples = run(afe, 0.0, 30.0)
    ok = [s for s in samples if s.comm_ok]
    assert len(ok) > 0.95 * len(samples)
    last = samples[-1]
    assert afe.driver.errors.nack == f.injected["nack"] > 0
    assert afe.driver.errors.timeout == f.injected["timeout"] > 0
    assert afe.driver.errors.crc == f.injected["crc"] > 0
    assert last.read_errors == f.injected["nack"] + f.injected["timeout"]
    assert last.crc_errors == f.injected["crc"]
    truth = afe.pack.cell_voltages()
    np.testing.assert_allclose(ok[-1].cell_voltages, truth, atol=0.01)  # no corrupted value got through


def test_measurement_faults_stuck_open_wire_and_thermistors():
    afe = SimulatedBq769x0.create(cell_count=10, seed=9, thermistor_count=2)
    s0 = afe.read(0.0)
    afe.faults.stuck_cell(2, 3.30)
    afe.faults.open_wire(6)
    afe.faults.thermistor_open(0)
    afe.faults.thermistor_short(1)
    s = run(afe, 0.1, 2.1)[-1]
    assert s.cell_voltages[2] == pytest.approx(3.30, abs=1e-3)
    assert s.cell_voltages[6] < 0.01
    # the cell above reads both cells, here clipped at the ADC's 14-bit full scale (~6.2 V) [DS p.17]
    full_scale = (0x3FFF * afe.driver.gain_uv + afe.driver.offset_mv * 1e3) * 1e-6
    both = s0.cell_voltages[6] + s0.cell_voltages[7]
    assert s.cell_voltages[7] == pytest.approx(min(both, full_scale), abs=0.01)
    assert np.isnan(s.temperatures).all()
    afe.faults.clear_measurement_faults()
    s = run(afe, 2.2, 4.5)[-1]
    np.testing.assert_allclose(s.cell_voltages, s0.cell_voltages, atol=0.002)
    assert np.isfinite(s.temperatures).all()


def test_xready_is_reported_then_cleared_after_a_few_seconds_without_turning_fets_on():
    afe = SimulatedBq769x0.create(cell_count=5, seed=10, crc=True)
    afe.set_fets(True, True)
    afe.set_balancing(0b00101)
    afe.read(0.0)
    afe.faults.xready()
    s = afe.read(0.1)
    assert s.afe_flags & AfeFlag.DEVICE_FAULT
    assert not s.charge_fet and not s.discharge_fet and s.balancing_mask == 0
    s = run(afe, 0.2, 2.9)[-1]
    assert s.afe_flags & AfeFlag.DEVICE_FAULT  # TI: wait a few seconds [DS p.30]
    s = run(afe, 3.0, 3.3)[-1]
    assert not s.afe_flags & AfeFlag.DEVICE_FAULT and afe.driver.errors.reinit == 1
    assert not s.discharge_fet  # the host decides when to turn them on again


def test_soft_internal_short_shows_as_a_falling_cell():
    afe = SimulatedBq769x0.create(cell_count=4, seed=11, initial_soc=0.6)
    s0 = afe.read(0.0)
    afe.faults.soft_internal_short(1, 20.0)  # ~0.18 A leak on a 10 Ah cell
    afe.chip.advance(3600.0)
    s = afe.read(afe.chip.t)
    drift = s.cell_voltages - s0.cell_voltages
    assert drift[1] < -0.005
    assert np.all(np.abs(np.delete(drift, 1)) < 0.002)


def test_chip_reset_is_detected_and_configuration_restored():
    afe = SimulatedBq769x0.create(cell_count=6, seed=12)
    afe.read(0.0)
    codes = afe.driver.protection_codes
    afe.chip.boot()  # e.g. a brown-out: registers back to defaults
    assert afe.chip.regs[r.OV_TRIP] == 0xAC
    s = afe.read(0.1)
    assert s.comm_ok and afe.driver.errors.reinit == 1
    assert afe.chip.regs[r.OV_TRIP] == codes.ov_trip and afe.chip.regs[r.CC_CFG] == 0x19
    assert afe.chip.regs[r.SYS_CTRL2] & r.CTRL2_CC_EN


def test_ship_mode_then_boot():
    afe = SimulatedBq769x0.create(cell_count=5, seed=13)
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.enter_ship_mode()
    assert afe.chip.mode == "ship" and not afe.pack.discharge_fet
    s = afe.read(1.0)
    assert not s.comm_ok
    afe.chip.boot()
    s = afe.read(2.0)
    assert s.comm_ok and afe.chip.regs[r.CC_CFG] == 0x19


def test_balancing_through_the_driver_bleeds_the_cell():
    afe = SimulatedBq769x0.create(cell_count=7, seed=14)
    afe.set_balancing(0b0001001)  # cells 0 and 3
    s = afe.read(0.0)
    assert s.balancing_mask == 0b0001001
    assert afe.chip.regs[r.CELLBAL1] == 0b10001  # cell 3 of a 7S pack is on VC5
    soc0 = afe.pack.soc.copy()
    afe.chip.advance(1800.0)
    drop = soc0 - afe.pack.soc
    assert drop[0] > 1e-3 and drop[3] > 1e-3 and np.all(np.delete(drop, [0, 3]) < 1e-6)
    assert not afe.chip.violations


def test_die_temperature_sweep_and_cold_start():
    afe = SimulatedBq769x0.create(
        cell_count=4, seed=15, sim_kwargs={"warm": False}, driver_kwargs={"die_temp_period_s": 10.0}
    )
    samples = run(afe, 0.0, 20.0)
    assert np.isnan(samples[0].temperatures).all()  # TEMP_SEL switched at init: not valid yet
    assert np.isfinite(samples[25].temperatures).all()
    assert all(np.isfinite(s.temperatures).all() for s in samples[25:])
    assert math.isnan(samples[50].die_temperature)
    assert samples[-1].die_temperature == pytest.approx(afe.pack.temperature_c, abs=0.5)
    no_ts = SimulatedBq769x0.create(cell_count=4, seed=15, thermistor_count=0)
    s = run(no_ts, 0.0, 2.5)[-1]
    assert s.temperatures.shape == (0,) and s.die_temperature == pytest.approx(25.0, abs=0.5)


def test_after_a_die_temperature_sweep_the_thermistors_read_the_pack_again():
    """The switch back wrote SYS_CTRL1 without TEMP_SEL: the 'thermistor' then read the die sensor."""
    afe = SimulatedBq769x0.create(cell_count=4, seed=15, driver_kwargs={"die_temp_period_s": 10.0})
    samples = run(afe, 0.0, 40.0)
    assert any(np.isfinite(s.die_temperature) for s in samples)  # a sweep happened
    assert afe.chip.regs[r.SYS_CTRL1] & r.CTRL1_TEMP_SEL  # and TEMP_SEL is back on
    late = [s.temperatures for s in samples[-50:]]
    assert all(np.allclose(t, afe.pack.temperature_c, atol=1.0) for t in late), late[-1]


def test_same_seed_same_samples():
    def trace(seed):
        afe = SimulatedBq769x0.create(
            cell_count=6, seed=seed, crc=True, sim_kwargs={"adc_noise_lsb": 2.0, "seed": seed}
        )
        afe.faults.nack_rate = 0.05
        afe.pack.load_a = 4.0
        afe.set_fets(True, True)
        return [(s.cell_voltages.tolist(), s.current, s.read_errors) for s in run(afe, 0.0, 5.0)]

    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


def test_driver_and_simulator_agree_on_bus_traffic():
    afe = SimulatedBq769x0.create(cell_count=5, seed=16, crc=True)
    afe.chip.bus.reset()
    before = afe.driver.wire.bytes
    run(afe, 0.0, 2.0)
    assert afe.driver.wire.bytes - before == afe.chip.bus.bytes > 0


def test_from_config_on_a_ros_time_clock_and_apply():
    from bms_ros.afe.config import AfeConfig
    from bms_ros.core.types import BmsOutput, BmsState, Estimate

    cfg = AfeConfig(type="sim_bq769x0", i2c_address=0x18, crc=False, shunt_resistance=0.002, thermistor_count=2)
    pack = PackModel(get_chemistry("lfp"), PackModelConfig(cell_count=8, seed=3))
    afe = SimulatedBq769x0.from_config(pack, cfg)
    assert afe.driver.address == 0x18 and afe.chip.shunt_ohm == 0.002 and afe.thermistor_count == 2
    t0 = 1.7e9  # ROS time: the chip keeps its own clock from 0
    s = afe.read(t0)
    assert s.stamp == t0 and s.temperatures.shape == (2,)
    out = BmsOutput(
        stamp=t0,
        sample=s,
        state=BmsState.DISCHARGING,
        charge_fet=True,
        discharge_fet=True,
        faults_active=0,
        faults_latched=0,
        warnings=0,
        charge_enable_requested=True,
        discharge_enable_requested=True,
        charge_current_limit=10.0,
        discharge_current_limit=10.0,
        limit_reason="",
        balancing_mask=0b101,
        estimate=Estimate(),
    )
    afe.apply(out)
    # default protections on 2 mOhm: SCD 155 mV (77.5 A) after 200 us, OCD 78 mV (39 A) after 320 ms
    assert afe.driver.protection.short_circuit == pytest.approx(77.5)
    afe.pack.load_a = 50.0
    s = afe.read(t0 + 0.5)
    assert [(round(t, 6), what) for t, what in afe.chip.events[1:]] == [(0.32, "ocd")]  # chip time
    assert s.afe_flags == AfeFlag.OVERCURRENT_DISCHARGE and not s.discharge_fet and s.balancing_mask == 0b101
    assert afe.time == pytest.approx(t0 + 0.5)


def test_open_of_a_missing_i2c_bus_is_an_afe_error():
    from bms_ros.afe.bq769x0 import Bq769x0Afe
    from bms_ros.afe.config import AfeConfig

    with pytest.raises(AfeError, match="i2c-250"):
        Bq769x0Afe.open(AfeConfig(type="bq769x0", i2c_bus=250), 4)
