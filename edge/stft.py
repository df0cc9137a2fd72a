"""Block framer and causal streaming STFT (both obey the ``edge.stream`` contract)."""

from __future__ import annotations

import numpy as np

from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM, StreamParams

try:  # numpy >= 2: pocketfft's own ufunc, what np.fft.rfft calls after ~40 k instructions of Python checks (Pi profile)
    from numpy.fft._pocketfft_umath import rfft_n_even as _RFFT_N_EVEN
except ImportError:  # numpy 1.x: np.fft.rfft (which computes in float64)
    _RFFT_N_EVEN = None


def make_window(name: str, n_fft: int) -> np.ndarray:
    """(n_fft,) float32 analysis window: 'hann' (periodic), 'sqrt_hann' or 'rect'."""
    if name == "hann":
        return np.hanning(n_fft + 1)[:n_fft].astype(np.float32)
    if name == "sqrt_hann":
        return np.sqrt(np.hanning(n_fft + 1)[:n_fft]).astype(np.float32)
    if name == "rect":
        return np.ones(n_fft, dtype=np.float32)
    raise ConfigError(f"STFT window {name!r} unknown; expected 'hann', 'sqrt_hann' or 'rect'")


class BlockFramer:
    """Collects samples and emits whole hops: process((n,)) -> (n_hops, hop) float32."""

    def __init__(self, hop: int) -> None:
        self.hop = hop
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        if not self._pending.size and len(block) == self.hop:  # the usual call: one hop, nothing pending
            return np.array(block, dtype=np.float32).reshape(1, self.hop)
        data = np.concatenate([self._pending, np.asarray(block, dtype=np.float32)])
        n_hops = len(data) // self.hop
        self._pending = data[n_hops * self.hop :]
        return data[: n_hops * self.hop].reshape(n_hops, self.hop)


class StreamingSTFT:
    """Causal STFT: each hop of new samples yields one frame over the last ``n_fft`` samples.

    process((n_hops, hop) float32) -> (n_hops, n_fft // 2 + 1) complex64. History before the first sample is
    zeros, so frame i covers samples [(i + 1) * hop - n_fft, (i + 1) * hop). Algorithmic latency: n_fft samples.
    """

    def __init__(self, n_fft: int, hop: int, window: str = "hann") -> None:
        if hop <= 0 or n_fft < hop:
            raise ConfigError(f"STFT: need 0 < hop <= n_fft, got n_fft={n_fft}, hop={hop}")
        self.n_fft = n_fft
        self.hop = hop
        self.window = make_window(window, n_fft)
        self._n_history = n_fft - hop
        self._windowed = np.empty((1, n_fft), dtype=np.float32)
        self.reset()

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def reset(self) -> None:
        # the last n_fft samples: the history (n_fft - hop, zeros before the start) and room for the next hop
        self._frame = np.zeros(self.n_fft, dtype=np.float32)

    def process(self, hops: np.ndarray) -> np.ndarray:
        hops = np.asarray(hops, dtype=np.float32).reshape(-1, self.hop)
        n_hops = hops.shape[0]
        if n_hops == 0:
            return np.zeros((0, self.n_bins), dtype=np.complex64)
        frame, n_history = self._frame, self._n_history
        if n_hops == 1:  # the usual call: one frame in place, without the strided view's Python overhead
            frame[n_history:] = hops[0]
            np.multiply(frame, self.window, out=self._windowed[0])
            frame[:n_history] = frame[self.hop :]
            return _rfft(self._windowed)
        signal = np.concatenate([frame[:n_history], hops.reshape(-1)])
        frames = np.lib.stride_tricks.sliding_window_view(signal, self.n_fft)[:: self.hop][:n_hops]
        frame[:n_history] = signal[len(signal) - n_history :]
        return _rfft(frames * self.window)


def _rfft(frames: np.ndarray) -> np.ndarray:
    """(n_frames, n_fft) float32 -> (n_frames, n_fft // 2 + 1) complex64, as ``np.fft.rfft(frames, axis=1)``."""
    if _RFFT_N_EVEN is None or frames.shape[1] % 2:
        return np.fft.rfft(frames, axis=1).astype(np.complex64, copy=False)
    out = np.empty((frames.shape[0], frames.shape[1] // 2 + 1), dtype=np.complex64)
    return _RFFT_N_EVEN(frames, 1, out=out)


def magnitude_frames(samples: np.ndarray, stream: StreamParams = DEVICE_STREAM) -> np.ndarray:
    """(n_samples,) mono at ``stream.sample_rate_hz`` -> (n_frames, n_bins) float32 magnitude of the device's causal
    STFT (zeros before the start; a trailing partial hop is dropped)."""
    stft = StreamingSTFT(stream.n_fft, stream.hop, stream.window)
    return np.abs(stft.process(BlockFramer(stream.hop).process(samples))).astype(np.float32)
