"""Block framer and causal streaming STFT (both obey the ``edge.stream`` contract)."""

from __future__ import annotations

import numpy as np

from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM, StreamParams


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
        self.reset()

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def reset(self) -> None:
        self._history = np.zeros(self.n_fft - self.hop, dtype=np.float32)

    def process(self, hops: np.ndarray) -> np.ndarray:
        hops = np.asarray(hops, dtype=np.float32).reshape(-1, self.hop)
        n_hops = hops.shape[0]
        if n_hops == 0:
            return np.zeros((0, self.n_bins), dtype=np.complex64)
        if n_hops == 1:  # the usual call: one frame, without the strided view's Python overhead
            frame = np.concatenate([self._history, hops[0]])
            self._history = frame[self.hop :]
            return np.fft.rfft(frame * self.window)[np.newaxis].astype(np.complex64, copy=False)
        signal = np.concatenate([self._history, hops.reshape(-1)])
        frames = np.lib.stride_tricks.sliding_window_view(signal, self.n_fft)[:: self.hop][:n_hops]
        self._history = signal[len(signal) - (self.n_fft - self.hop) :]
        return np.fft.rfft(frames * self.window, axis=1).astype(np.complex64)


def magnitude_frames(samples: np.ndarray, stream: StreamParams = DEVICE_STREAM) -> np.ndarray:
    """(n_samples,) mono at ``stream.sample_rate_hz`` -> (n_frames, n_bins) float32 magnitude of the device's causal
    STFT (zeros before the start; a trailing partial hop is dropped)."""
    stft = StreamingSTFT(stream.n_fft, stream.hop, stream.window)
    return np.abs(stft.process(BlockFramer(stream.hop).process(samples))).astype(np.float32)
