"""Transport-agnostic session logic of the SENSE link: handshake, authentication, requests, streaming.

A :class:`LinkSession` runs over any object with the :class:`ByteTransport` shape (``serial://``, ``loop://``,
the BLE transport, a test's pty), so every transport shares one tested implementation of the protocol.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol, TypeVar

from edge.errors import LinkAuthError, LinkTimeoutError, ProtocolError
from edge.link import codec

DEFAULT_REPLY_TIMEOUT_S = 1.0
READ_SLICE_S = 0.01
MessageT = TypeVar("MessageT", bound=codec.Message)


class ByteTransport(Protocol):
    """What a session needs from a link: raw bytes out and in.

    ``write(data)`` sends bytes (may raise :class:`edge.errors.OutputError` when the link is gone);
    ``read(timeout_s)`` returns the bytes that arrived within ``timeout_s`` seconds (``b""`` when none);
    ``close()`` releases the link and is idempotent.
    """

    def write(self, data: bytes) -> None: ...

    def read(self, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...


class LinkSession:
    """One host-side session with a SENSE firmware over ``transport``.

    ``key``: the 32-byte device key, needed when the device has one provisioned. After :meth:`handshake`,
    ``info`` describes the device. Messages that arrive while waiting for something else (e.g. ERROR
    UNAUTHENTICATED for a refused SET_INTENSITIES) are kept in ``unsolicited``.
    """

    def __init__(
        self, transport: ByteTransport, key: bytes | None = None, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S
    ) -> None:
        self.transport = transport
        self.key = key
        self.reply_timeout_s = reply_timeout_s
        self.decoder = codec.FrameDecoder()
        self.info: codec.Info | None = None
        self.authenticated = False
        self.unsolicited: list[codec.Message] = []
        self._inbox: deque[codec.Message] = deque()
        self._seq = 0
        self._ping_token = 0
        self.n_frames_sent = 0
        """Frames sent so far (every type), for reconciling with the device's ``frames_ok`` counter."""
        self.n_intensity_frames_sent = 0
        """SET_INTENSITIES frames sent so far."""
        self.last_intensity_frame_number = 0
        """``n_frames_sent`` just after the last SET_INTENSITIES left (its 1-based position on the link)."""

    # ------------------------------------------------------------------------------------------ plumbing
    def send(self, message: codec.Message) -> None:
        """Send one message without waiting for anything."""
        self.transport.write(codec.encode_message(message))
        self.n_frames_sent += 1
        if isinstance(message, codec.SetIntensities):
            self.n_intensity_frames_sent += 1
            self.last_intensity_frame_number = self.n_frames_sent

    def poll(self, timeout_s: float = 0.0) -> list[codec.Message]:
        """Messages not yet consumed plus what arrives within ``timeout_s`` (unknown types are skipped)."""
        messages = list(self._inbox)
        self._inbox.clear()
        for frame_type, body in self.decoder.feed(self.transport.read(timeout_s)):
            if frame_type in codec.MESSAGE_TYPES:
                messages.append(codec.decode_message(frame_type, body))
        return messages

    def wait_for(self, reply_type: type[MessageT], request_type: int | None = None) -> MessageT:
        """Wait for a message of ``reply_type``; an ERROR about ``request_type`` raises :class:`ProtocolError`.

        Messages that arrive after the awaited one stay queued for the next call.
        """
        deadline = time.monotonic() + self.reply_timeout_s
        while True:
            while self._inbox:
                message = self._inbox.popleft()
                if isinstance(message, reply_type):
                    return message
                if (
                    isinstance(message, codec.Error)
                    and request_type is not None
                    and message.offending_type == request_type
                ):
                    if message.code == codec.ERROR_UNAUTHENTICATED:
                        raise LinkAuthError(f"device refused message type {request_type:#04x}: not authenticated")
                    raise ProtocolError(
                        f"device answered message type {request_type:#04x} with ERROR {message.code_name}"
                    )
                self.unsolicited.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LinkTimeoutError(
                    f"no {reply_type.__name__} from the device within {self.reply_timeout_s:.2f} s "
                    f"(is the firmware running and the baud rate right?)"
                )
            self._inbox.extend(self.poll(min(remaining, READ_SLICE_S)))

    def request(self, message: codec.Message, reply_type: type[MessageT]) -> MessageT:
        self.send(message)
        return self.wait_for(reply_type, message.TYPE)

    # ------------------------------------------------------------------------------------------ handshake
    def handshake(self, boot_timeout_s: float | None = None) -> codec.Info:
        """HELLO -> INFO (+ challenge-response when the device has a key). Returns and keeps the INFO.

        ``boot_timeout_s``: keep saying HELLO (one attempt per reply timeout) for this long, for boards that are
        still booting (an Arduino resets when its port is opened and sits in its bootloader for a second or two).
        Default: one attempt.
        """
        deadline = time.monotonic() + (boot_timeout_s or 0.0)
        while True:
            self.decoder.reset()
            self._inbox.clear()
            self.authenticated = False
            self.transport.write(bytes([codec.DELIMITER]))  # flush a half-received frame on the device
            try:
                info = self.request(codec.Hello(codec.PROTOCOL_VERSION), codec.Info)
                break
            except LinkTimeoutError:
                if time.monotonic() >= deadline:
                    raise
        if info.proto_version < 1:
            raise ProtocolError(f"device speaks protocol version {info.proto_version}, expected >= 1")
        self.info = info
        if info.flags & codec.FLAG_KEY_PROVISIONED:
            challenge = self.wait_for(codec.AuthChallenge)
            if self.key is None:
                raise LinkAuthError(
                    f"device {info.name!r} has a key provisioned: give the key file (e.g. ?key=PATH in the URL)"
                )
            result = self.request(codec.AuthResponse(codec.auth_mac(self.key, challenge.nonce)), codec.AuthResult)
            if result.status != codec.AUTH_OK:
                raise LinkAuthError(f"device {info.name!r} refused the key (AUTH_RESULT {result.status})")
            self.authenticated = True
        elif info.flags & codec.FLAG_AUTH_REQUIRED:
            raise LinkAuthError(
                f"device {info.name!r} has no key and refuses control on this link: provision one over USB"
            )
        return info

    # ------------------------------------------------------------------------------------------ requests
    def set_intensities(self, values_u16: list[int], t_ms: int) -> int:
        """Send SET_INTENSITIES (no reply). Returns the sequence number used."""
        seq = self._seq
        self.send(codec.SetIntensities(seq, t_ms & 0xFFFFFFFF, values_u16))
        self._seq = (seq + 1) & 0xFFFF
        return seq

    def ping(self) -> float:
        """Round-trip time of one PING/PONG in seconds."""
        self._ping_token = (self._ping_token + 1) & 0xFFFFFFFF
        token = self._ping_token
        start = time.perf_counter()
        self.send(codec.Ping(token))
        while True:
            pong = self.wait_for(codec.Pong, codec.Ping.TYPE)
            if pong.token == token:
                return time.perf_counter() - start

    def telemetry(self) -> codec.Telemetry:
        return self.request(codec.GetTelemetry(), codec.Telemetry)

    def _acked(self, message: codec.Message) -> None:
        self.send(message)
        while self.wait_for(codec.Ack, message.TYPE).acked_type != message.TYPE:
            pass

    def configure(self, config: codec.Config) -> None:
        self._acked(config)

    def play_effect(self, effect: codec.PlayEffect) -> None:
        self._acked(effect)

    def stop_all(self) -> None:
        self._acked(codec.StopAll())

    def provision_key(self, key: bytes) -> None:
        """Store ``key`` on the device (wired link only); the next handshake needs it."""
        self._acked(codec.ProvisionKey(key))
        self.key = key

    def close(self) -> None:
        self.transport.close()
