"""The register-level bq769x0 simulator, driven with raw smbus2 messages."""

import errno

import numpy as np
import pytest
from smbus2 import i2c_msg

from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.sim.bq769x0_sim import Bq769x0Sim
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry

from afe_fake_bq import crc8_bitwise


def sim_for(cells=5, crc=False, soc=0.5, **kw):
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=cells, initial_soc=soc, seed=2))
    return Bq769x0Sim(pack, crc=crc, **kw)


def rd(sim, reg, n):
    w, m = i2c_msg.write(sim.address, [reg]), i2c_msg.read(sim.address, 2 * n if sim.crc else n)
    sim.i2c_rdwr(w, m)
    raw = list(m)
    return raw[0::2] if sim.crc else raw


def wr(sim, reg, data):
    frame = [reg]
    for i, b in enumerate(data):
        frame.append(b)
        if sim.crc:
            frame.append(crc8_bitwise([sim.address << 1, reg, b] if i == 0 else [b]))
    sim.i2c_rdwr(i2c_msg.write(sim.address, frame))


def word(sim, reg):
    hi, lo = rd(sim, reg, 2)
    return hi << 8 | lo


def test_reset_defaults_and_trim_registers():
    sim = sim_for()
    assert rd(sim, r.OV_TRIP, 2) == [0xAC, 0x97]
    assert rd(sim, r.SYS_STAT, 1) == [0]
    assert rd(sim, r.SYS_CTRL2, 1) == [0]
    assert rd(sim, r.ADCGAIN1, 2)[0] == 0x05 and rd(sim, r.ADCGAIN2, 1) == [0x82]  # 377 uV/LSB default
    sim2 = sim_for(adc_offset_mv=-7)
    assert rd(sim2, r.ADCOFFSET, 1) == [0xF9]


def test_auto_increment_block_write_and_read():
    sim = sim_for()
    wr(sim, r.PROTECT1, [0x8B, 0x5A, 0x50, 0xBF, 0x99])
    assert rd(sim, r.PROTECT1, 5) == [0x8B, 0x5A, 0x50, 0xBF, 0x99]
    assert rd(sim, r.UV_TRIP, 1) == [0x99]
    # read-only registers ignore writes; reserved bits are not stored
    wr(sim, r.ADCGAIN2, [0x00])
    assert rd(sim, r.ADCGAIN2, 1) == [0x82]
    wr(sim, r.CC_CFG, [0xFF])
    assert rd(sim, r.CC_CFG, 1) == [0x3F]


def test_crc_read_bytes_and_bad_write_crc_is_nacked_and_ignored():
    sim = sim_for(crc=True)
    w, m = i2c_msg.write(0x08, [r.OV_TRIP]), i2c_msg.read(0x08, 4)
    sim.i2c_rdwr(w, m)
    assert list(m) == [0xAC, crc8_bitwise([0x11, 0xAC]), 0x97, crc8_bitwise([0x97])]
    with pytest.raises(OSError) as e:
        sim.i2c_rdwr(i2c_msg.write(0x08, [r.OV_TRIP, 0xBF, 0x00]))
    assert e.value.errno == errno.EREMOTEIO
    assert rd(sim, r.OV_TRIP, 1) == [0xAC]
    # block write: the first byte (good CRC) lands, the one with the bad CRC is NACKed and not written
    good = crc8_bitwise([0x10, r.OV_TRIP, 0xBF])
    with pytest.raises(OSError):
        sim.i2c_rdwr(i2c_msg.write(0x08, [r.OV_TRIP, 0xBF, good, 0x99, 0x00]))
    assert rd(sim, r.OV_TRIP, 2) == [0xBF, 0x97]
    wr(sim, r.SYS_CTRL2, [0x40])
    assert rd(sim, r.SYS_CTRL2, 1) == [0x40]


def test_wrong_address_and_ship_mode_are_nacked():
    sim = sim_for(address=0x18)
    with pytest.raises(OSError):
        sim.i2c_rdwr(i2c_msg.write(0x08, [0x00]))
    assert rd(sim, 0x00, 1) == [0]


