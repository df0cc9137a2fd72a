"""Inverse of the edge runtime's causal STFT (``edge.stft.StreamingSTFT``): weighted overlap-add.

The analysis frame i covers samples [(i + 1) * hop - n_fft, (i + 1) * hop). Synthesis windows each inverse FFT
frame with the same window and overlap-adds it at that position; dividing by the sum of squared windows at each
sample gives perfect reconstruction of an unmodified spectrum (the squared window must add to a constant at the
hop, which holds for 'hann' and 'sqrt_hann' with hop <= n_fft / 4 and for 'rect' with any hop dividing n_fft).

The streaming synthesis emits ``hop`` samples per frame, delayed by ``n_fft - hop`` samples (the samples a later
frame still adds to); together with the analysis that is ``n_fft`` samples of algorithmic latency, the pack's.
"""

from __future__ import annotations

import numpy as np

from edge.errors import ConfigError
from edge.stft import BlockFramer, StreamingSTFT, make_window

WINDOW_SUM_TOLERANCE = 1e-6
"""Relative spread allowed in the per-position sum of squared windows (else the window/hop pair is refused)."""


def _squared_window_sum(window: np.ndarray, hop: int) -> np.ndarray:
    """(hop,) sum over overlapping frames of window**2 at each position within a hop."""
    n_fft = len(window)
    padded = np.zeros(-(-n_fft // hop) * hop, dtype=np.float64)
    padded[:n_fft] = window.astype(np.float64) ** 2
    return padded.reshape(-1, hop).sum(axis=0)


class StreamingISTFT:
    """process((n_frames, n_fft // 2 + 1) complex) -> (n_frames * hop,) float32 samples.

    Output sample k is input sample k - (n_fft - hop) of the signal the frames came from (``delay_samples``).
    """

    def __init__(self, n_fft: int, hop: int, window: str = "hann") -> None:
        if hop <= 0 or n_fft < hop or n_fft % hop:
            raise ConfigError(
                f"inverse STFT: need 0 < hop <= n_fft with hop dividing n_fft, got n_fft={n_fft}, hop={hop}"
            )
        self.n_fft = n_fft
        self.hop = hop
        self.window = make_window(window, n_fft).astype(np.float64)
        norm = _squared_window_sum(self.window, hop)
        if norm.min() <= 0 or (norm.max() - norm.min()) > WINDOW_SUM_TOLERANCE * norm.max():
            raise ConfigError(
                f"inverse STFT: window {window!r} squared does not overlap-add to a constant at hop {hop} "
                f"(n_fft {n_fft}); perfect reconstruction is impossible"
            )
        self._norm = norm
        self.reset()

    @property
    def delay_samples(self) -> int:
        return self.n_fft - self.hop

    def reset(self) -> None:
        self._tail = np.zeros(self.n_fft - self.hop, dtype=np.float64)

    def process(self, spectrum: np.ndarray) -> np.ndarray:
        spectrum = np.asarray(spectrum)
        n_frames = len(spectrum)
        if spectrum.ndim != 2 or spectrum.shape[1] != self.n_fft // 2 + 1:
            raise ConfigError(
                f"inverse STFT: spectrum shape {spectrum.shape}, expected (n_frames, {self.n_fft // 2 + 1})"
            )
        frames = np.fft.irfft(spectrum, n=self.n_fft, axis=1) * self.window
        buffer = np.zeros(n_frames * self.hop + self.n_fft - self.hop, dtype=np.float64)
        buffer[: len(self._tail)] = self._tail
        for i, frame in enumerate(frames):
            buffer[i * self.hop : i * self.hop + self.n_fft] += frame
        done = n_frames * self.hop
        self._tail = buffer[done:].copy()
        return (buffer[:done].reshape(-1, self.hop) / self._norm).reshape(-1).astype(np.float32)


def analyse(samples: np.ndarray, n_fft: int, hop: int, window: str = "hann") -> np.ndarray:
    """(n_samples,) -> (n_frames, n_bins) complex64 with the edge runtime's causal STFT, covering every sample.

    The signal is zero-padded at the end (n_fft - hop samples, then up to a whole hop) so that every input sample is
    inside all the frames that overlap it; :func:`synthesise` with ``n_samples`` undoes exactly this.
    """
    samples = np.asarray(samples, dtype=np.float32)
    n_padded = -(-(len(samples) + n_fft - hop) // hop) * hop
    padded = np.zeros(n_padded, dtype=np.float32)
    padded[: len(samples)] = samples
    return StreamingSTFT(n_fft, hop, window).process(BlockFramer(hop).process(padded))


def synthesise(spectrum: np.ndarray, n_samples: int, n_fft: int, hop: int, window: str = "hann") -> np.ndarray:
    """(n_frames, n_bins) complex from :func:`analyse` -> (n_samples,) float32, time-aligned with the input."""
    istft = StreamingISTFT(n_fft, hop, window)
    samples = istft.process(spectrum)[istft.delay_samples :]
    if len(samples) < n_samples:
        raise ConfigError(f"inverse STFT: {len(spectrum)} frames give {len(samples)} samples, {n_samples} requested")
    return samples[:n_samples]
