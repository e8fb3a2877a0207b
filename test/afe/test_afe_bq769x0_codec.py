"""bq769x0 constants and conversions against the datasheet's worked examples ([DS] = TI SLUSBK2I)."""

import math
import random

import pytest

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.conversions import die_celsius, flags_to_stat, stat_to_flags, thermistor_celsius
from bms_ros.afe.bq769x0.crc import crc8, read_crc, split_read, write_frame
from bms_ros.afe.bq769x0.protection_codes import (
    datasheet_trip_code,
    encode_protection,
    ov_trip_code,
    ov_trip_voltage,
    uv_trip_code,
    uv_trip_voltage,
)
from bms_ros.core.types import AfeFlag, HardwareProtection

from afe_fake_bq import crc8_bitwise


def test_crc_worked_vectors():
    # write 0x40 to SYS_CTRL2 at 0x08: CRC8(0x10, 0x05, 0x40) = 0x24; reading it back: CRC8(0x11, 0x40) = 0x85
    assert crc8([0x10, 0x05, 0x40]) == 0x24
    assert crc8([0x11, 0x40]) == 0x85
    assert write_frame(0x08, 0x05, [0x40], use_crc=True) == [0x05, 0x40, 0x24]
    assert write_frame(0x08, 0x05, [0x40], use_crc=False) == [0x05, 0x40]
    assert read_crc(0x08, [0x40]) == [0x85]


def test_crc_later_bytes_cover_only_themselves_and_match_a_bitwise_crc():
    rng = random.Random(3)
    for _ in range(200):
        data = [rng.randrange(256) for _ in range(rng.randrange(1, 6))]
        assert crc8(data) == crc8_bitwise(data)
    frame = write_frame(0x18, 0x06, [0x8B, 0x5A], use_crc=True)
    assert frame == [0x06, 0x8B, crc8_bitwise([0x30, 0x06, 0x8B]), 0x5A, crc8_bitwise([0x5A])]
    raw = [0x40, 0x85, 0x19, crc8_bitwise([0x19])]
    assert split_read(0x08, raw) == ([0x40, 0x19], 0)
    raw[3] ^= 0x10
    assert split_read(0x08, raw) == ([0x40, 0x19], 1)


def test_adc_gain_and_signed_offset():
    assert r.decode_gain_uv(0x05, 0x82) == 377  # E2E #838739: 0b01100 = 12 -> 377 uV/LSB
    assert r.decode_gain_uv(0x00, 0x00) == 365
    assert r.decode_gain_uv(0xFF, 0xFF) == 396
    assert [r.decode_offset_mv(b) for b in (0x00, 0x05, 0x7F, 0x80, 0xF6, 0xFF)] == [0, 5, 127, -128, -10, -1]
    g1, g2 = r.encode_gain(377)
    assert r.decode_gain_uv(g1 | 0x01, g2 | 0x02) == 377


def test_ov_uv_trip_codes_from_datasheet_example():
    # [DS p.46]: 4.30 V with GAIN 382, OFFSET 0 -> OV_TRIP 0xBF; 2.5 V -> UV_TRIP 0x99 (truncating procedure)
    assert datasheet_trip_code(4.30, 382, 0) == 0xBF
    assert datasheet_trip_code(2.50, 382, 0) == 0x99
    assert ov_trip_code(4.30, 382, 0) == (0xBF, False)
    assert ov_trip_voltage(0xBF, 382, 0) <= 4.30 < ov_trip_voltage(0xC0, 382, 0)
    # safe side for UV is the lowest trip voltage >= the request: 0x99 trips at 2.4998 V, so 0x9A
    assert uv_trip_voltage(0x99, 382, 0) < 2.50
    assert uv_trip_code(2.50, 382, 0) == (0x9A, False)
    assert uv_trip_voltage(0x9A, 382, 0) >= 2.50
    # reset defaults: OV_TRIP 0xAC ~ 4.18 V, UV_TRIP 0x97 ~ 2.49 V at 382 uV/LSB
    assert ov_trip_voltage(0xAC, 382, 0) == pytest.approx(4.18, abs=0.005)
    assert uv_trip_voltage(0x97, 382, 0) == pytest.approx(2.49, abs=0.005)