def test_adc_every_250_ms_and_temperature_every_2_s():
    sim = sim_for()
    wr(sim, r.SYS_CTRL1, [r.CTRL1_ADC_EN | r.CTRL1_TEMP_SEL])
    wr(sim, r.SYS_CTRL2, [r.CTRL2_CC_EN | r.CTRL2_DSG_ON])
    sim.pack.load_a = 5.0  # 5 mV on the shunt: below the default OCD (8 mV)
    v0, ts0 = word(sim, r.VC1_HI), word(sim, r.TS1_HI)
    assert v0 == 0 and ts0 == 0  # just booted: nothing converted yet [DS p.18, p.21]
    sim.advance_to(0.249)
    assert word(sim, r.VC1_HI) == v0 and rd(sim, r.SYS_STAT, 1) == [0]
    sim.advance_to(0.251)
    v1 = word(sim, r.VC1_HI)
    assert 0 < (v1 * 377 + 4000) * 1e-6 < sim.pack.cell_ocv()[0]  # 5 A of load: the IR drop shows
    assert rd(sim, r.SYS_STAT, 1) == [r.STAT_CC_READY]
    cc = word(sim, r.CC_HI)
    cc = cc - 0x10000 if cc & 0x8000 else cc
    assert cc * 8.44e-6 / 0.001 == pytest.approx(-5.0, abs=0.01)  # negative: discharge
    assert word(sim, r.TS1_HI) == ts0  # TEMP_SEL shows at the next 2 s conversion
    sim.advance_to(2.01)
    assert word(sim, r.TS1_HI) != ts0
    expected = sim.pack.cell_voltages()[0]
    assert (word(sim, r.VC1_HI) * 377 + 4000) * 1e-6 == pytest.approx(expected, abs=0.5e-3)


def test_sys_stat_latches_and_is_write_one_to_clear():
    sim = sim_for()
    wr(sim, r.SYS_CTRL2, [r.CTRL2_CC_EN])
    sim.advance(0.3)
    sim.faults.xready()
    assert rd(sim, r.SYS_STAT, 1) == [0xA0]
    sim.advance(1.0)
    assert rd(sim, r.SYS_STAT, 1) == [0xA0]  # latched
    wr(sim, r.SYS_STAT, [0x00])  # writing 0 changes nothing
    assert rd(sim, r.SYS_STAT, 1) == [0xA0]
    wr(sim, r.SYS_STAT, [0x80])
    assert rd(sim, r.SYS_STAT, 1) == [0x20]
    assert sim.alert
    wr(sim, r.SYS_STAT, [0xFF])
    assert rd(sim, r.SYS_STAT, 1) == [0x00] and not sim.alert


def test_cc_oneshot():
    sim = sim_for()
    wr(sim, r.SYS_CTRL2, [r.CTRL2_CC_ONESHOT])
    sim.advance(0.26)
    assert rd(sim, r.SYS_STAT, 1) == [r.STAT_CC_READY]
    assert rd(sim, r.SYS_CTRL2, 1) == [0]  # self-clearing
    wr(sim, r.SYS_STAT, [0x80])
    sim.advance(1.0)
    assert rd(sim, r.SYS_STAT, 1) == [0]


def test_ov_protection_with_delay_dis_and_fet_response():
    sim = sim_for(soc=1.0)
    wr(sim, r.OV_TRIP, [0x00])  # ~3.1 V: every cell is over
    wr(sim, r.SYS_CTRL2, [r.CTRL2_DELAY_DIS | r.CTRL2_CHG_ON | r.CTRL2_DSG_ON])
    sim.advance(0.26)
    assert rd(sim, r.SYS_STAT, 1)[0] & r.STAT_OV
    assert rd(sim, r.SYS_CTRL2, 1)[0] & 0x03 == r.CTRL2_DSG_ON  # OV clears CHG only [DS Table 8-1]
    assert not sim.pack.charge_fet and sim.pack.discharge_fet


def test_uv_ignores_shorted_inputs_of_a_3s_pack():
    sim = sim_for(cells=3)  # VC3, VC4 shorted: they read 0
    wr(sim, r.SYS_CTRL2, [r.CTRL2_DELAY_DIS | r.CTRL2_DSG_ON])
    sim.advance(1.0)
    assert word(sim, r.vc_register(2)) == 0 and word(sim, r.vc_register(3)) == 0
    assert rd(sim, r.SYS_STAT, 1)[0] & r.STAT_UV == 0
    assert sim.pack.discharge_fet


