"""Request/response over a byte stream (UART / RS485) for the serial smart packs: timeouts, resynchronisation
after garbage, and an in-process emulated port.

A protocol supplies ``extract(buf) -> (frame | None, consumed, reject)``: it looks for one frame at the start of
``buf`` and says how many bytes to drop (0 with no frame: wait for more bytes). The reader discards what the
protocol rejects (counted), so line noise, a truncated frame or a corrupted checksum costs one frame, never the
link. pyserial is imported only by :func:`open_serial` (optional dependency: ``pip install bms_ros[serial]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bms_ros.afe.pack_source import LinkStats

__all__ = ["EmulatedPort", "Extract", "FrameReader", "LinkTimeout", "Port", "open_serial"]


class LinkTimeout(Exception):
    """No valid frame arrived in time (counted as a timeout)."""


class Port(Protocol):
    """The part of pyserial's ``Serial`` the reader uses."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Extract:
    frame: bytes | None  # a complete frame whose checksum and framing are good
    consumed: int  # bytes to drop from the buffer (the frame, or rejected bytes)
    reject: str = ""  # "checksum" | "framing" | "" ; what the dropped bytes were


def open_serial(port: str, baud: int, timeout: float):
    """A pyserial port, 8N1 (both JBD and Daly boards [JBD register map; Daly UART protocol])."""
    import serial  # optional dependency, only for the UART backends

    return serial.serial_for_url(port, baudrate=baud, bytesize=8, parity="N", stopbits=1, timeout=timeout)


class FrameReader:
    def __init__(
        self,
        port: Port,
        extract: Callable[[bytearray], Extract],
        stats: LinkStats,
        timeout: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.port, self.extract, self.stats, self.timeout, self.clock = port, extract, stats, timeout, clock
        self.buf = bytearray()

    def transact(self, request: bytes, accept: Callable[[bytes], bool] = lambda f: True) -> bytes:
        """Send ``request`` and return the first good frame ``accept`` takes (a stale answer to an earlier
        request is dropped as framing). Raises LinkTimeout."""
        return self.transact_frames(request, 1, accept)[0]

    def transact_frames(
        self, request: bytes, count: int, accept: Callable[[bytes], bool] = lambda f: True
    ) -> list[bytes]:
        """Send ``request`` and collect ``count`` good frames (boards that answer in several frames)."""
        self.buf.clear()
        self.port.reset_input_buffer()
        self.port.write(request)
        deadline = self.clock() + self.timeout
        frames: list[bytes] = []
        while True:
            frame = self._next_frame()
            if frame is not None:
                if accept(frame):
                    self.stats.frames_ok += 1
                    frames.append(frame)
                    if len(frames) >= count:
                        return frames
                else:
                    self.stats.framing_errors += 1
                continue
            if self.clock() > deadline:
                break
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            if chunk:
                self.buf += chunk
            elif self.buf:
                # nothing more is coming, but a frame may hide behind a false start (a garbage 0xDD / 0xA5
                # whose length byte promised more): drop one byte and look again
                del self.buf[:1]
                self.stats.resyncs += 1
            else:
                break  # the port's own timeout expired with nothing more
        self.stats.timeouts += 1
        raise LinkTimeout(f"{len(frames)} of {count} valid answers to {request[:4].hex()} within {self.timeout:g} s")

    def _next_frame(self) -> bytes | None:
        while self.buf:
            ex = self.extract(self.buf)
            if ex.consumed:
                del self.buf[: ex.consumed]
            if ex.reject == "checksum":
                self.stats.checksum_errors += 1
            elif ex.reject == "framing":
                self.stats.framing_errors += 1
            elif ex.reject == "resync":
                self.stats.resyncs += 1
            if ex.frame is not None:
                return ex.frame
            if not ex.consumed:
                return None  # incomplete: wait for more bytes
        return None


class EmulatedPort:
    """A serial port whose far end is an emulator in this process: ``respond(request) -> reply bytes``.
    Reads return what the emulator sent (possibly nothing, truncated or garbled); an empty read is a timeout."""

    def __init__(self, respond: Callable[[bytes], bytes], timeout: float = 0.3):
        self.respond = respond
        self.timeout: float | None = timeout
        self.rx = bytearray()
        self.written = 0

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def write(self, data: bytes) -> int:
        self.written += len(data)
        self.rx += self.respond(bytes(data))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self.rx.clear()

    def close(self) -> None:
        pass
