"""``audio://`` with the array and file sinks (no sound card needed), and the sound-card path's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge.stream import DEVICE_STREAM
from edge.errors import ConfigError, OutputError
from edge.outputs import HapticFrame, open_output
from edge.outputs.audio import FADE_S, AudioOutput, SampleQueue
from tests.streaming import assert_streaming_equals_offline

RATE_HZ = DEVICE_STREAM.sample_rate_hz
HOP = 256


def tone(n_samples: int, frequency_hz: float = 60.0, amplitude: float = 0.8) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency_hz * np.arange(n_samples) / RATE_HZ)).astype(np.float32)


class AudioOutputStage:
    """Adapter giving the real output the stream-stage shape: process(block) -> the samples it emitted."""

    def __init__(self, url: str, gains: tuple[float, ...]) -> None:
        self.url = url
        self.gains = np.array(gains, dtype=np.float32)
        self.output: AudioOutput | None = None
        self.n_in = 0

    def reset(self) -> None:
        if self.output is not None:
            self.output.close()
        output = open_output(self.url)
        assert isinstance(output, AudioOutput)
        self.output = output
        self.n_in = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        assert self.output is not None
        n_before = self.output.samples().shape[0]
        self.n_in += block.shape[0]
        self.output.write(HapticFrame(t_s=self.n_in / RATE_HZ, intensities=self.gains, audio=block))
        return self.output.samples()[n_before:]


def test_mono_audio_is_scaled_per_channel_by_intensity_and_cap() -> None:
    with open_output("audio://array?channels=2&max=0.5") as output:
        assert isinstance(output, AudioOutput)
        audio = tone(HOP)
        output.write(HapticFrame(t_s=HOP / RATE_HZ, intensities=np.array([1.0, 0.2], np.float32), audio=audio))
        samples = output.samples()
        np.testing.assert_allclose(samples[:HOP, 0], audio * 0.5, atol=1e-7)
        np.testing.assert_allclose(samples[:HOP, 1], audio * 0.1, atol=1e-7)


def test_per_channel_audio_is_kept_apart() -> None:
    with open_output("audio://array?channels=2") as output:
        audio = np.stack([tone(HOP, 40.0), tone(HOP, 80.0)], axis=1)
        output.write(HapticFrame(t_s=0.016, intensities=np.ones(2, np.float32), audio=audio))
        np.testing.assert_allclose(output.samples()[:HOP], audio, atol=1e-7)  # type: ignore[attr-defined]


def test_streaming_equals_offline_with_random_block_sizes() -> None:
    signal = tone(4000, 50.0) + tone(4000, 130.0, 0.1)
    assert_streaming_equals_offline(lambda: AudioOutputStage("audio://array?channels=2", (0.9, 0.3)), signal, atol=1e-7)


def test_streaming_equals_offline_through_the_resampler() -> None:
    signal = tone(6000, 70.0)
    out = assert_streaming_equals_offline(
        lambda: AudioOutputStage("audio://array?out_rate=48000", (1.0,)), signal, atol=1e-5, n_trials=3
    )
    assert out.shape[0] > 2.9 * len(signal)


def test_without_audio_a_carrier_at_the_intensities_fills_the_time_between_frames() -> None:
    with open_output("audio://array?channels=2&carrier_hz=50") as output:
        n_frames = 10
        levels = np.array([0.5, 1.0], np.float32)
        for k in range(1, n_frames + 1):
            output.write(HapticFrame(t_s=k * HOP / RATE_HZ, intensities=levels))
        samples = output.samples()  # type: ignore[attr-defined]
        assert samples.shape == (n_frames * HOP, 2)
        expected = np.sin(2 * np.pi * 50.0 * np.arange(n_frames * HOP) / RATE_HZ)
        np.testing.assert_allclose(samples, expected[:, None] * levels[None, :], atol=1e-4)


def test_zero_fades_to_exactly_zero_and_close_is_idempotent() -> None:
    output = open_output("audio://array")
    output.write(HapticFrame(t_s=0.016, intensities=np.ones(1, np.float32), audio=np.full(HOP, 0.6, np.float32)))
    output.close()
    output.close()
    samples = output.samples()  # type: ignore[attr-defined]
    fade = samples[HOP:, 0]
    assert fade.shape[0] == round(FADE_S * RATE_HZ)
    assert fade[0] == pytest.approx(0.6) and fade[-1] == 0.0 and np.all(np.diff(fade) <= 0)


def test_the_file_sink_writes_what_was_played_at_the_sink_rate(tmp_path: Path) -> None:
    path = tmp_path / "shaker.wav"
    with open_output(f"audio://file?path={path}&channels=2&out_rate=48000") as output:
        for k in range(1, 11):
            audio = tone(HOP) if k < 10 else tone(HOP, amplitude=0.0)
            output.write(HapticFrame(t_s=k * HOP / RATE_HZ, intensities=np.ones(2, np.float32), audio=audio))
    data, rate = soundfile.read(str(path), dtype="float32")
    assert rate == 48_000 and data.shape[1] == 2
    assert abs(data.shape[0] - 3 * (10 * HOP + FADE_S * RATE_HZ)) < 3 * 64
    peak = float(np.max(np.abs(data[: 3 * 9 * HOP])))
    assert 0.75 < peak < 0.85
    assert float(np.max(np.abs(data[-50:]))) < 1e-3


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.full(HOP, 1.5, np.float32), "within \\[-1, 1\\]"),
        (np.full(HOP, np.nan, np.float32), "finite"),
        (np.zeros((HOP, 3), np.float32), "expected \\(n,\\) or \\(n, 2\\)"),
    ],
)
def test_audio_outside_its_limits_is_refused(audio: np.ndarray, message: str) -> None:
    with open_output("audio://array?channels=2") as output:
        with pytest.raises(ConfigError, match=message):
            output.write(HapticFrame(t_s=0.016, intensities=np.ones(2, np.float32), audio=audio))
        assert output.samples().shape[0] == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("audio://file", "needs \\?path="),
        ("audio://array?carrier_hz=9000", "Nyquist"),
        ("audio://array?max=2", "within \\(0, 1\\]"),
        ("audio://array?channels=0", "channels must be >= 1"),
    ],
)
def test_bad_urls_fail_with_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_output(url)


def test_an_unknown_sound_card_fails_with_a_fix() -> None:
    with pytest.raises(OutputError, match="no-such-card-for-sense.*'sense devices' lists the sound cards"):
        open_output("audio://default?device=no-such-card-for-sense")


def test_the_sound_card_queue_drops_the_oldest_instead_of_building_a_backlog() -> None:
    queue = SampleQueue(capacity=100, n_channels=1)
    queue.push(np.arange(80, dtype=np.float32)[:, None])
    queue.push(np.arange(80, 120, dtype=np.float32)[:, None])
    assert len(queue) == 100 and queue.n_dropped == 20
    pulled = queue.pull(110)
    assert pulled[0, 0] == 20 and pulled[99, 0] == 119 and np.all(pulled[100:] == 0)
    assert queue.n_underrun == 10
