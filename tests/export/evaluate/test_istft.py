"""The inverse STFT undoes the edge runtime's causal STFT exactly, and streams like it runs offline."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.stft import BlockFramer, StreamingSTFT
from edge.stream import DEVICE_STREAM
from export.evaluate.istft import StreamingISTFT, analyse, synthesise
from tests.streaming import assert_streaming_equals_offline

N_FFT, HOP = DEVICE_STREAM.n_fft, DEVICE_STREAM.hop


@pytest.mark.parametrize("window", ["hann", "sqrt_hann", "rect"])
def test_analysis_then_synthesis_reconstructs_the_signal(window: str) -> None:
    samples = np.random.default_rng(1).standard_normal(12_345).astype(np.float32)
    spectrum = analyse(samples, N_FFT, HOP, window)
    np.testing.assert_allclose(synthesise(spectrum, len(samples), N_FFT, HOP, window), samples, atol=2e-5)


def test_analysis_is_the_runtime_stft() -> None:
    samples = np.random.default_rng(2).standard_normal(4096).astype(np.float32)
    runtime = StreamingSTFT(N_FFT, HOP, "hann").process(BlockFramer(HOP).process(samples))
    np.testing.assert_allclose(analyse(samples, N_FFT, HOP)[: len(runtime)], runtime, atol=1e-4)


def test_masking_one_band_removes_it() -> None:
    """A mask that zeroes the bins of a tone removes the tone and keeps another one."""
    rate_hz = DEVICE_STREAM.sample_rate_hz
    t = np.arange(rate_hz) / rate_hz
    low, high = np.sin(2 * np.pi * 250 * t), np.sin(2 * np.pi * 3000 * t)
    spectrum = analyse((low + high).astype(np.float32), N_FFT, HOP)
    bins_hz = np.fft.rfftfreq(N_FFT, 1 / rate_hz)
    kept = synthesise(spectrum * (bins_hz < 1000), len(t), N_FFT, HOP)
    settled = slice(N_FFT, len(t) - N_FFT)
    assert np.sqrt(np.mean((kept[settled] - low[settled]) ** 2)) < 0.01


def test_streaming_synthesis_equals_offline() -> None:
    spectrum = analyse(np.random.default_rng(3).standard_normal(8000).astype(np.float32), N_FFT, HOP)
    assert_streaming_equals_offline(lambda: StreamingISTFT(N_FFT, HOP), spectrum, max_block=20)


def test_window_that_cannot_reconstruct_is_refused() -> None:
    with pytest.raises(ConfigError, match="overlap-add"):
        StreamingISTFT(N_FFT, 256, "hann")  # hann squared does not add to a constant at hop n_fft / 2
    with pytest.raises(ConfigError, match="hop dividing n_fft"):
        StreamingISTFT(N_FFT, 100)


def test_wrong_spectrum_shape_names_the_expected_bins() -> None:
    with pytest.raises(ConfigError, match=r"\(n_frames, 257\)"):
        StreamingISTFT(N_FFT, HOP).process(np.zeros((3, 100), np.complex64))
