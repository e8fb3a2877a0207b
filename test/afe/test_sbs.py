"""SBS smart battery (issue 17): the driver over the bq40z50-like emulator, bytes on the (emulated) SMBus."""

import math

import numpy as np
import pytest
from smartpack_util import make_pack, read_n, simulated

from bms_ros.afe.base import AfeError
from bms_ros.afe.sbs import registers as r
from bms_ros.afe.sbs.driver import SbsPack
from bms_ros.afe.sbs.emul import SbsEmul
from bms_ros.afe.sbs.interface import SbsCommError
from bms_ros.core.types import AfeFlag


def test_pec_matches_the_smbus_crc8_reference_vector():
    # CRC-8/SMBUS check value of "123456789" is 0xF4 (poly 0x07, init 0)
    assert r.pec(b"123456789") == 0xF4


def test_date_and_spec_info_decoding():
    assert r.decode_date((2025 - 1980) << 9 | 6 << 5 | 15) == "2025-06-15"
    assert r.decode_date(0) == ""
    assert r.uses_pec(0x0031) and not r.uses_pec(0x0021) and not r.uses_pec(0x0011)


@pytest.mark.parametrize("pec", ["auto", "on", "off"])
def test_reads_the_pack_with_sign_units_and_identity(pec):
    pack, src = simulated("sim_sbs", sbs_pec=pec)
    s = read_n(src, 5)
    assert s.comm_ok and s.cell_count == 4
    np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)  # 0x3F = cell 1 (reversed)
    assert s.pack_voltage == pytest.approx(pack.pack_voltage(), abs=2e-3)
    assert s.current == pytest.approx(-2.0, abs=1e-3), "discharge is negative (SBS: > 0 charging)"
    assert s.temperatures[0] == pytest.approx(pack.temperature_c, abs=0.06)
    rep = s.pack_report
    assert rep.soc == pytest.approx(0.6, abs=0.01) and rep.full_capacity_ah == pytest.approx(
        float(pack.capacity_ah.min()), abs=2e-3
    )
    assert not rep.fets_controllable and rep.protection == ()
    assert src.identity.manufacturer == "SimBatt" and src.identity.serial == "1234"
    assert src.identity.date == "2025-06-15"
    assert src.driver.io.use_pec == (pec != "off")


def test_capacity_mode_10mwh_converted_with_design_voltage():
    pack = make_pack()
    emul = SbsEmul(pack, capacity_mwh=True)
    drv = SbsPack(emul, 4)
    s = drv.read(0.0)
    assert s.comm_ok
    assert drv.capacity_scale_ah == pytest.approx(0.01 / emul.design_v)
    assert s.pack_report.full_capacity_ah == pytest.approx(float(pack.capacity_ah.min()), rel=2e-3)


def test_pack_trip_maps_to_afe_flags_and_fet_state():
    _, src = simulated("sim_sbs")
    read_n(src, 3)
    src.bms.trip("cell_overvoltage")
    s = src.read(1.0)
    assert s.afe_flags & AfeFlag.OVERVOLTAGE and not s.charge_fet and s.discharge_fet
    assert "over_charged" in s.pack_report.protection
    src.bms.release()
    src.bms.trip("cell_undervoltage")
    s = src.read(2.0)
    assert s.afe_flags & AfeFlag.UNDERVOLTAGE and not s.discharge_fet


def test_pec_errors_are_counted_retried_and_never_reach_the_core():
    pack, src = simulated("sim_sbs")
    src.faults.crc_corrupt_rate = 0.4
    good = bad = 0
    for k in range(40):
        s = src.read(k * 0.1)
        if s.comm_ok:
            good += 1
            np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
        else:
            bad += 1
            assert math.isnan(s.pack_voltage)
    assert src.stats.checksum_errors > 0 and good > 0
    assert s.crc_errors == src.stats.rejects


def test_link_loss_and_recovery():
    _, src = simulated("sim_sbs")
    assert read_n(src, 2).comm_ok
    src.emul.silent = True
    s = src.read(1.0)
    assert not s.comm_ok and s.read_errors > 0
    src.emul.silent = False
    assert src.read(1.1).comm_ok


def test_a_pack_that_never_answered_says_why():
    pack = make_pack()
    emul = SbsEmul(pack)
    emul.silent = True
    drv = SbsPack(emul, 4)
    assert not drv.read(0.0).comm_ok and "not answering" in drv.status_reason
    emul.silent = False
    assert drv.read(0.1).comm_ok and drv.status_reason == ""


def test_refuses_fet_and_balancing_commands_and_protection_programming():
    _, src = simulated("sim_sbs")
    with pytest.raises(AfeError, match="accepts no FET"):
        src.set_fets(False, True)
    with pytest.raises(AfeError):
        src.set_balancing(1)
    src.set_balancing(0)
    assert not src.balancing_constraints.permits(1) and src.balancing_constraints.permits(0)


def test_more_cells_than_the_registers_is_refused():
    with pytest.raises(ValueError, match=r"1\.\.4"):
        SbsPack(SbsEmul(make_pack(5)), 5)


def test_config_refuses_an_sbs_pack_with_more_cells_than_registers():
    from bms_ros.config import load_config
    from bms_ros.core.params import ConfigError

    with pytest.raises(ConfigError, match="bq40z50"):
        load_config({"afe.type": "sim_sbs", "pack.cell_count": 6})


def test_manufacturer_block_access_reads_device_type_and_checks_the_echo():
    pack = make_pack()
    emul = SbsEmul(pack)
    drv = SbsPack(emul, 4)
    assert drv.read(0.0).comm_ok
    assert drv.identity.hardware.startswith("device 0x4500")
    emul.mac_data = lambda: None  # a gauge without MAC support: NACK, identity without it
    drv2 = SbsPack(emul, 4)
    assert drv2.read(0.0).comm_ok and drv2.identity.hardware == ""
    emul2 = SbsEmul(pack)
    drv3 = SbsPack(emul2, 4, pec="on")

    def wrong_command(frame):  # the gauge answers for another MAC command
        emul2.mac = r.MAC_FIRMWARE_VERSION

    emul2._mac_write = wrong_command
    with pytest.raises(SbsCommError, match="another command"):
        drv3.io.mac_read(r.MAC_DEVICE_TYPE)
    assert drv3.stats.framing_errors == 1
