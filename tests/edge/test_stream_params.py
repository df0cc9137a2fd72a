"""The stream contract: one StreamParams, carried by packs and recipes, checked when built."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.pack import load_pack
from edge.stream import DEVICE_STREAM, StreamParams, stream_of, tagger_run_frames


def test_device_stream_is_the_bundled_packs_stream() -> None:
    pack = load_pack()
    stream = stream_of(pack)
    assert stream.sample_rate_hz == DEVICE_STREAM.sample_rate_hz
    assert (stream.n_fft, stream.hop, stream.window) == (DEVICE_STREAM.n_fft, DEVICE_STREAM.hop, "hann")
    assert pack.tagger is not None and stream.tagger_every_n_hops == pack.tagger.every_n_hops
    assert DEVICE_STREAM.n_bins == DEVICE_STREAM.n_fft // 2 + 1
    assert DEVICE_STREAM.hop_s == pytest.approx(DEVICE_STREAM.hop / DEVICE_STREAM.sample_rate_hz)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hop": 0}, "hop: expected a positive integer"),
        ({"hop": DEVICE_STREAM.n_fft * 2}, "exceeds n_fft"),
        ({"window": "kaiser"}, "window: 'kaiser' is not one of"),
        ({"tagger_every_n_hops": True}, "tagger_every_n_hops: expected a positive integer"),
    ],
)
def test_bad_stream_parameters_are_refused_with_the_field_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StreamParams(**{**DEVICE_STREAM.as_dict(), **changes})  # type: ignore[arg-type]


def test_tagger_runs_on_every_nth_hop_of_the_stream_whatever_the_blocks() -> None:
    whole = tagger_run_frames(50, 8)
    assert whole.tolist() == [7, 15, 23, 31, 39, 47]
    pieces, seen = [], 0
    for n_frames in (3, 10, 1, 0, 36):
        pieces.extend((tagger_run_frames(n_frames, 8, seen) + seen).tolist())
        seen += n_frames
    assert np.array_equal(pieces, whole)
