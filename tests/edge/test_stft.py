import numpy as np
import pytest

from edge.stft import BlockFramer, StreamingSTFT, make_window
from tests.streaming import assert_streaming_equals_offline
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
N_FFT = DEVICE_STREAM.n_fft
RATE_HZ = DEVICE_STREAM.sample_rate_hz


class FramedSTFT:
    """Framer + STFT as one stage over raw samples, as the pipeline chains them."""

    def __init__(self, n_fft: int, hop: int) -> None:
        self.framer = BlockFramer(hop)
        self.stft = StreamingSTFT(n_fft, hop)

    def reset(self) -> None:
        self.framer.reset()
        self.stft.reset()

    def process(self, block: np.ndarray) -> np.ndarray:
        return self.stft.process(self.framer.process(block))


def test_streaming_stft_equals_offline_for_random_block_sizes() -> None:
    signal = np.random.default_rng(1).standard_normal(RATE_HZ + 77).astype(np.float32)
    offline = assert_streaming_equals_offline(lambda: FramedSTFT(N_FFT, HOP), signal, max_block=700, atol=1e-4)
    assert offline.shape == ((RATE_HZ + 77) // HOP, 257)


def test_stft_frames_are_causal_windows_of_the_last_n_fft_samples() -> None:
    n_fft, hop = N_FFT, HOP
    signal = np.random.default_rng(2).standard_normal(hop * 20).astype(np.float32)
    frames = StreamingSTFT(n_fft, hop).process(signal.reshape(-1, hop))
    padded = np.concatenate([np.zeros(n_fft - hop, np.float32), signal])
    window = make_window("hann", n_fft)
    for i in (0, 3, 19):
        expected = np.fft.rfft(padded[i * hop : i * hop + n_fft] * window)
        np.testing.assert_allclose(frames[i], expected, atol=1e-3)


def test_a_sine_peaks_in_its_bin() -> None:
    rate_hz, n_fft, hop = RATE_HZ, N_FFT, HOP
    t = np.arange(hop * 40) / rate_hz
    frames = StreamingSTFT(n_fft, hop).process(np.sin(2 * np.pi * 250.0 * t).astype(np.float32).reshape(-1, hop))
    assert int(np.argmax(np.abs(frames[-1]))) == round(250.0 * n_fft / rate_hz)


def test_framer_keeps_leftover_samples() -> None:
    framer = BlockFramer(4)
    assert framer.process(np.arange(6, dtype=np.float32)).shape == (1, 4)
    out = framer.process(np.arange(6, 8, dtype=np.float32))
    np.testing.assert_array_equal(out, [[4, 5, 6, 7]])


@pytest.mark.parametrize("n_fft", [N_FFT, 301])
def test_one_hop_calls_equal_one_block_and_numpy_rfft_exactly(n_fft: int) -> None:
    """The one-hop path (frame kept in place, pocketfft's ufunc) gives the very same complex64 numbers as the
    block path and as ``np.fft.rfft`` of the same windowed float32 frames (odd n_fft: np.fft.rfft itself)."""
    hop = HOP
    signal = np.random.default_rng(3).standard_normal(hop * 30).astype(np.float32)
    block = StreamingSTFT(n_fft, hop).process(signal.reshape(-1, hop))
    one_by_one = StreamingSTFT(n_fft, hop)
    hops = np.concatenate([one_by_one.process(hop_samples[None]) for hop_samples in signal.reshape(-1, hop)])
    padded = np.concatenate([np.zeros(n_fft - hop, np.float32), signal])
    window = make_window("hann", n_fft)
    expected = np.stack([np.fft.rfft(padded[i * hop : i * hop + n_fft] * window) for i in range(30)])
    assert block.dtype == hops.dtype == np.complex64
    np.testing.assert_array_equal(hops, block)
    np.testing.assert_array_equal(block, expected.astype(np.complex64))