def test_protection_registers_from_datasheet_design_example():
    # [DS p.45-46], 5 mOhm shunt: SCD 25 A / 100 us -> PROTECT1 0x8B (111 mV, RSNS = 1); OCD 15 A / 320 ms: the
    # text picks 72 mV (code 0xA, 14.4 A); OV 4.30 V / 2 s and UV 2.5 V / 4 s -> PROTECT3 0x50.
    wanted = HardwareProtection(
        cell_overvoltage=4.30,
        cell_overvoltage_delay=2.0,
        cell_undervoltage=2.5,
        cell_undervoltage_delay=4.0,
        discharge_overcurrent=15.0,
        discharge_overcurrent_delay=0.32,
        short_circuit=25.0,
        short_circuit_delay=100e-6,
    )
    codes = encode_protection(wanted, shunt_ohm=0.005, gain_uv=382, offset_mv=0)
    assert codes.protect1 == 0x8B
    # the datasheet prints 0x5B, which is 78 mV = 15.6 A, above the 15 A asked for; its own text chooses 0x0A
    assert codes.protect2 == 0x5A
    assert codes.protect3 == 0x50
    assert codes.ov_trip == 0xBF
    assert codes.clamped == ()
    eff = codes.effective
    assert eff.short_circuit == pytest.approx(22.2)
    assert eff.discharge_overcurrent == pytest.approx(14.4)
    assert eff.short_circuit_delay == pytest.approx(100e-6)
    assert eff.discharge_overcurrent_delay == pytest.approx(0.32)


def test_protection_rounding_is_always_on_the_safe_side():
    rng = random.Random(11)
    for _ in range(300):
        shunt = rng.choice([0.0005, 0.001, 0.002, 0.003, 0.005])
        wanted = HardwareProtection(
            cell_overvoltage=rng.uniform(3.3, 4.4),
            cell_overvoltage_delay=rng.uniform(1.0, 9.0),
            cell_undervoltage=rng.uniform(1.7, 2.8),
            cell_undervoltage_delay=rng.uniform(1.0, 20.0),
            discharge_overcurrent=rng.uniform(17, 100) * 1e-3 / shunt,
            discharge_overcurrent_delay=rng.uniform(0.008, 2),
            short_circuit=rng.uniform(44, 200) * 1e-3 / shunt,
            short_circuit_delay=rng.uniform(70e-6, 1e-3),
        )
        codes = encode_protection(wanted, shunt, gain_uv=rng.randint(365, 396), offset_mv=rng.randint(-40, 40))
        eff = codes.effective
        assert codes.clamped == ()
        assert eff.cell_overvoltage <= wanted.cell_overvoltage
        assert eff.cell_undervoltage >= wanted.cell_undervoltage
        assert eff.discharge_overcurrent <= wanted.discharge_overcurrent + 1e-9
        assert eff.short_circuit <= wanted.short_circuit + 1e-9
        for name in (
            "cell_overvoltage_delay",
            "cell_undervoltage_delay",
            "discharge_overcurrent_delay",
            "short_circuit_delay",
        ):
            assert getattr(eff, name) <= getattr(wanted, name) + 1e-12
        # and it is the nearest such code: the OV/UV step is 16 LSB
        assert wanted.cell_overvoltage - eff.cell_overvoltage < 16 * 396e-6 + 1e-9
        assert eff.cell_undervoltage - wanted.cell_undervoltage < 16 * 396e-6 + 1e-9


def test_protection_outside_range_is_clamped_and_reported():
    wanted = HardwareProtection(
        discharge_overcurrent=1.0, short_circuit=1000.0, cell_overvoltage=5.5, short_circuit_delay=10e-6
    )
    codes = encode_protection(wanted, shunt_ohm=0.001, gain_uv=380, offset_mv=0)
    # below the smallest code: the nearest (unsafe-side) code, reported; above the largest: the largest (safe)
    assert set(codes.clamped) == {"discharge_overcurrent", "short_circuit_delay"}
    assert codes.effective.discharge_overcurrent == pytest.approx(8.0)  # smallest OCD: 8 mV
    # RSNS = 0 keeps the (unsafe) OCD overshoot smallest; SCD then gets its largest RSNS = 0 code, 100 mV
    assert codes.protect1 & 0x80 == 0
    assert codes.effective.short_circuit == pytest.approx(100.0)
    assert codes.effective.cell_overvoltage == pytest.approx(ov_trip_voltage(0xFF, 380, 0))
    assert codes.effective.short_circuit_delay == pytest.approx(70e-6)


