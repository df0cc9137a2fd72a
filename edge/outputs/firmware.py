"""Actuator output to our own firmware over the link protocol: ``serial://``, ``ble://``, ``loop://``,
``spy://<link URL>`` (firmware/PROTOCOL.md).

``serial:///dev/ttyACM0?baud=115200&key=~/.config/sense/keys/vest.key&channels=6&smoothing_ms=16``

- Opening does the versioned handshake (and the challenge-response when the device has a key) and checks
  that the device has at least the rig's channel count.
- Every frame becomes one SET_INTENSITIES with a sequence number and the stream time in ms.
- Failsafe: when the link drops (cable pulled), frames are dropped — the firmware's watchdog zeroes its
  outputs within 150 ms — and the output reconnects with exponential backoff (``reconnect_min_s`` doubling up
  to ``reconnect_max_s``), redoing the handshake, while the stream keeps running. ``close()`` sends STOP_ALL.
- ``loop://`` has nobody on the far side by default: no handshake; ``peer`` is the far end, for tests.
"""

from __future__ import annotations

import time

import numpy as np

from edge.errors import ConfigError, LinkAuthError, OutputError, ProtocolError
from edge.link import codec
from edge.link.keys import load_key
from edge.link.session import ByteTransport, LinkSession
from edge.link.transports import LoopTransport, open_transport
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame

BOOT_TIMEOUT_S = 3.0  # an Arduino resets when its port opens and boots for a second or two
RECONNECT_MIN_S = 0.05
RECONNECT_MAX_S = 2.0
RECONNECT_REPLY_TIMEOUT_S = 0.2
STOP_TIMEOUT_S = 0.3
DEFAULT_LOOP_CHANNELS = 16


class FirmwareOutput(ActuatorOutput):
    """Drives a SENSE firmware over a byte transport (see the module docstring for the URL and behaviour)."""

    def __init__(
        self,
        url: str,
        transport: ByteTransport,
        n_channels: int | None = None,
        key: bytes | None = None,
        handshake: bool = True,
        config: codec.Config | None = None,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        self.transport = transport
        self.session = LinkSession(transport, key=key)
        self.config = config
        self.info: codec.Info | None = None
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.link_up = True
        self.frames_sent = 0
        self.frames_dropped = 0
        self.reconnects = 0
        self.last_link_error = ""
        self.device_errors: list[codec.Error] = []
        self._backoff_s = reconnect_min_s
        self._retry_at = 0.0
        self._handshake = handshake
        try:
            if handshake:
                self.info = self._connect(BOOT_TIMEOUT_S)
                if n_channels is not None and n_channels > self.info.n_channels:
                    raise ConfigError(
                        f"output {url!r}: the rig needs {n_channels} channels, the firmware "
                        f"{self.info.name!r} {self.info.fw_version} has {self.info.n_channels}"
                    )
            channels = n_channels or (self.info.n_channels if self.info else DEFAULT_LOOP_CHANNELS)
        except BaseException:
            transport.close()
            raise
        super().__init__(url, channels)

    @classmethod
    def from_url(cls, url: OutputURL, n_channels: int | None) -> "FirmwareOutput":
        key = load_key(url.query["key"]) if url.query.get("key") else None
        channels = url.int_param("channels", n_channels or 0) or None
        config = None
        if "smoothing_ms" in url.query or "watchdog_ms" in url.query:
            config = codec.Config(
                smoothing_ms=url.int_param("smoothing_ms", 16),
                watchdog_ms=url.int_param("watchdog_ms", 100),
                thermal_limit=url.int_param("thermal_limit", codec.FULL_SCALE),
                thermal_tau_ms=url.int_param("thermal_tau_ms", 2000),
            )
        transport = open_transport(url)
        handshake = url.scheme != "loop" and not (url.scheme == "spy" and "loop://" in url.url)
        return cls(url.url, transport, channels, key=key, handshake=handshake, config=config)

    @property
    def peer(self) -> ByteTransport | None:
        """The far end of a ``loop://`` link (None for other links)."""
        inner = getattr(self.transport, "inner", self.transport)
        return inner.peer if isinstance(inner, LoopTransport) else None

    # ------------------------------------------------------------------------------------------ link
    def _connect(self, boot_timeout_s: float | None = None) -> codec.Info:
        info = self.session.handshake(boot_timeout_s)
        if self.config is not None:
            self.session.configure(self.config)
        return info

    def _link_lost(self, error: Exception) -> None:
        self.link_up = False
        self.last_link_error = str(error)
        self._retry_at = time.monotonic() + self._backoff_s

    def _try_reconnect(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            reopen = getattr(self.transport, "reopen", None)
            if reopen is not None:
                reopen()
            if self._handshake:
                # short replies only: the stream must not stall for long while the device is away
                previous, self.session.reply_timeout_s = self.session.reply_timeout_s, RECONNECT_REPLY_TIMEOUT_S
                try:
                    self.info = self._connect()
                finally:
                    self.session.reply_timeout_s = previous
        except (OutputError, ProtocolError) as error:
            self._backoff_s = min(self._backoff_s * 2.0, self.reconnect_max_s)
            self._link_lost(error)
            return False
        self._backoff_s = self.reconnect_min_s
        self.link_up = True
        self.reconnects += 1
        return True

    def _drain(self) -> None:
        """Collect what the device sent (ERROR frames for refused frames) without waiting."""
        for message in self.session.poll(0.0) + self.session.unsolicited:
            if isinstance(message, codec.Error):
                self.device_errors.append(message)
                if message.code == codec.ERROR_UNAUTHENTICATED:
                    raise LinkAuthError(f"output {self.url!r}: the firmware refused our frames: not authenticated")
        self.session.unsolicited.clear()

    # ------------------------------------------------------------------------------------------ output
    def _write(self, frame: HapticFrame) -> None:
        if not self.link_up and not self._try_reconnect():
            self.frames_dropped += 1
            return
        values = codec.intensities_to_u16(np.asarray(frame.intensities, dtype=np.float64).tolist())
        try:
            self.session.set_intensities(values, int(round(frame.t_s * 1000.0)))
            self.frames_sent += 1
            self._drain()
        except OutputError as error:
            self.frames_dropped += 1
            self._link_lost(error)

    def _zero(self) -> None:
        if not self.link_up:
            return
        try:
            self.session.set_intensities([0] * self.n_channels, 0)
            if self._handshake:
                previous, self.session.reply_timeout_s = self.session.reply_timeout_s, STOP_TIMEOUT_S
                try:
                    self.session.stop_all()
                finally:
                    self.session.reply_timeout_s = previous
            else:
                self.session.send(codec.StopAll())
        except (OutputError, ProtocolError) as error:
            self._link_lost(error)

    def _release(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------------------------------ extras
    def telemetry(self) -> codec.Telemetry:
        return self.session.telemetry()

    def ping(self) -> float:
        """One PING/PONG round trip in seconds."""
        return self.session.ping()
