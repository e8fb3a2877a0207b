"""Fuzzing the smart-pack parsers (issue 17): random and mutated frames through the real reader and parsers.

Oracle: no exception but the parser's own rejections escapes; a frame the reader accepts and the parser decodes
has physically possible values; a valid frame with one byte substituted is either rejected or decodes to exactly
what the original decodes to (the checksum / PEC must catch it); every failed transaction is counted.
"""

from __future__ import annotations

import ctypes
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from bms_ros.afe.daly import protocol as dp
from bms_ros.afe.jbd import protocol as jp
from bms_ros.afe.pack_source import LinkStats
from bms_ros.afe.sbs import registers as sr
from bms_ros.afe.sbs.driver import SbsPack, plausible
from bms_ros.afe.serial_link import FrameReader, LinkTimeout

MUTATIONS = ("substitute", "flip", "insert", "delete", "truncate", "garbage", "random", "prefix", "none")


def mutate(rng: random.Random, frame: bytes) -> tuple[str, bytes]:
    kind = rng.choice(MUTATIONS)
    b = bytearray(frame)
    k = rng.randrange(len(b))
    if kind == "substitute":
        b[k] = (b[k] + rng.randrange(1, 256)) & 0xFF
    elif kind == "flip":
        b[k] ^= 1 << rng.randrange(8)
        kind = "substitute"
    elif kind == "insert":
        b[k:k] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
    elif kind == "delete":
        del b[k : k + rng.randrange(1, 4)]
    elif kind == "truncate":
        del b[k:]
    elif kind == "garbage":
        b = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    elif kind == "random":
        b[:] = bytes(rng.randrange(256) for _ in range(len(b)))
    elif kind == "prefix":
        b[:0] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    return kind, bytes(b)


@dataclass
class FuzzResult:
    frames: int = 0
    accepted: int = 0
    rejected: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


class OnePort:
    """A port that answers the next write with preset bytes."""

    timeout = 0.0

    def __init__(self):
        self.rx = bytearray()
        self.next = b""

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def write(self, data: bytes) -> int:
        self.rx += self.next
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self.rx.clear()

    def close(self) -> None:
        pass


def _run_serial(
    rng: random.Random,
    n: int,
    extract,
    request: bytes,
    reg_ok: Callable[[bytes], bool],
    make_valid: Callable[[random.Random], bytes],
    decode: Callable[[bytes], object],
    check: Callable[[object], None],
    errors: tuple[type[Exception], ...],
) -> FuzzResult:
    port, stats = OnePort(), LinkStats()
    reader = FrameReader(port, extract, stats, timeout=1e9)
    res = FuzzResult()
    for _ in range(n):
        original = make_valid(rng)
        kind, wire = mutate(rng, original)
        port.next = wire
        before = stats.timeouts + stats.frames_ok
        try:
            frame = reader.transact(request, accept=reg_ok)
            value = decode(frame)
        except LinkTimeout:
            value = None
        except errors:
            value = None
        assert stats.timeouts + stats.frames_ok == before + 1, "a transaction was not counted"
        res.frames += 1
        res.kinds[kind] = res.kinds.get(kind, 0) + 1
        if value is None:
            res.rejected += 1
            continue
        res.accepted += 1
        check(value)
        if kind == "substitute":
            try:
                expected = decode(original)
            except errors:
                expected = None
            assert value == expected, f"a corrupted frame was accepted: {original.hex()} -> {wire.hex()}"
    return res


