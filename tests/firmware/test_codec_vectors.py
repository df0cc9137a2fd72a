"""The Python codec against the golden vectors (firmware/vectors/*.json) that the C tests read too."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from edge.errors import ProtocolError
from edge.link import codec

VECTORS = Path(__file__).resolve().parents[2] / "firmware" / "vectors"


def load(name: str) -> list[dict]:
    return json.loads((VECTORS / name).read_text())


def test_vectors_are_up_to_date(tmp_path: Path) -> None:
    """Re-running the generator reproduces the committed JSON byte for byte."""
    import runpy
    import shutil

    shutil.copy(VECTORS / "make_vectors.py", tmp_path / "make_vectors.py")
    runpy.run_path(str(tmp_path / "make_vectors.py"), run_name="__main__")
    for path in VECTORS.glob("*.json"):
        assert (tmp_path / path.name).read_text() == path.read_text(), path.name


@pytest.mark.parametrize("case", load("crc16.json"), ids=lambda c: c["data_hex"][:16] or "empty")
def test_crc16(case: dict) -> None:
    assert codec.crc16(bytes.fromhex(case["data_hex"])) == case["crc"]


def test_crc16_check_value() -> None:
    assert codec.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("case", load("cobs.json"), ids=lambda c: str(len(c["decoded_hex"]) // 2))
def test_cobs(case: dict) -> None:
    decoded, encoded = bytes.fromhex(case["decoded_hex"]), bytes.fromhex(case["encoded_hex"])
    assert codec.cobs_encode(decoded) == encoded
    assert codec.cobs_decode(encoded) == decoded
    assert 0 not in encoded


@pytest.mark.parametrize("case", load("frames.json"), ids=lambda c: c["name"])
def test_frames_encode_and_decode(case: dict) -> None:
    cls = codec.MESSAGE_TYPES[case["type"]]
    fields = {k: bytes.fromhex(v) if k in ("nonce", "mac", "key") else v for k, v in case["fields"].items()}
    message = cls(**fields)
    assert message.pack_body().hex() == case["body_hex"]
    assert codec.encode_message(message).hex() == case["wire_hex"]
    frames = codec.FrameDecoder().feed(bytes.fromhex(case["wire_hex"]))
    assert frames == [(case["type"], bytes.fromhex(case["body_hex"]))]
    assert codec.decode_message(*frames[0]) == message
    assert asdict(message).keys() == fields.keys()


@pytest.mark.parametrize("case", load("streams.json"), ids=lambda c: c["name"])
def test_streams(case: dict) -> None:
    stream = bytes.fromhex(case["stream_hex"])
    expected = [codec.check_frame(codec.cobs_decode(bytes.fromhex(f)[:-1])) for f in case["frames"]]
    for chunk in (len(stream), 1, 3):  # whole, byte by byte, odd chunks
        decoder = codec.FrameDecoder()
        frames = []
        for start in range(0, len(stream), chunk):
            frames += decoder.feed(stream[start : start + chunk])
        assert frames == expected
        assert (decoder.crc_errors, decoder.framing_errors) == (case["crc_errors"], case["framing_errors"])


@pytest.mark.parametrize("case", load("auth.json"))
def test_auth_mac(case: dict) -> None:
    mac = codec.auth_mac(bytes.fromhex(case["key_hex"]), bytes.fromhex(case["nonce_hex"]))
    assert mac.hex() == case["mac_hex"]


def test_sha_and_hmac_vectors_match_hashlib() -> None:
    for case in load("sha256.json"):
        assert hashlib.sha256(bytes.fromhex(case["data_hex"])).hexdigest() == case["digest_hex"]
    for case in load("hmac_sha256.json"):
        key, data = bytes.fromhex(case["key_hex"]), bytes.fromhex(case["data_hex"])
        assert hmac.new(key, data, hashlib.sha256).hexdigest() == case["mac_hex"]


def test_errors_name_the_problem() -> None:
    with pytest.raises(ProtocolError, match="code byte 0x05 at offset 0"):
        codec.cobs_decode(bytes([5, 1, 2]))
    with pytest.raises(ProtocolError, match="CRC"):
        codec.check_frame(b"\x20\x01\x02\x03")
    with pytest.raises(ProtocolError, match="Ping .*expected >= 4"):
        codec.decode_message(0x20, b"\x01")
    with pytest.raises(ProtocolError, match="unknown message type 0x55"):
        codec.decode_message(0x55, b"")
    with pytest.raises(ProtocolError, match="at most 254"):
        codec.encode_frame(0x10, bytes(260))


def test_longer_body_is_accepted_for_forward_compatibility() -> None:
    """PROTOCOL.md section 2: fields may be appended later; a receiver ignores the extra bytes."""
    assert codec.decode_message(0x20, b"\x01\x00\x00\x00\xff\xee") == codec.Ping(1)


def test_decoder_streaming_equals_offline_for_random_block_sizes() -> None:
    """STYLE.md #6 for the stateful parser: any split of the byte stream (zero-length blocks included) gives the
    frames and error counts of one call; reset() forgets a half frame."""
    import numpy as np

    from tests.streaming import random_block_sizes

    rng = np.random.default_rng(6)
    stream = b"".join(bytes.fromhex(case["stream_hex"]) for case in load("streams.json"))
    stream += b"".join(bytes.fromhex(case["wire_hex"]) for case in load("frames.json"))
    offline = codec.FrameDecoder()
    expected = offline.feed(stream)
    for _ in range(20):
        decoder = codec.FrameDecoder()
        frames, start = [], 0
        for size in random_block_sizes(len(stream), rng, 40):
            frames += decoder.feed(stream[start : start + size])
            start += size
        assert frames == expected
        assert (decoder.crc_errors, decoder.framing_errors) == (offline.crc_errors, offline.framing_errors)
    ping = codec.encode_message(codec.Ping(7))
    decoder = codec.FrameDecoder()
    decoder.feed(ping[:4])  # half a frame, then the link is reset
    decoder.reset()
    assert decoder.feed(ping) == [(codec.Ping.TYPE, b"\x07\x00\x00\x00")]
    assert decoder.crc_errors + decoder.framing_errors == 0
