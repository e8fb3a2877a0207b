"""The bq769x0 driver against an independent byte-level fake (no code shared with the driver or simulator)."""

import math

import numpy as np
import pytest

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x0 import Bq769x0Afe
from bms_ros.core.types import AfeFlag, HardwareProtection

from afe_fake_bq import FakeBq, crc8_bitwise

PARTS = [(0x08, False), (0x08, True), (0x18, False), (0x18, True)]


def make(address=0x08, crc=False, cells=5, **fake_kw):
    fake = FakeBq(address=address, crc=crc, **fake_kw)
    return fake, Bq769x0Afe(fake, cells, address=address, crc=crc, shunt_ohm=0.001, thermistor_count=1)


@pytest.mark.parametrize(("address", "crc"), PARTS)
def test_init_sequence(address, crc):
    fake, afe = make(address, crc)
    assert fake.written(0x0B) == [0x19]  # CC_CFG [DS p.35]
    assert afe.gain_uv == 377 and afe.offset_mv == 0  # ADCGAIN1 0x05 / ADCGAIN2 0x82
    assert fake.regs[0x04] == 0x18  # ADC_EN | TEMP_SEL
    assert fake.regs[0x05] == 0x40  # CC_EN, FETs stay as they were (off)
    assert fake.regs[0x01] == 0x00
    assert fake.regs[0x06:0x0B] == bytes(afe.protection_codes.block)
    # every write frame on the wire is [reg, d0, (crc0), d1, (crc1) ...]
    for kind, frame in fake.log:
        if kind == "w" and crc and len(frame) > 1:
            assert frame[2] == crc8_bitwise([address << 1, frame[0], frame[1]])


def test_sys_ctrl2_write_and_read_back_carry_the_worked_crcs():
    fake, afe = make(0x08, True)
    fake.log.clear()
    afe.set_fets(False, False)
    # [DS] / E2E #752518: writing 0x40 to SYS_CTRL2 -> CRC 0x24; reading it back -> 0x40, CRC 0x85
    assert ("w", bytes([0x05, 0x40, 0x24])) in fake.log
    assert ("r", bytes([0x40, 0x85])) in fake.log


def test_init_keeps_the_fets_that_are_on():
    fake = FakeBq()
    fake.regs[0x05] = 0x03
    Bq769x0Afe(fake, 5)
    assert fake.regs[0x05] == 0x43


@pytest.mark.parametrize(("address", "crc"), PARTS)
def test_conversions_with_negative_offset(address, crc):
    fake, afe = make(address, crc, adcoffset=0xF6)  # -10 mV: must sign-extend
    assert afe.offset_mv == -10
    for ch, code in enumerate([0x1F10, 0x2000, 0x2100, 0x2200, 0x2300]):
        fake.set_word(0x0C + 2 * ch, code | 0xC000)  # reserved HI bits 7:6 set: must be masked
    fake.set_word(0x2A, 0xC000)  # BAT
    fake.set_word(0x32, 0xFF38)  # CC = -200
    fake.set_word(0x2C, round(1.65 / 382e-6))  # TS1 at 25 degC
    # TEMP_SEL was just switched to the thermistors: TS1 holds the die reading until the next 2 s conversion
    assert np.isnan(afe.read(0.0).temperatures).all()
    s = afe.read(2.3)
    assert s.comm_ok and s.stamp == 2.3
    expected = (np.array([0x1F10, 0x2000, 0x2100, 0x2200, 0x2300]) * 377 - 10_000) * 1e-6
    np.testing.assert_allclose(s.cell_voltages, expected, atol=1e-9)
    assert s.cell_voltages[0] == pytest.approx(2.987904)
    assert s.pack_voltage == pytest.approx((4 * 377 * 0xC000 - 5 * 10_000) * 1e-6)
    assert s.current == pytest.approx(-200 * 8.44e-6 / 0.001)  # discharging
    assert s.temperatures[0] == pytest.approx(25.0, abs=0.1)
    assert math.isnan(s.die_temperature)


def test_datasheet_cell_voltage_example():
    # [DS p.18]: 0x1F10 with GAIN 380 uV/LSB and OFFSET 30 mV -> 3052 mV. GAIN 380: ADCGAIN<4:0> = 15
    fake, afe = make(adcgain1=0x04, adcgain2=0xE0, adcoffset=30)
    assert afe.gain_uv == 380
    fake.set_word(0x0C, 0x1F10)
    assert np.isnan(afe.read(0.0).cell_voltages[0])  # fresh chip (CC_EN was 0): not converted yet
    assert afe.read(0.3).cell_voltages[0] == pytest.approx(3.052, abs=1e-3)


