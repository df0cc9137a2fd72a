"""Actuator output to our own firmware over the link protocol: ``serial://``, ``ble://``, ``loop://``,
``spy://<link URL>`` (firmware/PROTOCOL.md).

``serial:///dev/ttyACM0?baud=500000&key=~/.config/sense/keys/vest.key&channels=6&smoothing_ms=16``

- Opening does the versioned handshake (and the challenge-response when the device has a key) and checks
  that the device has at least the rig's channel count.
- Every frame becomes one SET_INTENSITIES with a sequence number and the stream time in ms.
- Failsafe: when the link drops (cable pulled, firmware gone, or the device stops answering telemetry for
  ``silent_s``), frames are dropped — the firmware's watchdog zeroes its outputs within 150 ms — and the output
  reconnects with exponential backoff (``reconnect_min_s`` doubling up to ``reconnect_max_s``), redoing the
  handshake, while the stream keeps running. A device not back within ``lost_after_s`` (default 5 s) fails the
  write with an :class:`OutputError` naming the output (the run ends, every other output zeroed).
  ``close()`` sends STOP_ALL.
- Link health (:meth:`health`): frames sent / acknowledged / lost / late and reconnects, reconciled with the
  device's telemetry every ``HEALTH_POLL_S`` (edge.outputs.link_health); the firmware's failsafe trips
  (watchdog) and ERROR frames become one-line messages.
- ``loop://`` has nobody on the far side by default: no handshake; ``peer`` is the far end, for tests.
"""

from __future__ import annotations

import time

import numpy as np

from edge.errors import ConfigError, LinkAuthError, LinkTimeoutError, OutputError, ProtocolError
from edge.link import codec
from edge.link.keys import load_key
from edge.link.session import READ_SLICE_S, ByteTransport, LinkSession
from edge.link.transports import LoopTransport, open_transport
from edge.output_url import OutputURL
from edge.outputs.base import ActuatorOutput, HapticFrame, OutputHealth
from edge.outputs.link_health import LinkHealth

