"""Daly over CAN (python-can): the same requests and 8-byte payloads as on UART, carried in 29-bit frames.

CAN ID [Zephyr drivers/bms/daly_can.h; DALY CAN Communications Protocol V1.0]: bits 28..24 priority 0x18,
23..16 data id (the UART command), 15..8 destination, 7..0 origin; host 0x40, BMS 0x01 (request 0x18900140,
reply 0x18904001), 250 kbit/s. The CAN controller checks the CRC, so a reply has no checksum byte; each accepted
reply is handed to the driver as the equivalent UART frame, so one set of parsers serves both links.
python-can is imported by the caller (``can.Bus``); this module only uses the bus object and ``can.Message``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bms_ros.afe.daly import protocol as p
from bms_ros.afe.pack_source import LinkStats
from bms_ros.afe.serial_link import LinkTimeout

__all__ = ["CAN_BITRATE", "DalyCanLink", "can_id", "split_id"]

PRIORITY = 0x18  # [Zephyr daly_can.h; DALY CAN protocol 2.3]
CAN_BITRATE = 250_000  # [DALY CAN protocol 1]


def can_id(cmd: int, dest: int, origin: int) -> int:
    return PRIORITY << 24 | (cmd & 0xFF) << 16 | (dest & 0xFF) << 8 | (origin & 0xFF)


def split_id(arbitration_id: int) -> tuple[int, int, int, int]:
    """(priority, data id, destination, origin)."""
    return arbitration_id >> 24 & 0x1F, arbitration_id >> 16 & 0xFF, arbitration_id >> 8 & 0xFF, arbitration_id & 0xFF


class DalyCanLink:
    """``transact_frames`` like :class:`FrameReader`, over a python-can bus."""

    def __init__(
        self,
        bus,
        stats: LinkStats,
        timeout: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        bms_address: int = p.BMS_ADDRESS,
        host_address: int = p.HOST_ADDRESS,
    ):
        self.bus, self.stats, self.timeout, self.clock = bus, stats, timeout, clock
        self.bms, self.host = bms_address, host_address

    def transact_frames(
        self, request: bytes, count: int, accept: Callable[[bytes], bool] = lambda f: True
    ) -> list[bytes]:
        import can  # optional dependency (bms_ros[can]), present whenever a CAN bus object exists

        cmd = request[2]
        while self.bus.recv(0.0) is not None:  # drop what an earlier, timed-out request left behind
            self.stats.resyncs += 1
        self.bus.send(
            can.Message(arbitration_id=can_id(cmd, self.bms, self.host), data=request[4:12], is_extended_id=True)
        )
        deadline = self.clock() + self.timeout
        frames: list[bytes] = []
        while len(frames) < count:
            left = deadline - self.clock()
            msg = self.bus.recv(max(0.0, left)) if left > 0 else None
            if msg is None:
                self.stats.timeouts += 1
                raise LinkTimeout(f"{len(frames)} of {count} CAN replies to {cmd:#04x} within {self.timeout:g} s")
            prio, data_id, dest, origin = split_id(msg.arbitration_id)
            if not msg.is_extended_id or prio != PRIORITY or dest != self.host or origin != self.bms:
                continue  # other traffic on the bus: not ours, not an error
            if data_id != cmd or msg.dlc != p.DATA_LEN or msg.is_error_frame or msg.is_remote_frame:
                self.stats.framing_errors += 1
                continue
            frame = p.reply(cmd, bytes(msg.data))
            if accept(frame):
                self.stats.frames_ok += 1
                frames.append(frame)
            else:
                self.stats.framing_errors += 1
        return frames

    @property
    def port(self):
        """For ``close``: the bus plays the port's part."""
        return self

    def close(self) -> None:
        self.bus.shutdown()
