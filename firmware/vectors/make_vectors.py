"""Write the golden vectors of the SENSE link protocol (firmware/PROTOCOL.md) as JSON.

Uses only the Python standard library and deliberately naive reference implementations (bit-by-bit CRC, COBS
straight from its definition), never ``edge.link.codec``: the vectors check both codecs, C and Python.
Run: ``python firmware/vectors/make_vectors.py`` (rewrites the JSON files next to this script).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTH_LABEL = b"SENSE-AUTH-v1"


def crc16_reference(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, one bit at a time."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            feedback = ((crc >> 15) & 1) ^ ((byte >> bit) & 1)
            crc = (crc << 1) & 0xFFFF
            if feedback:
                crc ^= 0x1021
    return crc


def cobs_reference(data: bytes) -> bytes:
    """COBS from its definition: each group is a code byte (group length + 1) and up to 254 non-zero bytes.

    A group ends at a zero (which the code byte stands for) or after 254 non-zero bytes (code 0xFF, no zero
    implied); a new group opens only if input remains or the group ended at a zero.
    """
    out = bytearray()
    group = bytearray()
    for index, byte in enumerate(data):
        if byte == 0:
            out += bytes([len(group) + 1]) + group
            group.clear()
            continue
        group.append(byte)
        if len(group) == 254:
            out += bytes([0xFF]) + group
            group.clear()
            if index == len(data) - 1:
                return bytes(out)
    out += bytes([len(group) + 1]) + group
    return bytes(out)


def wire(frame_type: int, body: bytes) -> bytes:
    payload = bytes([frame_type]) + body
    payload += struct.pack("<H", crc16_reference(payload))
    return cobs_reference(payload) + b"\x00"


def hx(data: bytes) -> str:
    return data.hex()


def frame_vectors() -> list[dict]:
    nonce = bytes(range(0xA0, 0xB0))
    key = bytes(range(32))
    mac = hmac.new(key, AUTH_LABEL + nonce, hashlib.sha256).digest()[:16]
    zeros_body = struct.pack("<HIB", 0, 0, 6) + b"\x00" * 12
    cases: list[tuple[str, int, dict, bytes]] = [
        ("hello", 0x01, {"proto_version": 1}, bytes([1])),
        (
            "info",
            0x02,
            {
                "proto_version": 1,
                "fw_major": 1,
                "fw_minor": 0,
                "fw_patch": 0,
                "n_channels": 6,
                "flags": 0x0B,
                "update_rate_hz": 976,
                "watchdog_ms": 100,
                "max_frame": 64,
                "name": "avr",
            },
            struct.pack("<BBBBBBHHBB", 1, 1, 0, 0, 6, 0x0B, 976, 100, 64, 3) + b"avr",
        ),
        ("auth_challenge", 0x03, {"nonce": hx(nonce)}, nonce),
        ("auth_response", 0x04, {"mac": hx(mac)}, mac),
        ("auth_result", 0x05, {"status": 1}, bytes([1])),
        ("provision_key", 0x06, {"key": hx(key)}, key),
        ("ack", 0x07, {"acked_type": 0x13}, bytes([0x13])),
        (
            "set_intensities",
            0x10,
            {"seq": 513, "t_ms": 123456, "values": [0, 65535, 32768, 1, 256, 4660]},
            struct.pack("<HIB6H", 513, 123456, 6, 0, 65535, 32768, 1, 256, 4660),
        ),
        ("set_intensities_zeros", 0x10, {"seq": 0, "t_ms": 0, "values": [0] * 6}, zeros_body),
        (
            "set_intensities_40",
            0x10,
            {"seq": 65535, "t_ms": 4294967295, "values": [i * 1600 for i in range(40)]},
            struct.pack("<HIB40H", 65535, 4294967295, 40, *[i * 1600 for i in range(40)]),
        ),
        (
            "config",
            0x11,
            {
                "smoothing_ms": 16,
                "watchdog_ms": 100,
                "thermal_limit": 45000,
                "thermal_tau_ms": 2000,
                "caps": [65535, 50000, 40000],
            },
            struct.pack("<HHHHB3H", 16, 100, 45000, 2000, 3, 65535, 50000, 40000),
        ),
        (
            "play_effect",
            0x12,
            {"channel": 255, "effect": 5, "intensity": 40000, "duration_ms": 500},
            struct.pack("<BBHH", 255, 5, 40000, 500),
        ),
        ("stop_all", 0x13, {}, b""),
        ("ping", 0x20, {"token": 0xDEADBEEF}, struct.pack("<I", 0xDEADBEEF)),
        ("pong", 0x21, {"token": 0xDEADBEEF, "device_ms": 1000}, struct.pack("<II", 0xDEADBEEF, 1000)),
        ("get_telemetry", 0x22, {}, b""),
        (
            "telemetry",
            0x23,
            {
                "uptime_ms": 5000,
                "frames_ok": 300,
                "crc_errors": 2,
                "framing_errors": 1,
                "unknown_type": 0,
                "unauth_refused": 4,
                "auth_failures": 1,
                "watchdog_trips": 1,
                "seq_gaps": 3,
                "stale_frames": 0,
                "thermal_limited_ms": 12,
                "last_seq": 299,
                "last_t_ms": 4990,
                "duty": [0, 100, 65535],
            },
            struct.pack("<11IHIB3H", 5000, 300, 2, 1, 0, 4, 1, 1, 3, 0, 12, 299, 4990, 3, 0, 100, 65535),
        ),
        ("error", 0x7F, {"code": 3, "offending_type": 0x10}, bytes([3, 0x10])),
    ]
    return [
        {
            "name": name,
            "type": frame_type,
            "fields": fields,
            "body_hex": hx(body),
            "wire_hex": hx(wire(frame_type, body)),
        }
        for name, frame_type, fields, body in cases
    ]


def stream_vectors() -> list[dict]:
    ping = wire(0x20, struct.pack("<I", 1))
    stop = wire(0x13, b"")
    hello = wire(0x01, b"\x01")
    corrupt_crc = bytearray(wire(0x20, struct.pack("<I", 0x04030201)))
    corrupt_crc[3] ^= 0x01  # flip a bit of a body byte (no zeros nearby): COBS still valid, CRC fails
    bad_cobs = bytes([0x05, 0x20, 0x01, 0x00])  # code byte promises 4 more bytes, delimiter comes after 2
    too_long = cobs_reference(bytes([0x20]) + b"\x11" * 300) + b"\x00"
    too_short = cobs_reference(b"\x20\x01") + b"\x00"  # 2 bytes: shorter than type + CRC
    return [
        {
            "name": "two_frames",
            "stream_hex": hx(hello + ping),
            "frames": [hx(hello), hx(ping)],
            "crc_errors": 0,
            "framing_errors": 0,
        },
        {
            "name": "leading_noise_resync",
            "stream_hex": hx(b"\x13\x37\x42" + b"\x00" + stop),
            "frames": [hx(stop)],
            "crc_errors": 0,
            "framing_errors": 1,
        },
        {
            "name": "empty_frames_ignored",
            "stream_hex": hx(b"\x00\x00" + stop + b"\x00"),
            "frames": [hx(stop)],
            "crc_errors": 0,
            "framing_errors": 0,
        },
        {
            "name": "bad_crc_dropped",
            "stream_hex": hx(bytes(corrupt_crc) + stop),
            "frames": [hx(stop)],
            "crc_errors": 1,
            "framing_errors": 0,
        },
        {
            "name": "bad_cobs_dropped",
            "stream_hex": hx(bad_cobs + ping),
            "frames": [hx(ping)],
            "crc_errors": 0,
            "framing_errors": 1,
        },
        {
            "name": "too_long_dropped",
            "stream_hex": hx(too_long + ping),
            "frames": [hx(ping)],
            "crc_errors": 0,
            "framing_errors": 1,
        },
        {
            "name": "too_short_dropped",
            "stream_hex": hx(too_short + ping),
            "frames": [hx(ping)],
            "crc_errors": 0,
            "framing_errors": 1,
        },
    ]


def main() -> None:
    crc_inputs = [b"", b"123456789", b"\x00", b"\xff" * 4, bytes(range(256))]
    cobs_inputs = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x11\x22\x00\x33",
        b"\x11\x22\x33\x44",
        b"\x11\x00\x00\x00",
        bytes(range(1, 255)),
        bytes(range(0, 255)),
        bytes(range(1, 256)),
        bytes(range(2, 256)) + b"\x00",
        bytes(range(3, 256)) + b"\x00\x01",
    ]
    sha_inputs = [b"", b"abc", b"a" * 55, b"a" * 56, b"a" * 64, bytes(range(256)) * 3]
    hmac_cases = [
        (bytes(range(32)), b"SENSE"),
        (b"key", b"The quick brown fox jumps over the lazy dog"),
        (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
        (b"", b""),
    ]
    auth_cases = []
    for key, nonce in [(bytes(range(32)), bytes(range(0xA0, 0xB0))), (b"\x5a" * 32, b"\x00" * 16)]:
        mac = hmac.new(key, AUTH_LABEL + nonce, hashlib.sha256).digest()[:16]
        auth_cases.append({"key_hex": hx(key), "nonce_hex": hx(nonce), "mac_hex": hx(mac)})
    files = {
        "crc16.json": [{"data_hex": hx(d), "crc": crc16_reference(d)} for d in crc_inputs],
        "cobs.json": [{"decoded_hex": hx(d), "encoded_hex": hx(cobs_reference(d))} for d in cobs_inputs],
        "sha256.json": [{"data_hex": hx(d), "digest_hex": hashlib.sha256(d).hexdigest()} for d in sha_inputs],
        "hmac_sha256.json": [
            {"key_hex": hx(k), "data_hex": hx(m), "mac_hex": hmac.new(k, m, hashlib.sha256).hexdigest()}
            for k, m in hmac_cases
        ],
        "auth.json": auth_cases,
        "frames.json": frame_vectors(),
        "streams.json": stream_vectors(),
    }
    for name, content in files.items():
        (HERE / name).write_text(json.dumps(content, indent=1) + "\n")


if __name__ == "__main__":
    main()
