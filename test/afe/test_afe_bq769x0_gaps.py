"""bq769x0 gaps found by the datasheet-only audit (ISSUE 16 part 4); each test failed on the code before the fix."""

import logging
import math

import numpy as np
import pytest

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x0 import Bq769x0Afe
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.config import AfeConfig
from bms_ros.afe.factory import make_afe
from bms_ros.afe.sim.bq769x0_sim import Bq769x0Sim
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
from bms_ros.config import load_config
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import HardwareProtection

from afe_fake_bq import FakeBq


@pytest.mark.parametrize("cells", [9, 10])
def test_a_bq76940_with_9_or_10_cells_can_be_configured_and_reads_its_top_group(cells):
    cfg = load_config(
        {"pack.cell_count": cells, "afe.type": "sim_bq769x0", "afe.chip": "bq76940", "afe.thermistor_count": 3}
    )
    afe = make_afe(cfg.afe, cfg.pack, cfg.sim)
    assert afe.driver.chip.name == "bq76940" and afe.chip.chip.name == "bq76940"
    assert {10, 11, 14} <= set(afe.driver.channels)  # VC11, VC12 and VC15 are read
    s = afe.read(0.0)
    np.testing.assert_allclose(s.cell_voltages, afe.pack.cell_voltages(), atol=1e-3)
    assert s.temperatures.shape == (3,) and np.isfinite(s.temperatures).all()
    # the hardware path takes the same field
    kw = Bq769x0Afe.config_kwargs(AfeConfig(type="bq769x0", chip="bq76940", thermistor_count=3))
    assert Bq769x0Afe(FakeBq(crc=True), cells, **kw).chip.name == "bq76940"


def test_readings_before_the_first_conversions_after_boot_are_invalid():
    fake = FakeBq(adcoffset=0xFB)  # -5 mV; registers still 0: nothing converted yet
    afe = Bq769x0Afe(fake, 5, thermistor_count=0)
    s = afe.read(0.0)
    assert s.comm_ok
    assert np.isnan(s.cell_voltages).all() and math.isnan(s.pack_voltage)  # not -5 mV and ~0 V
    assert math.isnan(s.current)  # not 0 A before the first CC window
    assert math.isnan(s.die_temperature)  # not 310 degC
    for ch in range(5):
        fake.set_word(0x0C + 2 * ch, 0x2000)
    fake.set_word(0x2C, round(1.2 / 382e-6))  # die at 25 degC
    s = afe.read(0.3)  # one 250 ms conversion later [DS p.18, p.20]
    assert np.isfinite(s.cell_voltages).all() and math.isfinite(s.current)
    assert math.isnan(s.die_temperature)  # the first temperature conversion takes 2 s
    assert afe.read(2.3).die_temperature == pytest.approx(25.0, abs=0.5)


def test_a_chip_reset_invalidates_readings_until_the_chip_has_converted_again():
    afe = SimulatedBq769x0.create(cell_count=6, seed=12)
    assert np.isfinite(afe.read(0.0).cell_voltages).all()
    afe.chip.boot()  # brown-out: registers back to reset values
    s = afe.read(0.1)
    assert afe.driver.errors.reinit == 1 and np.isnan(s.cell_voltages).all() and math.isnan(s.current)
    s = afe.read(0.5)
    np.testing.assert_allclose(s.cell_voltages, afe.pack.cell_voltages(), atol=1e-3)


def test_adc_en_cleared_by_a_glitch_is_restored_and_frozen_voltages_are_not_reported():
    afe = SimulatedBq769x0.create(cell_count=5, seed=1)
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.chip.regs[r.SYS_CTRL1] &= ~r.CTRL1_ADC_EN & 0xFF  # glitch or another bus master
    afe.pack.load_a = 40.0
    afe.chip.advance(0.5)  # conversions stopped: the registers are frozen
    s = afe.read(afe.time)
    assert np.isnan(s.cell_voltages).all() and math.isnan(s.pack_voltage)
    assert afe.chip.regs[r.SYS_CTRL1] & r.CTRL1_ADC_EN and afe.driver.errors.adc_restored == 1
    s = afe.read(afe.time + 0.3)
    np.testing.assert_allclose(s.cell_voltages, afe.pack.cell_voltages(), atol=2e-3)


def test_a_chip_in_ship_mode_at_start_is_reported_and_retried_not_fatal():
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=4, seed=1))
    chip = Bq769x0Sim(pack, boot=False)  # never got its TS1 boot pulse
    afe = Bq769x0Afe(chip, 4, retry_init=True)
    assert "SHIP" in afe.status_reason
    s = afe.read(0.0)
    assert not s.comm_ok and "SHIP" in afe.status_reason
    chip.boot()  # the boot pulse
    chip.advance(0.3)
    assert afe.read(0.5).comm_ok and afe.status_reason == ""
    with pytest.raises(AfeError):  # without retry_init the old behaviour stays
        Bq769x0Afe(Bq769x0Sim(pack, boot=False), 4)


def test_a_failed_protection_programming_is_retried_until_it_succeeds():
    afe = SimulatedBq769x0.create(cell_count=4, chemistry="lfp", seed=2)
    lfp = HardwareProtection(cell_overvoltage=3.65, cell_undervoltage=2.5)
    afe.faults.nack_next(4)  # every attempt of the first transaction fails
    with pytest.raises(AfeError):
        afe.configure_protection(lfp)
    assert afe.chip.ov_threshold_v() > 4.2  # still the Li-ion default: no backstop for LFP
    pending = afe.driver.status_reason if hasattr(afe.driver, "status_reason") else ""
    afe.read(0.1)
    assert afe.chip.ov_threshold_v() <= 3.65 and afe.driver.protection.cell_overvoltage <= 3.65
    assert "protection" in pending and afe.driver.status_reason == ""  # reported while it was pending


def test_the_bus_clock_limit_is_checked_where_the_adapter_reports_it(tmp_path, caplog):
    from bms_ros.afe.i2c_clock import adapter_clock_hz, warn_if_faster

    node = tmp_path / "class" / "i2c-adapter" / "i2c-1" / "of_node"
    node.mkdir(parents=True)
    (node / "clock-frequency").write_bytes((400_000).to_bytes(4, "big"))  # device-tree cell, big-endian
    assert adapter_clock_hz(1, sysfs=tmp_path) == 400_000
    assert adapter_clock_hz(2, sysfs=tmp_path) is None  # not knowable: no warning
    with caplog.at_level(logging.WARNING):
        assert not warn_if_faster(1, r.BUS_HZ, "bq769x0", sysfs=tmp_path)
        assert warn_if_faster(2, r.BUS_HZ, "bq769x0", sysfs=tmp_path)
    assert "400 kHz" in caplog.text and "100 kHz" in caplog.text
