"""Byte transports of the SENSE link, opened by URL: ``serial://``, ``loop://`` and the ``spy://`` wrapper.

Each has the :class:`edge.link.session.ByteTransport` shape (write/read/close) plus ``reopen()`` for links that
can come back (a re-plugged USB cable). ``ble://`` lives in its own module and has the same shape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, TextIO

from edge._lazy import require
from edge.errors import ConfigError, OutputError, ProtocolError
from edge.link import codec
from edge.link.session import ByteTransport
from edge.output_url import OutputURL

DEFAULT_BAUD = 500000
"""The firmware's default (firmware/Makefile BAUD): 0.5 ms per 6-channel frame; exact on a 16 MHz AVR."""
SPY_LOGGER = logging.getLogger("edge.link.spy")


class SerialTransport:
    """A UART/USB-serial link through pyserial. ``port`` is a device path (``/dev/ttyACM0``) or any pyserial URL.

    Errors (cable pulled, device gone) raise :class:`OutputError`; ``reopen()`` tries to open the port again.
    A device path is opened exclusively: a port another process holds is refused with a clear :class:`OutputError`.
    """

    def __init__(self, port: str, baud: int = DEFAULT_BAUD) -> None:
        self.port = port
        self.baud = baud
        self._serial = None
        self._timeout_s: float | None = None
        self.reopen()

    def reopen(self) -> None:
        serial = require("serial", "serial", "the serial:// firmware link")
        self.close()
        # a device path is locked (flock) for this process: a second run on the same board is refused, not interleaved
        exclusive = {} if "://" in self.port else {"exclusive": True}
        try:
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baud, timeout=0, write_timeout=1.0, **exclusive
            )
        except (OSError, ValueError) as error:  # serial.SerialException is an OSError
            if "exclusively lock" in str(error):
                raise OutputError(
                    f"serial link {self.port}: in use by another program (another `sense run`, "
                    "`sense flash` or a serial console); stop it first"
                ) from None
            raise OutputError(f"serial link {self.port}: cannot open at {self.baud} baud ({error})") from None
        self._timeout_s = 0.0

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def _port(self) -> Any:
        if self._serial is None:
            raise OutputError(f"serial link {self.port}: not open (unplugged?)")
        return self._serial

    def write(self, data: bytes) -> None:
        port = self._port()
        try:
            port.write(data)
        except OSError as error:  # serial.SerialException and its timeout are OSErrors too (EIO when unplugged)
            self.close()
            raise OutputError(f"serial link {self.port}: write failed ({error})") from None

    def read(self, timeout_s: float) -> bytes:
        port = self._port()
        try:
            if self._timeout_s != timeout_s:
                port.timeout = timeout_s
                self._timeout_s = timeout_s
            first = port.read(1)
            if not first:
                return b""
            waiting = port.in_waiting
            return first + (port.read(waiting) if waiting else b"")
        except OSError as error:
            self.close()
            raise OutputError(f"serial link {self.port}: read failed ({error})") from None

    def close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except OSError:
                pass


class LoopTransport:
    """One end of an in-memory byte pipe; ``LoopTransport.pair()`` gives two connected ends.

    What one end writes, the other reads: a test (or an in-process peer) holds ``peer`` to see the exact wire
    bytes an output sends, or to answer them.
    """

    def __init__(self) -> None:
        self._incoming: deque[bytes] = deque()
        self._condition = threading.Condition()
        self.peer: LoopTransport | None = None
        self.closed = False

    @classmethod
    def pair(cls) -> tuple["LoopTransport", "LoopTransport"]:
        a, b = cls(), cls()
        a.peer, b.peer = b, a
        return a, b

    def _deliver(self, data: bytes) -> None:
        with self._condition:
            self._incoming.append(data)
            self._condition.notify_all()

    def write(self, data: bytes) -> None:
        if self.closed:
            raise OutputError("loop link: closed")
        if self.peer is not None and not self.peer.closed:
            self.peer._deliver(bytes(data))

    def read(self, timeout_s: float) -> bytes:
        with self._condition:
            if not self._incoming:
                self._condition.wait(timeout_s)
            data = b"".join(self._incoming)
            self._incoming.clear()
            return data

    def reopen(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class SpyTransport:
    """Wraps another transport and logs every frame in both directions (decoded where possible).

    Lines go to ``log`` (a text file) or, without one, to the ``edge.link.spy`` logger at INFO:
    ``<seconds> TX|RX <message>``. Corrupt frames are logged as such; the bytes pass through unchanged.
    """

    def __init__(self, inner: ByteTransport, log: TextIO | None = None) -> None:
        self.inner = inner
        self.log = log
        self.lines: list[str] = []
        self._start = time.monotonic()
        self._decoders = {"TX": codec.FrameDecoder(), "RX": codec.FrameDecoder()}

    def _record(self, direction: str, data: bytes) -> None:
        decoder = self._decoders[direction]
        errors_before = decoder.crc_errors + decoder.framing_errors
        for frame_type, body in decoder.feed(data):
            try:
                text = repr(codec.decode_message(frame_type, body))
            except ProtocolError as error:
                text = f"type {frame_type:#04x} body {body.hex()} ({error})"
            self._emit(direction, text)
        if decoder.crc_errors + decoder.framing_errors > errors_before:
            self._emit(direction, f"corrupt frame dropped: {decoder.last_error}")

    def _emit(self, direction: str, text: str) -> None:
        line = f"{time.monotonic() - self._start:10.4f} {direction} {text}"
        self.lines.append(line)
        if self.log is not None:
            self.log.write(line + "\n")
            self.log.flush()
        else:
            SPY_LOGGER.info(line)

    def write(self, data: bytes) -> None:
        self._record("TX", data)
        self.inner.write(data)

    def read(self, timeout_s: float) -> bytes:
        data = self.inner.read(timeout_s)
        if data:
            self._record("RX", data)
        return data

    def reopen(self) -> None:
        reopen: Callable[[], None] | None = getattr(self.inner, "reopen", None)
        if reopen is not None:
            reopen()

    def close(self) -> None:
        self.inner.close()
        if self.log is not None:
            self.log.close()
            self.log = None


def open_transport(url: OutputURL) -> ByteTransport:
    """The byte transport named by ``url`` (``serial://``, ``loop://``, ``spy://<inner URL>``)."""
    if url.scheme == "serial":
        return SerialTransport(url.serial_port(), url.int_param("baud", DEFAULT_BAUD))
    if url.scheme == "loop":
        near, _far = LoopTransport.pair()
        return near
    if url.scheme == "spy":
        inner = OutputURL.parse(url.spy_inner_url())
        log_path = url.query.get("log")
        log = Path(log_path).expanduser().open("a") if log_path else None
        return SpyTransport(open_transport(inner), log)
    if url.scheme == "ble":
        ble = require("edge.link.ble", "ble", "the ble:// firmware link")
        return ble.open_ble_transport(url)
    raise ConfigError(f"output URL {url.url!r}: not a firmware link (expected serial://, ble://, loop:// or spy://)")