# ---- JBD ------------------------------------------------------------------------------------------------------
def jbd_valid(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        ntc = rng.randrange(0, 4)
        data = struct.pack(
            ">HhHHHHHHH",
            *(rng.randrange(65536) for _ in range(1)),
            rng.randrange(-32768, 32768),
            *(rng.randrange(65536) for _ in range(7)),
        )
        data += bytes((0x10, rng.randrange(0, 120), rng.randrange(0, 5), rng.randrange(0, 34), ntc))
        data += b"".join(struct.pack(">H", rng.randrange(2331, 3531)) for _ in range(ntc))
        return jp.reply(jp.REG_BASIC, data)
    return jp.reply(jp.REG_CELLS, b"".join(struct.pack(">H", rng.randrange(0, 5500)) for _ in range(4)))


def jbd_decode(frame: bytes):
    if frame[1] == jp.REG_BASIC:
        return jp.parse_basic(jp.payload(frame, jp.REG_BASIC))
    return jp.parse_cells(jp.payload(frame, jp.REG_CELLS), 4)


def jbd_check(v) -> None:
    if isinstance(v, tuple):
        assert len(v) == 4 and all(0.5 <= c <= 5.0 for c in v)
    else:
        assert 0.0 <= v.soc <= 1.0 and 1 <= v.cell_count <= jp.MAX_CELLS
        assert all(-40.0 <= t <= 120.0 for t in v.temperatures_c) and abs(v.current_a) <= 327.68


def fuzz_jbd(rng: random.Random, n: int) -> FuzzResult:
    return _run_serial(
        rng,
        n,
        jp.extract,
        jp.read_request(jp.REG_BASIC),
        lambda f: f[1] in (jp.REG_BASIC, jp.REG_CELLS),
        jbd_valid,
        jbd_decode,
        jbd_check,
        (jp.ParseError,),
    )


# ---- Daly -----------------------------------------------------------------------------------------------------
def daly_valid(rng: random.Random) -> bytes:
    cmd = rng.choice((dp.CMD_SOC, dp.CMD_MOS, dp.CMD_STATUS, dp.CMD_CELLS, dp.CMD_TEMPS, dp.CMD_FAILURES))
    if cmd == dp.CMD_CELLS:
        data = bytes((rng.randrange(0, 4),)) + b"".join(struct.pack(">H", rng.randrange(0, 5500)) for _ in range(3))
    else:
        data = bytes(rng.randrange(256) if rng.random() < 0.5 else rng.randrange(3) for _ in range(8))
    return dp.reply(cmd, data)


def daly_decode(frame: bytes):
    d, cmd = dp.data_of(frame), frame[2]
    if cmd == dp.CMD_SOC:
        return ("soc", dp.parse_soc(d))
    if cmd == dp.CMD_MOS:
        return ("mos", dp.parse_mos(d))
    if cmd == dp.CMD_STATUS:
        return ("status", dp.parse_status(d))
    if cmd == dp.CMD_CELLS:
        return ("cells", dp.parse_cells([frame], 3))
    if cmd == dp.CMD_TEMPS:
        return ("temps", dp.parse_temps([frame], 7))
    return ("fail", dp.decode_failures(d))


def daly_check(v) -> None:
    kind, x = v
    if kind == "soc":
        assert 0.0 <= x[2] <= 1.0 and -3000.0 <= x[1] <= 3600.0
    elif kind == "cells":
        assert len(x) == 3 and all(0.5 <= c <= 5.0 for c in x)
    elif kind == "temps":
        assert len(x) == 7 and all(-40.0 <= t <= 120.0 for t in x)
    elif kind == "status":
        assert 1 <= x[0] <= dp.MAX_CELLS


def fuzz_daly(rng: random.Random, n: int) -> FuzzResult:
    return _run_serial(
        rng,
        n,
        dp.extract,
        dp.request(dp.CMD_SOC),
        lambda f: True,
        daly_valid,
        daly_decode,
        daly_check,
        (dp.ParseError,),
    )


# ---- SBS ------------------------------------------------------------------------------------------------------
class FuzzBus:
    """An SMBus whose every reply is a valid reply of an emulated gauge (sometimes random words), then mutated."""

    def __init__(self, rng: random.Random):
        from smartpack_util import make_pack

        from bms_ros.afe.sbs.emul import SbsEmul

        self.rng = rng
        self.emul = SbsEmul(make_pack(4, soc=rng.random()), pec=True)
        self.replies = 0
        self.mutated = 0  # replies of this read that were not passed through unchanged
        self.only_substituted = True

    def i2c_rdwr(self, w, rd=None) -> None:
        rng = self.rng
        written = ctypes.string_at(w.buf, w.len)
        cmd = written[0]
        if rd is None:  # a block write (ManufacturerBlockAccess): accepted or NACKed
            self.replies += 1
            if rng.random() < 0.1:
                raise OSError(121, "NACK")
            if cmd == sr.Cmd.MANUFACTURER_BLOCK_ACCESS and len(written) >= 4:
                self.emul.mac = written[2] | written[3] << 8
            return
        if cmd == sr.Cmd.MANUFACTURER_BLOCK_ACCESS:
            payload = self.emul.mac_data() or b""
            block = bytes((self.emul.mac & 0xFF, self.emul.mac >> 8)) + payload
            data = bytes((len(block),)) + block
        elif cmd in self.emul.strings:
            text = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 33)))
            data = bytes((len(text),)) + text
        else:
            word = self.emul.word(cmd)
            if word is None or rng.random() < 0.05:
                word = rng.randrange(65536)
                self.only_substituted = False
            data = bytes((word & 0xFF, word >> 8))
        a = 0x0B << 1
        valid = data + bytes((sr.pec(bytes((a, cmd, a | 1)) + data),))
        kind, wire = mutate(rng, valid) if rng.random() < 0.3 else ("none", valid)
        if kind not in ("substitute", "none"):
            self.only_substituted = False
        self.replies += 1
        if kind == "delete" and rng.random() < 0.3:
            raise OSError(121, "NACK")
        out = (wire + b"\xff" * rd.len)[: rd.len]
        ctypes.memmove(rd.buf, out, rd.len)


def fuzz_sbs(rng: random.Random, reads: int) -> FuzzResult:
    import numpy as np

    bus = FuzzBus(rng)
    drv = SbsPack(bus, 4, pec="on", retries=0)
    res = FuzzResult()
    truth = np.array([bus.emul.word(c) / 1000.0 for c in sr.CELL_VOLTAGE_1_TO_4])
    for k in range(reads):
        bus.only_substituted = True
        s = drv.read(float(k))  # never raises for bus trouble
        res.frames = bus.replies
        if not s.comm_ok:
            res.rejected += 1
            continue
        res.accepted += 1
        assert all(0.5 <= c <= 5.0 for c in s.cell_voltages) and -40.0 <= s.temperatures[0] <= 100.0
        assert 0.0 <= s.pack_report.soc <= 1.0
        assert plausible_sample(s) == ""
        if bus.only_substituted:  # the PEC must have caught every substituted byte
            assert np.array_equal(s.cell_voltages, truth), (s.cell_voltages, truth)
    assert drv.stats.timeouts + drv.stats.rejects >= res.rejected
    return res


def plausible_sample(s) -> str:
    from bms_ros.afe.sbs.driver import SbsReading

    return plausible(
        SbsReading(
            s.pack_voltage,
            s.current,
            float(s.temperatures[0]),
            tuple(s.cell_voltages),
            0,
            s.pack_report.soc,
            0.0,
            0.0,
            0,
        )
    )
