"""The bq769x2 driver against an independent byte-level fake (no code shared with the driver or emulator), with
TI's worked examples: CRC vectors [SLUAA11B], checksum/length 0x44/0x06 [SLUUBY2B], userA/userV scaling."""

import math

import numpy as np
import pytest
from afe_fake_bq769x2 import FakeBq769x2, crc8_bitwise, ti_checksum

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x2.driver import Bq769x2Afe
from bms_ros.core.types import AfeFlag, HardwareProtection


def make(cells=16, crc=False, **kw):
    fake = FakeBq769x2(crc=crc)
    afe = Bq769x2Afe(fake, cells, crc=crc, shunt_ohm=0.001, thermistor_count=1, sleep=lambda s: None, **kw)
    return fake, afe


def test_ti_crc_and_checksum_examples_hold_in_the_fake():
    assert crc8_bitwise([0x10, 0x3E, 0x22]) == 0x63
    assert crc8_bitwise([0x10, 0x14, 0x11, 0x68]) == 0x33
    assert crc8_bitwise([0x0B]) == 0x31
    assert ti_checksum(0x80, 0x91, [0x7A, 0x30]) == 0x44


def test_data_memory_write_carries_the_ti_checksum_and_length_on_the_wire():
    fake, afe = make()
    fake.log.clear()
    fake.cfgupdate = True
    afe.io.dm_write(0x9180, bytes([0x7A, 0x30]))  # 0x307A to 0x9180 [SLUUBY2B]
    assert [f for k, f in fake.log] == [bytes([0x3E, 0x80, 0x91]), bytes([0x40, 0x7A, 0x30]), bytes([0x60, 0x44, 0x06])]


def test_crc_mode_frames_match_the_ti_vectors():
    fake, afe = make(crc=True)
    fake.log.clear()
    afe.io.command(0x0022)  # FET_ENABLE: first CRC over 0x10 0x3E 0x22
    assert fake.log[0] == ("w", bytes([0x3E, 0x22, 0x63, 0x00, 0x00]))
    fake.set_i16(0x14, 0x0B68)  # Cell 1 = 0x0B68: CRCs 0x33 then 0x31
    assert afe.io.read(0x14, 2) == bytes([0x68, 0x0B])
    assert fake.log[-1] == ("r", bytes([0x68, 0x33, 0x0B, 0x31]))


@pytest.mark.parametrize("crc", [False, True])
@pytest.mark.parametrize(("cells", "vcell_mode"), [(3, 0x8003), (8, 0x807F), (16, 0xFFFF)])
def test_init_programs_units_cell_mapping_and_protections_in_config_update(cells, vcell_mode, crc):
    fake, afe = make(
        cells,
        crc,
        protection=HardwareProtection(
            cell_overvoltage=3.65, cell_undervoltage=2.5, discharge_overcurrent=40.0, short_circuit=120.0
        ),
    )
    assert fake.commands[0] == 0x0001 and afe.chip == "bq76952"  # DEVICE_NUMBER first
    assert fake.dm_value(0x9303, 1) == 0x06  # DA Configuration: 10 mA, 10 mV
    assert fake.dm_value(0x9304, 2) == vcell_mode  # top cell on VC16, unused inputs masked
    assert fake.dm_value(0x9278, 1) == 72  # COV floor(3.65 / 50.6 mV) = 72
    assert fake.dm_value(0x9275, 1) == 50  # CUV ceil(2.5 / 50.6 mV) = 50
    assert fake.dm_value(0x9282, 1) == 20  # OCD1 40 A x 1 mOhm / 2 mV
    assert fake.dm_value(0x9286, 1) == 5  # SCD 120 mV -> 100 mV (code 5)
    assert afe.protection.cell_overvoltage == pytest.approx(72 * 0.0506) and afe.protection.cell_overvoltage <= 3.65
    assert afe.protection.short_circuit == pytest.approx(100.0)
    # every data-memory write happened between SET_CFGUPDATE (0x0090) and EXIT_CFGUPDATE (0x0092)
    enter, leave = fake.commands.index(0x0090), fake.commands.index(0x0092)
    dm_subs = [i for i, c in enumerate(fake.commands) if c >= 0x9180]
    writes = [sub for sub, _ in fake.data_writes if sub >= 0x9180]
    assert writes and all(enter < i < leave for i in dm_subs)
    assert 0x0022 in fake.commands[leave:]  # FET_ENABLE after configuration
    assert fake.data_writes[-1] == (0x0097, bytes([0x0F]))  # host control: FETs blocked until asked