# 1-based VC channels per cell count [DS Tables 9-2, 9-3, 9-4]
CHANNEL_TABLE = {
    ("bq76920", 3): [1, 2, 5],
    ("bq76920", 4): [1, 2, 3, 5],
    ("bq76920", 5): [1, 2, 3, 4, 5],
    ("bq76930", 6): [1, 2, 5, 6, 7, 10],
    ("bq76930", 7): [1, 2, 3, 5, 6, 7, 10],
    ("bq76930", 8): [1, 2, 3, 5, 6, 7, 8, 10],
    ("bq76930", 9): [1, 2, 3, 4, 5, 6, 7, 8, 10],
    ("bq76930", 10): list(range(1, 11)),
    ("bq76940", 9): [1, 2, 5, 6, 7, 10, 11, 12, 15],
    ("bq76940", 10): [1, 2, 3, 5, 6, 7, 10, 11, 12, 15],
    ("bq76940", 11): [1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 15],
    ("bq76940", 12): [1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15],
    ("bq76940", 13): [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15],
    ("bq76940", 14): [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15],
    ("bq76940", 15): list(range(1, 16)),
}


@pytest.mark.parametrize(("chip", "cells"), sorted(CHANNEL_TABLE))
def test_channel_mapping_matches_datasheet_tables(chip, cells):
    c = r.select_chip(cells, chip)
    assert [ch + 1 for ch in r.channel_map(cells, c)] == CHANNEL_TABLE[(chip, cells)]
    groups = r.logical_groups(cells, c)
    assert groups[0][0] == 0 and groups[-1][1] == cells
    for (start, stop), g in zip(groups, range(c.groups)):
        assert all(5 * g <= r.channel_map(cells, c)[i] < 5 * g + 5 for i in range(start, stop))


def test_default_chip_and_cell_count_limits():
    assert r.select_chip(5).name == "bq76920"
    assert r.select_chip(10).name == "bq76930"
    assert r.select_chip(11).name == "bq76940"
    for bad in (0, 2, 16, 20):
        with pytest.raises(ValueError, match=r"3\.\.15"):
            r.select_chip(bad)
    with pytest.raises(ValueError, match=r"bq76920 supports 3\.\.5"):
        r.select_chip(6, "bq76920")


def test_thermistor_and_die_temperature():
    # 10 k NTC at 25 degC: V_TS = 3.3 * 10k / 20k = 1.65 V -> 4319 counts of 382 uV
    assert thermistor_celsius(round(1.65 / 382e-6), 3435, 10_000) == pytest.approx(25.0, abs=0.1)
    # Beta model at 0 degC: R = 10k * exp(3435 (1/273.15 - 1/298.15)) ~ 28.7 k
    res = 10_000 * math.exp(3435 * (1 / 273.15 - 1 / 298.15))
    code = round(3.3 * res / (10_000 + res) / 382e-6)
    assert thermistor_celsius(code, 3435, 10_000) == pytest.approx(0.0, abs=0.15)
    assert math.isnan(thermistor_celsius(round(3.3 / 382e-6), 3435, 10_000))  # open
    assert math.isnan(thermistor_celsius(0, 3435, 10_000))  # shorted
    assert die_celsius(round(1.200 / 382e-6)) == pytest.approx(25.0, abs=0.1)
    assert die_celsius(round((1.200 - 0.0042 * 20) / 382e-6)) == pytest.approx(45.0, abs=0.1)


def test_sys_stat_flag_mapping():
    stat = r.STAT_CC_READY | r.STAT_OV | r.STAT_SCD | r.STAT_DEVICE_XREADY
    assert stat_to_flags(stat) == AfeFlag.OVERVOLTAGE | AfeFlag.SHORT_CIRCUIT | AfeFlag.DEVICE_FAULT
    assert stat_to_flags(r.STAT_UV | r.STAT_OCD | r.STAT_OVRD_ALERT) == (
        AfeFlag.UNDERVOLTAGE | AfeFlag.OVERCURRENT_DISCHARGE | AfeFlag.ALERT_OVERRIDE
    )
    assert flags_to_stat(AfeFlag.OVERVOLTAGE | AfeFlag.ALERT_OVERRIDE) == 0x14
    assert stat_to_flags(r.STAT_CC_READY) == AfeFlag.NONE
