"""make_afe builds the smart-pack backends (issue 17): the emulated ones read at once; the UART ones open the
serial port through pyserial (here its loop:// device: the board never answers, which is counted and said)."""

import pytest

from bms_ros.afe.config import AfeConfig, SimConfig
from bms_ros.afe.factory import make_afe
from bms_ros.core.config import PackConfig


@pytest.mark.parametrize("kind", ["sim_sbs", "sim_jbd", "sim_daly"])
def test_emulated_sources_read_and_carry_the_pack_report(kind):
    src = make_afe(AfeConfig(type=kind), PackConfig(cell_count=4), SimConfig())
    s = src.read(0.0)
    assert s.comm_ok and s.pack_report is not None and src.is_pack_source
    assert src.accepts_fet_commands == (kind != "sim_sbs")


@pytest.mark.parametrize("kind", ["jbd", "daly"])
def test_uart_source_on_a_port_that_never_answers(kind):
    pytest.importorskip("serial")
    src = make_afe(
        AfeConfig(type=kind, serial_port="loop://", serial_timeout=0.02), PackConfig(cell_count=4), SimConfig()
    )
    try:
        s = src.read(0.0)
        assert not s.comm_ok and s.read_errors > 0
        assert "not answering" in src.status_reason
    finally:
        src.close()
