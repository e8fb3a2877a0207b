"""Daly board over UART (issue 17): frames, parsers, MOSFET commands, resync and fault handling."""

import numpy as np
import pytest
from smartpack_util import read_n, simulated

from bms_ros.afe.daly import protocol as p
from bms_ros.core.types import AfeFlag


def test_request_frame_and_checksum():
    req = p.request(p.CMD_SOC)
    assert req[:4] == bytes((0xA5, 0x40, 0x90, 0x08)) and req[12] == (0xA5 + 0x40 + 0x90 + 0x08) & 0xFF  # [TS]
    assert p.extract(bytearray(p.reply(0x90, bytes(8)))).frame is not None


def test_current_offset_and_sign():
    d = bytes.fromhex("0098009875260258")  # 15.2 V, raw 29990 -> -1.0 A, 60.0 %
    v, i, soc = p.parse_soc(d)
    assert v == pytest.approx(15.2) and i == pytest.approx(-1.0) and soc == pytest.approx(0.6)


def test_reads_cells_temperatures_soc_and_fets():
    pack, src = simulated("sim_daly", cells=7, thermistor_count=2)  # 7 cells: three 0x95 frames
    s = read_n(src, 3)
    assert s.comm_ok, src.driver.last_error
    np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
    assert s.current == pytest.approx(-2.0, abs=0.06) and s.temperatures == pytest.approx([25.0, 25.0], abs=1.0)
    assert s.charge_fet and s.discharge_fet and s.pack_report.soc == pytest.approx(0.6, abs=0.01)


def test_mosfet_commands_and_board_protection():
    pack, src = simulated("sim_daly")
    read_n(src, 2)
    src.set_fets(False, True)
    s = src.read(1.0)
    assert not s.charge_fet and s.discharge_fet and not pack.charge_fet
    src.set_fets(True, True)
    assert src.read(1.1).charge_fet
    src.bms.trip("short_circuit")
    src.set_fets(True, True)
    s = src.read(1.2)
    assert not s.discharge_fet and s.afe_flags & AfeFlag.SHORT_CIRCUIT and "short_circuit" in s.pack_report.protection


def test_failure_bits_round_trip():
    words = {"cell_overvoltage", "discharge_overcurrent", "frontend_error"}
    flags, got = p.decode_failures(p.encode_failures(words))
    assert set(got) == words
    assert flags == AfeFlag.OVERVOLTAGE | AfeFlag.OVERCURRENT_DISCHARGE | AfeFlag.DEVICE_FAULT


def test_faults_are_counted_and_never_reach_the_core_as_values():
    pack, src = simulated("sim_daly")
    f = src.faults
    f.garbage_rate, f.crc_corrupt_rate, f.timeout_rate = 0.5, 0.1, 0.05
    oks = 0
    for k in range(40):
        s = src.read(k * 0.1)
        if s.comm_ok:
            oks += 1
            np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
    assert oks > 10 and src.stats.checksum_errors > 0 and src.stats.resyncs > 0
    src.faults.clear_all()
    f.garbage_rate = 0.0
    src.emul.silent = True
    assert not src.read(10.0).comm_ok
    src.emul.silent = False
    assert src.read(10.1).comm_ok


# ---- Daly over CAN (python-can virtual bus) --------------------------------------------------------------------
def test_can_ids():
    from bms_ros.afe.daly.can_link import can_id, split_id

    assert can_id(0x90, 0x01, 0x40) == 0x18900140 and split_id(0x18904001) == (0x18, 0x90, 0x40, 0x01)


def test_daly_over_can_reads_commands_and_survives_faults():
    pack, src = simulated("sim_daly", cells=7, daly_link="can")
    try:
        s = read_n(src, 3)
        assert s.comm_ok, src.driver.last_error
        np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
        assert s.current == pytest.approx(-2.0, abs=0.06)
        src.set_fets(False, True)
        assert not src.read(1.0).charge_fet and not pack.charge_fet
        src.set_fets(True, True)
        assert src.read(1.1).charge_fet
        f = src.faults
        f.garbage_rate, f.crc_corrupt_rate, f.timeout_rate = 0.5, 0.02, 0.02
        oks = sum(src.read(2.0 + 0.1 * k).comm_ok for k in range(20))
        assert oks > 5 and src.stats.framing_errors > 0
        f.garbage_rate = f.crc_corrupt_rate = f.timeout_rate = 0.0
        src.emul.silent = True
        src.driver.reader.timeout = 0.02
        assert not src.read(5.0).comm_ok and src.stats.timeouts > 0
        src.emul.silent = False
        assert src.read(5.1).comm_ok
    finally:
        src.close()
