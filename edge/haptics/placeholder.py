"""A simple stateless placeholder renderer: band energies of each stem (or of the mixture on the DSP-only path)
mapped onto the actuators, in dB over a fixed range. The full renderer (rigs, presets, smoothing) replaces it."""

from __future__ import annotations

import numpy as np

from edge.analysis import Analysis

TOUCH_MAX_HZ = 1000.0
"""Skin does not feel vibration above about 1 kHz."""
TOUCH_MIN_HZ = 30.0
FLOOR_DB = -50.0
CEILING_DB = 0.0


def band_power_matrix(n_bands: int, n_fft: int, sample_rate_hz: int) -> np.ndarray:
    """(n_bins, n_bands) float32: column b averages the power of the bins of log-spaced band b (30 Hz–1 kHz)."""
    n_bins = n_fft // 2 + 1
    edges = np.round(np.geomspace(TOUCH_MIN_HZ, TOUCH_MAX_HZ, n_bands + 1) * n_fft / sample_rate_hz).astype(int)
    edges = np.maximum.accumulate(np.maximum(edges, np.arange(n_bands + 1) + 1))
    matrix = np.zeros((n_bins, n_bands), dtype=np.float32)
    for band in range(n_bands):
        matrix[edges[band] : edges[band + 1], band] = 1.0 / (edges[band + 1] - edges[band])
    return matrix


class BandEnergyRenderer:
    """Splits actuators evenly among stems; each stem's actuators get log-spaced bands up to 1 kHz.

    process(Analysis) -> (n_frames, n_channels) float32 in [0, 1].
    """

    def __init__(self, n_channels: int, stems: tuple[str, ...]) -> None:
        self.n_channels = n_channels
        self.stems = stems or ("mix",)
        owners = np.arange(n_channels) * len(self.stems) // n_channels
        self._channels = [np.flatnonzero(owners == i) for i in range(len(self.stems))]
        self._matrices: dict[tuple[int, int, int], np.ndarray] = {}

    def reset(self) -> None:
        """Stateless."""

    def _matrix(self, n_bands: int, n_fft: int, sample_rate_hz: int) -> np.ndarray:
        key = (n_bands, n_fft, sample_rate_hz)
        if key not in self._matrices:
            self._matrices[key] = band_power_matrix(n_bands, n_fft, sample_rate_hz)
        return self._matrices[key]

    def process(self, analysis: Analysis) -> np.ndarray:
        intensities = np.zeros((analysis.n_frames, self.n_channels), dtype=np.float32)
        window_gain = analysis.n_fft / 4.0  # magnitude of a full-scale sine under a Hann window
        for stem, channels in zip(self.stems, self._channels):
            if channels.size == 0:
                continue
            stem_mag = analysis.stem_mag or {}
            magnitude = stem_mag.get(stem, analysis.mixture_mag)
            power = (magnitude**2) @ self._matrix(channels.size, analysis.n_fft, analysis.sample_rate_hz)
            level_db = 10.0 * np.log10(np.maximum(power, 1e-18)) - 20.0 * np.log10(window_gain)
            intensities[:, channels] = np.clip((level_db - FLOOR_DB) / (CEILING_DB - FLOOR_DB), 0.0, 1.0)
        return intensities
