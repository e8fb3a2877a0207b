"""A Daly board on a python-can virtual bus: the :class:`DalyEmul` board answering 29-bit requests from its own
bus handle in a listener thread (a lock keeps the pack model consistent with the node's time steps).

Faults as CAN would show them: a dropped request (``nack_rate``), a reply cut short (``timeout_rate``: later
frames of a multi-frame answer lost), a corrupted frame (``crc_corrupt_rate``: the controller drops it),
foreign traffic (``garbage_rate``: frames for another node and stray data ids), ``silent``.
"""

from __future__ import annotations

import threading
import uuid

import can

from bms_ros.afe.daly import protocol as p
from bms_ros.afe.daly.can_link import can_id, split_id
from bms_ros.afe.daly.emul import DalyEmul

__all__ = ["DalyCanEmul"]


class DalyCanEmul:
    def __init__(self, board: DalyEmul, channel: str | None = None):
        self.board = board
        self.channel = channel or f"bms_ros_daly_{uuid.uuid4().hex[:8]}"
        self.lock = threading.Lock()
        self.bus = can.Bus(interface="virtual", channel=self.channel)
        self.notifier = can.Notifier(self.bus, [self._on_message], timeout=0.05)

    # the parts SimulatedPack uses
    @property
    def faults(self):
        return self.board.faults

    @property
    def bms(self):
        return self.board.bms

    @property
    def t(self) -> float:
        return self.board.t

    @property
    def silent(self) -> bool:
        return self.board.silent

    @silent.setter
    def silent(self, on: bool) -> None:
        self.board.silent = on

    def advance_to(self, t: float) -> None:
        with self.lock:
            self.board.advance_to(t)

    def host_bus(self):
        """A second handle on the same virtual channel, for the driver."""
        return can.Bus(interface="virtual", channel=self.channel)

    def _on_message(self, msg: can.Message) -> None:
        _, cmd, dest, origin = split_id(msg.arbitration_id)
        if not msg.is_extended_id or dest != p.BMS_ADDRESS or origin != p.HOST_ADDRESS:
            return
        f = self.board.faults
        if f.silent:
            return
        try:
            f.before_transaction()
            cut = None
        except TimeoutError:
            cut = 0
        except OSError:
            return
        with self.lock:
            frames = self.board.frames(cmd, bytes(msg.data).ljust(8, b"\x00"))
        if cut is not None and frames:
            cut = f.pick(len(frames))
        out_id = can_id(cmd, p.HOST_ADDRESS, p.BMS_ADDRESS)
        if f.hit(f.garbage_rate):
            f.injected["garbage"] += 1
            self.bus.send(
                can.Message(arbitration_id=can_id(cmd, 0x41, p.BMS_ADDRESS), data=bytes(8), is_extended_id=True)
            )  # for another host
            self.bus.send(
                can.Message(
                    arbitration_id=can_id(0x97, p.HOST_ADDRESS, p.BMS_ADDRESS), data=bytes(8), is_extended_id=True
                )
            )  # a stray data id
        for k, data in enumerate(frames):
            if cut is not None and k >= cut:
                break
            if f.take_crc_corruption():
                continue  # a frame with a bad CRC never reaches the host's controller
            self.bus.send(can.Message(arbitration_id=out_id, data=data, is_extended_id=True))

    def close(self) -> None:
        self.notifier.stop()
        self.bus.shutdown()