def test_ov_trip_programmed_from_datasheet_example():
    # GAIN 382 (ADCGAIN<4:0> = 17), OFFSET 0, OV 4.30 V -> OV_TRIP 0xBF [DS p.46]
    fake, afe = make(crc=True, adcgain1=0x08, adcgain2=0x20)
    assert afe.gain_uv == 382
    eff = afe.configure_protection(
        HardwareProtection(
            cell_overvoltage=4.30, cell_undervoltage=2.5, cell_overvoltage_delay=2.0, cell_undervoltage_delay=4.0
        )
    )
    assert fake.regs[0x09] == 0xBF
    assert fake.regs[0x08] == 0x50
    assert eff.cell_overvoltage == pytest.approx(0x2BF8 * 382e-6)
    assert afe.read_protection() == eff


@pytest.mark.parametrize("crc", [False, True])
def test_sys_stat_decoding_and_write_one_to_clear(crc):
    fake, afe = make(crc=crc)
    fake.regs[0x00] = 0x80 | 0x20 | 0x04 | 0x02  # CC_READY, XREADY, OV, SCD
    fake.writes.clear()
    s = afe.read(0.0)
    assert s.afe_flags == AfeFlag.DEVICE_FAULT | AfeFlag.OVERVOLTAGE | AfeFlag.SHORT_CIRCUIT
    assert fake.written(0x00) == [0x80]  # only CC_READY is cleared by a read
    assert fake.regs[0x00] == 0x26
    afe.clear_faults(AfeFlag.OVERVOLTAGE | AfeFlag.SHORT_CIRCUIT)
    assert fake.written(0x00)[-1] == 0x06
    assert fake.regs[0x00] == 0x20


def test_balancing_maps_logical_cells_and_refuses_adjacent_ones():
    fake, afe = make(cells=4)  # channels 1, 2, 3, 5
    afe.set_balancing(0b1001)  # cells 0 and 3 -> CB1 and CB5
    assert fake.regs[0x01] == 0b10001
    assert afe.read(0).balancing_mask == 0b1001
    fake.writes.clear()
    with pytest.raises(ValueError, match="adjacent"):
        afe.set_balancing(0b0110)
    with pytest.raises(ValueError):
        afe.set_balancing(1 << 4)  # no cell 4 in a 4S pack
    assert fake.writes == []
    assert afe.balancing_constraints.groups == ((0, 4),)
    assert not afe.balancing_constraints.permits(0b0011)


def test_balancing_groups_for_7_cells_on_bq76930():
    fake = FakeBq()
    afe = Bq769x0Afe(fake, 7, thermistor_count=2)  # channels 1,2,3,5 | 6,7,10
    assert afe.balancing_constraints.groups == ((0, 4), (4, 7))
    afe.set_balancing(0b1011001)  # cells 0, 3 | 4, 6 (3 and 4 are in different groups)
    assert (fake.regs[0x01], fake.regs[0x02]) == (0b10001, 0b10001)
    with pytest.raises(ValueError):
        afe.set_balancing(0b0110000)  # cells 4 and 5 adjacent in group 2


def test_fet_control_and_ship_mode_sequence():
    fake, afe = make(crc=True)
    afe.set_fets(True, False)
    assert fake.regs[0x05] == 0x41
    afe.set_fets(False, True)
    assert fake.regs[0x05] == 0x42
    fake.writes.clear()
    afe.enter_ship_mode()
    assert fake.written(0x04) == [0x18, 0x19, 0x1A]  # SHUT bits 00 -> 01 -> 10, ADC_EN/TEMP_SEL kept


def test_wrong_crc_setting_fails_init_and_detection_finds_it():
    with pytest.raises(AfeError, match="CRC"):
        Bq769x0Afe(FakeBq(crc=False), 5, crc=True, retries=1)
    assert Bq769x0Afe.detect_crc(FakeBq(crc=True)) is True
    assert Bq769x0Afe.detect_crc(FakeBq(crc=False)) is False
    with pytest.raises(ValueError):
        Bq769x0Afe(FakeBq(), 5, address=0x10)


def test_retries_count_nacks_and_crc_errors():
    fake, afe = make(crc=True)
    fake.nack_next = 2
    fake.corrupt_next = 1
    s = afe.read(0.0)
    assert s.comm_ok
    assert (afe.errors.nack, afe.errors.crc, afe.errors.retries) == (2, 1, 3)
    assert (s.read_errors, s.crc_errors) == (2, 1)
    fake.nack_next = 4  # 1 + 3 retries all NACKed
    s = afe.read(1.0)
    assert not s.comm_ok and np.isnan(s.cell_voltages).all() and math.isnan(s.current)
    assert s.read_errors == 6 and afe.errors.failed == 1
    fake.nack_next = 4
    with pytest.raises(AfeError):
        afe.set_fets(True, True)
    assert afe.read(2.0).comm_ok
