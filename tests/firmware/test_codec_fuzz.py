"""Hypothesis fuzzing of the Python parser and codec: arbitrary bytes never raise, every message round-trips
through any chunking, and corruption is either dropped or detected — never accepted as another frame."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.link import codec

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
messages = st.one_of(
    st.builds(codec.Hello, st.integers(1, 255)),
    st.builds(codec.SetIntensities, u16, u32, st.lists(u16, max_size=64)),
    st.builds(codec.Config, u16, u16, u16, u16, st.lists(u16, max_size=64)),
    st.builds(codec.PlayEffect, st.integers(0, 255), st.integers(0, 5), u16, u16),
    st.builds(codec.Ping, u32),
    st.builds(codec.Pong, u32, u32),
    st.builds(codec.AuthChallenge, st.binary(min_size=16, max_size=16)),
    st.builds(codec.ProvisionKey, st.binary(min_size=32, max_size=32)),
    st.builds(codec.Error, st.integers(0, 255), st.integers(0, 255)),
    st.just(codec.StopAll()),
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    decoder = codec.FrameDecoder()
    for start in range(0, len(data), chunk):
        for frame_type, body in decoder.feed(data[start : start + chunk]):
            assert 0 <= frame_type <= 255 and len(body) <= codec.MAX_FRAME_BYTES - 3
            try:
                codec.decode_message(frame_type, body)
            except codec.ProtocolError:
                pass  # an unknown type or a short body is a clean, named error


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, min_size=1, max_size=8), st.binary(max_size=40), st.integers(1, 50))
def test_messages_roundtrip_through_noise_and_any_chunking(batch: list, noise: bytes, chunk: int) -> None:
    stream = noise + b"\x00" + b"".join(codec.encode_message(m) for m in batch)
    decoder = codec.FrameDecoder()
    frames = []
    for start in range(0, len(stream), chunk):
        frames += decoder.feed(stream[start : start + chunk])
    decoded = [codec.decode_message(*f) for f in frames]
    assert decoded[-len(batch) :] == batch


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_single_byte_corruption_is_never_accepted_silently(message: codec.Message, data: st.DataObject) -> None:
    wire = bytearray(codec.encode_message(message))
    index = data.draw(st.integers(0, len(wire) - 2))  # any byte but the delimiter
    wire[index] ^= data.draw(st.integers(1, 255))
    decoder = codec.FrameDecoder()
    frames = decoder.feed(bytes(wire) + b"\x00")
    original = (message.TYPE, message.pack_body())
    assert original not in frames  # the damaged frame is never taken for the original
    if not frames:
        assert decoder.crc_errors + decoder.framing_errors >= 1  # and the drop is counted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_cobs_roundtrip(data: bytes) -> None:
    encoded = codec.cobs_encode(data)
    assert 0 not in encoded and len(encoded) <= len(data) + len(data) // 254 + 1
    assert codec.cobs_decode(encoded) == data
