"""Drum pulses from the separator's onset head: causal peak picking on onset probabilities."""

from __future__ import annotations

import numpy as np

from edge.haptics.features import OnsetHeadParams, OnsetHeadPulses
from tests.streaming import assert_streaming_equals_offline

FRAME_RATE_HZ = 125.0


def _probabilities(hit_frames: list[int], n_frames: int = 400) -> np.ndarray:
    """(n_frames, 3) probabilities: a two-frame bump of 0.9 in class 0 at each hit, a low floor elsewhere."""
    probabilities = np.full((n_frames, 3), 0.05, np.float32)
    for frame in hit_frames:
        probabilities[frame : frame + 2, 0] = 0.9
    return probabilities


def test_one_pulse_per_hit_on_the_frame_it_rises_and_none_in_the_refractory_time() -> None:
    hits = [10, 50, 53, 120]  # 53 is 24 ms after 50: inside the 50 ms refractory time
    strengths = OnsetHeadPulses(FRAME_RATE_HZ).process(_probabilities(hits))
    assert np.flatnonzero(strengths).tolist() == [10, 50, 120]
    np.testing.assert_allclose(strengths[[10, 50, 120]], 0.9, atol=1e-6)


def test_the_strongest_class_decides_and_the_threshold_is_a_parameter() -> None:
    probabilities = np.full((50, 3), 0.05, np.float32)
    probabilities[20:23, 2] = 0.4  # a hat at 0.4
    assert not OnsetHeadPulses(FRAME_RATE_HZ).process(probabilities).any()
    assert np.flatnonzero(
        OnsetHeadPulses(FRAME_RATE_HZ, OnsetHeadParams(threshold=0.3)).process(probabilities)
    ).tolist() == [20]


def test_streaming_equals_offline_with_random_blocks() -> None:
    rng = np.random.default_rng(4)
    probabilities = rng.random((2000, 3)).astype(np.float32) ** 3
    strengths = assert_streaming_equals_offline(lambda: OnsetHeadPulses(FRAME_RATE_HZ), probabilities, max_block=40)
    assert strengths.any()
