"""JBD board over UART (issue 17): frames, parser, MOSFET control, resync after garbage, a real pseudo-terminal."""

import os
import threading

import numpy as np
import pytest
from smartpack_util import make_pack, read_n, simulated

from bms_ros.afe.jbd import protocol as p
from bms_ros.afe.jbd.driver import JbdPack
from bms_ros.afe.jbd.emul import JbdEmul
from bms_ros.afe.pack_source import LinkStats
from bms_ros.afe.serial_link import FrameReader
from bms_ros.core.types import AfeFlag


def test_request_frames_match_the_published_examples():
    assert p.read_request(0x03) == bytes.fromhex("DDA50300FFFD77")  # [MAP, V13]
    assert p.read_request(0x04) == bytes.fromhex("DDA50400FFFC77")
    assert p.mos_request(False, True) == bytes.fromhex("DD5AE1020001FF1C77")  # charge off


def test_reads_cells_current_sign_soc_and_fets():
    pack, src = simulated("sim_jbd", thermistor_count=2)
    s = read_n(src, 3)
    assert s.comm_ok and s.charge_fet and s.discharge_fet
    np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
    assert s.current == pytest.approx(-2.0, abs=0.011) and s.temperatures.shape == (2,)
    assert s.pack_report.soc == pytest.approx(0.6, abs=0.01) and s.pack_report.fets_controllable
    assert src.identity.hardware == "JBD-SP04S020-sim" and src.identity.date == "2025-06-15"


def test_mosfet_control_opens_and_closes_only_when_the_board_allows():
    pack, src = simulated("sim_jbd")
    read_n(src, 2)
    src.set_fets(False, True)
    s = src.read(1.0)
    assert not s.charge_fet and s.discharge_fet and not pack.charge_fet
    src.set_fets(True, True)
    assert src.read(1.1).charge_fet
    src.bms.trip("cell_overvoltage")  # the board forbids charging: our "on" cannot close it
    src.set_fets(True, True)
    s = src.read(1.2)
    assert not s.charge_fet and s.afe_flags & AfeFlag.OVERVOLTAGE and "cell_overvoltage" in s.pack_report.protection


def test_protection_bits_map_to_flags():
    flags, words = p.decode_protection(1 << 10 | 1 << 11 | 1 << 9)
    assert flags == AfeFlag.SHORT_CIRCUIT | AfeFlag.DEVICE_FAULT | AfeFlag.OVERCURRENT_DISCHARGE
    assert words == ("discharge_overcurrent", "short_circuit", "frontend_error")


def test_garbage_truncation_and_checksum_errors_are_counted_and_survived():
    pack, src = simulated("sim_jbd")
    f = src.faults
    f.garbage_rate, f.crc_corrupt_rate, f.timeout_rate = 0.5, 0.2, 0.1
    oks = 0
    for k in range(60):
        s = src.read(k * 0.1)
        if s.comm_ok:
            oks += 1
            np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
    st = src.stats
    assert oks > 30 and st.checksum_errors > 0 and st.resyncs > 0 and st.timeouts > 0
    assert s.crc_errors == st.rejects


def test_silent_board_then_back():
    _, src = simulated("sim_jbd")
    assert read_n(src, 2).comm_ok
    src.emul.silent = True
    s = src.read(1.0)
    assert not s.comm_ok and s.read_errors > 0
    src.emul.silent = False
    assert src.read(1.1).comm_ok


def test_stale_data_never_switches_a_fet_on():
    from dataclasses import replace

    from bms_ros.core.types import PackSample

    _, src = simulated("sim_jbd")
    s = read_n(src, 2)
    src.set_fets(False, True)
    out = _Out(PackSample.missing(1.0, 4, 1), True, True)
    src.apply(out)  # the core says "both on", but the read failed
    assert src.last_fet_command == (False, True)
    src.apply(_Out(replace(s, charge_fet=False), True, True))  # fresh data: now it may
    assert src.last_fet_command == (True, True)


class _Out:
    def __init__(self, sample, c, d):
        self.sample, self.charge_fet, self.discharge_fet = sample, c, d


def test_driver_over_a_real_pseudo_terminal():
    serial = pytest.importorskip("serial")
    pack = make_pack()
    emul = JbdEmul(pack)
    master, slave = os.openpty()
    stop = threading.Event()

    def board():
        buf = bytearray()
        while not stop.is_set():
            try:
                chunk = os.read(master, 64)
            except OSError:
                return
            buf += chunk
            while len(buf) >= 4 and buf[0] == p.START:
                n = 4 + buf[3] + 3
                if len(buf) < n:
                    break
                os.write(master, b"\x00\x13" + emul.respond(bytes(buf[:n])))  # line noise first
                del buf[:n]
            if buf and buf[0] != p.START:
                buf.clear()

    th = threading.Thread(target=board, daemon=True)
    th.start()
    port = serial.Serial(os.ttyname(slave), 9600, timeout=0.2)
    try:
        drv = JbdPack(port, 4)
        s = drv.read(0.0)
        assert s.comm_ok, drv.last_error
        np.testing.assert_allclose(s.cell_voltages, pack.cell_voltages(), atol=1e-3)
        drv.set_fets(False, True)
        assert not pack.charge_fet
        assert drv.stats.resyncs > 0
    finally:
        stop.set()
        port.close()
        os.close(slave)
        os.close(master)
        th.join(1.0)


def test_reader_drops_a_stale_answer_to_another_register():
    emul = JbdEmul(make_pack())
    stale = p.reply(p.REG_CELLS, emul.cells())
    port = emul.port()
    port.respond = lambda req: stale + emul.respond(req)
    reader = FrameReader(port, p.extract, LinkStats())
    frame = reader.transact(p.read_request(p.REG_BASIC), accept=lambda f: f[1] == p.REG_BASIC)
    assert frame[1] == p.REG_BASIC and reader.stats.framing_errors == 1
    JbdPack(emul.port(), 4).read(0.0)


def test_pack_blocks_names_the_protections_that_hold_a_fet_open():
    from bms_ros.afe.pack_source import pack_blocks

    words = ("charge_overtemperature", "cell_undervoltage", "mos_software_lock")
    assert pack_blocks(words, charge=True) == ["charge_overtemperature"]
    assert pack_blocks(words, charge=False) == ["cell_undervoltage"]