def test_xready_clears_balancing_and_fets():
    sim = sim_for()
    wr(sim, r.SYS_CTRL2, [0x43])
    wr(sim, r.CELLBAL1, [0b00101])
    assert sim.pack.bleed_mask == 0b00101
    sim.faults.xready()
    assert rd(sim, r.CELLBAL1, 1) == [0] and rd(sim, r.SYS_CTRL2, 1) == [0x40]
    assert sim.pack.bleed_mask == 0 and not sim.pack.discharge_fet


def test_balancing_bleeds_the_selected_cell():
    sim = sim_for()
    wr(sim, r.CELLBAL1, [0b00100])
    soc0 = sim.pack.soc.copy()
    sim.advance(600.0)
    drop = soc0 - sim.pack.soc
    assert drop[2] > 0 and np.allclose(np.delete(drop, 2), 0.0)
    # ~3.7 V / 33 ohm at 70 % duty for 600 s on a ~10 Ah cell
    assert drop[2] == pytest.approx(3.7 / 33 * 0.7 * 600 / 3600 / sim.pack.capacity_ah[2], rel=0.05)
    wr(sim, r.CELLBAL1, [0b00110])  # the chip accepts it but the host broke a rule
    assert sim.violations and "adjacent" in sim.violations[-1][1]


def test_load_present_only_with_chg_off():
    sim = sim_for()
    sim.pack.load_a = 2.0
    assert rd(sim, r.SYS_CTRL1, 1)[0] & r.CTRL1_LOAD_PRESENT
    wr(sim, r.SYS_CTRL2, [r.CTRL2_CHG_ON])
    assert rd(sim, r.SYS_CTRL1, 1)[0] & r.CTRL1_LOAD_PRESENT == 0
    wr(sim, r.SYS_CTRL2, [0])
    sim.pack.load_a = 0.0
    assert rd(sim, r.SYS_CTRL1, 1)[0] & r.CTRL1_LOAD_PRESENT == 0


def test_ship_mode_needs_the_exact_sequence_and_boot_restores_defaults():
    sim = sim_for()
    wr(sim, r.SYS_CTRL2, [0x43])
    wr(sim, r.OV_TRIP, [0xB0])
    for shut in (0x10 | 0x02, 0x10 | 0x01):  # wrong order: ignored
        wr(sim, r.SYS_CTRL1, [shut])
    assert sim.mode == "normal"
    for shut in (0x10, 0x11, 0x12):
        wr(sim, r.SYS_CTRL1, [shut])
    assert sim.mode == "ship" and not sim.pack.discharge_fet and not sim.pack.charge_fet
    with pytest.raises(OSError):
        rd(sim, r.SYS_STAT, 1)
    sim.advance(10.0)
    sim.boot()
    assert rd(sim, r.OV_TRIP, 1) == [0xAC] and rd(sim, r.SYS_CTRL2, 1) == [0]


def test_alert_override_only_seen_while_alert_is_low():
    sim = sim_for()
    wr(sim, r.SYS_CTRL2, [0x43])
    sim.advance(0.3)  # CC_READY set: the chip drives ALERT high
    assert sim.faults.alert_override() is False
    wr(sim, r.SYS_STAT, [0x80])
    assert sim.faults.alert_override() is True
    assert rd(sim, r.SYS_STAT, 1)[0] & r.STAT_OVRD_ALERT
    assert rd(sim, r.SYS_CTRL2, 1)[0] & 0x03 == 0


def test_bus_faults_raise_like_a_linux_adapter():
    sim = sim_for(crc=True)
    sim.faults.nack_next(1)
    with pytest.raises(OSError) as e:
        rd(sim, 0, 1)
    assert e.value.errno == errno.EREMOTEIO
    sim.faults.timeout_next(1)
    with pytest.raises(TimeoutError):
        rd(sim, 0, 1)
    sim.faults.corrupt_crc_next(1)
    w, m = i2c_msg.write(0x08, [r.OV_TRIP]), i2c_msg.read(0x08, 2)
    sim.i2c_rdwr(w, m)
    data, crc = list(m)
    assert data == 0xAC and crc != crc8_bitwise([0x11, 0xAC])
    assert sim.faults.injected == {"nack": 1, "timeout": 1, "crc": 1}
