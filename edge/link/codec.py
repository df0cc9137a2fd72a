"""Pure codec of the SENSE link protocol (firmware/PROTOCOL.md): CRC-16, COBS, frames and messages.

Nothing here does I/O. :class:`FrameDecoder` is a "feed bytes, get frames" parser; :func:`encode_message` and
:func:`decode_message` turn message dataclasses into wire bytes and back. Tested against
``firmware/vectors/*.json``, the same vectors the C core is tested against.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field, fields
from collections.abc import Iterable
from typing import Any, ClassVar

from edge.errors import ProtocolError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 254  # decoded frame: type + body + CRC
MIN_FRAME_BYTES = 3  # type + CRC
CRC_BYTES = 2
DELIMITER = 0x00
COBS_MAX_GROUP = 254
KEY_BYTES = 32
NONCE_BYTES = 16
MAC_BYTES = 16
AUTH_LABEL = b"SENSE-AUTH-v1"
FULL_SCALE = 65535  # u16 intensity meaning 1.0

FLAG_KEY_PROVISIONED = 0x01
FLAG_AUTH_REQUIRED = 0x02
FLAG_AUTHENTICATED = 0x04
FLAG_LINK_TRUSTED = 0x08

ERROR_NAMES = {
    1: "UNKNOWN_TYPE",
    2: "BAD_LENGTH",
    3: "UNAUTHENTICATED",
    4: "NOT_ALLOWED",
    5: "BAD_VERSION",
    6: "BAD_VALUE",
    7: "STORAGE",
}
ERROR_UNAUTHENTICATED = 3
AUTH_OK = 0
AUTH_WRONG_KEY = 1
AUTH_NO_CHALLENGE = 2


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC16_TABLE = _crc16_table()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF, no reflection): b"123456789" -> 0x29B1."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (without the trailing 0x00 delimiter)."""
    out = bytearray([0])
    code_index = 0
    code = 1
    for index, byte in enumerate(data):
        if byte != 0:
            out.append(byte)
            code += 1
        if byte == 0 or code == COBS_MAX_GROUP + 1:
            out[code_index] = code
            code = 1
            if byte == 0 or index < len(data) - 1:
                code_index = len(out)
                out.append(0)
            else:
                return bytes(out)
    out[code_index] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS-encoded frame (no 0x00 inside). Raises :class:`ProtocolError` naming the bad byte."""
    out = bytearray()
    index = 0
    while index < len(data):
        code = data[index]
        if code == 0:
            raise ProtocolError(f"COBS: byte {index} is 0x00 inside a frame (expected a non-zero code byte)")
        end = index + code
        if end > len(data):
            raise ProtocolError(
                f"COBS: code byte {code:#04x} at offset {index} needs {code - 1} data bytes, only "
                f"{len(data) - index - 1} remain"
            )
        group = data[index + 1 : end]
        if 0 in group:
            raise ProtocolError(f"COBS: data byte 0x00 at offset {index + 1 + group.index(0)}")
        out += group
        index = end
        if code != COBS_MAX_GROUP + 1 and index < len(data):
            out.append(0)
    return bytes(out)


def encode_frame(frame_type: int, body: bytes) -> bytes:
    """Wire bytes of one frame: COBS(type | body | crc16 LE) followed by the 0x00 delimiter."""
    payload = bytes([frame_type]) + body
    if len(payload) + CRC_BYTES > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame type {frame_type:#04x}: {len(payload) + 2} bytes, at most {MAX_FRAME_BYTES}")
    payload += struct.pack("<H", crc16(payload))
    return cobs_encode(payload) + bytes([DELIMITER])


def check_frame(decoded: bytes) -> tuple[int, bytes]:
    """Split a COBS-decoded frame into (type, body) after checking its length and CRC."""
    if len(decoded) < MIN_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(decoded)} bytes: expected at least {MIN_FRAME_BYTES} (type + CRC)")
    if len(decoded) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(decoded)} bytes: expected at most {MAX_FRAME_BYTES}")
    (received,) = struct.unpack_from("<H", decoded, len(decoded) - CRC_BYTES)
    computed = crc16(decoded[:-CRC_BYTES])
    if received != computed:
        raise ProtocolError(f"frame type {decoded[0]:#04x}: CRC {received:#06x} on the wire, computed {computed:#06x}")
    return decoded[0], bytes(decoded[1:-CRC_BYTES])


@dataclass
class FrameDecoder:
    """Feed bytes, get frames: the byte-stream parser (pure, no I/O).

    ``feed(data)`` returns the ``(type, body)`` of every complete valid frame; bad frames are dropped and counted
    in ``crc_errors`` / ``framing_errors`` (and the last reason kept in ``last_error``).
    """

    max_frame_bytes: int = MAX_FRAME_BYTES
    crc_errors: int = 0
    framing_errors: int = 0
    last_error: str = ""
    _buffer: bytearray = field(default_factory=bytearray)
    _overflow: bool = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        frames: list[tuple[int, bytes]] = []
        max_encoded = self.max_frame_bytes + self.max_frame_bytes // COBS_MAX_GROUP + 1
        for byte in data:
            if byte != DELIMITER:
                if len(self._buffer) < max_encoded:
                    self._buffer.append(byte)
                else:
                    self._overflow = True
                continue
            if self._overflow:
                self._count_framing(f"frame longer than {self.max_frame_bytes} bytes")
            elif self._buffer:
                frame = self._finish(bytes(self._buffer))
                if frame is not None:
                    frames.append(frame)
            self._buffer.clear()
            self._overflow = False
        return frames

    def reset(self) -> None:
        self._buffer.clear()
        self._overflow = False

    def _count_framing(self, reason: str) -> None:
        self.framing_errors += 1
        self.last_error = reason

    def _finish(self, encoded: bytes) -> tuple[int, bytes] | None:
        try:
            decoded = cobs_decode(encoded)
        except ProtocolError as error:
            self._count_framing(str(error))
            return None
        if len(decoded) < MIN_FRAME_BYTES or len(decoded) > self.max_frame_bytes:
            self._count_framing(f"frame of {len(decoded)} bytes (expected {MIN_FRAME_BYTES}..{self.max_frame_bytes})")
            return None
        try:
            return check_frame(decoded)
        except ProtocolError as error:
            self.crc_errors += 1
            self.last_error = str(error)
            return None


# ---------------------------------------------------------------------------------------------------- messages


class Message:
    """Base of the message dataclasses. ``TYPE`` is the wire type; ``FORMAT`` the struct of the fixed part."""

    TYPE: ClassVar[int]
    FORMAT: ClassVar[str] = ""

    def pack_body(self) -> bytes:
        return struct.pack("<" + self.FORMAT, *(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]

    @classmethod
    def unpack_body(cls, body: bytes) -> "Message":
        size = struct.calcsize("<" + cls.FORMAT)
        _require_length(cls, body, size)
        return cls(*struct.unpack_from("<" + cls.FORMAT, body))

    def encode(self) -> bytes:
        return encode_frame(self.TYPE, self.pack_body())


def _fixed_fields(cls: Any, values: Iterable[Any]) -> dict[str, Any]:
    """The leading dataclass fields of message class ``cls`` by name, from the unpacked fixed part of a body."""
    return dict(zip((f.name for f in fields(cls)), values))


def _require_length(cls: type[Message], body: bytes, size: int) -> None:
    if len(body) < size:
        raise ProtocolError(f"{cls.__name__} (type {cls.TYPE:#04x}): body of {len(body)} bytes, expected >= {size}")


def _unpack_u16_list(cls: type[Message], body: bytes, offset: int) -> tuple[list[int], int]:
    _require_length(cls, body, offset + 1)
    count = body[offset]
    _require_length(cls, body, offset + 1 + 2 * count)
    return list(struct.unpack_from(f"<{count}H", body, offset + 1)), offset + 1 + 2 * count


def _pack_u16_list(values: list[int]) -> bytes:
    return struct.pack(f"<B{len(values)}H", len(values), *values)


@dataclass
class Hello(Message):
    TYPE: ClassVar[int] = 0x01
    FORMAT: ClassVar[str] = "B"
    proto_version: int = PROTOCOL_VERSION


@dataclass
class Info(Message):
    TYPE: ClassVar[int] = 0x02
    FORMAT: ClassVar[str] = "BBBBBBHHBB"
    proto_version: int
    fw_major: int
    fw_minor: int
    fw_patch: int
    n_channels: int
    flags: int
    update_rate_hz: int
    watchdog_ms: int
    max_frame: int
    name: str

    def pack_body(self) -> bytes:
        name = self.name.encode("ascii")
        return (
            struct.pack(
                "<" + self.FORMAT,
                self.proto_version,
                self.fw_major,
                self.fw_minor,
                self.fw_patch,
                self.n_channels,
                self.flags,
                self.update_rate_hz,
                self.watchdog_ms,
                self.max_frame,
                len(name),
            )
            + name
        )

    @classmethod
    def unpack_body(cls, body: bytes) -> "Info":
        size = struct.calcsize("<" + cls.FORMAT)
        _require_length(cls, body, size)
        *head, name_len = struct.unpack_from("<" + cls.FORMAT, body)
        _require_length(cls, body, size + name_len)
        return cls(**_fixed_fields(cls, head), name=body[size : size + name_len].decode("ascii", errors="replace"))

    @property
    def fw_version(self) -> str:
        return f"{self.fw_major}.{self.fw_minor}.{self.fw_patch}"


@dataclass
class _BytesMessage(Message):
    """A message whose body is one fixed-size byte string (hex in the vectors)."""

    SIZE: ClassVar[int]

    def pack_body(self) -> bytes:
        value = getattr(self, fields(self)[0].name)
        if len(value) != self.SIZE:
            raise ProtocolError(f"{type(self).__name__}: {len(value)} bytes, expected {self.SIZE}")
        return bytes(value)

    @classmethod
    def unpack_body(cls, body: bytes) -> "Message":
        _require_length(cls, body, cls.SIZE)
        return cls(bytes(body[: cls.SIZE]))  # type: ignore[call-arg]


@dataclass
class AuthChallenge(_BytesMessage):
    TYPE: ClassVar[int] = 0x03
    SIZE: ClassVar[int] = NONCE_BYTES
    nonce: bytes


@dataclass
class AuthResponse(_BytesMessage):
    TYPE: ClassVar[int] = 0x04
    SIZE: ClassVar[int] = MAC_BYTES
    mac: bytes


@dataclass
class AuthResult(Message):
    TYPE: ClassVar[int] = 0x05
    FORMAT: ClassVar[str] = "B"
    status: int


@dataclass
class ProvisionKey(_BytesMessage):
    TYPE: ClassVar[int] = 0x06
    SIZE: ClassVar[int] = KEY_BYTES
    key: bytes


@dataclass
class Ack(Message):
    TYPE: ClassVar[int] = 0x07
    FORMAT: ClassVar[str] = "B"
    acked_type: int


@dataclass
class SetIntensities(Message):
    TYPE: ClassVar[int] = 0x10
    FORMAT: ClassVar[str] = "HI"
    seq: int
    t_ms: int
    values: list[int]

    def pack_body(self) -> bytes:
        return struct.pack("<HI", self.seq, self.t_ms) + _pack_u16_list(self.values)

    @classmethod
    def unpack_body(cls, body: bytes) -> "SetIntensities":
        _require_length(cls, body, 6)
        seq, t_ms = struct.unpack_from("<HI", body)
        values, _ = _unpack_u16_list(cls, body, 6)
        return cls(seq, t_ms, values)


@dataclass
class Config(Message):
    TYPE: ClassVar[int] = 0x11
    FORMAT: ClassVar[str] = "HHHH"
    smoothing_ms: int
    watchdog_ms: int
    thermal_limit: int
    thermal_tau_ms: int
    caps: list[int] = field(default_factory=list)

    def pack_body(self) -> bytes:
        head = struct.pack("<HHHH", self.smoothing_ms, self.watchdog_ms, self.thermal_limit, self.thermal_tau_ms)
        return head + _pack_u16_list(self.caps)

    @classmethod
    def unpack_body(cls, body: bytes) -> "Config":
        _require_length(cls, body, 8)
        head = struct.unpack_from("<HHHH", body)
        caps, _ = _unpack_u16_list(cls, body, 8)
        return cls(**_fixed_fields(cls, head), caps=caps)


EFFECT_CANCEL, EFFECT_CONSTANT, EFFECT_CLICK, EFFECT_RAMP_UP, EFFECT_RAMP_DOWN, EFFECT_PULSE = range(6)
ALL_CHANNELS = 0xFF


@dataclass
class PlayEffect(Message):
    TYPE: ClassVar[int] = 0x12
    FORMAT: ClassVar[str] = "BBHH"
    channel: int
    effect: int
    intensity: int
    duration_ms: int


@dataclass
class StopAll(Message):
    TYPE: ClassVar[int] = 0x13


@dataclass
class Ping(Message):
    TYPE: ClassVar[int] = 0x20
    FORMAT: ClassVar[str] = "I"
    token: int


@dataclass
class Pong(Message):
    TYPE: ClassVar[int] = 0x21
    FORMAT: ClassVar[str] = "II"
    token: int
    device_ms: int


@dataclass
class GetTelemetry(Message):
    TYPE: ClassVar[int] = 0x22


@dataclass
class Telemetry(Message):
    TYPE: ClassVar[int] = 0x23
    FORMAT: ClassVar[str] = "11IHI"
    uptime_ms: int
    frames_ok: int
    crc_errors: int
    framing_errors: int
    unknown_type: int
    unauth_refused: int
    auth_failures: int
    watchdog_trips: int
    seq_gaps: int
    stale_frames: int
    thermal_limited_ms: int
    last_seq: int
    last_t_ms: int
    duty: list[int] = field(default_factory=list)

    def pack_body(self) -> bytes:
        head = [getattr(self, f.name) for f in fields(self)][:-1]
        return struct.pack("<" + self.FORMAT, *head) + _pack_u16_list(self.duty)

    @classmethod
    def unpack_body(cls, body: bytes) -> "Telemetry":
        size = struct.calcsize("<" + cls.FORMAT)
        _require_length(cls, body, size)
        head = struct.unpack_from("<" + cls.FORMAT, body)
        duty, _ = _unpack_u16_list(cls, body, size)
        return cls(**_fixed_fields(cls, head), duty=duty)


@dataclass
class Error(Message):
    TYPE: ClassVar[int] = 0x7F
    FORMAT: ClassVar[str] = "BB"
    code: int
    offending_type: int

    @property
    def code_name(self) -> str:
        return ERROR_NAMES.get(self.code, f"code {self.code}")


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Info,
        AuthChallenge,
        AuthResponse,
        AuthResult,
        ProvisionKey,
        Ack,
        SetIntensities,
        Config,
        PlayEffect,
        StopAll,
        Ping,
        Pong,
        GetTelemetry,
        Telemetry,
        Error,
    )
}


def encode_message(message: Message) -> bytes:
    """Wire bytes (COBS + delimiter) of ``message``."""
    return message.encode()


def decode_message(frame_type: int, body: bytes) -> Message:
    """The message of a checked frame. Unknown types raise :class:`ProtocolError` (hosts may ignore them)."""
    if frame_type not in MESSAGE_TYPES:
        raise ProtocolError(f"unknown message type {frame_type:#04x} ({len(body)} body bytes)")
    return MESSAGE_TYPES[frame_type].unpack_body(body)


def auth_mac(key: bytes, nonce: bytes) -> bytes:
    """The AUTH_RESPONSE for ``nonce``: HMAC-SHA256(key, "SENSE-AUTH-v1" || nonce)[:16]."""
    if len(key) != KEY_BYTES:
        raise ProtocolError(f"device key has {len(key)} bytes, expected {KEY_BYTES}")
    return hmac.new(key, AUTH_LABEL + nonce, hashlib.sha256).digest()[:MAC_BYTES]


def intensities_to_u16(values: "list[float] | tuple[float, ...]") -> list[int]:
    """Map intensities in [0, 1] to wire values 0..65535 (rounded)."""
    return [min(FULL_SCALE, max(0, int(round(float(v) * FULL_SCALE)))) for v in values]