@pytest.mark.parametrize("crc", [False, True])
@pytest.mark.parametrize("cells", [3, 8, 16])
def test_read_scales_mv_user_units_and_kelvin(cells, crc):
    fake, afe = make(cells, crc)
    for k, ch in enumerate(afe.channels):
        fake.set_i16(0x14 + 2 * ch, 3300 + k)
    fake.set_i16(0x34, 5963)  # stack, userV = 10 mV -> 59.63 V
    fake.set_i16(0x3A, -200)  # CC2, userA = 10 mA -> -2.00 A (discharge)
    fake.set_i16(0x70, 2981)  # TS1 298.1 K -> 24.95 degC
    fake.set_i16(0x68, 3031)  # internal 303.1 K
    fake.direct[0x03] = 0x08  # Safety Status A: COV
    fake.direct[0x7F] = 0x04  # FET Status: DSG on
    assert np.isnan(afe.read(0.0).cell_voltages).all()  # before a full measurement set (3 loops)
    s = afe.read(0.2)
    assert s.comm_ok
    np.testing.assert_allclose(s.cell_voltages, (3300 + np.arange(cells)) * 1e-3)
    assert s.pack_voltage == pytest.approx(59.63) and s.current == pytest.approx(-2.0)
    assert s.temperatures[0] == pytest.approx(24.95) and s.die_temperature == pytest.approx(29.95)
    assert s.afe_flags == AfeFlag.OVERVOLTAGE and s.discharge_fet and not s.charge_fet


def test_wrong_device_number_is_refused():
    fake = FakeBq769x2(device_number=0x7614)
    with pytest.raises(AfeError, match="DEVICE_NUMBER"):
        Bq769x2Afe(fake, 8, sleep=lambda s: None)


def test_bq76942_takes_ten_cells_on_vc10():
    fake = FakeBq769x2(device_number=0x7694)
    afe = Bq769x2Afe(fake, 5, sleep=lambda s: None)
    assert afe.chip == "bq76942" and afe.channels == (0, 1, 2, 3, 9)
    assert fake.dm_value(0x9304, 2) == 0x020F


def test_bus_errors_and_bad_checksums_are_counted_and_reported():
    fake, afe = make(8, True)
    afe.read(0.0)
    fake.nack_next = 2
    s = afe.read(0.3)
    assert s.comm_ok and s.read_errors == 2 and afe.errors.retries == 2
    fake.bad_checksum_next = 1  # CB_ACTIVE_CELLS reply with a wrong 0x60 checksum: retried
    assert afe.read(0.4).comm_ok and afe.errors.checksum == 1
    fake.nack_next = 100
    s = afe.read(0.5)
    assert not s.comm_ok and math.isnan(s.pack_voltage) and s.read_errors == 2 + 4
    fake.nack_next = 100
    with pytest.raises(AfeError):
        afe.set_fets(True, True)


def test_fet_control_and_balancing_bytes():
    fake, afe = make(8)
    afe.set_fets(True, False)
    assert fake.data_writes[-1] == (0x0097, bytes([0x03]))  # DSG_OFF | PDSG_OFF
    afe.set_balancing(0b10000101)  # cells 1, 3, 8; cell 8 sits on VC16
    assert fake.data_writes[-1] == (0x0083, (0x8005).to_bytes(2, "little"))
    with pytest.raises(ValueError):
        afe.set_balancing(0b11)  # adjacent