BOOT_TIMEOUT_S = 3.0  # an Arduino resets when its port opens and boots for a second or two
RECONNECT_MIN_S = 0.05
RECONNECT_MAX_S = 2.0
RECONNECT_REPLY_TIMEOUT_S = 0.2
STOP_TIMEOUT_S = 0.3
DEFAULT_LOOP_CHANNELS = 16
HEALTH_POLL_S = 0.5
"""How often a streaming output asks the device for its counters (one TELEMETRY reply of ~60 bytes)."""
SILENT_S = 5.0
"""A device that leaves a telemetry request unanswered this long is treated as gone (link lost)."""
LOST_AFTER_S = 5.0
"""A link down this long without reconnecting ends the stream with an error."""
FINAL_TELEMETRY_TIMEOUT_S = 1.0
SLOW_WRITE_S = 0.008
"""A frame whose write blocks longer than one 8 ms hop is late."""


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
        lost_after_s: float = LOST_AFTER_S,
        silent_s: float = SILENT_S,
    ) -> None:
        self.transport = transport
        self.session = LinkSession(transport, key=key)
        self.config = config
        self.info: codec.Info | None = None
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.lost_after_s = lost_after_s
        self.silent_s = silent_s
        self.link_up = True
        self.link_counters = LinkHealth()
        self.last_link_error = ""
        self.device_errors: list[codec.Error] = []
        self.last_telemetry: codec.Telemetry | None = None
        self._backoff_s = reconnect_min_s
        self._retry_at = 0.0
        self._down_since = 0.0
        self._down_at_stream_s = 0.0
        self._lost_reason = ""
        self._stream_t_s = 0.0
        self._next_poll_at = 0.0
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
        lost_after_s = url.float_param("lost_after_s", LOST_AFTER_S)
        silent_s = url.float_param("silent_s", SILENT_S)
        if lost_after_s <= 0 or silent_s <= 0:
            raise ConfigError(f"output URL {url.url!r}: lost_after_s and silent_s must be > 0")
        transport = open_transport(url)
        handshake = url.scheme != "loop" and not (url.scheme == "spy" and "loop://" in url.url)
        return cls(
            url.url,
            transport,
            channels,
            key=key,
            handshake=handshake,
            config=config,
            lost_after_s=lost_after_s,
            silent_s=silent_s,
        )

    @property
    def frames_sent(self) -> int:
        """SET_INTENSITIES frames written to the link (the stream's and the zeroing ones)."""
        return self.session.n_intensity_frames_sent

    @property
    def frames_dropped(self) -> int:
        """Frames the stream produced while the link was down."""
        return self.link_counters.frames_unsent

    @property
    def reconnects(self) -> int:
        return self.link_counters.reconnects

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
        self.link_counters.connected()
        self._request_telemetry()  # the baseline of this connection's counters
        return info

    def _request_telemetry(self) -> None:
        self.session.send(codec.GetTelemetry())
        self.link_counters.requested(self.session.n_frames_sent, self.session.n_intensity_frames_sent)
        self._next_poll_at = time.monotonic() + HEALTH_POLL_S

    def _link_lost(self, error: Exception) -> None:
        if self.link_up:
            self._down_since = time.monotonic()
            self._down_at_stream_s = self._stream_t_s
            self._lost_reason = str(error)
            self.link_counters.note(f"link lost {self._stream_t_s:.2f} s into the stream: {error}")
        self.link_up = False
        self.last_link_error = str(error)
        self._retry_at = time.monotonic() + self._backoff_s

    def _give_up_if_gone_too_long(self) -> None:
        down_s = time.monotonic() - self._down_since
        if down_s > self.lost_after_s:
            raise OutputError(
                f"output {self.url}: device lost {self._down_at_stream_s:.2f} s into the stream ({self._lost_reason}) "
                f"and not back within {self.lost_after_s:g} s (last try: {self.last_link_error}); its firmware's "
                "watchdog switched its actuators off"
            )

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
        self.link_counters.reconnects += 1
        self.link_counters.note(
            f"link back {self._stream_t_s:.2f} s into the stream (down {time.monotonic() - self._down_since:.2f} s)"
        )
        return True

    def _handle(self, messages: list[codec.Message]) -> None:
        for message in messages:
            if isinstance(message, codec.Telemetry):
                self.last_telemetry = message
                self.link_counters.answered(message)
            elif isinstance(message, codec.Error):
                self.device_errors.append(message)
                offending = codec.MESSAGE_TYPES.get(message.offending_type)
                self.link_counters.note(
                    f"the firmware answered {offending.__name__ if offending else hex(message.offending_type)} "
                    f"with ERROR {message.code_name}"
                )
                if message.code == codec.ERROR_UNAUTHENTICATED:
                    raise LinkAuthError(f"output {self.url!r}: the firmware refused our frames: not authenticated")

    def _drain(self) -> None:
        """Collect what the device sent (telemetry replies, ERROR frames for refused frames) without waiting."""
        messages = self.session.poll(0.0) + self.session.unsolicited
        self.session.unsolicited.clear()
        self._handle(messages)

    def _check_health(self) -> None:
        """Ask for the device's counters every HEALTH_POLL_S; a device that stops answering is a lost link."""
        if not self._handshake:
            return
        if self.link_counters.oldest_request_age_s() > self.silent_s:
            raise OutputError(f"the device stopped answering (no telemetry reply for {self.silent_s:g} s)")
        if not self.link_counters.pending and time.monotonic() >= self._next_poll_at:
            self._request_telemetry()

    # ------------------------------------------------------------------------------------------ output
    def _write(self, frame: HapticFrame) -> None:
        self._stream_t_s = frame.t_s
        if not self.link_up and not self._try_reconnect():
            self.link_counters.frames_unsent += 1
            self._give_up_if_gone_too_long()
            return
        values = codec.intensities_to_u16(np.asarray(frame.intensities, dtype=np.float64).tolist())
        try:
            started = time.perf_counter()
            self.session.set_intensities(values, int(round(frame.t_s * 1000.0)))
            if time.perf_counter() - started > SLOW_WRITE_S:
                self.link_counters.frames_slow += 1
            self._drain()
            self._check_health()
        except OutputError as error:
            self._link_lost(error)

    def health(self) -> OutputHealth:
        counters = self.link_counters
        messages = list(counters.messages)
        if counters.watchdog_trips:
            messages.append(
                f"the firmware's watchdog zeroed every actuator {counters.watchdog_trips} time"
                f"{'s' if counters.watchdog_trips != 1 else ''} (no frame for {self._watchdog_ms()} ms)"
            )
        return OutputHealth(
            self.url,
            link_up=self.link_up,
            frames_sent=self.frames_sent,
            frames_acked=counters.frames_acked,
            frames_lost=counters.frames_lost,
            frames_late=counters.frames_late,
            reconnects=counters.reconnects,
            watchdog_trips=counters.watchdog_trips,
            messages=tuple(messages),
        )

    def _watchdog_ms(self) -> int:
        if self.config is not None:
            return self.config.watchdog_ms
        return self.info.watchdog_ms if self.info is not None else 100

    def _settle_health(self, timeout_s: float) -> bool:
        """Ask for the device's counters once more and wait up to ``timeout_s`` for every reply in flight."""
        self._drain()
        self._request_telemetry()
        deadline = time.monotonic() + timeout_s
        while self.link_counters.pending and time.monotonic() < deadline:
            self._handle(self.session.poll(READ_SLICE_S))
        return not self.link_counters.pending

    def _zero(self) -> None:
        if not self.link_up:
            return
        try:
            self.session.set_intensities([0] * self.n_channels, 0)
            if self._handshake:
                self._settle_health(FINAL_TELEMETRY_TIMEOUT_S)  # the device's counters up to this last frame
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
        """The device's counters now (the request joins the health polls, so their replies stay in order)."""
        if not self._settle_health(self.session.reply_timeout_s) or self.last_telemetry is None:
            raise LinkTimeoutError(
                f"output {self.url}: no TELEMETRY from the device within {self.session.reply_timeout_s:.2f} s"
            )
        return self.last_telemetry

    def ping(self) -> float:
        """One PING/PONG round trip in seconds."""
        return self.session.ping()
