"""Haptic offset: touch shifted against sound by whole hops at the outputs — intensities later for a positive
offset, the frames' audio later for a negative one — the same for any block sizes, from the rig, the CLI or live."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError
from edge.outputs.base import ActuatorOutput, HapticFrame, RoutedOutput
from edge.rig import default_rig, parse_rig
from edge.session import LIVE_PARAMS, open_session
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
N_HOPS = 300


class FrameRecorder(ActuatorOutput):
    """A sink that keeps every frame's intensities and audio (short runs only)."""

    def __init__(self, n_channels: int) -> None:
        super().__init__("recorder://", n_channels)
        self.intensities: list[np.ndarray] = []
        self.audio: list[np.ndarray] = []

    def _write(self, frame: HapticFrame) -> None:
        self.intensities.append(frame.intensities.copy())
        assert frame.audio is not None
        self.audio.append(np.asarray(frame.audio).copy())

    def _zero(self) -> None:
        """Nothing to switch off."""


def drum_like_audio(n_hops: int = N_HOPS) -> np.ndarray:
    rng = np.random.default_rng(7)
    audio = 0.05 * rng.standard_normal(n_hops * HOP).astype(np.float32)
    for start in range(0, len(audio) - 700, 37 * HOP):  # bursts a little off the hop grid
        audio[start + 17 : start + 17 + 600] += 0.6 * rng.standard_normal(600).astype(np.float32)
    return audio


def record(audio: np.ndarray, offset_ms: float, block_sizes: list[int] | None = None) -> FrameRecorder:
    rig = default_rig()
    recorder = FrameRecorder(rig.n_actuators)
    with open_session(
        None, rig, [RoutedOutput(recorder, np.arange(rig.n_actuators))], haptic_offset_ms=offset_ms
    ) as session:
        position = 0
        for size in block_sizes or [len(audio)]:
            session.process(audio[position : position + size])
            position += size
        session.process(audio[position:])
    return recorder


def random_block_sizes(n_samples: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n_samples - 2000:
        sizes.append(int(rng.integers(1, 1000)))
    return sizes


@pytest.mark.parametrize("offset_ms", [40.0, -40.0, 250.0, -250.0])
def test_the_offset_shifts_the_output_frames_by_whole_hops_for_any_block_sizes(offset_ms: float) -> None:
    audio = drum_like_audio()
    reference = record(audio, 0.0)
    touch = np.stack(reference.intensities)
    sound = np.stack(reference.audio)
    assert touch.shape == (N_HOPS, 16) and touch.max() > 0.1
    shift = int(round(offset_ms / 1e3 / DEVICE_STREAM.hop_s))
    assert abs(shift) == round(abs(offset_ms) / 8.0)
    for seed in (1, 2):
        shifted = record(audio, offset_ms, random_block_sizes(len(audio), seed))
        got_touch, got_sound = np.stack(shifted.intensities), np.stack(shifted.audio)
        assert got_touch.shape == touch.shape
        delayed, on_time = (got_touch, got_sound) if shift > 0 else (got_sound, got_touch)
        original = touch if shift > 0 else sound
        np.testing.assert_array_equal(delayed[abs(shift) :], original[: -abs(shift)])
        assert not delayed[: abs(shift)].any()  # nothing before the offset has passed
        np.testing.assert_array_equal(on_time, sound if shift > 0 else touch)


def test_the_rig_sets_the_offset_within_range_and_the_session_can_override_it() -> None:
    text = default_rig().path.read_text()  # type: ignore[union-attr]
    shifted = parse_rig(text.replace("[rig]\n", "[rig]\nhaptic_offset_ms = -24\n", 1), "vest.toml")
    assert shifted.haptic_offset_ms == -24.0
    with pytest.raises(ConfigError, match=r"vest.toml.*haptic_offset_ms.*300.*-250.0, 250.0"):
        parse_rig(text.replace("[rig]\n", "[rig]\nhaptic_offset_ms = 300\n", 1), "vest.toml")
    from edge.rig import Rig

    with open_session(None, Rig(shifted), []) as session:
        assert session.pipeline.haptic_offset_ms == -24.0 and session.pipeline.haptic_offset_hops == -3
        assert session.live_params()["haptic_offset_ms"] == -24.0
    with open_session(None, Rig(shifted), [], haptic_offset_ms=16) as session:
        assert session.pipeline.haptic_offset_hops == 2


def test_the_offset_is_a_live_parameter_checked_when_set() -> None:
    assert "haptic_offset_ms" in LIVE_PARAMS
    audio = drum_like_audio(100)
    rig = default_rig()
    recorder = FrameRecorder(rig.n_actuators)
    with open_session(None, rig, [RoutedOutput(recorder, np.arange(rig.n_actuators))]) as session:
        for bad in ("40", True, 251.0, -1e9, float("nan")):
            with pytest.raises(ConfigError, match="haptic_offset_ms"):
                session.set_param("haptic_offset_ms", bad)
        session.process(audio[: 50 * HOP])
        session.set_param("haptic_offset_ms", 80.0)
        assert session.params.haptic_offset_ms == 80.0
        session.process(audio[50 * HOP :])
    reference = np.stack(record(audio, 0.0).intensities)
    got = np.stack(recorder.intensities)
    np.testing.assert_array_equal(got[:50], reference[:50])
    assert not got[50:60].any()  # the delayed touch starts again from silence ...
    np.testing.assert_array_equal(got[60:], reference[50:90])  # ... and runs 10 hops after the sound


def test_the_cli_option_is_checked() -> None:
    result = CliRunner().invoke(app, ["run", "--no-models", "--haptic-offset-ms", "400"])
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "haptic_offset_ms" in str(result.exception) and "250" in str(result.exception)
